#!/usr/bin/env bash
# actions/runner-container-hooks, adopted with k8sretry (adopt-k8sretry.patch) at a named commit of
# their main, built, linted, tested and released THEIR way, then run against the apiserver:
#   1. their tree at the commit of vendor/pin, from the vendored `git archive` of it
#      (vendor/runner-container-hooks.tar.gz, their LICENSE beside it; vendor.sh alone fetches their
#      repository, to re-create it): its SHA-256 and the unpacked files' git tree id must match the
#      pin, so no network and no mirror are needed for their code; their locked dependencies (npm ci,
#      as their `npm run bootstrap`; cached in $K8SRETRY_CACHE, default ~/.cache/k8sretry, keyed by the
#      commit, the three lock files and the Node and npm versions); the patch; k8sretry from the packed
#      tarball of bindings-node (`make node` first; `bindings-node/scripts/cross-addon.sh
#      linux-aarch64-gnu` puts the arm64 engine in it, so one bundle serves x64 and arm64 runners);
#   2. their `npm run build` (hooklib, then k8s: `tsc && npx ncc build`), their `npm run lint` and
#      `format-check`, their cluster-free jest suites; Node 24, as their CI;
#   3. `zip -r -j actions-runner-hooks-k8s-<version>.zip packages/k8s/dist` as their release workflow
#      does: the zip must hold index.js and every engine ncc copied, flat and distinct; unzipped
#      elsewhere;
#   4. with `e2e` (a cluster up: make test-runner-hooks): the zip's cleanup_job hook on x64 with Node
#      20, 22 and 24 (each must open the engine beside index.js), then drive.mjs (rounds under ~20%
#      faults, a stale pod, lost creates; see there); with `arm64` too: ../../../tests/dist/hooks-arm64.sh
#      runs the same zip under qemu with Node 20 and 24 for arm64.
# Usage: run.sh [e2e] [arm64] [--wait FILE]   env: NODE_VERSION (24.21.0), K8SRETRY_CACHE, drive.mjs's
# (ROUNDS, ...). --wait FILE: build, lint, test and release at once, then wait for FILE to exist
# before using the cluster (make test-runner-hooks builds this while the example's e2e runs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
. "$here/vendor/pin" # commit, tree, sha256
log() { echo "[upstream] $*"; }
e2e=false arm64=false wait_for= cluster_start=
while [ $# -gt 0 ]; do
  case $1 in
    e2e) e2e=true ;;
    arm64) arm64=true ;;
    --wait) wait_for=${2:?--wait needs a file}; shift ;;
    *) echo "usage: run.sh [e2e] [arm64] [--wait FILE]" >&2; exit 2 ;;
  esac
  shift
done
node_bin=$("$root/bindings-node/scripts/node-bin.sh" "${NODE_VERSION:-24.21.0}")
export PATH=$node_bin:$PATH
scratch=$(mktemp -d /tmp/k8sretry-upstream.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
start=$(date +%s)

vendored=$here/vendor/runner-container-hooks.tar.gz
log "their tree at $commit (vendored: $(basename "$vendored"))"
echo "$sha256  $vendored" | sha256sum --quiet -c - ||
  { log "$vendored is not the pinned one (sha256 $sha256): re-create it with vendor.sh"; exit 1; }
tar -xzf "$vendored" -C "$scratch"
tree=$scratch/runner-container-hooks
# The unpacked files are the commit's tree, to the byte and the mode (-f: their .gitignore ignores a
# file they track; no CRLF conversion, whatever the machine's git config says).
git -C "$tree" init -q
got=$(git -C "$tree" -c core.autocrlf=false -c core.filemode=true add -A -f && git -C "$tree" write-tree)
[ "$got" = "$tree_id" ] || { log "the unpacked tree is $got, not $commit's $tree_id"; exit 1; }

# Their locked dependencies, as `npm run bootstrap` (npm ci in the root, hooklib and k8s). With zstd,
# kept once per commit + lock files + Node and npm versions (63 MB; 412 MB unpacked): a warm run
# unpacks them in about 6 s instead of npm ci's 25 s (42 s with an empty npm cache).
cache=${K8SRETRY_CACHE:-$HOME/.cache/k8sretry}
key=$( (echo "$commit $(node --version) $(npm --version)"
  cd "$tree" && sha256sum package-lock.json packages/hooklib/package-lock.json packages/k8s/package-lock.json) | sha256sum | cut -c1-16)
deps=$cache/hooks-deps-${commit:0:12}-$key.tar.zst
t0=$(date +%s)
if [ -s "$deps" ] && command -v zstd >/dev/null; then
  tar --zstd -xf "$deps" -C "$tree"
  log "their locked dependencies from the cache, $(basename "$deps") ($(( $(date +%s) - t0 )) s)"
else
  (cd "$tree" && npm ci --no-audit --no-fund --loglevel=error >/dev/null &&
    npm ci --prefix packages/hooklib --no-audit --no-fund --loglevel=error >/dev/null &&
    npm ci --prefix packages/k8s --no-audit --no-fund --loglevel=error >/dev/null)
  log "their locked dependencies: npm ci x3 as npm run bootstrap, Node $(node --version) ($(( $(date +%s) - t0 )) s)"
  if command -v zstd >/dev/null; then
    mkdir -p "$cache"
    part=$(mktemp "$deps.XXXXXX")
    (cd "$tree" && tar --zstd -cf "$part" node_modules packages/hooklib/node_modules packages/k8s/node_modules) && mv "$part" "$deps"
    log "  cached as $(basename "$deps") ($(du -h "$deps" | cut -f1))"
  fi
fi
log "the patch ($(grep -c '^+[^+]' "$here/adopt-k8sretry.patch") lines added), k8sretry from its packed tarball"
git -C "$tree" apply --whitespace=error "$here/adopt-k8sretry.patch"
(cd "$root/bindings-node" && npm pack --silent --pack-destination "$scratch" >/dev/null)
engines=$(tar -tzf "$scratch"/k8sretry-*.tgz | sed -n 's|^package/native/||p' | tr '\n' ' ')
log "  k8sretry's native/: $engines"
# --legacy-peer-deps: their lock's @babel/core 8 against ts-jest's peer range, which `npm ci` lets
# pass and `npm install` refuses; it concerns their test tools, not k8sretry.
(cd "$tree/packages/k8s" && npm install --no-save --legacy-peer-deps --no-audit --no-fund --loglevel=error "$scratch"/k8sretry-*.tgz >/dev/null)

log "their build: npm run build (hooklib, k8s: tsc && ncc build)"
(cd "$tree" && npm run build --prefix packages/hooklib >/dev/null && npm run build --prefix packages/k8s 2>&1 | grep -E 'ncc:|kB' | sed 's/^/  /')
log "their lint (eslint, type-aware) and format-check (prettier)"
(cd "$tree" && npm run lint >/dev/null && npm run format-check >/dev/null)
# The suites that need no cluster (the others need kind: prepare/run/cleanup/e2e).
suites="tests/constants-test.ts tests/error-serialization-test.ts tests/format-error-test.ts tests/heartbeat-test.ts tests/k8s-utils-test.ts"
log "their cluster-free jest suites: $suites"
(cd "$tree/packages/k8s" && npx jest --runInBand $suites 2>&1 | grep -E '^(Tests|Test Suites):' | sed 's/^/  /'; exit "${PIPESTATUS[0]}")

version=$(node -p "require('$tree/package.json').version")
zip=$scratch/actions-runner-hooks-k8s-$version.zip
log "their release: zip -r -j $(basename "$zip") packages/k8s/dist"
(cd "$tree" && zip -q -r -j "$zip" packages/k8s/dist)
listing=$(unzip -Z1 "$zip" | sort | tr '\n' ' ')
log "  holds: $listing"
for f in index.js k8sretry.linux-x64-gnu.node; do case " $listing" in *" $f "*) ;; *) log "the zip has no $f"; exit 1 ;; esac; done
case $engines in *linux-arm64-gnu*) case " $listing" in *" k8sretry.linux-arm64-gnu.node "*) ;; *) log "ncc did not copy the arm64 engine"; exit 1 ;; esac ;; esac
rel=$scratch/release
mkdir "$rel" && unzip -q "$zip" -d "$rel"
log "built, linted, tested and released in $(( $(date +%s) - start )) s"

if $e2e; then
  if [ -n "$wait_for" ]; then
    log "waiting for $wait_for (the cluster is in use)"
    t0=$(date +%s)
    while [ ! -e "$wait_for" ]; do sleep 2; done
    log "the cluster is free after $(( $(date +%s) - t0 )) s of waiting"
  fi
  cluster_start=$(date +%s)
  # Which engine a process opened: the loader's cache, printed at exit (the hook calls process.exit).
  cat > "$scratch/opened.cjs" <<'JS'
process.on('exit', () => {
  const cache = globalThis[Symbol.for('k8sretry.native.v1')];
  process.stderr.write(`OPENED ${cache ? [...cache.keys()].join(',') : 'nothing'}\n`);
});
JS
  # Only the local throw-away cluster (tests/cluster/local-env.sh checks it is the one up.sh started).
  "$root/tests/cluster/local-env.sh" >/dev/null
  . "$root/tests/cluster/.run/env"
  ns=upstream-load-$$
  for v in 20.20.2 22.23.3 24.21.0; do
    t0=$(date +%s)
    bin=$("$root/bindings-node/scripts/node-bin.sh" $v)/node
    out=$(cd / && echo '{"command":"cleanup_job","responseFile":"","args":{},"state":{}}' |
      env -i PATH=/usr/bin:/bin HOME="$HOME" KUBECONFIG="$KUBECONFIG_PROXY" ACTIONS_RUNNER_KUBERNETES_NAMESPACE=$ns \
        ACTIONS_RUNNER_POD_NAME=load-check "$bin" -r "$scratch/opened.cjs" "$rel/index.js" 2>&1) ||
      { log "Node $v: the release's cleanup_job failed: $out"; exit 1; }
    echo "$out" | grep -qx "OPENED $rel/k8sretry.linux-x64-gnu.node" || { log "Node $v: opened the wrong engine: $out"; exit 1; }
    log "x64, Node $v: the release's cleanup_job hook ran (13 reviews, prunes; $(( $(date +%s) - t0 )) s), engine $rel/k8sretry.linux-x64-gnu.node"
  done
  if $arm64; then
    "$root/tests/dist/hooks-arm64.sh" "$zip" "$scratch/opened.cjs"
  fi
  log "their code against the apiserver behind the fault proxy (drive.mjs), Node $(node --version), $(( $(date +%s) - cluster_start )) s into the cluster part"
  (cd "$root/examples/runner-hooks" && node "$here/drive.mjs" "$tree/packages/k8s/lib" "$rel" "$node_bin/node")
fi
log "passed in $(( $(date +%s) - start )) s${cluster_start:+ (the cluster part: $(( $(date +%s) - cluster_start )) s)}"
