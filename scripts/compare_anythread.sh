#!/usr/bin/env bash
# compare_anythread.sh: the "Done when" table of the any-thread issue (#10). ringdb-bench
# with application threads calling the blocking API (--load=threads), next to RocksDB's
# db_bench on the same machine in the same run: engines alternate ROUNDS times per row
# and each row reports every run and the medians (BENCH.md). 16-byte keys, bloom 10
# bits, no compression, durability none unless the row says otherwise.
#
#   rows (ROWS selects, default all):
#     a  readrandom, 1M x 100 B in memory (BENCH.md "in-memory reads": fillrandom then
#        readrandom in one process, 1 GiB cache), 2 and 16 threads
#     b  fillrandom (none), 1M x 100 B, 2 threads and 1 thread
#     c  durable writes (ringdb sync / db_bench --sync=1), 16 threads x 1500 writes
#     d  cold readrandom, 3M x 1000 B filled with fillseq, 64 MiB cache, O_DIRECT reads,
#        16 threads
#     e  MultiGet of 32 cold keys from one thread (same store as d) vs multireadrandom
#        (d and e: both stores are filled with page-aligned data blocks, ringdb-bench
#        --block_align and db_bench --block_align=true, unless BLOCK_ALIGN=0 /
#        ROCKS_BLOCK_ALIGN=0; it helped both on d, docs/bench.md "Page-aligned data blocks")
#     f  readwhilewriting (2 readers, 1 writer): reader p99.9, without flushes during the
#        phase (64 MiB memtables) and with compactions running (1 MiB memtables); then
#        without flushes again, after a readrandom phase (warm caches), with both writers
#        paced at 100k writes/s (--benchmark_write_rate_limit; ringdb-bench paces as
#        db_bench does, bursts refilled every 100 ms): the same work on both sides.
#        Every run starts from a copy of the store as the fill left it.
#     g  --load=reactor readrandom and fillrandom: this build next to BASE_BENCH (a
#        ringdb-bench built from the commit before the issue), no slower
#
# usage: scripts/compare_anythread.sh   (env: ROUNDS=3 DURATION=5 BUILD_DIR=build ROWS=abcdefg
#        BASE_BENCH=<path to the older ringdb-bench> OUT=/tmp/compare_anythread.md
#        BLOCK_ALIGN=1 ROCKS_BLOCK_ALIGN=1 WARMUP=1)
# It does not take the CPU lock itself: run it as `flock -x /tmp/ringdb-cpu.lock ...` on
# a shared machine.
# Every command is echoed to stderr so each figure can be rerun by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
dur=${DURATION:-5}
rows=${ROWS:-abcdefg}
bench=${BUILD_DIR:-build}/tools/ringdb-bench
base_bench=${BASE_BENCH:-}
out=${OUT:-/tmp/compare_anythread.md}
rdir=/var/tmp/ringdb-cmpa
kdir=/var/tmp/rocks-cmpa
command -v db_bench >/dev/null || { echo "db_bench missing: scripts/deps.sh --extras" >&2; exit 1; }
[ -x "$bench" ] || { echo "$bench not built" >&2; exit 1; }
export RINGDB_LOG_LEVEL=error
common="--key_size=16 --compression_type=none --bloom_bits=10 --seed=42"

run() { echo "+ $*" >&2; "$@" 2>/dev/null; }
# "ops p50 p99 p99.9" of the phase named $1 in ringdb-bench or db_bench output.
figures() {
  awk -v w="$1" '
    $1 == w { for (i = 1; i <= NF; i++) if ($(i+1) == "ops/sec") ops = $i; want = 1; next }
    want && /P50:/ { for (i = 1; i <= NF; i++) { if ($i == "P50:") p50 = $(i+1);
      if ($i == "P99:") p99 = $(i+1); if ($i == "P99.9:") p999 = $(i+1) } want = 0 }
    END { printf "%s %s %s %s\n", ops, p50, p99, p999 }'
}
sst_bytes() { find "$1" -name '*.sst' -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
col() { awk -v c="$1" '{ print $c }'; }

settle() { sync; }
keep_filled=0  # row f: fill_both keeps a copy of each store for restore
fresh=0  # set by fill_both: the next compare's first runs are the first after a fill

# Before every run, the page cache's dirty data goes to disk (sync, not timed), so that
# no run pays for the writeback of the one before it (db_bench writes through the page
# cache, ringdb with O_DIRECT). The first read phase after a fill is slower on this VM,
# for whichever engine takes it (docs/bench.md, 2026-12-07): after fill_both each side
# runs once first and that run is not counted (WARMUP=0 counts it).
# Runs "ringdb_cmd" and "rocks_cmd" (functions printing "ops p50 p99 p99.9") alternately;
# prints one table row: medians of ops/s, p50, p99, p99.9 and the ops ratio.
compare() {  # name ringdb_fn rocks_fn [args...]
  local name=$1 rf=$2 kf=$3 r=() k=()
  shift 3
  if [ "$fresh" = 1 ] && [ "${WARMUP:-1}" = 1 ]; then
    echo "+ warm-up round, not counted" >&2
    settle
    "$rf" "$@" >/dev/null
    settle
    "$kf" "$@" >/dev/null
  fi
  fresh=0
  for ((i = 0; i < rounds; i++)); do
    settle
    r+=("$("$rf" "$@")")
    settle
    k+=("$("$kf" "$@")")
  done
  local line="| $name |"
  for side in r k; do
    local -n runs=$side
    local ops_all
    ops_all=$(printf '%s\n' "${runs[@]}" | col 1 | tr '\n' ' ')
    line+=" ${ops_all% } → **$(printf '%s\n' "${runs[@]}" | col 1 | median)**"
    for c in 2 3 4; do line+=" / $(printf '%s\n' "${runs[@]}" | col "$c" | median)"; done
    line+=" |"
  done
  local rm km
  rm=$(printf '%s\n' "${r[@]}" | col 1 | median)
  km=$(printf '%s\n' "${k[@]}" | col 1 | median)
  line+=" $(echo "scale=2; $rm / $km" | bc -l)× |"
  echo "$line" | tee -a "$out"
}

header() {
  {
    echo
    echo "$1"
    echo
    echo "| workload | ringdb runs → **median ops/s** / p50 / p99 / p99.9 µs | RocksDB runs → **median** / p50 / p99 / p99.9 µs | ratio |"
    echo "|---|---|---|---|"
  } | tee -a "$out"
}

# ---- the two sides of each row -------------------------------------------------------
r_read() {  # threads cache [extra ringdb flags]
  run "$bench" --use_existing_db --benchmarks=readrandom --threads="$1" --duration="$dur" \
    --num="$num" --value_size="$vsize" --cache_size="$2" --db="$rdir" --report_interval=0 \
    "${@:3}" | figures readrandom
}
k_read() {  # threads cache [extra]
  run db_bench --use_existing_db=1 --benchmarks=readrandom --threads="$1" --duration="$dur" \
    --num="$num" --value_size="$vsize" $common --cache_size="$2" --db="$kdir" --histogram=1 \
    ${direct:-} | figures readrandom
}
r_memread() {  # threads
  rm -rf "$rdir"
  run "$bench" --benchmarks=fillrandom,readrandom --threads="$1" --duration="$dur" \
    --num=1000000 --value_size=100 --cache_size=$((1 << 30)) --db="$rdir" --report_interval=0 |
    figures readrandom
}
k_memread() {  # threads
  rm -rf "$kdir"
  run db_bench --benchmarks=fillrandom,readrandom --threads="$1" --duration="$dur" \
    --num=1000000 --value_size=100 $common --cache_size=$((1 << 30)) --db="$kdir" --histogram=1 |
    figures readrandom
}
r_fill() {  # threads durability per_thread_num
  rm -rf "$rdir"
  run "$bench" --benchmarks=fillrandom --threads="$1" --num=$(($3 * $1)) --durability="$2" \
    --value_size=100 --db="$rdir" --report_interval=0 | figures fillrandom
}
k_fill() {  # threads durability per_thread_num
  rm -rf "$kdir"
  local sync=0
  [ "$2" = sync ] && sync=1
  run db_bench --benchmarks=fillrandom --threads="$1" --num="$3" --sync="$sync" --value_size=100 \
    $common --db="$kdir" --histogram=1 | figures fillrandom
}
r_multiget() {
  run "$bench" --use_existing_db --benchmarks=multiget --multiget_batch=32 --threads=1 \
    --duration="$dur" --num="$num" --value_size="$vsize" --cache_size=$((64 << 20)) \
    --db="$rdir" --report_interval=0 | figures multiget
}
k_multiget() {
  run db_bench --use_existing_db=1 --benchmarks=multireadrandom --multiread_batched=true \
    --batch_size=32 --threads=1 --duration="$dur" --num="$num" --value_size="$vsize" $common \
    $direct --cache_size=$((64 << 20)) --db="$kdir" --histogram=1 | figures multireadrandom
}
# Row f's phases write into the store they read, so each run starts from a copy of the
# store as fill_both left it (not timed): otherwise every run after the first reads a
# larger store, replays a full memtable at Open and flushes during the phase that
# should have none.
restore() {  # dir
  rm -rf "$1"
  cp -a "$1.filled" "$1"
}
r_rww() {  # cache [write rate limit, bytes/s] [phases before]
  restore "$rdir"
  run "$bench" --use_existing_db --benchmarks="${3:-}readwhilewriting" --threads=2 --duration="$dur" \
    --num="$num" --value_size=100 --cache_size="$1" --memtable_bytes="$mem" --db="$rdir" \
    --benchmark_write_rate_limit="${2:-0}" --report_interval=0 | figures readwhilewriting
}
k_rww() {  # cache [write rate limit, bytes/s] [phases before]
  restore "$kdir"
  run db_bench --use_existing_db=1 --benchmarks="${3:-}readwhilewriting" --threads=2 --duration="$dur" \
    --num="$num" --value_size=100 $common --cache_size="$1" --write_buffer_size=$((mem * 2)) \
    --benchmark_write_rate_limit="${2:-0}" --db="$kdir" --histogram=1 | figures readwhilewriting
}
fill_both() {  # cache memtable_per_shard [direct flags for db_bench] [fill benchmark]
  local fill=${4:-fillrandom}
  fresh=1
  rm -rf "$rdir" "$kdir"
  local threads=2
  [ "$fill" = fillseq ] && threads=1  # one ordered stream, as db_bench's fillseq
  run "$bench" --benchmarks="$fill",flush --num="$num" --value_size="$vsize" --threads="$threads" \
    --memtable_bytes="$2" --cache_size="$1" --db="$rdir" --report_interval=0 ${ralign:-} >/dev/null
  run db_bench --benchmarks="$fill",flush --num="$num" --value_size="$vsize" $common \
    --cache_size="$1" --write_buffer_size=$(($2 * 2)) --db="$kdir" ${3:-} ${kalign:-} >/dev/null
  rm -rf "$rdir.filled" "$kdir.filled"
  if [ "$keep_filled" = 1 ]; then  # for restore
    cp -a "$rdir" "$rdir.filled"
    cp -a "$kdir" "$kdir.filled"
  fi
}
new_reactor() { run "$bench" --load=reactor "$@" --report_interval=0 | figures "$phase"; }
old_reactor() { run "$base_bench" --load=reactor "$@" --report_interval=0 | figures "$phase"; }

: >"$out"
echo "machine: $(nproc) CPUs, $(uname -r), $(date -u +%F); $rounds rounds alternating, ${dur}s phases, sync before each run, warm-up round after each fill: ${WARMUP:-1}" |
  tee -a "$out"

if [[ $rows == *a* ]]; then
  header "a. readrandom, 1M x 100 B in memory (fillrandom,readrandom in one process, 1 GiB cache)"
  compare "readrandom, 2 threads" r_memread k_memread 2
  compare "readrandom, 16 threads" r_memread k_memread 16
fi
if [[ $rows == *b* ]]; then
  header "b. fillrandom (durability none / db_bench WAL without sync), 1M x 100 B"
  compare "fillrandom none, 2 threads" r_fill k_fill 2 none 500000
  compare "fillrandom none, 1 thread" r_fill k_fill 1 none 1000000
fi
if [[ $rows == *c* ]]; then
  header "c. durable writes (ringdb sync / db_bench --sync=1), 1500 per thread"
  compare "durable writes, 16 threads" r_fill k_fill 16 sync 1500
fi
if [[ $rows == *d* || $rows == *e* ]]; then
  num=3000000 vsize=1000 direct="--use_direct_reads=true --use_direct_io_for_flush_and_compaction=true"
  ralign= kalign=
  [ "${BLOCK_ALIGN:-1}" = 1 ] && ralign=--block_align
  [ "${ROCKS_BLOCK_ALIGN:-1}" = 1 ] && kalign=--block_align=true
  # BENCH.md "cold reads": filled in key order (no compaction debt left for the reads).
  fill_both $((64 << 20)) $((64 << 20)) "$direct" fillseq
  echo "table bytes: ringdb $(sst_bytes "$rdir") (${ralign:-unaligned}), RocksDB" \
    "$(sst_bytes "$kdir") (${kalign:-unaligned})" | tee -a "$out"
  ralign= kalign=
  if [[ $rows == *d* ]]; then
    header "d. cold readrandom, 3M x 1000 B, 64 MiB cache, O_DIRECT"
    compare "cold readrandom, 16 threads" r_read k_read 16 $((64 << 20))
  fi
  if [[ $rows == *e* ]]; then
    header "e. MultiGet of 32 cold keys, one thread (ops = keys)"
    compare "MultiGet 32 cold keys, 1 thread" r_multiget k_multiget
  fi
fi
if [[ $rows == *f* ]]; then
  num=1000000 vsize=100 direct= keep_filled=1
  header "f. readwhilewriting, 2 readers + 1 writer (reader latency)"
  mem=$((64 << 20))
  fill_both $((256 << 20)) "$mem"
  compare "readwhilewriting, no flush in the phase" r_rww k_rww $((256 << 20))
  mem=$((1 << 20))
  fill_both $((256 << 20)) "$mem"
  compare "readwhilewriting, compactions running" r_rww k_rww $((256 << 20))
  # The same work on both sides: unpaced, ringdb's writer goes 2-3x as fast as
  # db_bench's (more flushes and compactions competing with the readers for 2 cores), and
  # ringdb's O_DIRECT reads start from a cold cache where db_bench's hit the page cache:
  # both writers paced at 100k writes/s, and a readrandom phase first in both.
  mem=$((64 << 20))
  fill_both $((256 << 20)) "$mem"
  compare "readwhilewriting, warm caches, both writers at 100k/s" r_rww k_rww \
    $((256 << 20)) $((100000 * 116)) readrandom,
fi
if [[ $rows == *g* && -x $base_bench ]]; then
  {
    echo
    echo "g. --load=reactor, this build vs BASE_BENCH=$base_bench (1M x 100 B)"
    echo
    echo "| workload | this build runs → **median ops/s** / p50 / p99 / p99.9 µs | before → **median** / p50 / p99 / p99.9 µs | ratio |"
    echo "|---|---|---|---|"
  } | tee -a "$out"
  phase=fillrandom
  compare "fillrandom, --load=reactor" new_reactor old_reactor --benchmarks=fillrandom \
    --num=1000000 --db="$rdir"
  phase=readrandom
  compare "readrandom, --load=reactor" new_reactor old_reactor --benchmarks=fillrandom,readrandom \
    --num=1000000 --duration="$dur" --db="$rdir"
fi
echo "table: $out"
