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
# the CA that clients of the proxy must trust), proxy.pid, proxy.log, proxy-token (a random token the
# control endpoints /__k8sretry/* require in the header X-K8sretry-Control-Token).
# mitmproxy is installed once into $K8SRETRY_CACHE/mitm-11.0.2-<hash> (default ~/.cache/k8sretry).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log() { echo "[cluster-proxy] $*" >&2; }
[ $# = 3 ] || { log "usage: mitm.sh UPSTREAM UPSTREAM_CA|'' DIR"; exit 2; }
upstream=$1 upstream_ca=$2 dir=$3

# mitmproxy sees the clients' credentials (in demo mode a real cluster's tokens): it and every
# dependency are pinned by version and SHA-256 (tools/requirements/mitmproxy.txt, pip
# --require-hashes); the venv is keyed by that file's hash (a venv of an older pin is not used).
reqs=$here/../../tools/requirements/mitmproxy.txt
venv=${K8SRETRY_CACHE:-$HOME/.cache/k8sretry}/mitm-11.0.2-$(sha256sum <"$reqs" | cut -c1-12)
if [ ! -x "$venv/bin/mitmdump" ]; then
  log "installing mitmproxy 11.0.2 (tools/requirements/mitmproxy.txt, hashes required) into $venv"
  rm -rf "$venv" && python3 -m venv "$venv" && "$venv/bin/pip" install -q --require-hashes -r "$reqs" ||
    { rm -rf "$venv"; log "installing mitmproxy failed"; exit 1; }
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
python3 -c 'import secrets; print(secrets.token_hex(16))' > "$dir/proxy-token"
control=(-H "X-K8sretry-Control-Token: $(cat "$dir/proxy-token")")
# http2 off: killing a flow must reset a real connection, not one HTTP/2 stream.
# connection_strategy lazy: the upstream is connected when a request arrives, not when a client
# connects, so while the upstream is away (an apiserver stopped) clients still complete their TLS
# handshake and every request gets an answer (502) and is counted (faults.py's stats), as behind a
# load balancer; with the default (eager) their handshakes failed and nothing was counted.
. "$here/lib.sh"
K8SRETRY_PROXY_TOKEN_FILE="$dir/proxy-token" "$venv/bin/mitmdump" --mode "reverse:$upstream" ${verify[@]+"${verify[@]}"} --listen-host 127.0.0.1 --listen-port "$port" \
  --set http2=false --set connection_strategy=lazy --set confdir="$dir/mitm" -s "$here/faults.py" -q > "$dir/proxy.log" 2>&1 &
write_pidfile "$dir/proxy.pid" $!
# Ready when it answers its control endpoint over TLS that its own CA (written on start) verifies.
for i in $(seq 1 100); do
  curl -fs --cacert "$dir/mitm/mitmproxy-ca-cert.pem" "${control[@]}" "https://127.0.0.1:$port/__k8sretry/stats" >/dev/null 2>&1 && break
  owned_pid "$dir/proxy.pid" >/dev/null || { log "mitmdump exited:"; cat "$dir/proxy.log" >&2; exit 1; }
  [ "$i" = 100 ] && { log "proxy not answering"; cat "$dir/proxy.log" >&2; exit 1; }
  sleep 0.2
done
echo "$port"
