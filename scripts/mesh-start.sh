#!/usr/bin/env bash
# Starts a local Skyline mesh: N `skyline node` processes on 127.0.0.1, each its own OS process with its own
# data dir (BASE/node-<i>), config (BASE/node-<i>/config.json), HTTP port and TCP port. Node 0 is the bootstrap
# node; the others join through it. Waits until every node answers GET /status with connected peers, then prints
# a table. Idempotent: nodes already running (per their pid file) are kept, stale pid files are replaced.
#
#   scripts/mesh-start.sh N [--base-dir D] [--http-base P] [--tcp-base P] [--builder KIND] [--timeout S]
#
#   --base-dir D    where the nodes live (default ./.skyline-mesh)
#   --http-base P   node i serves HTTP on 127.0.0.1:P+i (default 7800; 0 = any free port)
#   --tcp-base P    node i listens on /ip4/127.0.0.1/tcp/P+i (default 7900; 0 = any free port)
#   --builder KIND  rpmbuild, mock, none or auto (default: the node's own default, auto)
#   --timeout S     seconds to wait for the mesh (default 60)
#
# Stop it with scripts/mesh-stop.sh [--base-dir D]. Exit 0 when the mesh is up, 1 when it did not come up,
# 2 on bad usage.
set -euo pipefail

here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
skyline="$here/bin/skyline"

usage () { sed -n '7,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }

n=""
base=".skyline-mesh"
http_base=7800
tcp_base=7900
timeout=60
builder=""
while [ $# -gt 0 ]; do
  case "$1" in
    --base-dir) [ $# -ge 2 ] || usage; base="$2"; shift 2 ;;
    --base-dir=*) base="${1#*=}"; shift ;;
    --http-base) [ $# -ge 2 ] || usage; http_base="$2"; shift 2 ;;
    --tcp-base) [ $# -ge 2 ] || usage; tcp_base="$2"; shift 2 ;;
    --timeout) [ $# -ge 2 ] || usage; timeout="$2"; shift 2 ;;
    --builder) [ $# -ge 2 ] || usage; builder="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    -*) echo "mesh-start: unknown option '$1'" >&2; usage ;;
    *) [ -z "$n" ] || usage; n="$1"; shift ;;
  esac
done
for v in "$n" "$http_base" "$tcp_base" "$timeout"; do
  [[ "$v" =~ ^[0-9]+$ ]] || { echo "mesh-start: expected a number, got '$v'" >&2; usage; }
done
[ "$n" -ge 1 ] || { echo "mesh-start: N must be at least 1" >&2; exit 2; }
command -v curl >/dev/null || { echo "mesh-start: needs curl" >&2; exit 2; }

mkdir -p "$base"
base="$(cd "$base" && pwd)"

# A pid is ours if it is alive and runs skyline on this node's data dir (guards against pid reuse).
running () { # dir -> prints pid, returns 0 if that node runs
  local dir="$1" pid
  [ -f "$dir/node.pid" ] || return 1
  pid="$(cat "$dir/node.pid" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  local cmd
  cmd="$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)" || return 1
  case "$cmd" in *"/cli/main."*" node "*"--data-dir $dir "*) echo "$pid" ;; *) return 1 ;; esac
}

# Alive (not a zombie): for the moments between fork and exec, when the cmdline is not yet skyline's
alive () { local pid; pid="$(cat "$1/node.pid" 2>/dev/null)" && [ -r "/proc/$pid/stat" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$pid/stat"; }

# The HTTP URL a node printed at start ("status at http://HOST:PORT/status"), empty until it did.
http_url () { sed -n 's|.*status at \(http://[^ ]*\)/status.*|\1|p' "$1/node.log" 2>/dev/null | tail -n 1; }
peer_id () { sed -n 's|^skyline node \([^ ]*\).*|\1|p' "$1/node.log" 2>/dev/null | tail -n 1; }
status_json () { local url; url="$(http_url "$1")"; [ -n "$url" ] && curl -fsS --max-time 2 "$url/status" 2>/dev/null; }
connected () { status_json "$1" | grep -o '"connectedPeers":[0-9]*' | cut -d: -f2; }

port () { # base i -> port
  if [ "$1" -eq 0 ]; then echo 0; else echo $(( $1 + $2 )); fi
}

start_node () { # i [bootstrap multiaddr]
  local i="$1" boot="${2:-}" dir="$base/node-$1"
  mkdir -p "$dir"
  chmod 700 "$dir"
  local http_port tcp_port
  http_port="$(port "$http_base" "$i")"
  tcp_port="$(port "$tcp_base" "$i")"
  # libp2p rate-limits inbound connections to 5/s per host; a mesh on one host needs far more
  cat > "$dir/config.json" <<EOF
{
  "comment": "written by scripts/mesh-start.sh: node $i of a local mesh",
  "listen": ["/ip4/127.0.0.1/tcp/$tcp_port"],
  "http": "127.0.0.1:$http_port",${builder:+
  \"builder\": \"$builder\",}
  "inboundConnectionThreshold": 1000
}
EOF
  : > "$dir/node.log"
  local args=(node --config "$dir/config.json" --data-dir "$dir")
  [ -z "$boot" ] || args+=(--bootstrap "$boot")
  # own session: a Ctrl-C in this terminal does not reach the mesh; bin/skyline execs node, so $! is its pid
  setsid "$skyline" "${args[@]}" < /dev/null > "$dir/node.log" 2>&1 &
  echo $! > "$dir/node.pid"
}

wait_started () { # i: until the node printed its HTTP URL, or died
  local i="$1" dir="$base/node-$1" deadline=$(( SECONDS + timeout ))
  while [ -z "$(http_url "$dir")" ]; do
    if ! alive "$dir"; then
      echo "mesh-start: node-$i exited during start; last lines of $dir/node.log:" >&2
      tail -n 5 "$dir/node.log" >&2 || true
      return 1
    fi
    [ "$SECONDS" -lt "$deadline" ] || { echo "mesh-start: node-$i did not start in ${timeout} s" >&2; return 1; }
    sleep 0.1
  done
}

# Node 0's address for the others: its first 127.0.0.1 listen address, with /p2p/<peer id>
bootstrap_addr () {
  local dir="$base/node-0" id addr
  id="$(peer_id "$dir")"
  addr="$(status_json "$dir" | grep -o '"listenAddresses":\[[^]]*\]' | grep -o '"/ip4/127\.0\.0\.1/tcp/[0-9]*[^"]*"' | head -n 1 | tr -d '"')"
  [ -n "$id" ] && [ -n "$addr" ] || return 1
  addr="${addr%%/p2p/*}"
  echo "$addr/p2p/$id"
}

fail=0
started=()
if pid="$(running "$base/node-0")"; then
  echo "node-0 already running (pid $pid)"
else
  start_node 0
  started+=(0)
fi
wait_started 0 || { echo "mesh-start: the bootstrap node did not start; stop with scripts/mesh-stop.sh --base-dir $base" >&2; exit 1; }
boot="$(bootstrap_addr)" || { echo "mesh-start: cannot read node-0's address from its /status" >&2; exit 1; }

for (( i = 1; i < n; i++ )); do
  if pid="$(running "$base/node-$i")"; then
    echo "node-$i already running (pid $pid)"
  else
    start_node "$i" "$boot"
    started+=("$i")
  fi
done
for (( i = 1; i < n; i++ )); do wait_started "$i" || fail=1; done
[ "$fail" -eq 0 ] || { echo "mesh-start: not every node started; stop with scripts/mesh-stop.sh --base-dir $base" >&2; exit 1; }

# Every node answers /status and has at least one connected peer (a mesh of one needs none)
need=$(( n > 1 ? 1 : 0 ))
deadline=$(( SECONDS + timeout ))
while :; do
  waiting=()
  for (( i = 0; i < n; i++ )); do
    c="$(connected "$base/node-$i" || true)"
    if [ -z "$c" ] || [ "$c" -lt "$need" ]; then waiting+=("node-$i"); fi
  done
  [ "${#waiting[@]}" -gt 0 ] || break
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "mesh-start: after ${timeout} s still waiting for peers on: ${waiting[*]}" >&2
    echo "stop with scripts/mesh-stop.sh --base-dir $base" >&2
    exit 1
  fi
  sleep 0.2
done

# Nodes beyond N from an earlier, larger run are left alone but mentioned
for dir in "$base"/node-*; do
  [ -d "$dir" ] || continue
  j="${dir##*/node-}"
  if [[ "$j" =~ ^[0-9]+$ ]] && [ "$j" -ge "$n" ] && running "$dir" > /dev/null; then
    echo "note: node-$j (from an earlier run) is also running"
  fi
done

echo "mesh of $n nodes up in $base (started ${#started[@]}, bootstrap $boot)"
printf '%-8s %-8s %-54s %-24s %s\n' NODE PID 'PEER ID' 'HTTP' PEERS
for (( i = 0; i < n; i++ )); do
  dir="$base/node-$i"
  printf '%-8s %-8s %-54s %-24s %s\n' "node-$i" "$(running "$dir" || echo -)" "$(peer_id "$dir")" "$(http_url "$dir")" "$(connected "$dir" || echo '?')"
done
echo "logs in $base/node-<i>/node.log; stop with scripts/mesh-stop.sh --base-dir $base"
