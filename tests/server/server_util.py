"""Helpers for the ringdb-server end-to-end tests: start/stop servers on free loopback
ports, a raw RESP client that returns the exact reply bytes, and skip handling.

Every test starts its own servers (ringdb-server from $RINGDB_SERVER, redis-server
from PATH) on 127.0.0.1 and stops them; nothing leaves the machine.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77  # meson's "skipped" exit code


def skip(why):
    print("SKIP: " + why)
    sys.exit(SKIP)


def require(program):
    path = shutil.which(program)
    if path is None:
        skip(program + " is not installed (Debian package: " +
             {"redis-server": "redis-server", "redis-cli": "redis-tools",
              "redis-benchmark": "redis-tools", "nutcracker": "nutcracker"}.get(program, program) + ")")
    return path


def require_redis_py():
    try:
        import redis  # noqa: F401
    except ImportError:
        skip("python3-redis is not installed (run with /usr/bin/python3 and apt-get install python3-redis)")


def server_binary():
    path = os.environ.get("RINGDB_SERVER")
    if not path or not os.path.exists(path):
        print("RINGDB_SERVER must point at the ringdb-server binary")
        sys.exit(1)
    return path


def free_port():
    """A port that is free now and outside the ephemeral range: a client connecting to
    an ephemeral port nobody listens on yet can connect to itself (TCP self-connect),
    which looks like a server that answers and then resets."""
    import random
    try:
        low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    low = max(low, 2048)
    for _ in range(1000):
        port = random.randrange(1024 + (low - 1024) // 4, low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port below the ephemeral range")


def wait_port(port, proc, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s before listening" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as c:
                if c.getsockname() != c.getpeername():  # not a self-connect
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("server did not listen on %d within %.0fs" % (port, timeout))


class Server:
    """A ringdb-server or redis-server process on a free port."""

    def __init__(self, proc, port, log_path, kind, db=None):
        self.proc = proc
        self.port = port
        self.log_path = log_path
        self.kind = kind
        self.db = db

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30.0):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("%s did not exit within %.0fs of signal %d\n%s" %
                                   (self.kind, timeout, sig, self.log()[-3000:]))
        self.check_sanitizers()
        return self.proc.returncode

    def check_sanitizers(self):
        """In sanitizer builds, any report in the server's log fails the test."""
        log = self.log()
        for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer",
                       "WARNING: ThreadSanitizer"):
            if marker in log:
                i = log.index(marker)
                raise AssertionError("%s reported by %s:\n%s" % (marker, self.kind, log[max(0, i - 200):i + 4000]))

    def kill(self):
        rc = self.stop(signal.SIGKILL)
        wait_port_closed(self.port)
        return rc


def wait_port_closed(port, timeout=20.0):
    """After a SIGKILL the kernel tears an io_uring instance down asynchronously; a
    multishot accept armed in it keeps the listening socket (and its backlog) alive
    for a moment. Wait until the port refuses connections."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except OSError:
            return
        time.sleep(0.05)
    raise RuntimeError("port %d still accepts connections %.0fs after the server died" % (port, timeout))


def start_ringdb(db, port=None, args=(), env=None, log_dir=None):
    port = port or free_port()
    log_dir = log_dir or db + ".logs"
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, "ringdb-server-%d.log" % port)
    cmd = [server_binary(), "--db", db, "--port", str(port), "--bind", "127.0.0.1"] + list(args)
    e = dict(os.environ)
    if env:
        e.update(env)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=e)
    srv = Server(proc, port, log_path, "ringdb-server", db)
    try:
        wait_port(port, proc)
    except Exception:
        print(srv.log()[-3000:])
        srv.stop(signal.SIGKILL)
        raise
    return srv


def start_redis(tmpdir, args=()):
    exe = require("redis-server")
    port = free_port()
    d = tempfile.mkdtemp(prefix="redis-", dir=tmpdir)
    log_path = os.path.join(d, "redis.log")
    cmd = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
           "--databases", "1", "--dir", d, "--logfile", log_path] + list(args)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    srv = Server(proc, port, log_path, "redis-server")
    wait_port(port, proc)
    return srv


class RawClient:
    """Sends RESP commands and returns each reply's exact bytes."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            elif isinstance(a, int):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def send_raw(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        self.buf += chunk

    def _line(self, pos):
        while True:
            i = self.buf.find(b"\r\n", pos)
            if i >= 0:
                return i
            self._fill()

    def _reply_end(self, pos):
        """Returns the offset just past the reply starting at pos."""
        end = self._line(pos)
        t = self.buf[pos:pos + 1]
        head = self.buf[pos + 1:end]
        nxt = end + 2
        if t in (b"+", b"-", b":", b"_", b",", b"#", b"("):
            return nxt
        if t in (b"$", b"=", b"!"):
            n = int(head)
            if n < 0:
                return nxt
            while len(self.buf) < nxt + n + 2:
                self._fill()
            return nxt + n + 2
        if t in (b"*", b"~", b">"):
            n = int(head)
            for _ in range(max(n, 0)):
                nxt = self._reply_end(nxt)
            return nxt
        if t == b"%":
            n = int(head)
            for _ in range(2 * n):
                nxt = self._reply_end(nxt)
            return nxt
        if t == b"|":
            n = int(head)
            for _ in range(2 * n):
                nxt = self._reply_end(nxt)
            return self._reply_end(nxt)
        raise ValueError("bad reply type %r in %r" % (t, self.buf[pos:pos + 80]))

    def read_reply(self):
        if not self.buf:
            self._fill()
        end = self._reply_end(0)
        r, self.buf = self.buf[:end], self.buf[end:]
        return r

    def call(self, *args):
        self.send_raw(self.encode(*args))
        return self.read_reply()

    def pipeline(self, cmds):
        self.send_raw(b"".join(self.encode(*c) for c in cmds))
        return [self.read_reply() for _ in cmds]

    def closed_by_peer(self, timeout=5.0):
        """True if the server closes the connection (after any pending bytes)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


class TempDir:
    def __init__(self, prefix="ringdb-server-test-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def run_tests(tests):
    """Runs test functions in order; prints a summary; exits non-zero on failure."""
    failed = 0
    for t in tests:
        t0 = time.time()
        try:
            t()
            print("PASS %s (%.2fs)" % (t.__name__, time.time() - t0))
        except SystemExit:
            raise
        except Exception as e:  # noqa: BLE001
            failed += 1
            import traceback
            traceback.print_exc()
            print("FAIL %s: %s" % (t.__name__, e))
    print("%d of %d passed" % (len(tests) - failed, len(tests)))
    sys.exit(1 if failed else 0)
