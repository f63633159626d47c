#!/usr/bin/python3
"""Include rules per layer (DESIGN.md "Layers"; docs/tidy.md).

Every `#include "..."` of every tracked C++ file is resolved to the layer it names and
checked against the table below; every `#include <...>` of a third-party library is
checked against the layers that may use that library. Each violation is printed as
`path:line: message`. Exit status 1 if any.
"""

import argparse
import os
import re
import subprocess
import sys

CPP_EXTENSIONS = (".cc", ".h", ".cpp", ".hpp", ".cxx", ".hh")

# Layer of a file, from its path (first match wins).
LAYER_OF_PATH = [
    ("include/ringdb/", "public"),
    ("src/util/", "util"),
    ("src/io/", "io"),
    ("src/runtime/", "runtime"),
    ("src/lsm/", "lsm"),
    ("src/db/", "db"),
    ("src/server/", "server"),
    ("src/testing/", "testing"),
    ("tools/", "tools"),
    ("bench/", "bench"),
    ("tests/", "tests"),
]

# What `#include "x/..."` names, by its first path component.
LAYER_OF_INCLUDE = {
    "ringdb": "public",
    "util": "util",
    "io": "io",
    "runtime": "runtime",
    "lsm": "lsm",
    "db": "db",
    "server": "server",
    "testing": "testing",
    "tools": "tools",
    "bench": "bench",
    "tests": "tests",
}

ALL = set(LAYER_OF_INCLUDE.values())

# Which layers each layer may include (its own always). Arrows point down: util <- io
# <- runtime <- lsm <- db; the server uses db, runtime and io; the test-only fault
# injection library (src/testing) wraps an io backend. Internal code may use the public
# types (ringdb/status.h and friends); the public headers include nothing internal.
MAY_INCLUDE = {
    "public": set(),
    "util": {"public"},
    "io": {"util", "public"},
    "runtime": {"io", "util", "public"},
    "lsm": {"runtime", "io", "util", "public"},
    "db": {"lsm", "runtime", "io", "util", "public"},
    "server": {"db", "runtime", "io", "util", "public"},
    "testing": {"io", "util", "public"},
    # Tools use the public API, plus the internal headers named in TOOLS_MAY_INCLUDE.
    "tools": {"public"},
    "bench": ALL - {"tools", "tests"},
    "tests": ALL,
}

# The internal headers tools may include: the readers `ringdb-tool` needs to inspect
# files without opening the store (docs/tools.md), and the small utilities they use.
# Adding a reader here is a decision: say why in the commit.
TOOLS_MAY_INCLUDE = {
    # SSTables, WALs and MANIFESTs: dump-sst, dump-wal, dump-manifest, verify.
    "lsm/block.h",
    "lsm/bloom.h",
    "lsm/dbformat.h",
    "lsm/expiry.h",  # expiring values in dump-sst / dump-wal
    "lsm/filenames.h",
    # verify runs the very checks recovery runs (issue 11: verify agrees with Open).
    "lsm/recovery_check.h",
    # ... and reads a WAL segment the way recovery does (F6: bad reads are read again).
    "lsm/wal_segment_read.h",
    "lsm/table_format.h",
    "lsm/table_reader.h",
    "lsm/version_edit.h",
    "lsm/wal_format.h",
    "lsm/write_batch_rep.h",
    # OPTIONS (shard count, format version): stats, verify.
    "db/store_files.h",
    # IOTRACE files: iotrace.
    "io/io_trace.h",
    # Varints and fixed-width coding (block decoding); the log level of ringdb-tool.
    "util/coding.h",
    "util/log.h",
}
# The server's main (DESIGN.md: tools use "server for the server's main").
TOOLS_SERVER_MAIN = re.compile(r"tools/ringdb_server[^/]*\.(cc|h)$")

# Third-party headers (`#include <prefix...>`) and the layers that may include them.
# The public headers include only the standard library.
THIRD_PARTY = [
    ("liburing", {"io", "tests", "bench"}),
    ("libaio", {"io", "tests", "bench"}),
    ("boost/", {"runtime", "tests", "bench"}),
    ("xxhash", {"util", "tests", "bench"}),
    ("nlohmann/", {"db", "tools", "tests", "bench"}),
    ("CLI/", {"tools"}),
    ("gtest/", {"tests"}),
    ("gmock/", {"tests"}),
    ("benchmark/", {"bench"}),
]

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')


def tracked_files(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z"], check=True,
                             capture_output=True).stdout.decode()
        files = [f for f in out.split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = []  # not a git work tree: every file but builds and downloaded wraps
        for d, dirs, names in os.walk(root):
            if d == root:
                dirs[:] = [x for x in dirs if not x.startswith((".", "build", "subprojects"))]
            for f in names:
                files.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(f for f in files if f.endswith(CPP_EXTENSIONS))


def layer_of_path(rel):
    for prefix, layer in LAYER_OF_PATH:
        if rel.startswith(prefix):
            return layer
    return None


def is_standard_header(name):
    # <vector>, <cstdint>, <string_view>: no directory, no extension.
    return "/" not in name and "." not in name


def check_quoted(root, rel, layer, line, inc, errors):
    here = os.path.dirname(rel)
    if os.path.exists(os.path.join(root, here, inc)) and "/" not in inc:
        return  # a file beside this one: the same layer
    if inc == "ringdb_config.h":  # generated by meson: build options
        if layer not in ("public",):
            return
        errors.append("%s:%d: public header includes the generated ringdb_config.h" % (rel, line))
        return
    if any(inc.startswith(prefix) for prefix, _ in THIRD_PARTY):
        check_angle(rel, layer, line, inc, errors)  # "gtest/gtest.h": a library all the same
        return
    top = inc.split("/", 1)[0]
    target = LAYER_OF_INCLUDE.get(top)
    if target is None and layer in ("tests", "bench"):
        return  # tests and benchmarks may include anything (e.g. tools/ headers by name)
    if target is None:
        errors.append('%s:%d: cannot tell the layer of "%s" (write includes from the src/ '
                      "folder: \"io/io_backend.h\")" % (rel, line, inc))
        return
    if target == layer:
        return
    if layer == "tools":
        if inc in TOOLS_MAY_INCLUDE:
            return
        if target == "server" and TOOLS_SERVER_MAIN.search(rel):
            return
    if target in MAY_INCLUDE[layer]:
        return
    if layer == "public":
        why = "public headers include nothing internal"
    elif layer == "tools":
        why = ("tools use the public API plus the readers named in scripts/tidy/"
               "check_layers.py TOOLS_MAY_INCLUDE")
    else:
        allowed = sorted(MAY_INCLUDE[layer])
        why = "%s may include only %s" % (layer, ", ".join(allowed) if allowed else "itself")
    errors.append('%s:%d: layer %s includes "%s" (layer %s): %s'
                  % (rel, line, layer, inc, target, why))


def check_angle(rel, layer, line, inc, errors):
    if layer == "public":
        if not is_standard_header(inc):
            errors.append("%s:%d: public header includes <%s>: only the C++ standard library "
                          "is allowed there" % (rel, line, inc))
        return
    for prefix, layers in THIRD_PARTY:
        if inc.startswith(prefix) and layer not in layers:
            errors.append("%s:%d: layer %s includes <%s>: only %s may"
                          % (rel, line, layer, inc, ", ".join(sorted(layers))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=".")
    ap.add_argument("--exclude", action="append", default=[],
                    help="path prefix to skip (repeatable)")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    errors = []
    files = args.files or tracked_files(args.root)
    for rel in files:
        if any(rel.startswith(p) for p in args.exclude):
            continue
        layer = layer_of_path(rel)
        if layer is None:
            if rel.startswith("src/"):
                errors.append("%s:1: unknown layer folder (DESIGN.md lists the layers; add it "
                              "to scripts/tidy/check_layers.py)" % rel)
            continue
        with open(os.path.join(args.root, rel), encoding="utf-8", errors="replace") as f:
            for ln, text in enumerate(f, 1):
                m = INCLUDE_RE.match(text)
                if not m:
                    continue
                if m.group(1) == '"':
                    check_quoted(args.root, rel, layer, ln, m.group(2), errors)
                else:
                    check_angle(rel, layer, ln, m.group(2), errors)
    for e in errors:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
