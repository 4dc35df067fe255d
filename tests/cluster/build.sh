#!/usr/bin/env bash
# Build kube-apiserver and a matching etcd from the Go module proxy, once, and cache them.
#
# Why a throw-away module: k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces
# them with ./staging paths, so `go install` cannot build it. A consumer module that requires
# k8s.io/kubernetes and replaces every staging module with its published v0.x tag can.
#
# Cache: $K8SRETRY_CACHE (default ~/.cache/k8sretry)/bin/<version>/{kube-apiserver,etcd}.
# A warm machine skips the whole build. Prints the bin directory on stdout's last line.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.34.2}
CACHE=${K8SRETRY_CACHE:-$HOME/.cache/k8sretry}
BIN="$CACHE/bin/kube-$KUBE_VERSION"
log() { echo "[cluster-build] $*" >&2; }

if [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/etcd" ]; then
  log "cached: $BIN"
  echo "$BIN"
  exit 0
fi

mkdir -p "$BIN"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/k8sretry-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export GOFLAGS=-mod=mod CGO_ENABLED=0

log "resolving k8s.io/kubernetes@$KUBE_VERSION"
gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
minor=${KUBE_VERSION#v1.}            # 34.2
staging_version="v0.$minor"          # v0.34.2
staging=$(sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' "$gomod" | sort -u)
log "$(echo "$staging" | wc -l) staging modules -> $staging_version"

mkdir -p "$WORK/apiserver"
cd "$WORK/apiserver"
{
  echo "module k8sretry.local/apiserver-build"
  echo "go 1.24"
  echo "require k8s.io/kubernetes $KUBE_VERSION"
  for m in $staging; do echo "replace $m => $m $staging_version"; done
} > go.mod
cat > tools.go <<'GO'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO
log "go mod tidy (downloads a few hundred modules on a cold cache)"
go mod tidy >&2
etcd_version=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/client/v3)
log "building kube-apiserver $KUBE_VERSION (10-25 minutes cold on 2 cores)"
pkg=k8s.io/component-base/version
major=1; kminor=${minor%%.*}
go build -o "$BIN/kube-apiserver.tmp" \
  -ldflags "-s -w -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$kminor" \
  k8s.io/kubernetes/cmd/kube-apiserver >&2
mv "$BIN/kube-apiserver.tmp" "$BIN/kube-apiserver"

log "building etcd $etcd_version (the version the apiserver's client resolved)"
mkdir -p "$WORK/etcd"
cd "$WORK/etcd"
printf 'module k8sretry.local/etcd-build\ngo 1.24\nrequire go.etcd.io/etcd/server/v3 %s\n' "$etcd_version" > go.mod
cat > tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
go mod tidy >&2
go build -o "$BIN/etcd.tmp" -ldflags "-s -w" go.etcd.io/etcd/server/v3 >&2
mv "$BIN/etcd.tmp" "$BIN/etcd"
log "done: $BIN"
echo "$BIN"
