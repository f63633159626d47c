#!/usr/bin/env bash
# clang-format is clean on every tracked C++ file (.clang-format at the root). Uses
# clang-format 14, the version scripts/deps.sh installs on Debian 12 (other versions
# format some constructs differently). Prints `path:line:col: ...` per violation.
#   scripts/tidy/check_format.sh [--root DIR] [--exclude PREFIX]... [FILE...]
# Exit status: 0 clean, 1 violations, 77 when clang-format 14 is not installed.
set -uo pipefail
root=.
excludes=()
files=()
while (($#)); do
  case "$1" in
    --root) root=$2; shift 2 ;;
    --exclude) excludes+=("$2"); shift 2 ;;
    *) files+=("$1"); shift ;;
  esac
done
cd "$root" || exit 2

cf=""
for c in "${CLANG_FORMAT:-}" clang-format-14 clang-format; do
  [[ -n "$c" ]] || continue
  if command -v "$c" >/dev/null && "$c" --version | grep -q 'version 14\.'; then
    cf=$c
    break
  fi
done
if [[ -z "$cf" ]]; then
  echo "check_format: clang-format 14 not found (scripts/deps.sh installs it)" >&2
  exit 77
fi

if ((${#files[@]} == 0)); then
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files -- '*.cc' '*.h' '*.cpp' '*.hpp')
  else
    mapfile -t files < <(find . \( -path './build*' -o -path './subprojects' -o -path './.*' \) \
      -prune -o -type f \( -name '*.cc' -o -name '*.h' \) -printf '%P\n' | sort)
  fi
fi
selected=()
for f in "${files[@]}"; do
  skip=0
  for p in "${excludes[@]}"; do
    [[ "$f" == "$p"* ]] && skip=1
  done
  ((skip)) || selected+=("$f")
done
((${#selected[@]})) || exit 0
out=$(printf '%s\0' "${selected[@]}" | xargs -0 "$cf" --style=file --dry-run --Werror 2>&1)
rc=$?
# Keep only the location lines ("path:line:col: error: code should be clang-formatted").
printf '%s\n' "$out" | grep -E '^[^ ].*:[0-9]+:[0-9]+: ' || true
if ((rc != 0)); then
  echo "check_format: run: $cf -i FILE... (or scripts/tidy.sh --fix-format)" >&2
  exit 1
fi
exit 0
