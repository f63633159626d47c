#!/usr/bin/env bash
# Runs the deterministic simulator over many seeds (docs/testing.md "Simulator").
#   scripts/sim.sh --seeds N [--from S] [--jobs J] [-- extra ringdb-sim flags]
# Seeds run in chunks of 100, J processes at a time; a failing seed stops its chunk
# (it prints the seed and the replay command) and the other chunks go on. Exit
# status 1 if any seed failed; the failures are listed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
# Injected faults make the engine log every error it meets.
export RINGDB_LOG_LEVEL=${RINGDB_LOG_LEVEL:-off}
SEEDS=1000
FROM=1
JOBS=1
EXTRA=()
while (($#)); do
  case "$1" in
    --seeds) SEEDS=$2; shift 2 ;;
    --from) FROM=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "usage: $0 --seeds N [--from S] [--jobs J] [-- ringdb-sim flags]" >&2; exit 2 ;;
  esac
done
SIM=${RINGDB_SIM:-$BUILD_DIR/tests/sim/ringdb-sim}  # RINGDB_SIM: a copy, to rebuild meanwhile
[[ -x "$SIM" ]] || ninja -C "$BUILD_DIR" tests/sim/ringdb-sim
LOGS=$(mktemp -d /tmp/ringdb-sim-logs.XXXXXX)
start=$(date +%s)
chunk() {  # from count
  "$SIM" --seeds "$2" --from "$1" "${EXTRA[@]}" >"$LOGS/$1.log" 2>&1 || true
}
running=0
for ((s = FROM; s < FROM + SEEDS; s += 100)); do
  n=$((FROM + SEEDS - s < 100 ? FROM + SEEDS - s : 100))
  chunk "$s" "$n" &
  running=$((running + 1))
  if ((running >= JOBS)); then
    wait -n || true
    running=$((running - 1))
  fi
done
wait
failed=$(grep -l "SIMULATOR FAILURE" "$LOGS"/*.log 2>/dev/null || true)
passed=$(grep -h "seeds from .* passed" "$LOGS"/*.log | awk '{s += $1} END {print s + 0}')
echo "sim: $passed of $SEEDS seeds from $FROM passed in $(($(date +%s) - start)) s (logs: $LOGS)"
if [[ -n "$failed" ]]; then
  grep -h -A3 "SIMULATOR FAILURE" $failed
  exit 1
fi
