#!/usr/bin/env bash
# tests/dist/reproducible.sh [PLATFORM...]: do two builds of the same commit give the same bytes?
# Clones REPRODUCIBLE_COMMIT (default HEAD) twice, into two folders of different names and depths
# under REPRODUCIBLE_DIR (default a mktemp directory in /tmp), runs `make dist` for PLATFORM...
# (default linux-x86_64-gnu linux-aarch64-gnu) in the first clone and then in the second (one after
# the other, under nice: each is a cold build), and compares every file of the two dist/ trees
# (tests/dist/compare.py: the SHA-256 of each file; for a file that differs, which members of the
# archive differ). Exit status 0 when every file is identical. Not part of make test (`make
# reproducible`); the last result is recorded in tests/dist/README.md.
#
# Both builds use this machine's toolchains (rust-toolchain.toml's Rust, Go, Node, python3) and
# caches (cargo's registry, Go's module cache, pip's and npm's download caches); each clone gets
# its own target/, .cache/build (the pinned packaging tools), node_modules and dist/.
# REPRODUCIBLE_KEEP=1 keeps the clones (their logs are in the same directory).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
log() { echo "[reproducible] $*"; }
platforms=("$@")
[ ${#platforms[@]} -gt 0 ] || platforms=(linux-x86_64-gnu linux-aarch64-gnu)
for p in "${platforms[@]}"; do
  case $p in linux-*) ;; *) log "$p: only the Linux platforms are compared (macOS and Windows are cross-built the same way, but not checked here)"; exit 2 ;; esac
done
commit=$(git -C "$root" rev-parse --verify "${REPRODUCIBLE_COMMIT:-HEAD}^{commit}")
base=${REPRODUCIBLE_DIR:-$(mktemp -d /tmp/k8sretry-reproducible.XXXXXX)}
mkdir -p "$base"
[ "${REPRODUCIBLE_KEEP:-0}" = 1 ] || trap 'rm -rf "$base/one" "$base/second-build"' EXIT
# Two folders whose paths differ in name and length: the builder's path must not reach the artefacts.
dirs=("$base/one/k8sretry" "$base/second-build/src/k8sretry-clone")
log "commit $(git -C "$root" log -1 --format='%h %cI' "$commit"), platforms ${platforms[*]}, in $base"

for i in 0 1; do
  d=${dirs[$i]}
  rm -rf "$d" && mkdir -p "$(dirname "$d")"
  git clone --quiet --no-local --no-checkout "$root" "$d"
  git -C "$d" -c advice.detachedHead=false checkout --quiet "$commit"
  start=$(date +%s)
  log "build $((i + 1)) of 2: make dist in $d (log: $base/build-$((i + 1)).log)"
  if ! (cd "$d" && nice make --no-print-directory dist DIST_PLATFORMS="${platforms[*]}") >"$base/build-$((i + 1)).log" 2>&1; then
    tail -n 40 "$base/build-$((i + 1)).log"
    log "make dist failed in $d"
    exit 1
  fi
  log "build $((i + 1)): $(( $(date +%s) - start )) s"
done

python3 "$root/tests/dist/compare.py" "${dirs[0]}/dist" "${dirs[1]}/dist" | tee "$base/compare.txt"
