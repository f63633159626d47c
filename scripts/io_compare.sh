#!/usr/bin/env bash
# io_compare.sh: 4 KiB O_DIRECT random-read IOPS of fio (io_uring, libaio) against
# ringdb's io_bench (UringBackend, AioBackend) on the same file, alternating the tools
# ROUNDS times so that drift of the machine hits both alike; prints the median per row.
#
# usage: scripts/io_compare.sh [FILE]
#   FILE      file to read (default /var/tmp/ringdb-io-compare.dat, created with SIZE
#             bytes of written data if missing; an existing file is used at its size)
# env:
#   SIZE=4G        size of the file created when FILE is missing
#   RUNTIME=10     seconds per fio job and per io_bench benchmark
#   ROUNDS=3       alternations of fio and io_bench
#   QDS="1 32 128" queue depths for io_bench
#   FIO_DEPTHS=32  queue depths at which fio runs too (e.g. "1 32 128")
#   BUILD_DIR=build-io   meson build dir holding bench/io/io_bench
#   FIXED=1        also run io_bench's uring_fixed (registered buffers) variant
#   POLLALL=1      also run the *_pollall variants (every ready completion in one Poll())
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
file=${1:-/var/tmp/ringdb-io-compare.dat}
size=${SIZE:-4G}
runtime=${RUNTIME:-10}
rounds=${ROUNDS:-3}
fio_depths=${FIO_DEPTHS:-32}
bench=${root}/${BUILD_DIR:-build-io}/bench/io/io_bench
fixed=${FIXED:-1}
pollall=${POLLALL:-1}

command -v fio >/dev/null || { echo "fio not found" >&2; exit 1; }
[ -x "$bench" ] || { echo "$bench not built (ninja -C ${BUILD_DIR:-build-io})" >&2; exit 1; }

if [ ! -f "$file" ]; then
  echo "creating $file ($size, written sequentially with O_DIRECT)..." >&2
  fio --name=layout --filename="$file" --size="$size" --rw=write --bs=1M --direct=1 \
    --ioengine=libaio --iodepth=16 --output=/dev/null
fi
bytes=$(stat -c %s "$file")
echo "file: $file ($bytes bytes = $((bytes >> 20)) MiB), runtime ${runtime}s, rounds $rounds" >&2

results=$(mktemp)
trap 'rm -f "$results"' EXIT

variants="uring"
[ "$fixed" = 1 ] && variants="$variants uring_fixed"
[ "$pollall" = 1 ] && variants="$variants uring_pollall"
aio_variants="aio"
[ "$pollall" = 1 ] && aio_variants="aio aio_pollall"

run_fio() {  # engine depth
  local iops
  iops=$(fio --name=rr --filename="$file" --size="$bytes" --rw=randread --bs=4k --direct=1 \
    --ioengine="$1" --iodepth="$2" --numjobs=1 --runtime="$runtime" --time_based \
    --output-format=json | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["read"]["iops"])')
  echo "fio_$1 qd$2 $iops" >>"$results"
  echo "round $round: fio $1 qd$2: $iops" >&2
}

run_ringdb() {  # variant depth
  local iops
  iops=$(RINGDB_LOG_LEVEL=warn RINGDB_BENCH_FILE="$file" "$bench" \
    --benchmark_filter="^randread4k/$1/qd$2/" --benchmark_min_time="$runtime" \
    --benchmark_format=json 2>/dev/null |
    python3 -c '
import json, sys
b = json.load(sys.stdin)["benchmarks"][0]
print(b["IOPS"] if "IOPS" in b else "skipped:" + b.get("error_message", "?").replace(" ", "_"))')
  echo "ringdb_$1 qd$2 $iops" >>"$results"
  echo "round $round: ringdb $1 qd$2: $iops" >&2
}

# Each fio job runs right next to the ringdb runs it is compared with, so that drift of
# a shared (virtual) disk hits both alike.
for round in $(seq 1 "$rounds"); do
  for depth in ${QDS:-1 32 128}; do
    with_fio=0
    for d in $fio_depths; do [ "$d" = "$depth" ] && with_fio=1; done
    [ "$with_fio" = 1 ] && run_fio io_uring "$depth"
    for v in $variants; do run_ringdb "$v" "$depth"; done
    [ "$with_fio" = 1 ] && run_fio libaio "$depth"
    for v in $aio_variants; do run_ringdb "$v" "$depth"; done
  done
done

python3 - "$results" <<'PY'
import collections, statistics, sys
runs = collections.OrderedDict()
for line in open(sys.argv[1]):
    name, qd, iops = line.split()
    if iops.startswith("skipped"):
        print(name, qd, iops, file=sys.stderr)
        continue
    runs.setdefault((name, int(qd[2:])), []).append(float(iops))
order = ["fio_io_uring", "ringdb_uring", "ringdb_uring_fixed", "ringdb_uring_pollall",
         "fio_libaio", "ringdb_aio", "ringdb_aio_pollall"]
keys = sorted(runs, key=lambda k: (k[1], order.index(k[0]) if k[0] in order else 99))
print("%-20s %5s %10s   %s" % ("engine", "qd", "median", "runs (IOPS)"))
for k in keys:
    v = runs[k]
    print("%-20s %5d %10.0f   %s" % (k[0], k[1], statistics.median(v), " ".join("%.0f" % x for x in v)))
med = {k: statistics.median(v) for k, v in runs.items()}
for ours, ref in (("ringdb_uring", "fio_io_uring"), ("ringdb_uring_fixed", "fio_io_uring"),
                  ("ringdb_uring_pollall", "fio_io_uring"), ("ringdb_aio", "fio_libaio"),
                  ("ringdb_aio_pollall", "fio_libaio")):
    if (ours, 32) in med and (ref, 32) in med:
        a, r = runs[(ours, 32)], runs[(ref, 32)]
        # Runs of the same round were back to back: their ratio cancels slow drift of a
        # shared disk better than the ratio of medians.
        paired = statistics.median(x / y for x, y in zip(a, r)) if len(a) == len(r) else float("nan")
        print("%s / %s at qd32: %.1f%% (ratio of medians), %.1f%% (median of per-round ratios)"
              % (ours, ref, 100.0 * med[(ours, 32)] / med[(ref, 32)], 100.0 * paired))
PY
