#!/usr/bin/env bash
# Stops a local mesh started by scripts/mesh-start.sh: SIGTERM to every node (each stops cleanly), then SIGKILL
# to any still running after the grace period. Reports each node. Safe to run twice, or with no mesh running.
#
#   scripts/mesh-stop.sh [--base-dir D] [--grace S] [--clean]
#
#   --base-dir D   where the nodes live (default ./.skyline-mesh)
#   --grace S      seconds to wait after SIGTERM before SIGKILL (default 10)
#   --clean        also delete the base dir (identities, logs) once every node is gone
#
# Exit 0 when no node of the mesh is left running, 1 otherwise, 2 on bad usage.
set -euo pipefail

usage () { sed -n '5,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }

base=".skyline-mesh"
grace=10
clean=0
while [ $# -gt 0 ]; do
  case "$1" in
    --base-dir) [ $# -ge 2 ] || usage; base="$2"; shift 2 ;;
    --base-dir=*) base="${1#*=}"; shift ;;
    --grace) [ $# -ge 2 ] || usage; grace="$2"; shift 2 ;;
    --clean) clean=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "mesh-stop: unknown argument '$1'" >&2; usage ;;
  esac
done
[[ "$grace" =~ ^[0-9]+$ ]] || { echo "mesh-stop: --grace must be a number of seconds" >&2; exit 2; }

if [ ! -d "$base" ]; then
  echo "no mesh in $base: nothing to stop"
  exit 0
fi
base="$(cd "$base" && pwd)"

# Same test as mesh-start.sh: the pid is alive and runs skyline on this node's data dir (not a reused pid)
running () {
  local dir="$1" pid cmd
  [ -f "$dir/node.pid" ] || return 1
  pid="$(cat "$dir/node.pid" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  cmd="$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)" || return 1
  grep -q '^[0-9]* ([^)]*) Z' "/proc/$pid/stat" 2>/dev/null && return 1
  case "$cmd" in *"/cli/main."*" node "*"--data-dir $dir "*) echo "$pid" ;; *) return 1 ;; esac
}

dirs=()
pids=()
for dir in "$base"/node-*; do
  [ -d "$dir" ] || continue
  if pid="$(running "$dir")"; then
    kill -TERM "$pid" 2>/dev/null || true
    dirs+=("$dir")
    pids+=("$pid")
  else
    [ ! -f "$dir/node.pid" ] || echo "${dir##*/}: not running (stale pid file removed)"
    rm -f "$dir/node.pid"
  fi
done

if [ "${#pids[@]}" -eq 0 ]; then
  echo "no node running in $base"
else
  echo "sent SIGTERM to ${#pids[@]} node(s); waiting up to ${grace} s"
  deadline=$(( SECONDS + grace ))
  while :; do
    left=0
    for dir in "${dirs[@]}"; do running "$dir" > /dev/null && left=$(( left + 1 )); done
    [ "$left" -gt 0 ] && [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.1
  done
  for k in "${!dirs[@]}"; do
    dir="${dirs[$k]}"
    if running "$dir" > /dev/null; then
      kill -KILL "${pids[$k]}" 2>/dev/null || true
      echo "${dir##*/}: pid ${pids[$k]} did not stop in ${grace} s: killed (SIGKILL)"
    else
      echo "${dir##*/}: pid ${pids[$k]} stopped"
    fi
  done
  # SIGKILL takes effect at once, but give the kernel a moment before the final check
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    left=0
    for dir in "${dirs[@]}"; do running "$dir" > /dev/null && left=$(( left + 1 )); done
    [ "$left" -gt 0 ] || break
    sleep 0.1
  done
  if [ "$left" -gt 0 ]; then
    echo "mesh-stop: $left node(s) still running" >&2
    exit 1
  fi
  for dir in "${dirs[@]}"; do rm -f "$dir/node.pid"; done
fi

if [ "$clean" -eq 1 ]; then
  rm -rf "$base"
  echo "removed $base"
fi
