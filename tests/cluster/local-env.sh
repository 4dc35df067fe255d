#!/usr/bin/env bash
# local-env.sh: the one check that .run is the throw-away cluster up.sh started here, and nothing
# else (a user's cluster, a stale .run/env, a server that merely answers /readyz): then prints
# .run/env as one JSON object. Every e2e suite (Python, Node, Go, Rust, the runner hooks), status.sh,
# proxy.sh and make demo call it before they use the cluster, and stop when it fails (exit 1, the
# reason on stderr). It holds when all of these do:
#   - K8S_API is https://127.0.0.1:PORT, KUBECONFIG and K8S_CA are .run's own files, and the
#     kubeconfig's server is K8S_API;
#   - K8S_TOKEN is a token of .run/tokens.csv (the apiserver's own token file);
#   - .run/apiserver.pid and .run/etcd.pid name live processes that are the ones up.sh started
#     (same start time, lib.sh), running kube-apiserver and etcd, the apiserver with --secure-port PORT
#     and --token-auth-file .run/tokens.csv;
#   - with PROXY set: it is on 127.0.0.1 and .run/proxy.pid is live.
# It opens no connection: status.sh adds the readiness check.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
run="$here/.run"
. "$here/lib.sh"
refuse() { echo "[cluster] $run is not the local cluster of tests/cluster: $*" >&2; exit 1; }
[ -f "$run/env" ] || refuse "no $run/env (start it with tests/cluster/up.sh or make cluster-up)"
keys=$(sed -n "s/^\([A-Z_][A-Z0-9_]*\)=.*/\1/p" "$run/env")
# Only the file's own values count, not any inherited from the caller's environment.
# shellcheck disable=SC2086
unset $keys KUBECONFIG K8S_API K8S_CA K8S_TOKEN PROXY PROXY_CA KUBECONFIG_PROXY
set -a
. "$run/env"
set +a

[[ "${K8S_API:-}" =~ ^https://127\.0\.0\.1:([0-9]+)$ ]] || refuse "K8S_API '${K8S_API:-}' is not https://127.0.0.1:PORT"
port=${BASH_REMATCH[1]}
[ "${KUBECONFIG:-}" = "$run/kubeconfig" ] || refuse "KUBECONFIG '${KUBECONFIG:-}' is not $run/kubeconfig"
[ "${K8S_CA:-}" = "$run/certs/ca.crt" ] || refuse "K8S_CA '${K8S_CA:-}' is not $run/certs/ca.crt"
grep -qF "server: \"$K8S_API\"" "$run/kubeconfig" || refuse "$run/kubeconfig's server is not $K8S_API"
[ -n "${K8S_TOKEN:-}" ] && cut -d, -f1 "$run/tokens.csv" 2>/dev/null | grep -qxF "$K8S_TOKEN" ||
  refuse "K8S_TOKEN is not a token of $run/tokens.csv"

# process NAME BINARY: the pid of .run/NAME.pid, checked to be ours and to run BINARY.
process() {
  local pid exe
  pid=$(owned_pid "$run/$1.pid") || refuse "$1 is not running ($run/$1.pid names no live process up.sh started)"
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || refuse "cannot read /proc/$pid/exe ($1)"
  [ "${exe##*/}" = "$2" ] || refuse "$1's pid $pid runs $exe, not $2"
  echo "$pid"
}
apiserver=$(process apiserver kube-apiserver)
process etcd etcd >/dev/null
args=$(tr '\0' ' ' < "/proc/$apiserver/cmdline")
[[ " $args " == *" --secure-port $port "* ]] || refuse "the kube-apiserver of $run/apiserver.pid does not serve port $port"
[[ " $args " == *" --token-auth-file $run/tokens.csv "* ]] || refuse "the kube-apiserver of $run/apiserver.pid does not use $run/tokens.csv"

if [ -n "${PROXY:-}" ]; then
  [[ "$PROXY" =~ ^https://127\.0\.0\.1:[0-9]+$ ]] || refuse "PROXY '$PROXY' is not on 127.0.0.1"
  owned_pid "$run/proxy.pid" >/dev/null || refuse "the fault proxy is not running ($run/proxy.pid)"
fi

# shellcheck disable=SC2086
python3 -c 'import json, os, sys; print(json.dumps({k: os.environ[k] for k in sys.argv[1:]}))' $keys
