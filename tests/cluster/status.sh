#!/usr/bin/env bash
# Exits 0 when .run holds the local cluster (local-env.sh: loopback, its own token, live pids of the
# processes up.sh started) and its apiserver answers /readyz to that token, its certificate verified
# against K8S_CA.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/local-env.sh" >/dev/null
. "$here/.run/env"
curl -fs --cacert "$K8S_CA" -H "Authorization: Bearer $K8S_TOKEN" "$K8S_API/readyz" | grep -q '^ok$'
