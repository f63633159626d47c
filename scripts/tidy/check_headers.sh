#!/usr/bin/env bash
# Every public header (include/ringdb/*.h) compiles on its own: a translation unit that
# includes only it, with only include/ on the include path (so an internal include
# cannot be found), C++20, -Wall -Wextra -Werror. Prints `path:1: ...` and the
# compiler's messages for each header that does not.
#   scripts/tidy/check_headers.sh [--root DIR]
# CXX picks the compiler (default c++).
set -uo pipefail
root=.
if [[ "${1:-}" == "--root" ]]; then root=$2; fi
cd "$root" || exit 2
read -ra cxx <<<"${CXX:-c++}"  # may be several words ("ccache c++")
if ! command -v "${cxx[0]}" >/dev/null; then
  echo "check_headers: no C++ compiler (${cxx[*]})" >&2
  exit 2
fi
shopt -s nullglob
headers=(include/ringdb/*.h)
if ((${#headers[@]} == 0)); then
  echo "check_headers: no include/ringdb/*.h under $(pwd)" >&2
  exit 2
fi
fail=0
for h in "${headers[@]}"; do
  name=${h#include/}
  if ! out=$(printf '#include "%s"\n' "$name" |
    "${cxx[@]}" -std=c++20 -Wall -Wextra -Werror -fsyntax-only -Iinclude -x c++ - 2>&1); then
    echo "$h:1: does not compile on its own (a translation unit that includes only it):"
    printf '%s\n' "$out" | sed 's/^/    /'
    fail=1
  fi
done
exit $fail
