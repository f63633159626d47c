#!/usr/bin/env bash
# cold_ceiling.sh: row d of scripts/compare_anythread.sh (cold readrandom, 16 threads)
# next to what the machine gives 16 threads reading the same tables with no engine at
# all (bench/io/blocking_reads), in rotated rounds: each round runs every variant once,
# the next round starts one variant later, so that the disk's drift spreads evenly.
# Prints every round, then each variant's median and its median ratio per round to the
# first variant (docs/bench.md "Cold reads and a TLB flushed at every system call").
#
#   usage: scripts/cold_ceiling.sh [VARIANT...]
#     variants: ringdb, ringdb=PATH (another build's ringdb-bench, to compare two
#     builds), rocksdb (db_bench), and blocking_reads' modes psync, ring, sqpoll,
#     shared, server, spin (default: ringdb rocksdb sqpoll psync)
#   env: ROUNDS=6 DURATION=4 BUILD_DIR=build
# Reads the stores row d leaves behind (/var/tmp/ringdb-cmpa, /var/tmp/rocks-cmpa): run
# `ROWS=d scripts/compare_anythread.sh` first. Take the CPU lock on a shared machine
# (`flock -x /tmp/ringdb-cpu.lock scripts/cold_ceiling.sh`).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-6}
dur=${DURATION:-4}
build=${BUILD_DIR:-build}
rdir=/var/tmp/ringdb-cmpa
kdir=/var/tmp/rocks-cmpa
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(ringdb rocksdb sqpoll psync)
[ -f "$rdir/OPTIONS" ] || { echo "no store in $rdir: ROWS=d scripts/compare_anythread.sh" >&2; exit 1; }
export RINGDB_LOG_LEVEL=error

ops() { awk '$1 == "readrandom" { for (i = 1; i <= NF; i++) if ($(i+1) == "ops/sec") print $i }'; }
one() {  # variant -> reads/s
  case $1 in
    ringdb | ringdb=*)
      local bin="$build/tools/ringdb-bench"
      [ "$1" = ringdb ] || bin=${1#ringdb=}
      "$bin" --use_existing_db --benchmarks=readrandom --threads=16 \
        --duration="$dur" --num=3000000 --value_size=1000 --cache_size=$((64 << 20)) \
        --db="$rdir" --report_interval=0 2>/dev/null | ops ;;
    rocksdb)
      db_bench --use_existing_db=1 --benchmarks=readrandom --threads=16 --duration="$dur" \
        --num=3000000 --value_size=1000 --key_size=16 --compression_type=none --bloom_bits=10 \
        --seed=42 --cache_size=$((64 << 20)) --db="$kdir" --use_direct_reads=true \
        --use_direct_io_for_flush_and_compaction=true 2>/dev/null | ops ;;
    psync | ring | sqpoll | shared | server | spin)
      "$build/bench/io/blocking_reads" "$rdir" "$1" 16 "$dur" 2>&1 |
        sed -n 's/.* \([0-9]*\) reads\/s.*/\1/p' ;;
    *) echo "unknown variant $1" >&2; exit 2 ;;
  esac
}

n=${#variants[@]}
declare -A runs
for ((r = 0; r < rounds; r++)); do
  line="round $((r + 1)):"
  for ((j = 0; j < n; j++)); do
    v=${variants[(j + r) % n]}
    x=$(one "$v")
    runs[$r,$v]=${x:-0}
    line+=" $v=${x:-failed}"
  done
  echo "$line"
done
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
first=${variants[0]}
for v in "${variants[@]}"; do
  m=$(for ((r = 0; r < rounds; r++)); do echo "${runs[$r,$v]}"; done | median)
  ratio=$(for ((r = 0; r < rounds; r++)); do echo "${runs[$r,$v]} ${runs[$r,$first]}"; done |
    awk '$2 > 0 { printf "%.3f\n", $1 / $2 }' | median)
  echo "$v: median $m reads/s, per round against $first: $ratio"
done
