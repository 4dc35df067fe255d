#!/usr/bin/env bash
# Starts the fault proxy (mitmproxy in reverse mode with faults.py, see mitm.sh) in front of the
# apiserver of .run/env (up.sh's; local-env.sh must pass), and writes .run/kubeconfig-proxy.
# K8SRETRY_RUN=DIR uses DIR instead: make demo's state for a user's cluster (.run-external), kept
# apart from the local cluster's so that nothing ever takes that cluster for the local one. The proxy verifies the apiserver's certificate against K8S_CA (the system
# trust store when K8S_CA is empty; K8SRETRY_PROXY_INSECURE_UPSTREAM=1 turns that off, with a
# warning). Its clients verify the proxy against mitmproxy's CA, .run/mitm/mitmproxy-ca-cert.pem
# (PROXY_CA in .run/env, certificate-authority in .run/kubeconfig-proxy). Its control endpoints
# require the header X-K8sretry-Control-Token: PROXY_TOKEN in .run/env.
set -euo pipefail
umask 077
here=$(cd "$(dirname "$0")" && pwd)
run=${K8SRETRY_RUN:-$here/.run}
log() { echo "[cluster-proxy] $*" >&2; }
. "$here/lib.sh"
[ -f "$run/env" ] || { log "no cluster: run up.sh first"; exit 1; }
[ -n "${K8SRETRY_RUN:-}" ] || "$here/local-env.sh" >/dev/null
. "$run/env"
if [ -n "${PROXY:-}" ] && owned_pid "$run/proxy.pid" >/dev/null &&
  curl -fs --cacert "${PROXY_CA:-/dev/null}" -H "X-K8sretry-Control-Token: ${PROXY_TOKEN:-}" "$PROXY/__k8sretry/stats" >/dev/null 2>&1; then
  log "already running at $PROXY"; exit 0
fi

port=$("$here/mitm.sh" "$K8S_API" "${K8S_CA:-}" "$run")
ca="$run/mitm/mitmproxy-ca-cert.pem"
# The same kubeconfig with the proxy as its server and mitmproxy's CA as the one to trust.
sed "s#^clusters: \[{name: \([^,]*\), cluster: .*#clusters: [{name: \1, cluster: {server: \"https://127.0.0.1:$port\", certificate-authority: \"$ca\"}}]#" \
  "$run/kubeconfig" > "$run/kubeconfig-proxy"
grep -qF "certificate-authority: \"$ca\"" "$run/kubeconfig-proxy" || { log "could not rewrite $run/kubeconfig"; exit 1; }
{
  env_line PROXY "https://127.0.0.1:$port"
  env_line PROXY_CA "$ca"
  env_line KUBECONFIG_PROXY "$run/kubeconfig-proxy"
  env_line PROXY_TOKEN "$(cat "$run/proxy-token")"
} >> "$run/env"
log "fault proxy at https://127.0.0.1:$port"
