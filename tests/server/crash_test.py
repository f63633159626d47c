#!/usr/bin/python3
"""SIGKILL ringdb-server (durability sync) while redis-benchmark loads it and checked
writers record every write the server acknowledged; restart it on the same store and
check that every acknowledged write is there: SETs with their values, INCR counters at
least at their last acknowledged value, DELs gone. RINGDB_CRASH_ROUNDS sets the number
of kill/restart rounds (default 2)."""
import os
import random
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_util as su  # noqa: E402


class Writer(threading.Thread):
    """Pipelined writes on one connection; records what was acknowledged."""

    def __init__(self, port, wid, rnd):
        super().__init__(daemon=True)
        self.port, self.wid, self.rnd = port, wid, rnd
        self.acked = {}      # key -> value (SET acknowledged)
        self.deleted = set()  # keys whose DEL was acknowledged after their SET
        self.counter = 0     # last acknowledged INCR reply
        self.stop = False
        self.error = None

    def run(self):
        try:
            c = su.RawClient(self.port, timeout=30)
            i = 0
            while not self.stop:
                batch, kinds = [], []
                for _ in range(self.rnd.randint(1, 16)):
                    i += 1
                    k = "w%d:r%d:%d" % (self.wid, self.rnd_round, i)
                    v = "%x" % self.rnd.getrandbits(64)
                    batch.append(["SET", k, v])
                    kinds.append(("set", k, v))
                    if i % 5 == 0:
                        batch.append(["INCR", "ctr:w%d" % self.wid])
                        kinds.append(("incr", None, None))
                    if i % 7 == 0:
                        batch.append(["DEL", k])
                        kinds.append(("del", k, None))
                c.send_raw(b"".join(su.RawClient.encode(*x) for x in batch))
                for kind, k, v in kinds:
                    r = c.read_reply()
                    if kind == "set":
                        assert r == b"+OK\r\n", r
                        self.acked[k] = v
                    elif kind == "incr":
                        self.counter = int(r[1:-2])
                    else:
                        assert r == b":1\r\n", r
                        self.acked.pop(k, None)
                        self.deleted.add(k)
        except (ConnectionError, OSError):
            pass  # the server was killed
        except Exception as e:  # noqa: BLE001
            self.error = e


def test_sigkill_under_load_keeps_acknowledged_writes():
    bench = su.require("redis-benchmark")
    rounds = int(os.environ.get("RINGDB_CRASH_ROUNDS", "2"))
    seed = int(os.environ.get("RINGDB_CRASH_SEED", str(random.randrange(1 << 30))))
    print("seed %d" % seed)
    rnd = random.Random(seed)
    with su.TempDir() as tmp:
        db = os.path.join(tmp, "db")
        port = su.free_port()
        expect_sets, expect_gone, expect_ctr = {}, set(), {}
        for rd in range(rounds):
            s = su.start_ringdb(db, port=port, args=["--durability", "sync", "--shards", "2"])
            if rd > 0:
                try:
                    verify(s.port, expect_sets, expect_gone, expect_ctr, "after kill %d" % rd)
                except Exception:
                    print(s.log()[-3000:])
                    raise
            load = subprocess.Popen([bench, "-p", str(s.port), "-t", "set,incr", "-n", "100000000",
                                     "-r", "100000", "-d", "100", "-c", "20", "-P", "4", "-q"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            writers = []
            for w in range(4):
                wr = Writer(s.port, w, random.Random(rnd.getrandbits(32)))
                wr.rnd_round = rd
                wr.counter = expect_ctr.get("ctr:w%d" % w, 0)
                writers.append(wr)
                wr.start()
            time.sleep(0.5 + rnd.random())
            s.kill()  # SIGKILL mid-load
            for wr in writers:
                wr.stop = True
                wr.join(30)
                su.check(wr.error is None, "writer failed: %r" % wr.error)
            load.kill()
            load.wait()
            n = sum(len(w.acked) for w in writers)
            print("round %d: killed with %d acknowledged SETs outstanding from the writers" % (rd, n))
            su.check(n > 0, "the writers got acknowledgments before the kill")
            for w in writers:
                expect_sets.update(w.acked)
                expect_gone |= w.deleted
                expect_ctr["ctr:w%d" % w.wid] = max(expect_ctr.get("ctr:w%d" % w.wid, 0), w.counter)
        s = su.start_ringdb(db, port=port)
        try:
            verify(s.port, expect_sets, expect_gone, expect_ctr, "final")
        except Exception:
            print(s.log()[-3000:])
            raise
        finally:
            su.check(s.stop() == 0, "clean stop")


def verify(port, sets, gone, ctr, label):
    c = su.RawClient(port, timeout=60)
    keys = list(sets)
    missing = []
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        got = c.pipeline([["GET", k] for k in chunk])
        for k, r in zip(chunk, got):
            want = b"$%d\r\n%s\r\n" % (len(sets[k]), sets[k].encode())
            if r != want:
                missing.append((k, r))
    su.check(not missing, "%s: %d of %d acknowledged SETs lost, e.g. %r" %
             (label, len(missing), len(keys), missing[:3]))
    gl = list(gone)
    for i in range(0, len(gl), 500):
        got = c.pipeline([["EXISTS", k] for k in gl[i:i + 500]])
        su.check(all(r == b":0\r\n" for r in got), "%s: an acknowledged DEL came back" % label)
    for k, v in ctr.items():
        r = c.call("GET", k)
        got = int(r.split(b"\r\n")[1]) if r.startswith(b"$") and r != b"$-1\r\n" else 0
        su.check(got >= v, "%s: counter %s is %d, acknowledged %d" % (label, k, got, v))
    print("%s: %d SETs, %d DELs, %d counters verified" % (label, len(keys), len(gl), len(ctr)))


if __name__ == "__main__":
    su.run_tests([test_sigkill_under_load_keeps_acknowledged_writes])
