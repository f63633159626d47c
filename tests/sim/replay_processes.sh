#!/usr/bin/env bash
# sim-replay-processes: the same seeds, run in two processes whose stores live in
# directories of different names, must print the same digest per seed
# (docs/testing.md "Simulator", replay across processes). `--check-replay` compares two
# runs inside one process and cannot see what differs between processes: the process id
# in paths, addresses, fd numbers, real time.
#   replay_processes.sh <ringdb-sim> [first seed] [count (at most 20: one line per seed)]
set -euo pipefail
sim=$1
from=${2:-1}
count=${3:-8}
alt=$(mktemp -d /dev/shm/ringdb-sim-replay-a-much-longer-directory-name.XXXXXX)
trap 'rm -rf "$alt"' EXIT
digests() {  # dir
  "$sim" --seeds "$count" --from "$from" --dir "$1" | grep -o '^seed [0-9]* ok\|digest [0-9a-f]*' |
    paste - -
}
first=$(digests /dev/shm)
second=$(digests "$alt")
if [[ "$first" != "$second" ]]; then
  echo "the seeds took different paths in two processes:"
  diff <(echo "$first") <(echo "$second") || true
  exit 1
fi
echo "$first"
echo "seeds $from..$((from + count - 1)): the same digests in two processes"
