#!/usr/bin/env bash
# Long randomized runs: the 'soak' test suite (tests/db/meson.build) -- a 200k-op model
# test per I/O backend, 1000 SIGKILLs per durability mode, 200 simulated power losses
# per mode, long concurrency runs. Each test prints its seed; replay a failure with
#   RINGDB_SEED=<seed> <builddir>/tests/db/db_test --gtest_filter='<test name>'
# (with the same RINGDB_* length variable the soak test used, shown by --print-errorlogs).
#
# usage: scripts/soak.sh [builddir] [extra meson test args...]
#   builddir defaults to ${BUILD_DIR:-build}; it is configured and built if needed.
#   SOAK_TIMEOUT_MULTIPLIER scales the per-test timeout (default 1 = 2 hours each).
#   The suite fixes each test's length in tests/db/meson.build (meson's per-test env
#   wins over yours); for other lengths run the binary directly, e.g.
#   RINGDB_CRASH_KILLS=5000 <builddir>/tests/db/db_test --gtest_filter='*/CrashTest.*'
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-${BUILD_DIR:-build}}
if (($# > 0)); then shift; fi
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  meson setup "$BUILD_DIR" --buildtype=release
fi
ninja -C "$BUILD_DIR"
exec meson test -C "$BUILD_DIR" --suite soak --print-errorlogs --num-processes 1 \
  --timeout-multiplier "${SOAK_TIMEOUT_MULTIPLIER:-1}" "$@"
