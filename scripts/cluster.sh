#!/usr/bin/env bash
# cluster.sh: N ringdb-server nodes on loopback behind one nutcracker (twemproxy) proxy.
#
#   scripts/cluster.sh start  [--nodes 3] [--dir DIR] [--base-port 7000] [--proxy-port 22121]
#                             [--durability sync|periodic|none] [--shards N]
#                             [--server-connections 1] [--server PATH] [-- extra server flags]
#   scripts/cluster.sh stop   [--dir DIR]        # SIGTERM everything, wait for clean exits
#   scripts/cluster.sh status [--dir DIR]
#   scripts/cluster.sh kill-node  N [--dir DIR]  # SIGKILL node N (tests)
#   scripts/cluster.sh start-node N [--dir DIR]  # start node N again on its store
#
# Each node has its own store (DIR/node-N/db) and log (DIR/node-N/log). The pool
# (DIR/nutcracker.yml) uses ketama over the nodes' names (node0, node1, ...), so keys stay
# where they are when a node moves to another port, hash tags "{...}" and
# auto_eject_hosts: false (a dead node's keys fail instead of moving: no silent split
# brain). docs/server.md says how to grow the pool and what nutcracker does not do.
# Everything listens on 127.0.0.1 only.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
[ -n "$cmd" ] && shift || true
node_arg=""
case "$cmd" in kill-node|start-node) node_arg=${1:?node number}; shift ;; esac

dir=${RINGDB_CLUSTER_DIR:-/tmp/ringdb-cluster}
nodes=3
base_port=7000
proxy_port=22121
durability=sync
shards=0
server_conns=1
server=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --base-port) base_port=$2; shift 2 ;;
    --proxy-port) proxy_port=$2; shift 2 ;;
    --durability) durability=$2; shift 2 ;;
    --shards) shards=$2; shift 2 ;;
    --server-connections) server_conns=$2; shift 2 ;;
    --server) server=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "cluster.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

find_server() {
  if [ -n "$server" ]; then echo "$server"; return; fi
  for c in "${RINGDB_SERVER:-}" "$here/build/tools/ringdb-server" "$(command -v ringdb-server || true)"; do
    if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; return; fi
  done
  echo "cluster.sh: ringdb-server not found (build it, or pass --server PATH)" >&2
  exit 1
}

need() {
  command -v "$1" >/dev/null || { echo "cluster.sh: $1 is not installed (apt-get install $2)" >&2; exit 1; }
}

ping_port() {  # ping_port PORT -> 0 once it answers PONG
  [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = "PONG" ]
}

wait_ping() {  # wait_ping PORT WHAT
  for _ in $(seq 1 300); do
    ping_port "$1" && return 0
    sleep 0.1
  done
  echo "cluster.sh: $2 on port $1 did not come up" >&2
  return 1
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# wait_gone PIDFILE SECONDS: wait for the process to exit.
wait_gone() {
  local pidf=$1 secs=$2 i
  for i in $(seq 1 $((secs * 10))); do
    alive "$pidf" || return 0
    sleep 0.1
  done
  return 1
}

start_node() {  # start_node N
  local i=$1 port=$((base_port + $1)) nd="$dir/node-$1"
  mkdir -p "$nd"
  if alive "$nd/pid"; then echo "node$i already running (pid $(cat "$nd/pid"))"; return; fi
  # A node killed a moment ago may still hold its port (io_uring teardown is async).
  for _ in $(seq 1 100); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.1
  done
  local args=(--db "$nd/db" --port "$port" --bind 127.0.0.1 --durability "$durability")
  [ "$shards" != 0 ] && args+=(--shards "$shards")
  nohup "$(find_server)" "${args[@]}" "${extra[@]}" >>"$nd/log" 2>&1 &
  echo $! >"$nd/pid"
  wait_ping "$port" "node$i"
  echo "node$i: 127.0.0.1:$port (pid $(cat "$nd/pid"), store $nd/db)"
}

write_pool() {
  {
    echo "ringdb:"
    echo "  listen: 127.0.0.1:$proxy_port"
    echo "  hash: fnv1a_64"
    echo "  hash_tag: \"{}\""
    echo "  distribution: ketama"
    echo "  redis: true"
    echo "  auto_eject_hosts: false"
    echo "  timeout: 10000"
    echo "  server_connections: $server_conns"
    echo "  preconnect: true"
    echo "  servers:"
    for i in $(seq 0 $((nodes - 1))); do
      echo "   - 127.0.0.1:$((base_port + i)):1 node$i"
    done
  } >"$dir/nutcracker.yml"
}

save_settings() {
  cat >"$dir/settings" <<EOF
nodes=$nodes
base_port=$base_port
proxy_port=$proxy_port
durability=$durability
shards=$shards
server_conns=$server_conns
server=$(find_server)
EOF
  printf '%s\n' "${extra[@]+"${extra[@]}"}" >"$dir/extra_args"
}

load_settings() {
  [ -f "$dir/settings" ] || { echo "cluster.sh: no cluster in $dir" >&2; exit 1; }
  # shellcheck disable=SC1091
  . "$dir/settings"
  mapfile -t extra <"$dir/extra_args"
  [ ${#extra[@]} -eq 1 ] && [ -z "${extra[0]}" ] && extra=()
}

case "$cmd" in
  start)
    need nutcracker nutcracker
    need redis-cli redis-tools
    mkdir -p "$dir"
    save_settings
    for i in $(seq 0 $((nodes - 1))); do start_node "$i"; done
    write_pool
    nutcracker -t -c "$dir/nutcracker.yml" >/dev/null 2>&1 || {
      nutcracker -t -c "$dir/nutcracker.yml"; exit 1; }
    if ! alive "$dir/nutcracker.pid"; then
      nutcracker -c "$dir/nutcracker.yml" -p "$dir/nutcracker.pid" -o "$dir/nutcracker.log" \
        -a 127.0.0.1 -s $((proxy_port + 1)) -d
      wait_ping "$proxy_port" "nutcracker"
    fi
    echo "nutcracker: 127.0.0.1:$proxy_port (pool $dir/nutcracker.yml, stats port $((proxy_port + 1)))"
    ;;
  stop)
    load_settings
    if alive "$dir/nutcracker.pid"; then
      kill -TERM "$(cat "$dir/nutcracker.pid")"
      wait_gone "$dir/nutcracker.pid" 10 || kill -KILL "$(cat "$dir/nutcracker.pid")" || true
    fi
    rm -f "$dir/nutcracker.pid"
    rc=0
    for i in $(seq 0 $((nodes - 1))); do
      nd="$dir/node-$i"
      if alive "$nd/pid"; then
        kill -TERM "$(cat "$nd/pid")"
        if ! wait_gone "$nd/pid" 30; then
          echo "node$i did not stop in 30 s; killing it" >&2
          kill -KILL "$(cat "$nd/pid")" || true
          rc=1
        fi
      fi
      rm -f "$nd/pid"
    done
    echo "cluster in $dir stopped"
    exit $rc
    ;;
  status)
    load_settings
    for i in $(seq 0 $((nodes - 1))); do
      port=$((base_port + i))
      if ping_port "$port"; then
        echo "node$i 127.0.0.1:$port up, $(redis-cli -p "$port" dbsize) keys"
      else
        echo "node$i 127.0.0.1:$port DOWN"
      fi
    done
    if ping_port "$proxy_port"; then echo "nutcracker 127.0.0.1:$proxy_port up"; else echo "nutcracker DOWN"; fi
    ;;
  kill-node)
    load_settings
    nd="$dir/node-$node_arg"
    alive "$nd/pid" && kill -KILL "$(cat "$nd/pid")"
    wait_gone "$nd/pid" 10 || true
    rm -f "$nd/pid"
    ;;
  start-node)
    load_settings
    start_node "$node_arg"
    ;;
  *)
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
