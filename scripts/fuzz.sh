#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz (docs/testing.md "Fuzzing").
#
#   scripts/fuzz.sh [--seconds N] [--replay] [target...]
#
# Configures (once) and builds the fuzz build (${FUZZ_BUILD_DIR:-build-fuzz}, clang,
# -Dfuzz=true), then runs each target (default: all, one after the other) for N seconds
# (default 600) from its seed corpus (tests/fuzz/corpus/<target>) plus its regression
# inputs (tests/fuzz/regressions/<target>). New corpus entries, crash inputs and logs go
# to a scratch directory (${FUZZ_WORK_DIR:-<build>/fuzz-work}/<target>/), which later
# runs reuse; nothing under tests/ is written. Prints executions per target, appends
# them to <work>/runs.tsv, and for a crash prints the report and how to replay it.
# --replay only runs every seed and regression input once (no fuzzing).
# Exit status: 0, or 1 when a target found something (or did not run).
set -euo pipefail
cd "$(dirname "$0")/.."

# Every target, with its -max_len (bytes). The RESP parser's target joins here once
# src/server/ exists: add 'resp' with its max_len and tests/fuzz/resp_fuzz.cc.
declare -A MAX_LEN=(
  [wal]=65544 [manifest]=65544 [version_edit]=4096 [block]=16384 [table]=65536
  [options]=1024 [current]=256 [iotrace]=65536
)
ALL_TARGETS=(wal manifest version_edit block table options current iotrace)

SECONDS_PER_TARGET=600
REPLAY=0
TARGETS=()
while (($#)); do
  case "$1" in
    --seconds) SECONDS_PER_TARGET="$2"; shift 2 ;;
    --seconds=*) SECONDS_PER_TARGET="${1#*=}"; shift ;;
    --replay) REPLAY=1; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *)
      if [[ -z "${MAX_LEN[$1]:-}" ]]; then
        echo "fuzz.sh: unknown target '$1' (targets: ${ALL_TARGETS[*]})" >&2
        exit 2
      fi
      TARGETS+=("$1"); shift ;;
  esac
done
((${#TARGETS[@]})) || TARGETS=("${ALL_TARGETS[@]}")

BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
WORK_DIR=${FUZZ_WORK_DIR:-$BUILD_DIR/fuzz-work}
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  CLANG=""
  for c in clang++ clang++-14; do
    if command -v "$c" >/dev/null; then CLANG=$c; break; fi
  done
  if [[ -z "$CLANG" ]]; then
    echo "fuzz.sh: clang++ not found (scripts/deps.sh installs clang and libclang-rt-14-dev)" >&2
    exit 1
  fi
  CXX=$CLANG meson setup "$BUILD_DIR" -Dfuzz=true -Dbenchmarks=false --buildtype=release >/dev/null
fi
ninja -C "$BUILD_DIR" fuzz-targets >/dev/null

# Symbolized reports where llvm-symbolizer exists.
for s in llvm-symbolizer llvm-symbolizer-14 /usr/lib/llvm-14/bin/llvm-symbolizer; do
  if command -v "$s" >/dev/null; then
    export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v "$s")}
    break
  fi
done
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

mkdir -p "$WORK_DIR"
failed=()
printf '%-13s %8s %12s %9s %8s  %s\n' target seconds executions exec/s corpus result
for t in "${TARGETS[@]}"; do
  bin="$BUILD_DIR/tests/fuzz/fuzz_$t"
  work="$WORK_DIR/$t"
  mkdir -p "$work/corpus"
  dirs=("tests/fuzz/corpus/$t")
  [[ -d "tests/fuzz/regressions/$t" ]] && dirs+=("tests/fuzz/regressions/$t")
  log="$work/last.log"
  flags=(-max_len="${MAX_LEN[$t]}" -timeout=30 -rss_limit_mb=3072 -print_final_stats=1
    -artifact_prefix="$work/")
  [[ -f "tests/fuzz/dict/$t.dict" ]] && flags+=(-dict="tests/fuzz/dict/$t.dict")
  before=$(find "$work" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'leak-*' \
    -o -maxdepth 1 -name 'timeout-*' -o -maxdepth 1 -name 'oom-*' -o -maxdepth 1 \
    -name 'slow-unit-*' | sort)
  start=$(date +%s)
  rc=0
  if ((REPLAY)); then
    "$bin" "${flags[@]}" -runs=0 "${dirs[@]}" >"$log" 2>&1 || rc=$?
  else
    "$bin" "${flags[@]}" -max_total_time="$SECONDS_PER_TARGET" "$work/corpus" "${dirs[@]}" \
      >"$log" 2>&1 || rc=$?
  fi
  elapsed=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  execs=${execs:-0}
  rate=$((elapsed > 0 ? execs / elapsed : execs))
  corpus=$(find "$work/corpus" "${dirs[@]}" -type f | wc -l)
  after=$(find "$work" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'leak-*' \
    -o -maxdepth 1 -name 'timeout-*' -o -maxdepth 1 -name 'oom-*' -o -maxdepth 1 \
    -name 'slow-unit-*' | sort)
  new=$(comm -13 <(echo "$before") <(echo "$after") | grep -v '^$' || true)
  result=ok
  if ((rc != 0)) || [[ -n "$new" ]]; then result="FAILED (exit $rc)"; failed+=("$t"); fi
  printf '%-13s %8s %12s %9s %8s  %s\n' "$t" "$elapsed" "$execs" "$rate" "$corpus" "$result"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$elapsed" "$execs" \
    "$([[ $REPLAY == 1 ]] && echo replay || echo fuzz)" "$result" >>"$WORK_DIR/runs.tsv"
  if [[ "$result" != ok ]]; then
    echo "---- $t: the report (all of it in $log) ----"
    # From the first error line to libFuzzer's summary, without the driver's frames.
    sed -n '/FUZZ_CHECK failed\|ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:\|ERROR: libFuzzer\|==ERROR/,/^SUMMARY/p' \
      "$log" | grep -v 'in fuzzer::\|libc_start\|in _start\|in main \|pthread_kill\|raise\|abort ' |
      head -60 || true
    for a in $new; do
      echo "---- found: $a"
      echo "  replay:  $bin $a"
      echo "  keep it: cp $a tests/fuzz/regressions/$t/<what-it-breaks>"
    done
    [[ -z "$new" ]] && echo "  (no input saved; see $log)"
  fi
done
if ((${#failed[@]})); then
  echo "fuzz.sh: findings in: ${failed[*]}" >&2
  exit 1
fi
