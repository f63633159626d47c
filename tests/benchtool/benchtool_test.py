#!/usr/bin/env python3
"""End-to-end checks of ringdb-bench (suite 'benchtool', tests/benchtool/meson.build).

Each case runs the built binary with tiny sizes, checks its exit code and that its
--json output parses with the expected fields. Usage:

    benchtool_test.py --bench build/tools/ringdb-bench --case classic
    benchtool_test.py --bench build/tools/ringdb-bench --case all     # every case

Exit 0 on success, 77 (meson's "skipped") when the case needs something this build
lacks (the RocksDB engine), 1 on failure.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
CLASSIC = ("fillseq,fillrandom,overwrite,readrandom,readmissing,readwhilewriting,"
           "readrandomwriterandom,mixed,seekrandom,scan,multiget")
YCSB = "fillseq,ycsb-a,ycsb-b,ycsb-c,ycsb-d,ycsb-e,ycsb-f"
REACTOR = ("fillseq,fillrandom,overwrite,readrandom,readmissing,readwhilewriting,"
           "readrandomwriterandom,mixed,ycsb-a,ycsb-b,ycsb-c,ycsb-d,ycsb-f")
# Small and count-based, so every case takes a second or two.
TINY = ["--num=2000", "--duration=0", "--ops=2000", "--report_interval=0", "--shards=2"]


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def run(bench, args, tmp, expect_rc=0):
    cmd = [bench] + args
    print("$ " + " ".join(cmd), flush=True)
    env = dict(os.environ, RINGDB_LOG_LEVEL=os.environ.get("RINGDB_LOG_LEVEL", "warn"))
    p = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=120, env=env)
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    check(p.returncode == expect_rc,
          "exit code %d, expected %d: %s" % (p.returncode, expect_rc, " ".join(args)))
    return p


def load_json(path):
    with open(path) as f:
        return json.load(f)


def check_latency(lat, where):
    for k in ("count", "mean_us", "p50_us", "p99_us", "p999_us", "max_us"):
        check(k in lat, "%s: latency lacks %s" % (where, k))
    check(lat["p50_us"] <= lat["p99_us"] <= lat["max_us"] + 1e-9,
          "%s: percentiles out of order: %s" % (where, lat))


def check_doc(doc, phases, engines=("ringdb",), shard_counts=(2,), runs=1):
    """The JSON document and every phase in it."""
    for k in ("tool", "machine", "config", "phases", "trials", "ok"):
        check(k in doc, "JSON lacks '%s'" % k)
    check(doc["tool"] == "ringdb-bench", "tool is %r" % doc["tool"])
    check(doc["ok"] is True, "run not ok")
    for k in ("nproc", "kernel", "io_backend"):
        check(k in doc["machine"], "machine lacks %s" % k)
    for k in ("num", "key_size", "value_size", "threads", "durability", "load", "engines"):
        check(k in doc["config"], "config lacks %s" % k)
    want = []
    for _ in range(runs):
        for n in shard_counts:
            for e in engines:
                want += [(e, n, p) for p in phases]
    got = [(p["engine"], p["shard_count"], p["name"]) for p in doc["phases"]]
    if engines == ("ringdb",) or "rocksdb" not in engines:
        check(got == want, "phases %s, expected %s" % (got, want))
    else:  # rocksdb reports one shard
        check([(e, n) for e, _, n in got] == [(e, n) for e, _, n in want],
              "phases %s, expected %s" % (got, want))
    for p in doc["phases"]:
        where = "%s/%s" % (p["engine"], p["name"])
        for k in ("name", "engine", "run", "shard_count", "load", "distribution", "seconds",
                  "ops", "ops_per_sec", "micros_per_op", "mb_per_sec", "latency", "shards",
                  "db_stats", "ok"):
            check(k in p, "%s lacks '%s'" % (where, k))
        check(p["ok"] is True, "%s not ok: %s" % (where, p.get("error")))
        check(p["ops"] > 0 and p["ops_per_sec"] > 0, "%s did nothing" % where)
        check_latency(p["latency"], where)
        check(len(p["shards"]) == p["shard_count"], "%s: shard table size" % where)
        check(sum(s["ops"] for s in p["shards"]) + p.get("cross_shard", {}).get("ops", 0)
              == p["ops"], "%s: shard ops do not add up" % where)
    return doc


def phase(doc, name, engine="ringdb"):
    for p in doc["phases"]:
        if p["name"] == name and p["engine"] == engine:
            return p
    raise Failure("no phase %s/%s" % (engine, name))


def case_classic(bench, tmp):
    out = os.path.join(tmp, "out.json")
    run(bench, TINY + ["--threads=2", "--benchmarks=" + CLASSIC, "--db=" + tmp + "/db",
                       "--json=" + out, "--stats", "--scan_length=0"], tmp)
    doc = check_doc(load_json(out), CLASSIC.split(","))
    check(phase(doc, "fillseq")["ops"] == 2000, "fillseq did not write --num keys")
    rd = phase(doc, "readrandom")
    check(rd["reads"]["found"] == rd["reads"]["ops"], "readrandom after fillseq missed keys")
    check(phase(doc, "readmissing")["reads"]["found"] == 0, "readmissing found keys")
    check("background_writes" in phase(doc, "readwhilewriting"), "no background writer")
    mg = phase(doc, "multiget")
    check(mg["multiget"]["ops"] == mg["ops"] and mg["ops"] % 32 == 0, "multiget ops are keys")
    check(phase(doc, "seekrandom")["scans"]["entries"] > 0, "seekrandom read nothing")
    check(phase(doc, "scan")["scans"]["entries"] >= 2000, "full scan read too little")
    # db_stats: DB::StatsJson() at the phase's end (cumulative since the store opened).
    fill_stats, read_stats = phase(doc, "fillseq")["db_stats"], phase(doc, "readrandom")["db_stats"]
    for k in ("io_backend", "shard_count", "total", "shards"):
        check(k in fill_stats, "fillseq db_stats lacks '%s'" % k)
    check(len(fill_stats["shards"]) == fill_stats["shard_count"] == 2, "db_stats shard list")
    check(fill_stats["total"]["writes"] >= 2000, "db_stats total lacks fillseq's writes")
    check(read_stats["total"]["writes"] >= fill_stats["total"]["writes"],
          "db_stats are cumulative: a later phase has at least the earlier's writes")
    check(read_stats["total"]["ops"]["get"]["count"] > fill_stats["total"]["ops"]["get"]["count"],
          "readrandom's gets are not in its db_stats")
    final = doc["trials"][0]["final_stats"]
    check(final["total"]["writes"] >= fill_stats["total"]["writes"] and doc["db_stats"] == final,
          "final_stats / db_stats are not the trial's DB::StatsJson()")


def case_options(bench, tmp):
    """Batches, async, scans of a given length, periodic durability, the I/O trace."""
    out = os.path.join(tmp, "out.json")
    run(bench, TINY + ["--benchmarks=fillrandom,readrandom,mixed,scan", "--batch_size=8",
                       "--async", "--async_depth=8", "--scan_length=10",
                       "--durability=periodic", "--iotrace", "--histogram",
                       "--db=" + tmp + "/db", "--json=" + out], tmp)
    doc = check_doc(load_json(out), ["fillrandom", "readrandom", "mixed", "scan"])
    check(phase(doc, "fillrandom")["ops"] == 2000, "batched fill lost keys")
    sc = phase(doc, "scan")["scans"]
    check(sc["entries"] <= 10 * sc["ops"], "scan_length not honoured")


def case_ycsb(dist):
    def f(bench, tmp):
        out = os.path.join(tmp, "out.json")
        args = TINY + ["--benchmarks=" + YCSB, "--db=" + tmp + "/db", "--json=" + out]
        if dist:
            args.append("--distribution=" + dist)
        run(bench, args, tmp)
        doc = check_doc(load_json(out), YCSB.split(","))
        defaults = {"ycsb-a": "zipfian", "ycsb-b": "zipfian", "ycsb-c": "zipfian",
                    "ycsb-d": "latest", "ycsb-e": "zipfian", "ycsb-f": "zipfian"}
        for name, d in defaults.items():
            p = phase(doc, name)
            check(p["distribution"] == (dist or d), "%s ran %s" % (name, p["distribution"]))
        a = phase(doc, "ycsb-a")
        check(a["reads"]["ops"] > 0 and a["writes"]["ops"] > 0, "ycsb-a mix")
        check("writes" not in phase(doc, "ycsb-c"), "ycsb-c wrote")
        check(phase(doc, "ycsb-d")["inserts"]["ops"] > 0, "ycsb-d inserted nothing")
        e = phase(doc, "ycsb-e")
        check(e["scans"]["ops"] > 0 and e["inserts"]["ops"] > 0, "ycsb-e mix")
        check(e["scans"]["entries"] <= 100 * e["scans"]["ops"], "ycsb-e scans too long")
        check(phase(doc, "ycsb-f")["rmw"]["ops"] > 0, "ycsb-f did no read-modify-write")
    return f


def case_reactor(bench, tmp):
    out = os.path.join(tmp, "out.json")
    run(bench, TINY + ["--load=reactor", "--fibers_per_shard=4", "--benchmarks=" + REACTOR,
                       "--db=" + tmp + "/db", "--json=" + out], tmp)
    doc = check_doc(load_json(out), REACTOR.split(","))
    check(doc["config"]["load"] == "reactor", "load not recorded")
    for p in doc["phases"]:
        check(p["load"] == "reactor", "%s: load %s" % (p["name"], p["load"]))
        check("cross_shard" not in p, "%s: a fiber left its shard" % p["name"])
        check(all(s["ops"] > 0 for s in p["shards"]), "%s: an idle shard" % p["name"])
    check(phase(doc, "fillseq")["ops"] == 2000, "reactor fillseq did not write every key")
    rd = phase(doc, "readrandom")
    check(rd["reads"]["found"] == rd["reads"]["ops"], "reactor readrandom missed keys")
    check(phase(doc, "readmissing")["reads"]["found"] == 0, "reactor readmissing found keys")


def case_sweep(bench, tmp):
    out = os.path.join(tmp, "out.json")
    args = [a for a in TINY if not a.startswith("--shards")]
    p = run(bench, args + ["--load=reactor", "--fibers_per_shard=4", "--sweep_shards=1,2",
                           "--durability=none", "--benchmarks=fillrandom,readrandom,ycsb-a",
                           "--db=" + tmp + "/db", "--json=" + out], tmp)
    doc = check_doc(load_json(out), ["fillrandom", "readrandom", "ycsb-a"],
                    shard_counts=(1, 2))
    check("Scaling: readrandom" in p.stdout, "no scaling table printed")
    check(len(doc["scaling"]) == 3, "scaling: %d phases" % len(doc["scaling"]))
    for s in doc["scaling"]:
        rows = s["rows"]
        check([r["shards"] for r in rows] == [1, 2], "%s: rows %s" % (s["name"], rows))
        check(abs(rows[0]["efficiency"] - 1.0) < 1e-9, "efficiency at 1 shard is not 1")
        for r in rows:
            for k in ("ops_per_sec", "ops_per_sec_per_shard", "efficiency", "p50_us", "p99_us"):
                check(k in r, "scaling row lacks %s" % k)
    check(os.path.isdir(tmp + "/db-s1") and os.path.isdir(tmp + "/db-s2"), "sweep stores")


def case_progress(bench, tmp):
    """Duration-based phases print a live progress line on stderr."""
    p = run(bench, ["--num=2000", "--shards=2", "--duration=0.6", "--report_interval=0.2",
                    "--benchmarks=fillrandom,mixed", "--db=" + tmp + "/db"], tmp)
    check("mixed" in p.stderr and "ops/s" in p.stderr and "p99" in p.stderr,
          "no progress line on stderr")
    check("micros/op" in p.stdout and "Percentiles" in p.stdout, "no db_bench summary")


def case_usage(bench, tmp):
    """Combinations that cannot work are refused with exit code 2 and a reason."""
    for args, words in [
        (["--benchmarks=nosuch"], "unknown benchmark"),
        (["--load=reactor", "--benchmarks=seekrandom"], "ShardContext"),
        (["--load=reactor", "--engine=ringdb,rocksdb"], "ringdb-only"),
        (["--sweep_shards=1,x"], "sweep_shards"),
        (["--num=1000000", "--key_size=4"], "too small"),
    ]:
        p = run(bench, args + ["--db=" + tmp + "/db"], tmp, expect_rc=2)
        check(words in p.stderr, "%s: stderr lacks %r" % (args, words))
    check(not os.path.exists(tmp + "/db"), "a refused run created the store")


def rocksdb_available(bench, tmp):
    p = subprocess.run([bench, "--engine=rocksdb", "--benchmarks=fillseq", "--num=10",
                        "--db=" + tmp + "/probe", "--report_interval=0"],
                       capture_output=True, text=True, timeout=60)
    return "built without" not in p.stderr


def case_rocksdb(bench, tmp):
    if not rocksdb_available(bench, tmp):
        print("SKIP: this ringdb-bench has no RocksDB engine (-Drocksdb=enabled)")
        return SKIP
    out = os.path.join(tmp, "out.json")
    names = ["fillrandom", "readrandom", "readwhilewriting", "multiget", "seekrandom", "ycsb-a"]
    p = run(bench, TINY + ["--engine=ringdb,rocksdb", "--benchmarks=" + ",".join(names),
                           "--db=" + tmp + "/db", "--json=" + out], tmp)
    doc = check_doc(load_json(out), names, engines=("ringdb", "rocksdb"))
    check(phase(doc, "fillrandom", "rocksdb")["shard_count"] == 1, "rocksdb shard count")
    check(len(doc["comparison"]) == len(names), "comparison rows")
    for c in doc["comparison"]:
        check(c["ops_ratio"] > 0 and c["p99_ratio"] > 0, "ratio %s" % c)
    check("ratio fillrandom" in p.stdout, "no ratio line printed")
    check(os.path.isfile(tmp + "/db-rocksdb/CURRENT"), "rocksdb store not at <db>-rocksdb")
    return 0


CASES = {
    "classic": case_classic,
    "options": case_options,
    "ycsb-default": case_ycsb(None),
    "ycsb-uniform": case_ycsb("uniform"),
    "ycsb-zipfian": case_ycsb("zipfian"),
    "ycsb-latest": case_ycsb("latest"),
    "reactor": case_reactor,
    "sweep": case_sweep,
    "progress": case_progress,
    "usage": case_usage,
    "rocksdb": case_rocksdb,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--case", required=True, choices=sorted(CASES) + ["all"])
    args = ap.parse_args()
    args.bench = os.path.abspath(args.bench)
    if not os.access(args.bench, os.X_OK):
        print("%s is not built (meson test builds it first; with --no-rebuild, run ninja)"
              % args.bench)
        return 1
    names = sorted(CASES) if args.case == "all" else [args.case]
    rc = 0
    for name in names:
        base = "/var/tmp" if os.path.isdir("/var/tmp") else None
        tmp = tempfile.mkdtemp(prefix="benchtool-%s-" % name, dir=base)
        try:
            r = CASES[name](args.bench, tmp) or 0
            print("%s: %s" % (name, "skipped" if r == SKIP else "ok"))
            if args.case != "all":
                rc = r
        except (Failure, OSError, subprocess.TimeoutExpired, json.JSONDecodeError,
                KeyError) as e:
            print("%s: FAILED: %s" % (name, e))
            rc = 1
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
