#!/usr/bin/env python3
"""Captures real client traffic as seeds of the `resp` fuzz target (docs/testing.md).

    tests/fuzz/capture_resp.py tests/fuzz/corpus/resp

Starts a throw-away redis-server, puts a recording proxy in front of it and runs
redis-cli and redis-benchmark through the proxy; every client connection's request
bytes become one seed, OUT_DIR/captured-<what>, cut to 16 KiB (whole frames are not
needed: a cut frame is a seed too). Needs redis-server, redis-cli and redis-benchmark
(the server-compare test's tools). fuzz_make_corpus writes the built seeds beside them.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

MAX_SEED_BYTES = 16 << 10


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    """Forwards 127.0.0.1:port to the server; keeps what each client sent."""

    def __init__(self, server_port):
        self.server_port = server_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.conns = []  # bytearray per connection, in accept order
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self.server_port))
            rec = bytearray()
            with self.lock:
                self.conns.append(rec)
            threading.Thread(target=self.pump, args=(c, up, rec), daemon=True).start()
            threading.Thread(target=self.pump, args=(up, c, None), daemon=True).start()

    @staticmethod
    def pump(src, dst, rec):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                if rec is not None:
                    rec.extend(b)
                dst.sendall(b)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def take(self):
        time.sleep(0.2)  # the pumps catch up
        with self.lock:
            out = [bytes(c) for c in self.conns]
            self.conns.clear()
        return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: capture_resp.py OUT_DIR")
    out_dir = sys.argv[1]
    for tool in ("redis-server", "redis-cli", "redis-benchmark"):
        if shutil.which(tool) is None:
            sys.exit(f"capture_resp.py: {tool} not found")
    os.makedirs(out_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="ringdb-resp-capture-")
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", tmp],
        stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        rec = Recorder(port)
        p = str(rec.port)
        binary = bytes(range(256)) + b"\r\n*1\r\n$3\r\n" + bytes(range(255, -1, -1))
        with open(os.path.join(tmp, "bin"), "wb") as f:
            f.write(binary)
        pipe_input = (b"SET pk1 v1\r\nGET pk1\r\n"
                      b"*3\r\n$4\r\nMSET\r\n$3\r\npk2\r\n$2\r\nv2\r\n"
                      b"DEL pk1 pk2\r\n")
        runs = [
            ("cli-set", ["redis-cli", "-p", p, "SET", "key:1", "value one"], None),
            ("cli-get", ["redis-cli", "-p", p, "GET", "key:1"], None),
            ("cli-del", ["redis-cli", "-p", p, "DEL", "key:1", "key:2", "key:3"], None),
            ("cli-mset", ["redis-cli", "-p", p, "MSET", "a", "1", "b", "", "c", "3"], None),
            ("cli-set-ex-nx", ["redis-cli", "-p", p, "SET", "k", "v", "EX", "100", "NX"], None),
            ("cli-resp3-hello", ["redis-cli", "-3", "-p", p, "GET", "key:1"], None),
            ("cli-auth", ["redis-cli", "-p", p, "--user", "default", "--pass", "secret",
                          "--no-auth-warning", "PING"], None),
            ("cli-binary-value", ["redis-cli", "-p", p, "-x", "SET", "bin"], binary),
            ("cli-utf8", ["redis-cli", "-p", p, "SET", "k\u00e9y", "\u00fcnic\u00f6de \u2603"],
             None),
            ("cli-pipe", ["redis-cli", "-p", p, "--pipe"], pipe_input),
            ("cli-scan", ["redis-cli", "-p", p, "--scan", "--pattern", "key:*"], None),
            ("benchmark-set-get", ["redis-benchmark", "-p", p, "-c", "1", "-n", "20",
                                   "-t", "set,get", "-d", "16", "-q"], None),
            ("benchmark-pipelined", ["redis-benchmark", "-p", p, "-c", "1", "-n", "64",
                                     "-P", "16", "-t", "set,get,incr", "-r", "1000",
                                     "-d", "8", "-q"], None),
            ("benchmark-mset", ["redis-benchmark", "-p", p, "-c", "1", "-n", "4",
                                "-t", "mset", "-d", "3", "-q"], None),
            ("benchmark-big-value", ["redis-benchmark", "-p", p, "-c", "1", "-n", "2",
                                     "-t", "set", "-d", "4000", "-q"], None),
            ("benchmark-custom", ["redis-benchmark", "-p", p, "-c", "1", "-n", "8",
                                  "-P", "4", "-q", "DEL", "key:__rand_int__", "x"], None),
        ]
        written = 0
        for name, argv, stdin in runs:
            subprocess.run(argv, input=stdin, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60, check=False)
            for i, data in enumerate(d for d in rec.take() if d):
                path = os.path.join(out_dir, f"captured-{name}" + (f"-{i}" if i else ""))
                with open(path, "wb") as f:
                    f.write(data[:MAX_SEED_BYTES])
                written += 1
        print(f"capture_resp.py: {written} seeds in {out_dir}")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
