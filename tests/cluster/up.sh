#!/usr/bin/env bash
# Starts etcd + kube-apiserver on 127.0.0.1 with throw-away state (building them once, cached),
# waits for /readyz, and writes a kubeconfig. State, logs and pids live in tests/cluster/.run/.
# Prints the lines of .run/env (KUBECONFIG='...', K8S_API='...', K8S_CA='...', K8S_TOKEN='...').
# The apiserver serves a certificate of a throw-away CA made here (certs.sh): every client verifies
# it against .run/certs/ca.crt (K8S_CA), nobody skips verification.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
run="$here/.run"
log() { echo "[cluster-up] $*" >&2; }
. "$here/lib.sh"

# Reused only when status.sh finds the local apiserver of .run running (local-env.sh: our pids, our
# token, loopback); anything else in .run (a stale or foreign env) is stopped by pid and removed.
if [ -f "$run/env" ] && "$here/status.sh" >/dev/null 2>&1; then
  log "already running"; cat "$run/env"; exit 0
fi
"$here/down.sh" >/dev/null 2>&1 || true
bin=$("$here/build.sh" | tail -n 1)
# .run holds the token, the kubeconfigs and the keys: 0700, every file in it 0600.
umask 077
rm -rf "$run" && mkdir -m 700 -p "$run/etcd"
chmod 700 "$run"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port)
token=$(python3 -c 'import secrets; print(secrets.token_hex(16))')

# A CA for this run and the apiserver's serving certificate (IP SAN 127.0.0.1, DNS localhost).
"$here/certs.sh" "$run/certs" k8sretry-apiserver
openssl genrsa -out "$run/certs/sa.key" 2048 2>/dev/null
# A second, non-admin user (not in system:masters, so API Priority and Fairness applies to it).
user_token=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
printf '%s,k8sretry-e2e,k8sretry-e2e,"system:masters"\n%s,k8sretry-user,k8sretry-user,"k8sretry-users"\n' \
  "$token" "$user_token" > "$run/tokens.csv"

show_logs() { log "failed; last lines of the logs:"; tail -n 30 "$run"/*.log >&2 || true; }
trap 'show_logs' ERR

log "etcd on 127.0.0.1:$etcd_port"
# Written to a script too, so fault.sh can kill etcd and start it again on the same data.
cat > "$run/etcd.sh" <<CMD
#!/usr/bin/env bash
exec "$bin/etcd" --name k8sretry --data-dir "$run/etcd" \\
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \\
  --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \\
  --initial-cluster "k8sretry=http://127.0.0.1:$peer_port" --unsafe-no-fsync --log-level warn
CMD
chmod 700 "$run/etcd.sh"
"$run/etcd.sh" >> "$run/etcd.log" 2>&1 &
write_pidfile "$run/etcd.pid" $!

log "kube-apiserver on https://127.0.0.1:$api_port"
# Written to a script so apiserver.sh can stop and restart it on the same port (outage tests).
cat > "$run/apiserver.sh" <<CMD
#!/usr/bin/env bash
exec "$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \\
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \\
  --tls-cert-file "$run/certs/server.crt" --tls-private-key-file "$run/certs/server.key" \\
  --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$run/certs/sa.key" \\
  --service-account-signing-key-file "$run/certs/sa.key" --service-cluster-ip-range 10.0.0.0/24 \\
  --authorization-mode AlwaysAllow --token-auth-file "$run/tokens.csv" \\
  --disable-admission-plugins ServiceAccount ${K8SRETRY_APISERVER_ARGS:-}
CMD
chmod 700 "$run/apiserver.sh"
"$run/apiserver.sh" >> "$run/apiserver.log" 2>&1 &
write_pidfile "$run/apiserver.pid" $!

for i in $(seq 1 120); do
  if curl -fs --cacert "$run/certs/ca.crt" -H "Authorization: Bearer $token" "https://127.0.0.1:$api_port/readyz" 2>/dev/null | grep -q '^ok$'; then
    break
  fi
  owned_pid "$run/apiserver.pid" >/dev/null || { log "kube-apiserver exited"; false; }
  [ "$i" = 120 ] && { log "not ready after 60 s"; false; }
  sleep 0.5
done

cat > "$run/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: k8sretry, cluster: {server: "https://127.0.0.1:$api_port", certificate-authority: "$run/certs/ca.crt"}}]
users: [{name: k8sretry, user: {token: "$token"}}]
contexts: [{name: k8sretry, context: {cluster: k8sretry, user: k8sretry}}]
current-context: k8sretry
KC
sed -e "s#token: \"$token\"#token: \"$user_token\"#" "$run/kubeconfig" > "$run/kubeconfig-user"
{
  env_line KUBECONFIG "$run/kubeconfig"
  env_line K8S_API "https://127.0.0.1:$api_port"
  env_line K8S_CA "$run/certs/ca.crt"
  env_line K8S_TOKEN "$token"
  env_line KUBECONFIG_USER "$run/kubeconfig-user"
  env_line K8S_USER_TOKEN "$user_token"
} > "$run/env"
log "ready"
cat "$run/env"
