#!/usr/bin/env bash
# compare_reads.sh: the read-path figures of the engine milestone (issue #4), ringdb-bench
# next to RocksDB's db_bench on the same machine in the same run, same sizes, O_DIRECT
# reads on both sides, 16-byte keys, 100-byte values, bloom 10 bits, no compression:
#   1. readrandom, 2 and 16 threads, on a data set that fits the block cache and on one
#      4x larger than the cache;
#   2. MultiGet of 32 cold keys (ringdb MultiGet, db_bench multireadrandom batched):
#      latency per call, and the block reads per second reached, next to fio's 4 KiB
#      random-read IOPS at queue depth 32;
#   3. readwhilewriting (2 readers, 1 writer): reader p50/p99/p99.9, once with no
#      flush or compaction during the phase (64 MiB memtables) and once with
#      compactions running all along (1 MiB memtables);
#   4. write amplification after a fillrandom of 4x the memtable budget per shard:
#      bytes the device wrote (/proc/diskstats) per user byte (key + value).
# Engines alternate within each step; the commands are echoed so each figure can be
# rerun by hand.
#
# usage: scripts/compare_reads.sh   (env: BUILD_DIR=build NUM=500000 DURATION=10
#        STEPS=1234 (which steps to run), OUT=/tmp/compare_reads.out (the full log))
set -euo pipefail
cd "$(dirname "$0")/.."
bench=${BUILD_DIR:-build}/tools/ringdb-bench
num=${NUM:-500000}
steps=${STEPS:-1234}
dur=${DURATION:-10}
rdir=/var/tmp/ringdb-cmpr
kdir=/var/tmp/rocks-cmpr
command -v db_bench >/dev/null || { echo "db_bench missing: scripts/deps.sh --extras" >&2; exit 1; }
command -v fio >/dev/null || { echo "fio missing: scripts/deps.sh --extras" >&2; exit 1; }
[ -x "$bench" ] || { echo "$bench not built" >&2; exit 1; }
dev=$(lsblk -no pkname "$(df --output=source /var/tmp | tail -1)" 2>/dev/null || true)
[ -n "$dev" ] || dev=$(basename "$(df --output=source /var/tmp | tail -1)")
export RINGDB_LOG_LEVEL=error

common="--key_size=16 --value_size=100 --compression_type=none --bloom_bits=10 --seed=42 \
--use_direct_reads=true --use_direct_io_for_flush_and_compaction=true --block_size=4096"
run() { echo "+ $*" >&2; "$@" 2>&1; }
sectors() { awk -v d="$dev" '$3 == d { print $10 }' /proc/diskstats; }
ops() { awk -v w="$1" '$1 == w { for (i = 1; i <= NF; i++) if ($(i+1) == "ops/sec") { print $i; exit } }'; }

# ---- 1. readrandom -----------------------------------------------------------------
fill_both() {  # cache_bytes memtable_per_shard
  rm -rf "$rdir" "$kdir"
  run "$bench" --benchmarks=fillrandom,flush --num="$num" --shards=2 --async \
    --memtable_bytes="$2" --cache_size="$1" --db="$rdir" --report_interval=0 >/dev/null
  run db_bench --benchmarks=fillrandom,flush --num="$num" $common --cache_size="$1" \
    --write_buffer_size=$(($2 * 2)) --db="$kdir" >/dev/null
}
readrandom() {  # cache threads
  local r k
  r=$(run "$bench" --use_existing_db --benchmarks=readrandom --threads="$2" --duration="$dur" \
    --num="$num" --cache_size="$1" --db="$rdir" --report_interval=0 | tee /dev/stderr | ops readrandom)
  k=$(run db_bench --use_existing_db=1 --benchmarks=readrandom --threads="$2" --duration="$dur" \
    --num="$num" $common --cache_size="$1" --db="$kdir" | tee /dev/stderr | ops readrandom)
  printf 'readrandom %-22s threads %-3s ringdb %-10s rocksdb %-10s ratio %.2f\n' "$3" "$2" "$r" "$k" \
    "$(echo "$r / $k" | bc -l)" | tee -a "$out"
}
out=${OUT:-/tmp/compare_reads.out}
: >"$out"
echo "machine: $(nproc) cores, kernel $(uname -r), device $dev; num=$num duration=${dur}s" | tee -a "$out"
if [[ $steps == *1* ]]; then
  fill_both $((256 << 20)) $((8 << 20))
  for t in 2 16; do readrandom $((256 << 20)) "$t" "fits cache (256 MiB)"; done
  fill_both $((16 << 20)) $((8 << 20))
  for t in 2 16; do readrandom $((16 << 20)) "$t" "4x cache (16 MiB)"; done
fi

# ---- 2. MultiGet of 32 cold keys (store from step 1, 16 MiB cache) ----------------------
if [[ $steps == *2* ]]; then
[[ $steps == *1* ]] || fill_both $((16 << 20)) $((8 << 20))
run "$bench" --use_existing_db --benchmarks=multiget --multiget_batch=32 --threads=1 \
  --duration="$dur" --num="$num" --cache_size=$((16 << 20)) --db="$rdir" --report_interval=0 \
  --stats --json=/tmp/cmpr-multiget.json | tee -a "$out" >/dev/null
run db_bench --use_existing_db=1 --benchmarks=multireadrandom --multiread_batched=true \
  --batch_size=32 --threads=1 --duration="$dur" --num="$num" $common --cache_size=$((16 << 20)) \
  --db="$kdir" --histogram=1 | grep -E "multireadrandom|Percentiles|Count" | tee -a "$out"
sst=$(ls "$rdir"/shard-000/*.sst | head -1)
run fio --name=rr --filename="$sst" --rw=randread --bs=4k --direct=1 --ioengine=io_uring \
  --iodepth=32 --runtime="$dur" --time_based --output-format=terse --terse-version=3 |
  awk -F';' '{ print "fio io_uring randread 4k qd32 on an SST: IOPS " $8 ", mean clat " $16 " us" }' |
  tee -a "$out"
fi

# ---- 3. readwhilewriting --------------------------------------------------------------
rww() {  # label memtable_per_shard
  rm -rf "$rdir" "$kdir"
  run "$bench" --benchmarks=fillrandom,flush,readwhilewriting --num="$num" --shards=2 --async \
    --threads=2 --duration="$dur" --memtable_bytes="$2" --cache_size=$((16 << 20)) \
    --db="$rdir" --report_interval=0 --histogram --stats | tee -a "$out" >/dev/null
  run db_bench --benchmarks=fillrandom,flush,readwhilewriting --num="$num" --threads=2 \
    --duration="$dur" $common --cache_size=$((16 << 20)) --write_buffer_size=$(($2 * 2)) \
    --db="$kdir" --histogram=1 --statistics=0 |
    grep -E "^readwhilewriting|Percentiles|compact" | tee -a "$out"
  echo "(readwhilewriting: $1)" | tee -a "$out"
}
if [[ $steps == *3* ]]; then
  rww "no compaction during the phase (64 MiB memtables)" $((64 << 20))
  rww "compactions running (1 MiB memtables)" $((1 << 20))
fi

# ---- 4. write amplification --------------------------------------------------------------
if [[ $steps == *4* ]]; then
wa_num=$((4 * 2 * (4 << 20) / 116))  # 4x the memtable budget (4 MiB x 2 shards) of data
user_bytes=$((wa_num * 116))
rm -rf "$rdir" "$kdir"
sync; s0=$(sectors)
run "$bench" --benchmarks=fillrandom,flush --num="$wa_num" --shards=2 --async \
  --memtable_bytes=$((4 << 20)) --db="$rdir" --report_interval=0 --stats | tee -a "$out" >/dev/null
sleep 2; sync; s1=$(sectors)
run db_bench --benchmarks=fillrandom,flush --num="$wa_num" $common --write_buffer_size=$((8 << 20)) \
  --db="$kdir" >/dev/null
sleep 2; sync; s2=$(sectors)
printf 'write amplification, fillrandom of %s keys (%s user bytes): ringdb %.2f  rocksdb %.2f\n' \
  "$wa_num" "$user_bytes" "$(echo "($s1 - $s0) * 512 / $user_bytes" | bc -l)" \
  "$(echo "($s2 - $s1) * 512 / $user_bytes" | bc -l)" | tee -a "$out"
fi
echo "---- summary (full log: $out)"
grep -E "^readrandom |^multiget|^multireadrandom|^readwhilewriting|Percentiles|^  p50|write amplification|^fio|^\(" "$out"
