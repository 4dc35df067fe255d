#!/usr/bin/env bash
# Exits 0 when the cluster of .run/env answers /readyz (its certificate verified against K8S_CA).
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$here/.run/env" ] || exit 1
. "$here/.run/env"
curl -fs --cacert "${K8S_CA:-/dev/null}" -H "Authorization: Bearer $K8S_TOKEN" "$K8S_API/readyz" | grep -q '^ok$'
