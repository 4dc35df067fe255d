#!/usr/bin/env bash
# Stops everything up.sh and proxy.sh started (by pid) and removes the throw-away state: .run/ with
# every credential in it (kubeconfigs, env, tokens.csv, keys, the proxy's confdir).
here=$(cd "$(dirname "$0")" && pwd)
run="$here/.run"
for name in proxy apiserver etcd; do
  pidfile="$run/$name.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    echo "[cluster-down] stopped $name ($pid)" >&2
  fi
  rm -f "$pidfile"
done
rm -rf "$run"
