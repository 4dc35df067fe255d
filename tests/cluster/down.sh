#!/usr/bin/env bash
# Stops everything up.sh and proxy.sh started (by pid, each checked to still be the process that was
# started: lib.sh's stop_pidfile) and removes the throw-away state: .run/ with every credential in it
# (kubeconfigs, env, tokens.csv, keys, the proxy's confdir).
#
#   down.sh          the local cluster: proxy, apiserver, etcd; removes .run
#   down.sh proxy    only the fault proxy (proxy.pid); .run stays
# K8SRETRY_RUN=DIR works on DIR instead of .run (make demo's state for a user's cluster,
# .run-external, which holds only a proxy).
here=$(cd "$(dirname "$0")" && pwd)
run=${K8SRETRY_RUN:-$here/.run}
. "$here/lib.sh"
names=(proxy apiserver etcd)
[ "${1:-}" = proxy ] && names=(proxy)
for name in "${names[@]}"; do
  pid=$(stop_pidfile "$run/$name.pid") && [ -n "$pid" ] && echo "[cluster-down] stopped $name ($pid)" >&2
done
[ "${1:-}" = proxy ] || rm -rf "$run"
