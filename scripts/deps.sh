#!/usr/bin/env bash
# Installs the Debian 12 packages ringdb needs to build, test and benchmark, when they
# are missing. Idempotent; needs root (or sudo). clang-format (version 14 on Debian 12)
# is for the `tidy` suite's format check (docs/tidy.md).
set -euo pipefail

PKGS=(
  g++ meson ninja-build pkg-config
  liburing-dev libaio-dev libboost-context-dev libxxhash-dev liburcu-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev
  clang-format
  # ringdb-server's tests: real clients, a real Redis to compare with, and the proxy.
  python3 python3-redis redis-server redis-tools nutcracker
  # The fuzz targets (scripts/fuzz.sh): clang with libFuzzer and the sanitizer runtimes.
  clang libclang-rt-14-dev
)
# Optional extras for comparisons and profiling: scripts/deps.sh --extras
if [[ "${1:-}" == "--extras" ]]; then
  # librocksdb-dev: ringdb-bench -Drocksdb=enabled; chromium: the SVG render test.
  PKGS+=(fio rocksdb-tools librocksdb-dev linux-perf bc chromium)
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "ringdb: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
