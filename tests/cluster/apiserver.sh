#!/usr/bin/env bash
# apiserver.sh stop|start: stops or restarts (same port, same etcd) the kube-apiserver of up.sh,
# for outage tests. `start` waits for /readyz.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
run="$here/.run"
. "$run/env"
case "${1:-}" in
  stop)
    pid=$(cat "$run/apiserver.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
    ;;
  start)
    "$run/apiserver.sh" >> "$run/apiserver.log" 2>&1 &
    echo $! > "$run/apiserver.pid"
    for _ in $(seq 1 200); do
      "$here/status.sh" && exit 0
      sleep 0.1
    done
    echo "kube-apiserver not ready after restart" >&2; exit 1
    ;;
  *) echo "usage: apiserver.sh stop|start" >&2; exit 2 ;;
esac
