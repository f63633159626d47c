#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every default suite
# (everything except the long 'soak' suite; see scripts/soak.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
meson test -C "$BUILD_DIR" --no-suite soak --print-errorlogs --num-processes 2 "$@"
# The fuzz targets, in a clang build of their own (build-fuzz): every seed and regression
# input, then a short run of each target, two at a time (docs/testing.md "Fuzzing";
# about 2 minutes on 2 cores, the build included). RINGDB_FUZZ_SECONDS sets the run per
# target; 0 skips the step.
FUZZ_SECONDS=${RINGDB_FUZZ_SECONDS:-10}
if ((FUZZ_SECONDS > 0)); then
  scripts/fuzz.sh --replay --jobs 2
  scripts/fuzz.sh --seconds "$FUZZ_SECONDS" --jobs 2
fi
