#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every default suite
# (everything except the long 'soak' suite; see scripts/soak.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
meson test -C "$BUILD_DIR" --no-suite soak --print-errorlogs --num-processes 2 "$@"
