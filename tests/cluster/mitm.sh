#!/usr/bin/env bash
# mitm.sh UPSTREAM UPSTREAM_CA DIR: starts mitmdump in reverse mode in front of UPSTREAM
# (https://host:port) with faults.py on a free 127.0.0.1 port, waits until it answers, and prints
# that port. proxy.sh runs it for the cluster; test_proxy_tls.py for a fake upstream.
#
# The upstream's certificate is verified: against UPSTREAM_CA (a PEM file) when given, else against
# the system's trust store. Only K8SRETRY_PROXY_INSECURE_UPSTREAM=1 turns verification off
# (--ssl-insecure), with a warning: then anyone on the path to UPSTREAM can pose as it and collect
# the credentials that clients send through the proxy.
#
# DIR gets (0600 files, DIR 0700): mitm/ (mitmproxy's confdir: its CA key, and mitm/mitmproxy-ca-cert.pem,
# the CA that clients of the proxy must trust), proxy.pid, proxy.log.
# mitmproxy is installed once into $K8SRETRY_CACHE/mitm-11.0.2 (default ~/.cache/k8sretry).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log() { echo "[cluster-proxy] $*" >&2; }
[ $# = 3 ] || { log "usage: mitm.sh UPSTREAM UPSTREAM_CA|'' DIR"; exit 2; }
upstream=$1 upstream_ca=$2 dir=$3

venv=${K8SRETRY_CACHE:-$HOME/.cache/k8sretry}/mitm-11.0.2
if [ ! -x "$venv/bin/mitmdump" ]; then
  log "installing mitmproxy 11.0.2 into $venv"
  python3 -m venv "$venv" && "$venv/bin/pip" install -q "mitmproxy==11.0.2"
fi
# From here on everything written (mitmproxy's CA key among it) is for this user only.
umask 077
mkdir -p "$dir" && chmod 700 "$dir"

if [ "${K8SRETRY_PROXY_INSECURE_UPSTREAM:-}" = 1 ]; then
  log "WARNING: K8SRETRY_PROXY_INSECURE_UPSTREAM=1: the proxy does NOT verify the certificate of $upstream."
  log "WARNING: anyone on the network path to it can pose as it and collect the credentials sent through the proxy."
  verify=(--ssl-insecure)
elif [ -n "$upstream_ca" ]; then
  [ -r "$upstream_ca" ] || { log "upstream CA $upstream_ca is not readable"; exit 1; }
  verify=(--set "ssl_verify_upstream_trusted_ca=$upstream_ca")
else
  # The system's trust store (mitmproxy's own default would be certifi's bundle).
  read -r cafile capath < <(python3 -c 'import ssl; p = ssl.get_default_verify_paths(); print(p.cafile or p.openssl_cafile, p.capath or p.openssl_capath)')
  if [ -f "$cafile" ]; then
    verify=(--set "ssl_verify_upstream_trusted_ca=$cafile")
  elif [ -d "$capath" ]; then
    verify=(--set "ssl_verify_upstream_trusted_confdir=$capath")
  else
    log "no system trust store found: verifying $upstream against certifi's bundle"
    verify=()
  fi
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# http2 off: killing a flow must reset a real connection, not one HTTP/2 stream.
# connection_strategy lazy: the upstream is connected when a request arrives, not when a client
# connects, so while the upstream is away (an apiserver stopped) clients still complete their TLS
# handshake and every request gets an answer (502) and is counted (faults.py's stats), as behind a
# load balancer; with the default (eager) their handshakes failed and nothing was counted.
"$venv/bin/mitmdump" --mode "reverse:$upstream" ${verify[@]+"${verify[@]}"} --listen-host 127.0.0.1 --listen-port "$port" \
  --set http2=false --set connection_strategy=lazy --set confdir="$dir/mitm" -s "$here/faults.py" -q > "$dir/proxy.log" 2>&1 &
echo $! > "$dir/proxy.pid"
# Ready when it answers its control endpoint over TLS that its own CA (written on start) verifies.
for i in $(seq 1 100); do
  curl -fs --cacert "$dir/mitm/mitmproxy-ca-cert.pem" "https://127.0.0.1:$port/__k8sretry/stats" >/dev/null 2>&1 && break
  kill -0 "$(cat "$dir/proxy.pid")" 2>/dev/null || { log "mitmdump exited:"; cat "$dir/proxy.log" >&2; exit 1; }
  [ "$i" = 100 ] && { log "proxy not answering"; cat "$dir/proxy.log" >&2; exit 1; }
  sleep 0.2
done
echo "$port"
