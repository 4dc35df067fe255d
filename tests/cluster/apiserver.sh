#!/usr/bin/env bash
# apiserver.sh stop|start: stops or restarts (same port, same etcd) the kube-apiserver of up.sh,
# for outage tests. `start` waits for /readyz.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
run="$here/.run"
. "$here/lib.sh"
case "${1:-}" in
  stop)
    stop_pidfile "$run/apiserver.pid" >/dev/null
    ;;
  start)
    "$run/apiserver.sh" >> "$run/apiserver.log" 2>&1 &
    write_pidfile "$run/apiserver.pid" $!
    for _ in $(seq 1 200); do
      "$here/status.sh" && exit 0
      sleep 0.1
    done
    echo "kube-apiserver not ready after restart" >&2; exit 1
    ;;
  *) echo "usage: apiserver.sh stop|start" >&2; exit 2 ;;
esac
