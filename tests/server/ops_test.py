#!/usr/bin/python3
"""Operating ringdb-server: config file and flags, SIGTERM closes the store cleanly,
SHUTDOWN, the safe-by-default limits (bind, requirepass and its file, maxclients,
idle timeout, query buffer), CONFIG SET, the Prometheus endpoint, and the libaio
(readiness) socket path."""
import http.client
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_util as su  # noqa: E402


def test_sigterm_closes_cleanly_and_data_survives():
    with su.TempDir() as tmp:
        db = os.path.join(tmp, "db")
        for mode in ("none", "periodic", "sync"):
            s = su.start_ringdb(db, args=["--durability", mode])
            c = su.RawClient(s.port)
            c.pipeline([["SET", "%s:%d" % (mode, i), "v%d" % i] for i in range(500)])
            rc = s.stop()  # SIGTERM
            su.check(rc == 0, "exit code %r after SIGTERM" % rc)
            su.check("store closed cleanly" in s.log(), s.log()[-500:])
        s = su.start_ringdb(db)
        try:
            c = su.RawClient(s.port)
            for mode in ("none", "periodic", "sync"):
                got = c.pipeline([["GET", "%s:%d" % (mode, i)] for i in range(500)])
                su.check(got == [b"$%d\r\nv%d\r\n" % (len(str(i)) + 1, i) for i in range(500)],
                         "every %s write survives a SIGTERM" % mode)
        finally:
            s.stop()


def test_shutdown_command():
    with su.TempDir() as tmp:
        s = su.start_ringdb(os.path.join(tmp, "db"))
        c = su.RawClient(s.port)
        c.call("SET", "k", "v")
        c.send_raw(su.RawClient.encode("SHUTDOWN"))
        su.check(c.closed_by_peer(), "SHUTDOWN closes the connection")
        s.proc.wait(20)
        su.check(s.proc.returncode == 0, "exit code %r" % s.proc.returncode)


def test_config_file_and_flags():
    with su.TempDir() as tmp:
        port = su.free_port()
        conf = os.path.join(tmp, "ringdb.conf")
        with open(conf, "w") as f:
            f.write("# a comment\n"
                    "db %s\n"
                    "port %d\n"
                    "bind 127.0.0.1\n"
                    "appendfsync everysec\n"
                    "maxclients = 77\n"
                    "timeout 0\n"
                    "proto-max-bulk-len 1mb\n" % (os.path.join(tmp, "db"), port + 1))
        # The flag overrides the file's port.
        proc_args = [conf, "--port", str(port)]
        import subprocess
        log = open(os.path.join(tmp, "log"), "wb")
        p = subprocess.Popen([su.server_binary()] + proc_args, stdout=log, stderr=subprocess.STDOUT)
        try:
            su.wait_port(port, p)
            c = su.RawClient(port)
            r = c.call("CONFIG", "GET", "maxclients")
            su.check(r == b"*2\r\n$10\r\nmaxclients\r\n$2\r\n77\r\n", r)
            r = c.call("CONFIG", "GET", "appendfsync")
            su.check(r == b"*2\r\n$11\r\nappendfsync\r\n$8\r\neverysec\r\n", r)
            r = c.call("CONFIG", "GET", "proto-max-bulk-len")
            su.check(r == b"*2\r\n$18\r\nproto-max-bulk-len\r\n$7\r\n1048576\r\n", r)
            c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n")
            su.check(c.read_reply() == b"-ERR Protocol error: invalid bulk length\r\n", "bulk limit")
            info = su.RawClient(port).call("INFO", "server")
            su.check(("config_file:" + conf).encode() in info, "INFO names the config file")
        finally:
            p.terminate()
            p.wait(20)
        r = subprocess.run([su.server_binary(), "--nosuch", "1"], capture_output=True)
        su.check(r.returncode == 2 and b"unknown option" in r.stderr, r.stderr)
        r = subprocess.run([su.server_binary(), "--help"], capture_output=True)
        su.check(r.returncode == 0 and b"--requirepass" in r.stdout, r.stdout[:200])


def test_requirepass_file_and_auth():
    with su.TempDir() as tmp:
        pw = os.path.join(tmp, "pw")
        with open(pw, "w") as f:
            f.write("from-a-file\n")
        os.chmod(pw, 0o600)
        s = su.start_ringdb(os.path.join(tmp, "db"), args=["--requirepass-file", pw])
        try:
            c = su.RawClient(s.port)
            su.check(c.call("GET", "k") == b"-NOAUTH Authentication required.\r\n", "NOAUTH")
            su.check(c.call("PING") == b"-NOAUTH Authentication required.\r\n", "PING needs AUTH")
            c.send_raw(b"*20\r\n")  # big frames are refused before AUTH
            su.check(c.read_reply() == b"-ERR Protocol error: unauthenticated multibulk length\r\n",
                     "pre-auth multibulk limit")
            c = su.RawClient(s.port)
            su.check(c.call("AUTH", "nope").startswith(b"-WRONGPASS"), "wrong password")
            su.check(c.call("AUTH", "from-a-file") == b"+OK\r\n", "AUTH")
            su.check(c.call("SET", "k", "v") == b"+OK\r\n", "after AUTH")
            h = su.RawClient(s.port)
            r = h.call("HELLO", "3", "AUTH", "default", "from-a-file")
            su.check(r.startswith(b"%7"), "HELLO AUTH")
            su.check(h.call("GET", "k") == b"$1\r\nv\r\n", "after HELLO AUTH")
            q = su.RawClient(s.port)
            su.check(q.call("QUIT") == b"+OK\r\n", "QUIT needs no AUTH")
        finally:
            s.stop()


def test_binds_loopback_by_default():
    with su.TempDir() as tmp:
        import subprocess
        port = su.free_port()
        log = open(os.path.join(tmp, "log"), "wb")
        p = subprocess.Popen([su.server_binary(), "--db", os.path.join(tmp, "db"), "--port", str(port)],
                             stdout=log, stderr=subprocess.STDOUT)
        try:
            su.wait_port(port, p)
            listening = open("/proc/net/tcp").read().splitlines()[1:]
            local = [l.split()[1] for l in listening if l.split()[3] == "0A"]  # LISTEN
            su.check("0100007F:%04X" % port in local, "listens on 127.0.0.1 only: %r" %
                     [x for x in local if x.endswith(":%04X" % port)])
        finally:
            p.terminate()
            p.wait(20)


def test_maxclients():
    with su.TempDir() as tmp:
        s = su.start_ringdb(os.path.join(tmp, "db"), args=["--maxclients", "3"])
        try:
            time.sleep(0.3)  # the probe connection of start_ringdb goes away
            cs = [su.RawClient(s.port) for _ in range(3)]
            for c in cs:
                su.check(c.call("PING") == b"+PONG\r\n", "within maxclients")
            extra = su.RawClient(s.port)
            su.check(extra.read_reply() == b"-ERR max number of clients reached\r\n", "refused")
            su.check(extra.closed_by_peer(), "and closed")
            cs[0].call("QUIT")
            time.sleep(0.3)
            again = su.RawClient(s.port)
            su.check(again.call("PING") == b"+PONG\r\n", "a slot freed up")
            info = again.call("INFO", "stats")
            su.check(b"rejected_connections:1" in info, info)
        finally:
            s.stop()


def test_idle_timeout_and_config_set():
    with su.TempDir() as tmp:
        s = su.start_ringdb(os.path.join(tmp, "db"))
        try:
            c = su.RawClient(s.port)
            su.check(c.call("CONFIG", "GET", "timeout") == b"*2\r\n$7\r\ntimeout\r\n$3\r\n300\r\n",
                     "an idle timeout by default")
            su.check(c.call("CONFIG", "SET", "timeout", "1") == b"+OK\r\n", "CONFIG SET timeout")
            su.check(c.call("CONFIG", "SET", "port", "1").startswith(b"-ERR CONFIG SET failed"),
                     "start-up options cannot change")
            su.check(c.call("CONFIG", "SET", "maxclients", "x").startswith(b"-ERR CONFIG SET failed"),
                     "bad value")
            idle = su.RawClient(s.port)
            idle.call("PING")
            t0 = time.time()
            su.check(idle.closed_by_peer(timeout=10), "idle client closed")
            su.check(0.8 < time.time() - t0 < 8, "after about a second: %.2f" % (time.time() - t0))
            c2 = su.RawClient(s.port)
            su.check(c2.call("CONFIG", "SET", "timeout", "0") == b"+OK\r\n", "timeout off")
            time.sleep(1.5)
            su.check(c2.call("PING") == b"+PONG\r\n", "not closed with timeout 0")
        finally:
            s.stop()


def test_query_buffer_limit():
    with su.TempDir() as tmp:
        s = su.start_ringdb(os.path.join(tmp, "db"), args=["--client-query-buffer-limit", "1mb"])
        try:
            c = su.RawClient(s.port)
            # A frame that would need 2 MB of buffer: the connection is closed.
            c.send_raw(b"*2\r\n$4\r\nECHO\r\n$1500000\r\n" + b"x" * 1200000)
            su.check(c.closed_by_peer(), "closed past the query buffer limit")
            ok = su.RawClient(s.port)
            su.check(ok.call("ECHO", "x" * 500000)[:10] == b"$500000\r\nx", "below the limit works")
        finally:
            s.stop()


def test_metrics_endpoint():
    with su.TempDir() as tmp:
        mport = su.free_port()
        s = su.start_ringdb(os.path.join(tmp, "db"), args=["--metrics-port", str(mport)])
        try:
            c = su.RawClient(s.port)
            c.pipeline([["SET", "k%d" % i, "v"] for i in range(100)])
            h = http.client.HTTPConnection("127.0.0.1", mport, timeout=10)
            h.request("GET", "/metrics")
            r = h.getresponse()
            body = r.read().decode()
            su.check(r.status == 200, r.status)
            su.check("text/plain" in r.getheader("Content-Type"), r.getheader("Content-Type"))
            su.check("ringdb_server_commands_total" in body, body[:300])
            su.check("ringdb_" in body and "wal" in body, "engine metrics included")
            su.check(len([l for l in body.splitlines() if l and not l.startswith("#")]) > 20, "samples")
            h = http.client.HTTPConnection("127.0.0.1", mport, timeout=10)
            h.request("GET", "/other")
            su.check(h.getresponse().status == 404, "404 elsewhere")
            # A scraper that connects and says nothing does not block the next one.
            silent = socket.create_connection(("127.0.0.1", mport))
            h = http.client.HTTPConnection("127.0.0.1", mport, timeout=10)
            h.request("GET", "/metrics")
            su.check(h.getresponse().status == 200, "served next to a silent client")
            silent.close()
        finally:
            su.check(s.stop() == 0, "clean stop with a metrics endpoint")


def test_libaio_readiness_path():
    with su.TempDir() as tmp:
        s = su.start_ringdb(os.path.join(tmp, "db"), args=["--io-backend", "libaio", "--shards", "2"])
        try:
            su.check("no socket operations" in s.log() and "IOCB_CMD_POLL" in s.log(),
                     "the log says the sockets are readiness-based")
            c = su.RawClient(s.port)
            su.check(c.call("INFO", "ringdb").find(b"socket_io:epoll+libaio") > 0, "INFO says so")
            res = c.pipeline([["SET", "k%d" % i, "v%d" % i] for i in range(3000)] +
                             [["GET", "k%d" % i] for i in range(3000)])
            su.check(res[:3000] == [b"+OK\r\n"] * 3000, "SETs")
            su.check(res[3000:] == [b"$%d\r\nv%d\r\n" % (len(str(i)) + 1, i) for i in range(3000)], "GETs")
            many = [su.RawClient(s.port) for _ in range(40)]
            for i, m in enumerate(many):
                m.send_raw(su.RawClient.encode("INCR", "ctr"))
            for m in many:
                m.read_reply()
            su.check(c.call("GET", "ctr") == b"$2\r\n40\r\n", "40 connections")
            big = "y" * 3000000
            su.check(c.call("SET", "big", big) == b"+OK\r\n", "big value in")
            su.check(c.call("GET", "big") == b"$3000000\r\n" + big.encode() + b"\r\n", "big value out")
        finally:
            su.check(s.stop() == 0, "clean stop on libaio")


def test_libaio_connections_at_startup():
    # Shard 0 accepts as soon as it runs and hands connections round-robin to the
    # others, which may not have started yet: each shard's epoll set must exist before
    # any shard runs, or a connection handed to a late shard is set up without
    # readiness and its first recv fails (the client saw "connection closed").
    # Connections are opened from the moment the port listens, many shards on few CPUs.
    for attempt in range(3):
        with su.TempDir() as tmp:
            db = os.path.join(tmp, "db")
            port = su.free_port()
            log_path = os.path.join(tmp, "server.log")
            cmd = [su.server_binary(), "--db", db, "--port", str(port), "--bind", "127.0.0.1",
                   "--io-backend", "libaio", "--shards", "8"]
            with open(log_path, "ab") as log:
                proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            srv = su.Server(proc, port, log_path, "ringdb-server", db)
            try:
                clients = []
                deadline = time.time() + 20
                while len(clients) < 64:
                    su.check(time.time() < deadline and proc.poll() is None, "server listens")
                    try:
                        c = su.RawClient(port)
                    except OSError:
                        time.sleep(0.001)
                        continue
                    c.send_raw(su.RawClient.encode("INCR", "n"))
                    clients.append(c)
                for i, c in enumerate(clients):
                    try:
                        r = c.read_reply()
                    except Exception as e:
                        raise AssertionError("attempt %d: connection %d of 64: %r\n%s" %
                                             (attempt, i, e, srv.log()[-2000:]))
                    su.check(r.startswith(b":"), "INCR reply %r" % r)
                su.check(su.RawClient(port).call("GET", "n") == b"$2\r\n64\r\n", "64 INCRs")
            finally:
                su.check(srv.stop() == 0, "clean stop")


def info_field(c, section, name):
    text = c.call("INFO", section).decode()
    for line in text.split("\r\n"):
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    raise AssertionError("INFO %s has no %s: %s" % (section, name, text[:500]))


def test_expired_keys_counted():
    """INFO stats expired_keys counts keys deleted because their TTL passed, once each,
    whichever shard the reading connection is on; avg_ttl is the keys' mean TTL."""
    with su.TempDir() as tmp:
        for mode in ("sync", "periodic"):
            s = su.start_ringdb(os.path.join(tmp, mode),
                                args=["--durability", mode, "--shards", "2"])
            try:
                c = su.RawClient(s.port)
                su.check(info_field(c, "stats", "expired_keys") == "0", "starts at 0")
                n = 200
                res = c.pipeline([["SET", "e%d" % i, "v", "PX", "50"] for i in range(n)] +
                                 [["SET", "keep%d" % i, "v"] for i in range(20)])
                su.check(res == [b"+OK\r\n"] * (n + 20), res[:3])
                time.sleep(0.3)
                su.check(info_field(c, "stats", "expired_keys") == "0",
                         "not counted before anything finds them")
                # GET on one connection reaches both shards' keys (in place and on the
                # owner); the other read commands count too.
                got = c.pipeline([["GET", "e%d" % i] for i in range(0, n, 2)] +
                                 [["EXISTS", "e%d" % i] for i in range(1, n, 4)] +
                                 [["PTTL", "e%d" % i] for i in range(3, n, 4)])
                su.check(got == [b"$-1\r\n"] * (n // 2) + [b":0\r\n"] * (n // 4) +
                         [b":-2\r\n"] * (n // 4), got[:3])
                su.check(info_field(c, "stats", "expired_keys") == str(n),
                         "%s: every expired key counted once: %s" %
                         (mode, info_field(c, "stats", "expired_keys")))
                su.check(info_field(c, "stats", "expired_keys_on_access") == str(n), "on access")
                # Found again: already deleted, not counted again.
                c.pipeline([["GET", "e%d" % i] for i in range(n)])
                su.check(info_field(c, "stats", "expired_keys") == str(n), "counted once")
                # A write over an expired key (SET NX, INCR) counts it too.
                c.pipeline([["SET", "w%d" % i, "1", "PX", "20"] for i in range(10)])
                time.sleep(0.1)
                res = c.pipeline([["SET", "w%d" % i, "x", "NX"] for i in range(5)] +
                                 [["INCR", "w%d" % i] for i in range(5, 10)])
                su.check(res == [b"+OK\r\n"] * 5 + [b":1\r\n"] * 5, res)
                su.check(info_field(c, "stats", "expired_keys") == str(n + 10), "writes count")
                su.check(c.call("DBSIZE") == b":30\r\n", "DBSIZE after expiry")
                # avg_ttl: the mean remaining TTL (ms) of the keys with a deadline.
                c.call("SET", "t1", "v", "EX", "1000")
                c.call("SET", "t2", "v", "EX", "3000")
                ks = info_field(c, "keyspace", "db0")
                avg = int(ks.split("avg_ttl=")[1])
                su.check("expires=2" in ks and 1990000 <= avg <= 2000000, ks)
            finally:
                su.check(s.stop() == 0, "clean stop")
            # The deletions are durable: after a restart the keys stay gone and the
            # counters start again from what compactions report.
            s = su.start_ringdb(os.path.join(tmp, mode), args=["--durability", mode])
            try:
                c = su.RawClient(s.port)
                su.check(c.call("EXISTS", *["e%d" % i for i in range(n)]) == b":0\r\n", "gone")
                su.check(info_field(c, "stats", "expired_keys") == "0", "nothing found expired")
            finally:
                s.stop()


if __name__ == "__main__":
    su.run_tests([
        test_sigterm_closes_cleanly_and_data_survives,
        test_shutdown_command,
        test_config_file_and_flags,
        test_requirepass_file_and_auth,
        test_binds_loopback_by_default,
        test_maxclients,
        test_idle_timeout_and_config_set,
        test_query_buffer_limit,
        test_metrics_endpoint,
        test_libaio_readiness_path,
        test_libaio_connections_at_startup,
        test_expired_keys_counted,
    ])
