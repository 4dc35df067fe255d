#!/usr/bin/env bash
# The cluster profile of the real-fault scenarios (tests/e2e/*/real_faults*, make test-e2e-faults):
# up.sh with apiserver flags the ordinary suites do not want, then API Priority and Fairness objects
# that throttle the non-admin user of .run/kubeconfig-user for real. Stop it with down.sh.
#
#   --max-requests-inflight 10 --max-mutating-requests-inflight 5
#        a small total concurrency, so the priority level below gets a single seat
#   --request-timeout 2s
#        writes that wait for a stopped etcd answer 504 Timeout after 2 s (and may still commit)
#   --goaway-chance 0.02
#        1 in 50 HTTP/2 requests gets a GOAWAY (client-go and kube-rs speak HTTP/2)
#   --shutdown-delay-duration 2s --shutdown-send-retry-after
#        on SIGTERM: 2 s of normal service, then 429 + Retry-After + Connection: close while draining
#
# APF: PriorityLevelConfiguration k8sretry-tiny (Limited, nominalConcurrencyShares 1,
# lendablePercent 0, limitResponse Reject: no queues, a request beyond its one seat gets 429) and
# FlowSchema k8sretry-users sending every request of group k8sretry-users there. system:masters
# (the admin token) stays exempt. The apiserver runs with AlwaysAllow: APF classifies by the
# authenticated user and groups, which token auth gives without RBAC.
# Extra apiserver arguments can be added with K8SRETRY_APISERVER_ARGS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
run="$here/.run"
log() { echo "[cluster-faults] $*" >&2; }

"$here/down.sh" >/dev/null 2>&1 || true
export K8SRETRY_APISERVER_ARGS="--max-requests-inflight 10 --max-mutating-requests-inflight 5 \
--request-timeout 2s --goaway-chance 0.02 --shutdown-delay-duration 2s --shutdown-send-retry-after \
${K8SRETRY_APISERVER_ARGS:-}"
"$here/up.sh" >/dev/null
. "$run/env"

api() { # method path [json]
  curl -fsS --cacert "$K8S_CA" -H "Authorization: Bearer $K8S_TOKEN" -H 'Content-Type: application/json' \
    -X "$1" "$K8S_API$2" ${3:+-d "$3"} >/dev/null
}
flowcontrol=/apis/flowcontrol.apiserver.k8s.io/v1
api POST "$flowcontrol/prioritylevelconfigurations" '{
  "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
  "metadata": {"name": "k8sretry-tiny"},
  "spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 1, "lendablePercent": 0,
           "limitResponse": {"type": "Reject"}}}}'
api POST "$flowcontrol/flowschemas" '{
  "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
  "metadata": {"name": "k8sretry-users"},
  "spec": {"priorityLevelConfiguration": {"name": "k8sretry-tiny"}, "matchingPrecedence": 500,
           "distinguisherMethod": {"type": "ByUser"},
           "rules": [{"subjects": [{"kind": "Group", "group": {"name": "k8sretry-users"}}],
                      "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                                         "namespaces": ["*"], "clusterScope": true}],
                      "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]}]}}'
# The APF controller picks the objects up asynchronously: wait until the user's requests are
# classified into the new priority level (the response names it).
for i in $(seq 1 100); do
  level=$(curl -sS -o /dev/null -D - --cacert "$K8S_CA" -H "Authorization: Bearer $K8S_USER_TOKEN" \
    "$K8S_API/api/v1/namespaces/default" | tr -d '\r' | sed -n 's/^[Xx]-[Kk]ubernetes-[Pp]f-[Pp]riority[Ll]evel-[Uu][Ii][Dd]: //p')
  [ -n "$level" ] && [ "$level" = "$(curl -fsS --cacert "$K8S_CA" -H "Authorization: Bearer $K8S_TOKEN" \
    "$K8S_API$flowcontrol/prioritylevelconfigurations/k8sretry-tiny" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["uid"])')" ] && break
  [ "$i" = 100 ] && { log "the user's requests never reached priority level k8sretry-tiny"; exit 1; }
  sleep 0.1
done
# The e2e suites run their real-fault scenarios only against this profile.
echo "K8SRETRY_PROFILE='faults'" >> "$run/env"
log "ready: $K8S_API (APF level k8sretry-tiny for group k8sretry-users)"
cat "$run/env"
