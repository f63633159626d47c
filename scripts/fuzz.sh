#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz (docs/testing.md "Fuzzing").
#
#   scripts/fuzz.sh [--seconds N] [--jobs J] [--replay] [target...]
#
# Configures (once) and builds the fuzz build (${FUZZ_BUILD_DIR:-build-fuzz}, clang,
# -Dfuzz=true), then runs each target (default: all) for N seconds (default 600), J at
# a time (default 1; one core each), from its seed corpus (tests/fuzz/corpus/<target>)
# plus its regression inputs (tests/fuzz/regressions/<target>). New corpus entries,
# crash inputs and logs go to a scratch directory (${FUZZ_WORK_DIR:-<build>/fuzz-work}/
# <target>/), which later runs reuse; nothing under tests/ is written. Prints
# executions per target, appends them to <work>/runs.tsv, and for a crash prints the
# report and how to replay it.
# --replay only runs every seed and regression input once (no fuzzing).
# Exit status: 0, or 1 when a target found something (or did not run).
set -euo pipefail
cd "$(dirname "$0")/.."

# Every target, with its -max_len (bytes).
declare -A MAX_LEN=(
  [wal]=65544 [manifest]=65544 [version_edit]=4096 [block]=16384 [table]=65536
  [options]=1024 [current]=256 [iotrace]=65536 [resp]=32768
)
ALL_TARGETS=(wal manifest version_edit block table options current iotrace resp)

SECONDS_PER_TARGET=600
JOBS=1
REPLAY=0
TARGETS=()
while (($#)); do
  case "$1" in
    --seconds) SECONDS_PER_TARGET="$2"; shift 2 ;;
    --seconds=*) SECONDS_PER_TARGET="${1#*=}"; shift ;;
    --jobs) JOBS="$2"; shift 2 ;;
    --jobs=*) JOBS="${1#*=}"; shift ;;
    --replay) REPLAY=1; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

artifacts() {  # what libFuzzer saved in a target's work dir
  find "$1" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' -o -name 'slow-unit-*' \) | sort
}

# Runs target $1; leaves "elapsed execs rc" in <work>/last.result and the new
# artifacts in <work>/last.found.
run_target() {
  local t=$1 bin="$BUILD_DIR/tests/fuzz/fuzz_$1" work="$WORK_DIR/$1"
  mkdir -p "$work/corpus"
  local dirs=("tests/fuzz/corpus/$t")
  [[ -d "tests/fuzz/regressions/$t" ]] && dirs+=("tests/fuzz/regressions/$t")
  local log="$work/last.log"
  local flags=(-max_len="${MAX_LEN[$t]}" -timeout=30 -rss_limit_mb=3072 -print_final_stats=1
    -artifact_prefix="$work/")
  [[ -f "tests/fuzz/dict/$t.dict" ]] && flags+=(-dict="tests/fuzz/dict/$t.dict")
  local before start rc=0
  before=$(artifacts "$work")
  start=$(date +%s)
  if ((REPLAY)); then
    "$bin" "${flags[@]}" -runs=0 "${dirs[@]}" >"$log" 2>&1 || rc=$?
  else
    "$bin" "${flags[@]}" -max_total_time="$SECONDS_PER_TARGET" "$work/corpus" "${dirs[@]}" \
      >"$log" 2>&1 || rc=$?
  fi
  local execs
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  echo "$(($(date +%s) - start)) ${execs:-0} $rc" >"$work/last.result"
  comm -13 <(echo "$before") <(artifacts "$work") | grep -v '^$' >"$work/last.found" || true
}

# Prints target $1's line (and its report when it found something); false then.
report_target() {
  local t=$1 bin="$BUILD_DIR/tests/fuzz/fuzz_$1" work="$WORK_DIR/$1"
  local elapsed execs rc
  read -r elapsed execs rc <"$work/last.result"
  local new corpus result=ok
  new=$(cat "$work/last.found")
  if ((REPLAY)); then
    corpus=$(find "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t" -type f 2>/dev/null | wc -l)
  else
    corpus=$(find "$work/corpus" "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t" -type f \
      2>/dev/null | wc -l)
  fi
  if ((rc != 0)) || [[ -n "$new" ]]; then result="FAILED (exit $rc)"; fi
  printf '%-13s %8s %12s %9s %8s  %s\n' "$t" "$elapsed" "$execs" \
    "$((elapsed > 0 ? execs / elapsed : execs))" "$corpus" "$result"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$elapsed" "$execs" \
    "$([[ $REPLAY == 1 ]] && echo replay || echo fuzz)" "$result" >>"$WORK_DIR/runs.tsv"
  [[ "$result" == ok ]] && return 0
  echo "---- $t: the report (all of it in $work/last.log) ----"
  # From the first error line to libFuzzer's summary, without the driver's frames.
  sed -n '/FUZZ_CHECK failed\|ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:\|ERROR: libFuzzer\|==ERROR/,/^SUMMARY/p' \
    "$work/last.log" |
    grep -v 'in fuzzer::\|libc_start\|in _start\|in main \|pthread_kill\|raise\|abort ' |
    head -60 || true
  local a
  for a in $new; do
    echo "---- found: $a"
    echo "  replay:  $bin $a"
    echo "  keep it: cp $a tests/fuzz/regressions/$t/<what-it-breaks>"
  done
  [[ -z "$new" ]] && echo "  (no input saved; see $work/last.log)"
  return 1
}

mkdir -p "$WORK_DIR"
# --jobs N: N targets at a time (one core each; CI uses 2). Results print in order.
running=0
for t in "${TARGETS[@]}"; do
  rm -f "$WORK_DIR/$t/last.result"
  run_target "$t" &
  running=$((running + 1))
  if ((running >= JOBS)); then
    wait -n || true
    running=$((running - 1))
  fi
done
wait
failed=()
printf '%-13s %8s %12s %9s %8s  %s\n' target seconds executions exec/s corpus result
for t in "${TARGETS[@]}"; do
  if [[ ! -f "$WORK_DIR/$t/last.result" ]]; then
    echo "$t: did not run" >&2
    failed+=("$t")
  elif ! report_target "$t"; then
    failed+=("$t")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz.sh: findings in: ${failed[*]}" >&2
  exit 1
fi
