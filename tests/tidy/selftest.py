#!/usr/bin/python3
"""The tidy checks, each seen to fail on a deliberately broken copy (docs/tidy.md).

Copies tests/tidy/fixtures/ (files named *.in, so that no real check, build or format
run ever sees them) into a temporary tree without the .in suffix, runs every checker
of scripts/tidy/ on it, and asserts that each reports exactly the violations planted
there, as path:line, and nothing on the files that are fine. Also builds two tiny
archives, one defining a FaultBackend symbol, for the libringdb check.

  tests/tidy/selftest.py [--keep]     (--keep: leave the temporary tree, print its path)
Exit status 0 when every expectation holds, 1 otherwise (each failure printed);
the clang-format case is skipped (said so) when clang-format 14 is missing.
"""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
TIDY = os.path.join(ROOT, "scripts", "tidy")
PY = sys.executable or "/usr/bin/python3"

failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)


def run(cmd, cwd=None, env=None):
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def make_tree():
    tmp = tempfile.mkdtemp(prefix="ringdb-tidy-selftest-")
    src = os.path.join(HERE, "fixtures")
    for d, _, names in os.walk(src):
        for n in names:
            if not n.endswith(".in"):
                continue
            rel = os.path.relpath(os.path.join(d, n), src)[:-3]
            os.makedirs(os.path.join(tmp, os.path.dirname(rel)), exist_ok=True)
            shutil.copyfile(os.path.join(d, n), os.path.join(tmp, rel))
    shutil.copyfile(os.path.join(ROOT, ".clang-format"), os.path.join(tmp, ".clang-format"))
    return tmp


def cpp_files(tmp):
    out = []
    for d, _, names in os.walk(tmp):
        for n in names:
            if n.endswith((".cc", ".h")):
                out.append(os.path.relpath(os.path.join(d, n), tmp))
    return sorted(out)


def has(out, prefix):
    return any(line.startswith(prefix) for line in out.splitlines())


def check_layers(tmp):
    rc, out = run([PY, os.path.join(TIDY, "check_layers.py"), "--root", tmp] + cpp_files(tmp))
    expect(rc == 1, "layers: exit %d on a broken tree (want 1)\n%s" % (rc, out))
    for loc in ("src/io/layer_violation.cc:3:", "src/lsm/uses_db.cc:3:",
                "src/util/uses_boost.cc:2:", "src/db/uses_testing.cc:2:",
                "src/frobnicate/unknown_layer.cc:1:", "tools/tool_internal.cc:3:",
                "include/ringdb/public_internal.h:5:"):
        expect(has(out, loc), "layers: did not report %s\n%s" % (loc, out))
    for loc in ("src/io/layer_violation.cc:2:", "src/io/layer_violation.cc:4:",
                "tools/tool_internal.cc:2:", "tools/tool_internal.cc:4:",
                "src/lsm/uses_db.cc:2:", "include/ringdb/fine.h"):
        expect(not has(out, loc), "layers: reported an allowed include %s\n%s" % (loc, out))


def check_headers(tmp):
    rc, out = run(["bash", os.path.join(TIDY, "check_headers.sh"), "--root", tmp])
    expect(rc == 1, "headers: exit %d on a broken tree (want 1)\n%s" % (rc, out))
    for loc in ("include/ringdb/not_standalone.h:1:", "include/ringdb/public_internal.h:1:"):
        expect(has(out, loc), "headers: did not report %s\n%s" % (loc, out))
    expect(not has(out, "include/ringdb/fine.h:"), "headers: reported fine.h\n" + out)


def check_format(tmp):
    files = ["src/util/misformatted.cc", "src/util/formatted.cc"]
    rc, out = run(["bash", os.path.join(TIDY, "check_format.sh"), "--root", tmp] + files)
    if rc == 77:
        print("selftest: SKIP format (clang-format 14 not installed)")
        return
    expect(rc == 1, "format: exit %d on a misformatted file (want 1)\n%s" % (rc, out))
    expect(has(out, "src/util/misformatted.cc:3:"), "format: did not report line 3\n" + out)
    expect(not has(out, "src/util/formatted.cc:"), "format: reported a formatted file\n" + out)


def check_size(tmp):
    size = os.path.join(TIDY, "check_size.py")
    files = cpp_files(tmp)
    # Function lengths, default limits.
    rc, out = run([PY, size, "--root", tmp] + files)
    expect(rc == 1, "size: exit %d on an overlong function (want 1)\n%s" % (rc, out))
    expect(has(out, "src/db/long_function.cc:4: function Overlong has 88 lines"),
           "size: did not report Overlong (88 lines at line 4)\n" + out)
    expect(not has(out, "src/db/long_function.cc:95:"), "size: reported the explained function\n"
           + out)
    # The tokenizer: braces in literals and comments, ctor init lists, lambdas.
    rc, out = run([PY, size, "--root", tmp, "--list", "src/db/tricky.cc"])
    got = sorted(line.split(None, 1)[1] + " " + line.split()[0] for line in out.splitlines())
    want = sorted(["src/db/tricky.cc:6 Tricky 11", "src/db/tricky.cc:22 S 1",
                   "src/db/tricky.cc:23 Method 3", "src/db/tricky.cc:40 T::operator= 4",
                   "src/db/tricky.cc:45 T::Clear 3"])
    expect(got == want, "size --list: got %s, want %s" % (got, want))
    # File length: a 700-line copy of a fine file.
    with open(os.path.join(tmp, "src/db/huge.cc"), "w") as f:
        f.write("// A file over the limit.\n" +
                "".join("int v%d = %d;\n" % (i, i) for i in range(699)))
    rc, out = run([PY, size, "--root", tmp, "src/db/huge.cc"])
    expect(rc == 1 and has(out, "src/db/huge.cc:601: file has 700 lines"),
           "size: did not report a 700-line file\n" + out)
    # The allowlist: excuses a listed violation, flags a stale entry and one without a reason.
    rc, out = run([PY, size, "--root", tmp, "--allow", os.path.join(tmp, "tidy_allow.txt")]
                  + files)
    expect(rc == 1, "size --allow: exit %d (want 1: stale entry, entry without reason)" % rc)
    expect(not has(out, "src/db/long_function.cc:4:"), "size --allow: Overlong not excused\n"
           + out)
    allow = os.path.join(tmp, "tidy_allow.txt") + ":"
    expect(has(out, allow + "4: stale allowlist entry"), "size --allow: no stale report\n" + out)
    expect(has(out, allow + "5: allowlist entry without a reason"),
           "size --allow: no missing-reason report\n" + out)


def check_lib(tmp):
    cxx = os.environ.get("CXX", "c++").split()
    srcs = {
        "dirty": "namespace ringdb::io { struct FaultBackend { void Submit(); };\n"
                 "void FaultBackend::Submit() {} }\n",
        "clean": "namespace ringdb::io { int Engine() { return 1; } }\n",
    }
    libs = {}
    for name, code in srcs.items():
        cc = os.path.join(tmp, name + ".cc")
        obj = os.path.join(tmp, name + ".o")
        lib = os.path.join(tmp, "lib" + name + ".a")
        with open(cc, "w") as f:
            f.write(code)
        rc, out = run(cxx + ["-c", cc, "-o", obj])
        if rc != 0:
            failures.append("lib: cannot compile the fixture: " + out)
            return
        rc, out = run(["ar", "rcs", lib, obj])
        if rc != 0:
            failures.append("lib: ar failed: " + out)
            return
        libs[name] = lib
    check = os.path.join(TIDY, "check_lib.sh")
    rc, out = run(["bash", check, libs["dirty"]])
    expect(rc == 1 and "FaultBackend" in out, "lib: did not flag a FaultBackend symbol\n" + out)
    rc, out = run(["bash", check, libs["clean"]])
    expect(rc == 0, "lib: flagged a clean archive\n" + out)


def main():
    tmp = make_tree()
    try:
        for case in (check_layers, check_headers, check_format, check_size, check_lib):
            before = len(failures)
            case(tmp)
            print("selftest: %s %s" % (case.__name__, "ok" if len(failures) == before else "FAILED"))
    finally:
        if "--keep" in sys.argv:
            print("selftest: tree kept at " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for f in failures:
        print("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
