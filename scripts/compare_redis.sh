#!/usr/bin/env bash
# compare_redis.sh: ringdb-server against redis-server with redis-benchmark, in the same
# run, alternating, with medians (BENCH.md, "The server peer").
#
#   redis-benchmark -t set,get -n 500000 -r 1000000 -d 100 -c 50 -P 1   (and -P 16)
#
# pairs ringdb --durability periodic with redis --appendonly yes --appendfsync everysec,
# and --durability sync with --appendfsync always. Every measurement starts a fresh
# server on a fresh store (same disk for both). Then the same workload through
# nutcracker in front of 3 ringdb-server nodes, next to one node direct.
#
#   scripts/compare_redis.sh [--runs 3] [--modes "periodic sync"] [--pipelines "1 16"]
#                            [--n 500000] [--shards "0 1"] [--cluster-modes periodic]
#                            [--no-cluster] [--lock] [--dir /tmp/ringdb-compare]
#                            [--server build/tools/ringdb-server] [-- extra server flags]
#
# --shards lists the ringdb shard counts to measure (0: the server's default for a new
# store); each is a row next to Redis. --lock holds `flock -x /tmp/ringdb-cpu.lock`
# around each group of measurements that are compared with each other (every ringdb
# setting and Redis for one durability and -P; nothing else builds meanwhile) and
# releases it between groups.
# redis-benchmark runs on the same machine and shares its cores with the server: say so
# beside the figures. Results: DIR/results.csv (every run) and DIR/report.md (medians).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
py=python3
command -v "$py" >/dev/null || py=/usr/bin/python3
exec "$py" - "$here" "$@" <<'PYEOF'
import csv
import io
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

here = sys.argv[1]
argv = sys.argv[2:]
opts = {"runs": "3", "modes": "periodic sync", "pipelines": "1 16", "n": "500000",
        "shards": "0 1", "cluster-modes": "periodic", "dir": "/tmp/ringdb-compare",
        "server": os.environ.get("RINGDB_SERVER", os.path.join(here, "build/tools/ringdb-server")),
        "cluster-shards": "1"}
flags = {"no-cluster": False, "lock": False, "no-redis": False}
extra = []
i = 0
while i < len(argv):
    a = argv[i]
    if a == "--":
        extra = argv[i + 1:]
        break
    name = a[2:]
    if name in flags:
        flags[name] = True
        i += 1
    elif name in opts and i + 1 < len(argv):
        opts[name] = argv[i + 1]
        i += 2
    else:
        sys.exit("compare_redis.sh: unknown argument %s" % a)

for prog in ("redis-server", "redis-benchmark", "redis-cli"):
    if shutil.which(prog) is None:
        sys.exit("compare_redis.sh: %s is not installed (apt-get install redis-server redis-tools)" % prog)
if not os.access(opts["server"], os.X_OK):
    sys.exit("compare_redis.sh: %s not found; build it or pass --server" % opts["server"])

work = opts["dir"]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
runs = int(opts["runs"])
modes = opts["modes"].split()
pipes = [int(p) for p in opts["pipelines"].split()]
n = opts["n"]
fsync_of = {"periodic": "everysec", "sync": "always", "none": "no"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ping(port, proc, what, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            sys.exit("%s exited early (code %s)" % (what, proc.returncode))
        r = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True)
        if r.stdout.strip() == "PONG":
            return
        time.sleep(0.1)
    sys.exit("%s did not answer PING" % what)


def start_ringdb(mode, shards, tag):
    port = free_port()
    db = os.path.join(work, "ringdb-" + tag)
    shutil.rmtree(db, ignore_errors=True)
    log = open(os.path.join(work, "ringdb-%s.log" % tag), "ab")
    cmd = [opts["server"], "--db", db, "--port", str(port), "--durability", mode]
    if shards != "0":
        cmd += ["--shards", shards]
    p = subprocess.Popen(cmd + extra, stdout=log, stderr=subprocess.STDOUT)
    wait_ping(port, p, "ringdb-server")
    def stop():
        p.send_signal(signal.SIGTERM)
        p.wait(120)
        shutil.rmtree(db, ignore_errors=True)
    return port, stop


def start_redis(mode, tag):
    port = free_port()
    d = os.path.join(work, "redis-" + tag)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                          "--save", "", "--appendonly", "yes", "--appendfsync", fsync_of[mode],
                          "--logfile", os.path.join(d, "redis.log")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ping(port, p, "redis-server")
    def stop():
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True)
        p.wait(120)
        shutil.rmtree(d, ignore_errors=True)
    return port, stop


def start_cluster(mode, tag):
    d = os.path.join(work, "cluster-" + tag)
    base = 17000 + (os.getpid() % 500) * 8
    proxy = base + 5
    subprocess.run(["bash", os.path.join(here, "scripts/cluster.sh"), "start", "--nodes", "3",
                    "--dir", d, "--base-port", str(base), "--proxy-port", str(proxy),
                    "--durability", mode, "--shards", opts["cluster-shards"],
                    "--server", opts["server"]] + (["--"] + extra if extra else []),
                   check=True, capture_output=True)
    def stop():
        subprocess.run(["bash", os.path.join(here, "scripts/cluster.sh"), "stop", "--dir", d],
                       capture_output=True)
        shutil.rmtree(d, ignore_errors=True)
    return proxy, stop


def bench(port, pipeline):
    cmd = ["redis-benchmark", "-p", str(port), "-t", "set,get", "-n", n, "-r", "1000000", "-d", "100",
           "-c", "50", "-P", str(pipeline), "--csv"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600).stdout
    rows = {}
    for row in csv.DictReader(io.StringIO(out)):
        rows[row["test"]] = (float(row["rps"]), float(row["p50_latency_ms"]), float(row["p99_latency_ms"]))
    if "SET" not in rows or "GET" not in rows:
        sys.exit("redis-benchmark printed no results:\n" + out)
    return rows


def locked(fn):
    if not flags["lock"]:
        return fn()
    import fcntl
    with open("/tmp/ringdb-cpu.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            return fn()
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


results = []  # (system, mode, pipeline, test, run, rps, p50, p99)
csv_path = os.path.join(work, "results.csv")
with open(csv_path, "w") as f:
    f.write("system,durability,pipeline,test,run,rps,p50_ms,p99_ms\n")


def measure(system, mode, pipeline, run, starter):
    port, stop = starter()
    try:
        rows = bench(port, pipeline)
    finally:
        stop()
    for test, (rps, p50, p99) in rows.items():
        results.append((system, mode, pipeline, test, run, rps, p50, p99))
        with open(csv_path, "a") as f:
            f.write("%s,%s,%d,%s,%d,%.0f,%.3f,%.3f\n" % (system, mode, pipeline, test, run, rps, p50, p99))
    print("run %d %-16s %-8s -P %-2d SET %9.0f/s p50 %.3f p99 %.3f | GET %9.0f/s p50 %.3f p99 %.3f" %
          (run, system, mode, pipeline, rows["SET"][0], rows["SET"][1], rows["SET"][2],
           rows["GET"][0], rows["GET"][1], rows["GET"][2]), flush=True)


t0 = time.time()
shard_list = opts["shards"].split()


def label(sh):
    return "ringdb" if sh == "0" else "ringdb-%ssh" % sh


for run in range(1, runs + 1):
    for mode in modes:
        for p in pipes:
            # Alternate which one goes first from run to run.
            order = [label(sh) for sh in shard_list] + ([] if flags["no-redis"] else ["redis"])
            if run % 2 == 0:
                order.reverse()

            def group():
                for system in order:
                    if system == "redis":
                        measure("redis", mode, p, run, lambda: start_redis(mode, "direct"))
                    else:
                        sh = shard_list[[label(x) for x in shard_list].index(system)]
                        measure(system, mode, p, run, lambda: start_ringdb(mode, sh, "direct"))
            locked(group)
    if not flags["no-cluster"]:
        for mode in opts["cluster-modes"].split():
            for p in pipes:
                order = ["ringdb-1node", "ringdb-3nodes"] if run % 2 else ["ringdb-3nodes", "ringdb-1node"]

                def group():
                    for system in order:
                        if system == "ringdb-1node":
                            measure(system, mode, p, run,
                                    lambda: start_ringdb(mode, opts["cluster-shards"], "node"))
                        else:
                            measure(system, mode, p, run, lambda: start_cluster(mode, "c"))
                locked(group)


def med(system, mode, p, test):
    xs = [r for r in results if r[:4] == (system, mode, p, test)]
    if not xs:
        return None
    rps = [x[5] for x in xs]
    return (statistics.median(rps), min(rps), max(rps), statistics.median(x[6] for x in xs),
            statistics.median(x[7] for x in xs), len(xs))


def cell(m):
    if m is None:
        return "-", "-", "-"
    rps, lo, hi, p50, p99, k = m
    return ("%.0f (%.0f-%.0f, %d runs)" % (rps, lo, hi, k), "%.3f" % p50, "%.3f" % p99)


uname = os.uname()
rev = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True,
                     text=True).stdout.strip()
lines = ["# ringdb-server vs redis-server (%s)" % time.strftime("%Y-%m-%d %H:%M"), "",
         "Machine: %d CPUs, %s %s; commit %s; redis-benchmark shares the CPUs with the server." %
         (os.cpu_count(), uname.sysname, uname.release, rev),
         "Workload: redis-benchmark -t set,get -n %s -r 1000000 -d 100 -c 50 -P {1,16}; fresh "
         "server and store per measurement; medians (min-max) over %d runs, ringdb and redis "
         "alternating. Total time %.0f s." % (n, runs, time.time() - t0),
         ""]
default_shards = max(1, os.cpu_count() - 1)  # the server's default for a new store
for sh in shard_list:
    what = ("its default shard count (%d: one per CPU but one)" % default_shards if sh == "0"
            else "%s shard(s)" % sh)
    lines += ["ringdb with %s:" % what, "",
              "| durability | -P | test | ringdb req/s | p50 ms | p99 ms | redis req/s | p50 ms | p99 ms | ringdb/redis |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for mode in modes:
        for p in pipes:
            for test in ("SET", "GET"):
                a, b = med(label(sh), mode, p, test), med("redis", mode, p, test)
                ratio = "%.2f" % (a[0] / b[0]) if a and b else "-"
                lines.append("| %s / %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" %
                             (mode, fsync_of[mode], p, test, *cell(a), *cell(b), ratio))
    lines.append("")
if not flags["no-cluster"]:
    lines += ["", "Through nutcracker (3 ringdb-server nodes, %s shard(s) each) next to one node "
              "direct:" % opts["cluster-shards"], "",
              "| durability | -P | test | 3 nodes + nutcracker req/s | p50 ms | p99 ms | 1 node direct req/s | p50 ms | p99 ms | ratio |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for mode in opts["cluster-modes"].split():
        for p in pipes:
            for test in ("SET", "GET"):
                a, b = med("ringdb-3nodes", mode, p, test), med("ringdb-1node", mode, p, test)
                ratio = "%.2f" % (a[0] / b[0]) if a and b else "-"
                lines.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" %
                             (mode, p, test, *cell(a), *cell(b), ratio))
report = "\n".join(lines) + "\n"
open(os.path.join(work, "report.md"), "w").write(report)
print()
print(report)
print("every run: %s" % csv_path)
PYEOF
