#!/usr/bin/env bash
# The tidy checks (docs/tidy.md), the same ones the meson suite `tidy` runs in CI:
#   layers    include rules per layer (DESIGN.md), scripts/tidy/check_layers.py
#   headers   every include/ringdb/*.h compiles on its own, scripts/tidy/check_headers.sh
#   format    clang-format 14 is clean on every tracked C++ file, check_format.sh
#   size      files <= 600 lines, functions <= 80 lines (or `// Long because:`), with
#             the exceptions in scripts/tidy_allow.txt, check_size.py
#   lib       libringdb carries no fault injection (needs a build: BUILD_DIR, default
#             build; skipped without one), check_lib.sh
#   selftest  each check above fails on a deliberately broken copy, tests/tidy/selftest.py
#
#   scripts/tidy.sh [CHECK...]      run the named checks (default: all)
#   scripts/tidy.sh --fix-format    clang-format -i every tracked C++ file, then exit
# Every violation is printed as path:line. Exit status 1 if any check failed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
[[ -x "$PY" ]] || PY=python3

if [[ "${1:-}" == "--fix-format" ]]; then
  cf=$(command -v clang-format-14 || true)
  if [[ -z "$cf" ]]; then
    echo "tidy: clang-format-14 not found (scripts/deps.sh installs it)" >&2
    exit 2
  fi
  git ls-files -z -- '*.cc' '*.h' '*.cpp' '*.hpp' | xargs -0 "$cf" -i --style=file
  exit 0
fi

checks=("$@")
((${#checks[@]})) || checks=(layers headers format size lib selftest)
failed=()
skipped=()
for c in "${checks[@]}"; do
  echo "== tidy: $c"
  case "$c" in
    layers) "$PY" scripts/tidy/check_layers.py ;;
    headers) scripts/tidy/check_headers.sh ;;
    format) scripts/tidy/check_format.sh ;;
    size) "$PY" scripts/tidy/check_size.py --allow scripts/tidy_allow.txt ;;
    lib) scripts/tidy/check_lib.sh ;;
    selftest) "$PY" tests/tidy/selftest.py ;;
    *)
      echo "tidy: unknown check '$c' (layers headers format size lib selftest)" >&2
      exit 2
      ;;
  esac
  rc=$?
  if ((rc == 77)); then
    skipped+=("$c")
  elif ((rc != 0)); then
    failed+=("$c")
  fi
done
((${#skipped[@]})) && echo "tidy: skipped: ${skipped[*]}"
if ((${#failed[@]})); then
  echo "tidy: FAILED: ${failed[*]}"
  exit 1
fi
echo "tidy: ok"
