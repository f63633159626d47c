#!/usr/bin/env bash
# The shipped library carries no fault injection: no symbol of the test-only library
# (src/testing: FaultBackend, FaultController, FaultRule, the power-loss journal,
# MakeFaultWrapper) is defined in libringdb.a or libringdb.so.
#   scripts/tidy/check_lib.sh LIB...     (default: build/libringdb.a build/libringdb.so)
# Prints `LIB: defines SYMBOL` per offending symbol; exit 1 if any, 77 when no library
# was found (nothing built yet).
set -uo pipefail
libs=("$@")
if ((${#libs[@]} == 0)); then
  dir=${BUILD_DIR:-build}
  for f in "$dir/libringdb.a" "$dir/libringdb.so"; do
    [[ -e "$f" ]] && libs+=("$f")
  done
fi
if ((${#libs[@]} == 0)); then
  echo "check_lib: no libringdb built (set BUILD_DIR)" >&2
  exit 77
fi
pattern='ringdb::io::(Fault[A-Za-z]*|PowerLoss[A-Za-z]*|MakeFaultWrapper|fault_detail)'
fail=0
for lib in "${libs[@]}"; do
  dyn=()
  [[ "$lib" == *.so* ]] && dyn=(-D)
  if ! syms=$(nm -C "${dyn[@]}" --defined-only "$lib" 2>&1); then
    echo "$lib: nm failed: $syms"
    fail=1
    continue
  fi
  bad=$(printf '%s\n' "$syms" | grep -E "$pattern" | sed -E 's/^[0-9a-f]* *[A-Za-z] //' | sort -u)
  if [[ -n "$bad" ]]; then
    printf '%s\n' "$bad" | sed "s|^|$lib: defines |"
    fail=1
  fi
done
exit $fail
