#!/usr/bin/env bash
# compare_writes.sh: write throughput of ringdb-bench against RocksDB's db_bench on the
# same machine, alternating the two engines ROUNDS times (BENCH.md), for the workloads
# of the write-path milestone: fillrandom without sync (1 thread), and durable
# fillrandom with 1 and 16 threads (1500 writes per thread, as db_bench counts --num).
# Prints every run and the median ops/s per side, and the ratio.
#
# usage: scripts/compare_writes.sh   (env: ROUNDS=3 BUILD_DIR=build NUM_NOSYNC=1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
bench=${BUILD_DIR:-build}/tools/ringdb-bench
num_nosync=${NUM_NOSYNC:-1000000}
command -v db_bench >/dev/null || { echo "db_bench missing: scripts/deps.sh --extras" >&2; exit 1; }
[ -x "$bench" ] || { echo "$bench not built" >&2; exit 1; }
common="--key_size=16 --value_size=100 --compression_type=none --bloom_bits=10 --seed=42"

ringdb() {  # threads num durability
  rm -rf /var/tmp/ringdb-cmp
  RINGDB_LOG_LEVEL=error "$bench" --benchmarks=fillrandom --threads="$1" --num="$2" \
    --durability="$3" --db=/var/tmp/ringdb-cmp --report_interval=0 2>/dev/null |
    awk '/^fillrandom/ { for (i = 1; i <= NF; i++) if ($(i+1) == "ops/sec") { print $i; exit } }'
}
rocks() {  # threads num_per_thread sync
  rm -rf /var/tmp/rocks-cmp
  db_bench --benchmarks=fillrandom --threads="$1" --num="$2" --sync="$3" $common \
    --db=/var/tmp/rocks-cmp 2>/dev/null |
    awk '/^fillrandom/ { for (i = 1; i <= NF; i++) if ($(i+1) == "ops/sec") { print $i; exit } }'
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

run_case() {  # name threads per_thread_num ringdb_durability rocks_sync
  local name=$1 t=$2 n=$3 d=$4 sync=$5 r=() k=()
  for ((i = 0; i < rounds; i++)); do
    r+=("$(ringdb "$t" $((n * t)) "$d")")
    k+=("$(rocks "$t" "$n" "$sync")")
  done
  local rm km
  rm=$(printf '%s\n' "${r[@]}" | median)
  km=$(printf '%s\n' "${k[@]}" | median)
  printf '%-28s ringdb %-30s median %-8s | rocksdb %-30s median %-8s | ratio %.2f\n' "$name" \
    "${r[*]}" "$rm" "${k[*]}" "$km" "$(echo "$rm / $km" | bc -l)"
}

echo "machine: $(nproc) cores, kernel $(uname -r); $rounds rounds, alternating"
run_case "fillrandom none, 1 thread" 1 "$num_nosync" none 0
run_case "fillrandom sync, 1 thread" 1 1500 sync 1
run_case "fillrandom sync, 16 threads" 16 1500 sync 1
