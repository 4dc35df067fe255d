#!/usr/bin/env bash
# Exits 0 when the cluster of .run/env answers /readyz.
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$here/.run/env" ] || exit 1
. "$here/.run/env"
curl -fsk -H "Authorization: Bearer $K8S_TOKEN" "$K8S_API/readyz" | grep -q '^ok$'
