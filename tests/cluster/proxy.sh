#!/usr/bin/env bash
# Starts the fault proxy (mitmproxy in reverse mode with faults.py) in front of the apiserver that
# up.sh started, and writes .run/kubeconfig-proxy. mitmproxy is installed once into
# $K8SRETRY_CACHE/mitm-11.0.2 (default ~/.cache/k8sretry).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
run="$here/.run"
log() { echo "[cluster-proxy] $*" >&2; }
[ -f "$run/env" ] || { log "no cluster: run up.sh first"; exit 1; }
. "$run/env"
if [ -n "${PROXY:-}" ] && curl -fsk "$PROXY/__k8sretry/stats" >/dev/null 2>&1; then
  log "already running at $PROXY"; exit 0
fi

venv=${K8SRETRY_CACHE:-$HOME/.cache/k8sretry}/mitm-11.0.2
if [ ! -x "$venv/bin/mitmdump" ]; then
  log "installing mitmproxy 11.0.2 into $venv"
  python3 -m venv "$venv" && "$venv/bin/pip" install -q "mitmproxy==11.0.2"
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# http2 off: killing a flow must reset a real connection, not one HTTP/2 stream.
"$venv/bin/mitmdump" --mode "reverse:$K8S_API" --ssl-insecure --listen-host 127.0.0.1 --listen-port "$port" \
  --set http2=false --set confdir="$run/mitm" -s "$here/faults.py" -q > "$run/proxy.log" 2>&1 &
echo $! > "$run/proxy.pid"
for i in $(seq 1 100); do
  curl -fsk "https://127.0.0.1:$port/__k8sretry/stats" >/dev/null 2>&1 && break
  kill -0 "$(cat "$run/proxy.pid")" 2>/dev/null || { log "mitmdump exited:"; cat "$run/proxy.log" >&2; exit 1; }
  [ "$i" = 100 ] && { log "proxy not answering"; cat "$run/proxy.log" >&2; exit 1; }
  sleep 0.2
done
sed "s#server: \"$K8S_API\"#server: \"https://127.0.0.1:$port\"#" "$run/kubeconfig" > "$run/kubeconfig-proxy"
echo "PROXY=https://127.0.0.1:$port" >> "$run/env"
echo "KUBECONFIG_PROXY=$run/kubeconfig-proxy" >> "$run/env"
log "fault proxy at https://127.0.0.1:$port"
