#!/usr/bin/python3
"""Parser robustness against a running ringdb-server: thousands of random and mutated
RESP inputs (truncated frames, huge and negative lengths, bad CRLF, inline commands,
binary noise), each on its own connection. The server must never crash or hang, must
close a connection after a protocol error, and a canary connection open the whole
time must keep getting correct answers.

RINGDB_FUZZ_SEED replays a run; RINGDB_FUZZ_CASES sets how many inputs (default 3000).
"""
import os
import random
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_util as su  # noqa: E402

SAFE_COMMANDS = [
    ["SET", "k", "v"], ["GET", "k"], ["INCR", "n"], ["MGET", "a", "b", "k"], ["MSET", "a", "1", "b", "2"],
    ["DEL", "a"], ["EXISTS", "k", "a"], ["APPEND", "k", "x"], ["SETRANGE", "r", "3", "zz"],
    ["GETRANGE", "k", "0", "-1"], ["EXPIRE", "k", "100"], ["TTL", "k"], ["PING"], ["ECHO", "e"],
    ["SCAN", "0", "COUNT", "5"], ["DBSIZE"], ["HELLO", "3"], ["HELLO", "2"], ["CLIENT", "ID"],
    ["SET", "e", "v", "PX", "100"], ["GETEX", "k", "PERSIST"], ["INCRBYFLOAT", "f", "1.5"],
    ["STRLEN", "k"], ["TYPE", "k"], ["KEYS", "a*"], ["INFO", "stats"], ["COMMAND", "COUNT"],
]


def encode(args):
    return su.RawClient.encode(*args)


def frame_pieces(rng):
    """Valid-looking building blocks and classic attacks."""
    return [
        b"*2147483647\r\n", b"*-1\r\n", b"*0\r\n", b"*-5\r\n", b"*1\r\n$2147483648\r\n",
        b"*1\r\n$-1\r\n", b"*1\r\n$-2\r\n", b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$99999999999\r\n",
        b"*1\r\n$4\r\nPING\n\n", b"*1\r\n$4\r\nPINGxx", b"*1\r\r\n", b"*1\n$4\nPING\n",
        b"*1\r\n:4\r\nPING\r\n", b"*abc\r\n", b"*1\r\n$abc\r\n", b"*1\r\n$ 4\r\nPING\r\n",
        b"*" + b"9" * 30 + b"\r\n", b"$4\r\nPING\r\n", b"PING\r\n", b"PING\n", b"\r\n", b"\n",
        b"  \t  \r\n", b"SET k \"unterminated\r\n", b"SET k \"a\"b\r\n", b"SET k 'q\\'x'\r\n",
        b"ECHO \"\\x41\\x4g\\n\"\r\n", b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n",
        b"*" + str(rng.randint(1, 100)).encode() + b"\r\n", b"\x00\x01\x02*\r\n",
        b"*1\r\n$" + str(rng.randint(0, 70000)).encode() + b"\r\n",
        b"x" * rng.randint(1, 70000), b"*1\r\n$" + b"1" * 70000,
    ]


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not data:
            break
        op = rng.randrange(6)
        i = rng.randrange(len(data))
        if op == 0:
            data[i] = rng.randrange(256)
        elif op == 1:
            del data[i:i + rng.randint(1, 8)]
        elif op == 2:
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 3:
            data[i:i] = rng.choice([b"\r\n", b"\r", b"\n", b"*", b"$", b"-1", b"99999999"])
        elif op == 4:
            data = data[:i]  # truncated frame
        else:
            data[i:i] = data[i:i + rng.randint(1, 64)]  # duplicated run
    return bytes(data)


def make_input(rng):
    kind = rng.randrange(5)
    if kind == 0:  # valid pipeline, then mutated
        raw = b"".join(encode(rng.choice(SAFE_COMMANDS)) for _ in range(rng.randint(1, 20)))
        return mutate(rng, raw)
    if kind == 1:  # attack pieces mixed with valid commands
        pieces = frame_pieces(rng)
        return b"".join(rng.choice(pieces) if rng.random() < 0.5 else encode(rng.choice(SAFE_COMMANDS))
                        for _ in range(rng.randint(1, 6)))
    if kind == 2:  # binary noise
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 512)))
    if kind == 3:  # inline commands, possibly mutated
        lines = [b" ".join(a.encode() if isinstance(a, str) else a for a in rng.choice(SAFE_COMMANDS))
                 for _ in range(rng.randint(1, 10))]
        raw = b"\r\n".join(lines) + rng.choice([b"\r\n", b"\n", b""])
        return mutate(rng, raw) if rng.random() < 0.5 else raw
    # a valid frame cut at a random point
    raw = encode(rng.choice(SAFE_COMMANDS))
    return raw[:rng.randrange(len(raw))]


def send_case(port, data, deadline_s):
    """Sends data, half-closes, reads until the server closes. Returns the reply bytes;
    raises if the server neither answers nor closes within deadline_s."""
    s = socket.create_connection(("127.0.0.1", port), timeout=deadline_s)
    try:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            return b""  # closed on us mid-send (a protocol error): fine
        out = b""
        end = time.time() + deadline_s
        while time.time() < end:
            try:
                chunk = s.recv(65536)
            except OSError:
                return out
            if not chunk:
                return out
            out += chunk
        raise AssertionError("server kept a half-closed connection open for %.0fs" % deadline_s)
    finally:
        s.close()


def canary_ok(c, i):
    c.call("SET", "canary", "v%d" % i)
    r = c.call("GET", "canary")
    return r == b"$%d\r\nv%d\r\n" % (len("v%d" % i), i)


def test_random_and_mutated_inputs():
    seed = int(os.environ.get("RINGDB_FUZZ_SEED", str(random.randrange(1 << 30))))
    cases = int(os.environ.get("RINGDB_FUZZ_CASES", "3000"))
    print("seed %d (RINGDB_FUZZ_SEED=%d replays), %d cases" % (seed, seed, cases))
    rng = random.Random(seed)
    with su.TempDir() as tmp:
        s = su.start_ringdb(os.path.join(tmp, "db"), args=["--shards", "2", "--durability", "none"])
        try:
            canary = su.RawClient(s.port)
            su.check(canary_ok(canary, 0), "canary before")
            t0 = time.time()
            protocol_errors = 0
            for i in range(cases):
                data = make_input(rng)
                try:
                    out = send_case(s.port, data, 10.0)
                except Exception as e:
                    print("case %d (seed %d) input %r" % (i, seed, data[:200]))
                    raise AssertionError("case %d: %s" % (i, e))
                protocol_errors += out.count(b"-ERR Protocol error")
                su.check(s.alive(), "server died on case %d (seed %d): %r\n%s" %
                         (i, seed, data[:200], s.log()[-2000:]))
                if i % 200 == 0:
                    su.check(canary_ok(canary, i), "canary answered wrong after case %d" % i)
            su.check(canary_ok(canary, cases), "canary after")
            print("%d cases in %.1fs, %d protocol errors answered" %
                  (cases, time.time() - t0, protocol_errors))
            su.check(protocol_errors > cases // 20, "the corpus should provoke protocol errors")
        finally:
            rc = s.stop()
            su.check(rc == 0, "clean exit after the fuzzing, got %r" % rc)


def test_protocol_error_closes_only_that_connection():
    with su.TempDir() as tmp:
        s = su.start_ringdb(os.path.join(tmp, "db"))
        try:
            good = su.RawClient(s.port)
            bad = su.RawClient(s.port)
            bad.send_raw(encode(["SET", "a", "1"]) + b"*1\r\n$-5\r\n" + encode(["GET", "a"]))
            su.check(bad.read_reply() == b"+OK\r\n", "commands before the error run")
            su.check(bad.read_reply() == b"-ERR Protocol error: invalid bulk length\r\n", "the error")
            su.check(bad.closed_by_peer(), "closed after the protocol error")
            su.check(good.call("GET", "a") == b"$1\r\n1\r\n", "other connections unaffected")
            # Big declared lengths do not allocate ahead: 2 GiB bulk is refused at once.
            big = su.RawClient(s.port)
            big.send_raw(b"*1\r\n$2147483648\r\n")
            su.check(big.read_reply() == b"-ERR Protocol error: invalid bulk length\r\n", "2 GiB bulk")
            mb = su.RawClient(s.port)
            mb.send_raw(b"*2147483647\r\n")
            su.check(mb.read_reply() == b"-ERR Protocol error: invalid multibulk length\r\n", "huge multibulk")
            inl = su.RawClient(s.port)
            inl.send_raw(b"x" * (70 * 1024))
            su.check(inl.read_reply() == b"-ERR Protocol error: too big inline request\r\n", "inline limit")
            su.check(good.call("PING") == b"+PONG\r\n", "still fine")
        finally:
            s.stop()


def test_slow_and_stalled_clients_do_not_block_others():
    """A client that sends half a frame and stalls, and one that never reads its replies,
    do not slow anyone else down."""
    with su.TempDir() as tmp:
        s = su.start_ringdb(os.path.join(tmp, "db"), args=["--client-output-buffer-limit", "1mb"])
        try:
            stall = su.RawClient(s.port)
            stall.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc")  # and nothing more
            hog = socket.create_connection(("127.0.0.1", s.port))
            hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            big = encode(["SET", "big", "x" * 100000])
            hog.sendall(big)
            hog.settimeout(0.5)
            sent = 0
            try:
                for _ in range(50000):  # GET big, never read: its replies pile up
                    hog.sendall(encode(["GET", "big"]))
                    sent += 1
            except socket.timeout:
                pass  # the server stopped reading from us: backpressure works
            good = su.RawClient(s.port)
            t0 = time.time()
            for i in range(200):
                su.check(good.call("INCR", "x") == b":%d\r\n" % (i + 1), "INCR answers")
            su.check(time.time() - t0 < 5, "others served promptly")
            rss = int(open("/proc/%d/status" % s.proc.pid).read().split("VmRSS:")[1].split()[0])
            print("hog queued %d GETs of a 100 kB value without reading; server RSS %d kB" % (sent, rss))
            su.check(rss < 512 * 1024, "server memory stays bounded (RSS %d kB)" % rss)
            hog.close()
            stall.close()
        finally:
            s.stop()


if __name__ == "__main__":
    su.run_tests([
        test_protocol_error_closes_only_that_connection,
        test_slow_and_stalled_clients_do_not_block_others,
        test_random_and_mutated_inputs,
    ])
