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
#   FIO_DEPTHS=32  fio queue depths (e.g. "1 32 128")
#   BUILD_DIR=build-io   meson build dir holding bench/io/io_bench
#   FIXED=1        also run io_bench's uring_fixed (registered buffers) variant
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
file=${1:-/var/tmp/ringdb-io-compare.dat}
size=${SIZE:-4G}
runtime=${RUNTIME:-10}
rounds=${ROUNDS:-3}
fio_depths=${FIO_DEPTHS:-32}
bench=${root}/${BUILD_DIR:-build-io}/bench/io/io_bench
fixed=${FIXED:-1}

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

variants="uring aio"
[ "$fixed" = 1 ] && variants="uring uring_fixed aio"
filter="randread4k/($(echo $variants | tr ' ' '|'))/qd(1|32|128)/"

for round in $(seq 1 "$rounds"); do
  for depth in $fio_depths; do
    for engine in io_uring libaio; do
      iops=$(fio --name=rr --filename="$file" --size="$bytes" --rw=randread --bs=4k --direct=1 \
        --ioengine="$engine" --iodepth="$depth" --numjobs=1 --runtime="$runtime" --time_based \
        --output-format=json | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["read"]["iops"])')
      echo "fio_${engine} qd${depth} ${iops}" >>"$results"
      echo "round $round: fio $engine qd$depth: $iops" >&2
    done
  done
  RINGDB_LOG_LEVEL=warn RINGDB_BENCH_FILE="$file" "$bench" --benchmark_filter="$filter" \
    --benchmark_min_time="$runtime" --benchmark_format=json 2>/dev/null |
    python3 -c '
import json, sys
for b in json.load(sys.stdin)["benchmarks"]:
    if "IOPS" not in b:
        print("skipped", b["name"], b.get("error_message", ""), file=sys.stderr)
        continue
    _, variant, qd, _ = b["name"].split("/", 3)
    print("ringdb_%s %s %s" % (variant, qd, b["IOPS"]))' >>"$results"
  grep '^ringdb' "$results" | tail -n $((3 * $(echo $variants | wc -w))) | sed "s/^/round $round: /" >&2
done

python3 - "$results" <<'PY'
import collections, statistics, sys
runs = collections.OrderedDict()
for line in open(sys.argv[1]):
    name, qd, iops = line.split()
    runs.setdefault((name, int(qd[2:])), []).append(float(iops))
order = ["fio_io_uring", "ringdb_uring", "ringdb_uring_fixed", "fio_libaio", "ringdb_aio"]
keys = sorted(runs, key=lambda k: (k[1], order.index(k[0]) if k[0] in order else 99))
print("%-20s %5s %10s   %s" % ("engine", "qd", "median", "runs (IOPS)"))
for k in keys:
    v = runs[k]
    print("%-20s %5d %10.0f   %s" % (k[0], k[1], statistics.median(v), " ".join("%.0f" % x for x in v)))
med = {k: statistics.median(v) for k, v in runs.items()}
for ours, ref in (("ringdb_uring", "fio_io_uring"), ("ringdb_uring_fixed", "fio_io_uring"),
                  ("ringdb_aio", "fio_libaio")):
    if (ours, 32) in med and (ref, 32) in med:
        print("%s / %s at qd32: %.1f%%" % (ours, ref, 100.0 * med[(ours, 32)] / med[(ref, 32)]))
PY
