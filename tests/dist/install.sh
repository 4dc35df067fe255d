#!/usr/bin/env bash
# make test-dist: installs each artefact of dist/ into a scratch environment the way its users
# would (pip, npm, cc + pkg-config, go; no network beyond the package registries), then runs the
# README's example for that language against the real kube-apiserver of tests/cluster behind the
# fault proxy, with a few 503s planned so that the retries are real.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dist=$root/dist
scratch=$(mktemp -d /tmp/k8sretry-dist.XXXXXX)
trap 'rm -rf "$scratch"; "$root/tests/cluster/down.sh" >/dev/null 2>&1 || true' EXIT
log() { echo "[test-dist] $*"; }

# The README's code block for a language (the first ```$1 block).
readme_block() { awk -v lang="$1" '$0 == "```" lang {on=1; next} on && /^```/ {exit} on {print}' "$root/README.md"; }
# Every line of the README's block appears in the program that the README links to.
contains_block() {
  local lang=$1 file=$2 line
  while IFS= read -r line; do
    line=$(echo "$line" | sed 's/^[[:space:]]*//; s|[[:space:]]*/\*.*\*/$||; s|[[:space:]]*//.*$||')
    [ -z "$line" ] && continue
    grep -qF -- "$line" "$file" || { log "README $lang line not in $file: $line"; exit 1; }
  done < <(readme_block "$lang")
}

"$root/tests/cluster/up.sh" >/dev/null
"$root/tests/cluster/proxy.sh"
. "$root/tests/cluster/.run/env"
export KUBECONFIG=$KUBECONFIG_PROXY
plan() { curl -fs --cacert "$PROXY_CA" -X PUT "$PROXY/__k8sretry/plan" -d "{\"rules\": [{\"method\": \"GET\", \"path\": \"$1\", \"fault\": \"503\", \"count\": 2}]}" >/dev/null; }
faults() { curl -fs --cacert "$PROXY_CA" "$PROXY/__k8sretry/stats" | python3 -c 'import json,sys; print(sum(json.load(sys.stdin)["faults"].values()))'; }

log "Python: pip install the abi3 wheel into a fresh venv"
python3 -m venv "$scratch/venv"
"$scratch/venv/bin/pip" install -q "$dist"/k8sretry-*.whl kubernetes==37.0.2
readme_block python > "$scratch/readme.py"
plan '/api/v1/namespaces$'
(cd "$scratch" && "$scratch/venv/bin/python" -W ignore readme.py)
[ "$(faults)" = 2 ] || { log "python: the planned 503s were not met"; exit 1; }

log "Node: npm install the tarball with its prebuilt addon"
mkdir -p "$scratch/node" && cd "$scratch/node"
npm init -y >/dev/null
npm install --no-audit --no-fund --loglevel=error "$dist"/k8sretry-*.tgz @kubernetes/client-node@1.4.0
readme_block js > readme.mjs
plan '/api/v1/namespaces$'
NODE_TLS_REJECT_UNAUTHORIZED=0 node --no-warnings readme.mjs
[ "$(faults)" = 2 ] || { log "node: the planned 503s were not met"; exit 1; }

log "C: unpack libk8sretry, build the README's program with pkg-config, shared and static"
mkdir -p "$scratch/c" && tar -xzf "$dist"/libk8sretry-*.tar.gz -C "$scratch/c"
prefix=$(echo "$scratch"/c/libk8sretry-*)
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
contains_block c "$root/examples/c/retry.c"
cd "$root" && sh ffi/tests/install.sh "$scratch/c"

log "Go: the module source from dist/, cgo over the unpacked libk8sretry"
mkdir -p "$scratch/go/k8sretry-go" && tar -xzf "$dist"/k8sretry-go-*.tar.gz -C "$scratch/go/k8sretry-go"
contains_block go "$root/examples/go/readme/main.go"
cp "$root/examples/go/readme/main.go" "$scratch/go/main.go"
cd "$scratch/go"
cat > go.mod <<MOD
module example.com/readme

go 1.24.0

require k8sretry.dev/go v0.1.0

replace k8sretry.dev/go => ./k8sretry-go
MOD
GOFLAGS=-mod=mod GOTOOLCHAIN=local go get k8s.io/client-go@v0.34.2 >/dev/null 2>&1
plan '/api/v1/namespaces/default$'
GOFLAGS=-mod=mod GOTOOLCHAIN=local LD_LIBRARY_PATH=$prefix/lib go run .
[ "$(faults)" = 2 ] || { log "go: the planned 503s were not met"; exit 1; }

log "every artefact of dist/ installed and ran the README's example"
