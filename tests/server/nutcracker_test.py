#!/usr/bin/python3
"""Three ringdb-server nodes behind nutcracker (scripts/cluster.sh), driven through
the proxy with real clients: every key written reads back; the keys spread over every
node; a node SIGKILLed and restarted still has every acknowledged (sync) key; hash
tags keep keys together; the cluster stops cleanly."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_util as su  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CLUSTER = os.path.join(HERE, "..", "..", "scripts", "cluster.sh")


def cluster(*args, check=True):
    r = subprocess.run(["bash", CLUSTER] + list(args), capture_output=True, text=True, timeout=120,
                       env=dict(os.environ))
    if check and r.returncode != 0:
        raise AssertionError("cluster.sh %s failed (%d):\n%s\n%s" % (args, r.returncode, r.stdout, r.stderr))
    return r.stdout


def test_pool_through_nutcracker():
    import redis
    with su.TempDir() as tmp:
        base = su.free_port()
        while any(not port_free(base + i) for i in range(4)):
            base = su.free_port()
        proxy = su.free_port()
        d = os.path.join(tmp, "cluster")
        out = cluster("start", "--nodes", "3", "--dir", d, "--base-port", str(base),
                      "--proxy-port", str(proxy), "--durability", "sync", "--shards", "2",
                      "--server", su.server_binary())
        print(out.strip())
        try:
            r = redis.Redis(port=proxy, socket_timeout=20)
            n = 3000
            p = r.pipeline(transaction=False)
            for i in range(n):
                p.set("user:%d" % i, "value-%d" % i)
            su.check(all(p.execute()), "pipelined SETs through the proxy")
            # Read every key back, singly and in MGETs that nutcracker splits per node.
            for i in range(0, n, 300):
                got = r.mget(["user:%d" % j for j in range(i, i + 300)])
                su.check(got == [b"value-%d" % j for j in range(i, i + 300)], "MGET %d.." % i)
            su.check(r.get("user:17") == b"value-17", "GET")
            su.check(r.incr("ctr") == 1 and r.incrby("ctr", 9) == 10, "INCR through the proxy")
            # Hash tags: {u1}:a and {u1}:b land on one node.
            r.set("{u1}:a", "1")
            r.set("{u1}:b", "2")
            # The keys spread over every node.
            counts = []
            for i in range(3):
                c = redis.Redis(port=base + i)
                counts.append(c.dbsize())
            print("keys per node: %r" % counts)
            su.check(sum(counts) == n + 3, "every key on exactly one node: %r" % counts)
            su.check(min(counts) > n // 10, "keys spread over the nodes: %r" % counts)
            tagged = [redis.Redis(port=base + i).exists("{u1}:a", "{u1}:b") for i in range(3)]
            su.check(sorted(tagged) == [0, 0, 2], "hash tags keep keys together: %r" % tagged)

            # SIGKILL node 1 and restart it: its acknowledged keys are all there.
            on_node1 = set(k.decode() for k in redis.Redis(port=base + 1).scan_iter(count=1000))
            cluster("kill-node", "1", "--dir", d)
            try:
                r.get(next(iter(on_node1)))
                su.check(False, "a dead node's keys fail (auto_eject_hosts: false)")
            except redis.exceptions.RedisError:
                pass
            su.check(r.get(next(k for k in ("user:%d" % i for i in range(n)) if k not in on_node1))
                     is not None, "the other nodes keep serving")
            cluster("start-node", "1", "--dir", d)
            node1 = redis.Redis(port=base + 1)
            su.check(set(k.decode() for k in node1.scan_iter(count=1000)) == on_node1,
                     "node 1 has every acknowledged key after SIGKILL and restart")
            # And through the proxy again (nutcracker reconnects).
            for attempt in range(50):
                try:
                    got = r.mget(sorted(on_node1)[:200])
                    break
                except redis.exceptions.RedisError:
                    import time
                    time.sleep(0.2)
            su.check(all(v is not None for v in got), "node 1's keys through the proxy")
            su.check("DOWN" not in cluster("status", "--dir", d), "all up")
        finally:
            out = cluster("stop", "--dir", d, check=False)
            print(out.strip())
        for i in range(3):
            log = open(os.path.join(d, "node-%d" % i, "log")).read()
            su.check("store closed cleanly" in log.split("ready:")[-1], "node %d stopped cleanly" % i)


def port_free(port):
    import socket
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


if __name__ == "__main__":
    su.require("nutcracker")
    su.require("redis-cli")
    su.require_redis_py()
    su.run_tests([test_pool_through_nutcracker])
