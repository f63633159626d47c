#!/usr/bin/env bash
# Installs the build into a scratch DESTDIR and builds tests/install/embed.cc against it
# with nothing but `pkg-config --cflags --libs ringdb`, shared and static, then runs both.
# usage: embed_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
command -v pkg-config >/dev/null || { echo "pkg-config missing"; exit 77; }
cxx=${CXX:-c++}
command -v "${cxx%% *}" >/dev/null || { echo "no C++ compiler ($cxx)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; exit 1; }
pc=$(find "$tmp/root" -name ringdb.pc | head -1)
[ -n "$pc" ] || { echo "meson install put no ringdb.pc"; exit 1; }
prefix=$(sed -n 's/^prefix=//p' "$pc")
export PKG_CONFIG_PATH=$(dirname "$pc")
# The .pc file names the final prefix; point it into the DESTDIR.
pcflags() { pkg-config --define-variable=prefix="$tmp/root$prefix" "$@" ringdb; }
echo "cflags: $(pcflags --cflags)"
echo "libs:   $(pcflags --libs)"
# Only installed headers: the source tree's include/ is not on the path.
$cxx -std=c++20 -O1 "$src/tests/install/embed.cc" -o "$tmp/embed_shared" $(pcflags --cflags) \
  $(pcflags --libs)
libdir=$(pcflags --variable=libdir)
# Static: the archive in place of -lringdb, plus what --static adds (Libs.private).
$cxx -std=c++20 -O1 "$src/tests/install/embed.cc" -o "$tmp/embed_static" $(pcflags --cflags) \
  $(pcflags --static --libs | sed "s#-lringdb#$libdir/libringdb.a#")
LD_LIBRARY_PATH="$libdir" "$tmp/embed_shared" "$tmp/db1"
# The shared build must have used the installed library, the static one none. (ldd's
# output is captured first: `ldd | grep -q` under pipefail fails whenever grep exits
# before ldd has written everything and ldd dies of SIGPIPE.)
shared_libs=$(LD_LIBRARY_PATH="$libdir" ldd "$tmp/embed_shared")
static_libs=$(ldd "$tmp/embed_static" || true)  # "not a dynamic executable" is fine
grep -q "$libdir/libringdb.so" <<<"$shared_libs" ||
  { echo "embed_shared does not load the installed libringdb.so"; exit 1; }
if grep -q libringdb <<<"$static_libs"; then
  echo "embed_static links libringdb dynamically"
  exit 1
fi
"$tmp/embed_static" "$tmp/db2"
