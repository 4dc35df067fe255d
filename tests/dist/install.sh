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
plan() { curl -fs --cacert "$PROXY_CA" -H "X-K8sretry-Control-Token: $PROXY_TOKEN" -X PUT "$PROXY/__k8sretry/plan" -d "{\"rules\": [{\"method\": \"GET\", \"path\": \"$1\", \"fault\": \"503\", \"count\": 2}]}" >/dev/null; }
faults() { curl -fs --cacert "$PROXY_CA" -H "X-K8sretry-Control-Token: $PROXY_TOKEN" "$PROXY/__k8sretry/stats" | python3 -c 'import json,sys; print(sum(json.load(sys.stdin)["faults"].values()))'; }

log "Python: pip install the abi3 wheel into a fresh venv (pip picks this machine's among dist/'s wheels)"
python3 -m venv "$scratch/venv"
"$scratch/venv/bin/pip" install -q --no-index --find-links "$dist" k8sretry
"$scratch/venv/bin/python" -c 'import importlib.metadata as m; print("[test-dist] installed", *[l for l in m.distribution("k8sretry").read_text("WHEEL").splitlines() if l.startswith("Tag")])'
"$scratch/venv/bin/pip" install -q kubernetes==37.0.2
readme_block python > "$scratch/readme.py"
plan '/api/v1/namespaces$'
(cd "$scratch" && "$scratch/venv/bin/python" -W ignore readme.py)
[ "$(faults)" = 2 ] || { log "python: the planned 503s were not met"; exit 1; }

log "Node: npm install the main tarball and this machine's platform package's (tests/dist/npm-registry.sh: through a registry)"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
mkdir -p "$scratch/node" && cd "$scratch/node"
npm init -y >/dev/null
npm install --no-audit --no-fund --loglevel=error "$dist/k8sretry-$version.tgz" \
  "$dist/k8sretry-linux-$(uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/')-gnu-$version.tgz" @kubernetes/client-node@1.4.0
readme_block js > readme.mjs
plan '/api/v1/namespaces$'
NODE_TLS_REJECT_UNAUTHORIZED=0 node --no-warnings readme.mjs
[ "$(faults)" = 2 ] || { log "node: the planned 503s were not met"; exit 1; }

log "C: unpack libk8sretry, build the README's program with pkg-config, shared and static"
mkdir -p "$scratch/c" && tar -xzf "$dist"/libk8sretry-*-linux-"$(uname -m)"-gnu.tar.gz -C "$scratch/c"
prefix=$(echo "$scratch"/c/libk8sretry-*-linux-"$(uname -m)"-gnu)
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
contains_block c "$root/examples/c/retry.c"
cd "$root" && sh ffi/tests/install.sh "$scratch/c"

log "Go: go get from dist/goproxy (the module ships libk8sretry.a), no libk8sretry on the system"
unset PKG_CONFIG_PATH LD_LIBRARY_PATH
mkdir -p "$scratch/go/prom" && cd "$scratch/go"
contains_block go "$root/examples/go/readme/main.go"
cp "$root/examples/go/readme/main.go" main.go
printf 'module example.com/readme\n\ngo 1.24.0\n' > go.mod
# As bindings-go/README.md says: the h1: lines make dist published (dist/goproxy/go.sum) go into
# go.sum first, so k8sretry.dev/go is taken only with those bytes, whichever proxy answers, and the
# checksum database is never asked about it (no GONOSUMDB). The proxies: dist/goproxy, then the local
# module cache, then proxy.golang.org. A scratch module cache, so that an older k8sretry.dev/go@v0.1.0
# downloaded before is not used.
cp "$dist/goproxy/go.sum" go.sum
export GOPROXY="file://$dist/goproxy,file://$(go env GOMODCACHE)/cache/download,https://proxy.golang.org"
export GOFLAGS="-mod=mod -modcacherw" GOTOOLCHAIN=local GOMODCACHE="$scratch/gomodcache"
# Kubernetes 1.35, the oldest minor still maintained (1.35, 1.36, 1.37).
go get k8sretry.dev/go@v0.1.0 k8s.io/client-go@v0.35.0 k8s.io/apimachinery@v0.35.0 k8s.io/api@v0.35.0 2>/dev/null
go build -o readme .
if ldd readme | grep -q k8sretry; then log "go: the binary needs a shared libk8sretry"; exit 1; fi
plan '/api/v1/namespaces/default$'
./readme
[ "$(faults)" = 2 ] || { log "go: the planned 503s were not met"; exit 1; }

log "Go: CGO_ENABLED=0 says that cgo is required"
if out=$(CGO_ENABLED=0 go build -o /dev/null . 2>&1); then log "go: built without cgo"; exit 1; fi
grep -q k8sretry_requires_cgo__set_CGO_ENABLED_1 <<<"$out" || { log "go: no cgo message: $out"; exit 1; }

log "Go: a fully static binary (-linkmode external -extldflags -static, tags netgo,osusergo)"
go build -tags netgo,osusergo -ldflags '-linkmode external -extldflags -static' -o readme-static .
file readme-static | grep -q 'statically linked' || { log "go: not static: $(file readme-static)"; exit 1; }
plan '/api/v1/namespaces/default$'
./readme-static
[ "$(faults)" = 2 ] || { log "go (static): the planned 503s were not met"; exit 1; }

log "Go: k8s.io/* pinned at v0.34.0 (k8sretry.dev/go's floor) stay there and build"
go get k8s.io/client-go@v0.34.0 k8s.io/apimachinery@v0.34.0 k8s.io/api@v0.34.0 2>/dev/null
for m in k8s.io/client-go k8s.io/apimachinery k8s.io/api; do
  v=$(go list -m -f '{{.Version}}' $m)
  [ "$v" = v0.34.0 ] || { log "go: k8sretry.dev/go raised $m to $v"; exit 1; }
done
go build -o readme-134 .

log "Go: k8sretry.dev/go/prometheus from dist/goproxy, gathered by a real registry"
cat > prom/main.go <<'GO'
package main

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	k8sretry "k8sretry.dev/go"
	k8sretryprom "k8sretry.dev/go/prometheus"
)

func main() {
	reg := prometheus.NewRegistry()
	reg.MustRegister(k8sretryprom.NewCollector())
	policy, _ := k8sretry.Preset("default")
	_ = k8sretry.Do(context.Background(), policy, func(context.Context) error { return nil }, k8sretry.WithVerb(k8sretry.VerbGet))
	families, err := reg.Gather()
	if err != nil || len(families) == 0 {
		panic(fmt.Sprint(len(families), err))
	}
	fmt.Println(len(families), "k8sretry metric families gathered")
}
GO
go get k8sretry.dev/go/prometheus@v0.1.0 2>/dev/null
go run ./prom

log "Go: a k8sretry.dev/go zip other than the published one is refused (go.sum's h1: line)"
cp -r "$dist/goproxy" "$scratch/forged-proxy"
python3 - "$scratch/forged-proxy/k8sretry.dev/go/@v/v$version.zip" "k8sretry.dev/go@v$version" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "a") as z:
    z.writestr(f"{sys.argv[2]}/forged.go", "package k8sretry\n\nfunc init() { println(\"not ours\") }\n")
PY
mkdir -p "$scratch/go-forged" && cd "$scratch/go-forged"
printf 'module example.com/forged\n\ngo 1.24.0\n' > go.mod && cp "$dist/goproxy/go.sum" go.sum
if out=$(GOPROXY="file://$scratch/forged-proxy" GOMODCACHE="$scratch/gomodcache-forged" go mod download k8sretry.dev/go@v$version 2>&1); then
  log "go: the forged zip was accepted"; exit 1
fi
grep -q "SECURITY ERROR" <<<"$out" || { log "go: the forged zip failed for another reason: $out"; exit 1; }
cd "$scratch/go"

log "every artefact of dist/ installed and ran the README's example"
