#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the default benchmark
# (a fill, then a mixed read/write phase) showing per-shard throughput and latency.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
exec "$BUILD_DIR/tools/ringdb-bench" "$@"
