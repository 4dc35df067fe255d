#!/usr/bin/env bash
# Builds and releases the example as the runner container hooks release theirs, then runs it:
#   1. npm ci (the pinned client-node, ncc, esbuild, typescript), k8sretry from its packed tarball
#      (bindings-node, `make node` first), tsc with strict and skipLibCheck false;
#   2. ncc build -> dist/, `zip -r -j` (flat), unzipped into a scratch folder elsewhere; the same
#      with esbuild (`npx k8sretry-native copy --platforms linux --to dist-esbuild/` puts the
#      engines beside the bundle); each started once with Node 24 to load;
#   3. with `e2e`: test/e2e.mjs drives the released hook with Node 24 against the apiserver of
#      tests/cluster behind the fault proxy (make test-runner-hooks starts and stops both).
# Usage: run.sh [e2e]   env: NODE_VERSION (24.21.0), and test/e2e.mjs's (ROUNDS, FAULTS, ...).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
log() { echo "[runner-hooks] $*"; }
node_bin=$("$root/bindings-node/scripts/node-bin.sh" "${NODE_VERSION:-24.21.0}")/node
scratch=$(mktemp -d /tmp/k8sretry-runner-hooks.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

log "packing k8sretry (bindings-node) and installing the example's locked dependencies"
(cd "$root/bindings-node" && npm pack --silent --pack-destination "$scratch" >/dev/null)
cd "$here"
npm ci --no-audit --no-fund --loglevel=error
# The tarball is not in package.json: its integrity changes with every build of the addon.
npm install --no-save --no-audit --no-fund --loglevel=error "$scratch"/k8sretry-*.tgz
rm -rf lib dist dist-esbuild
npx tsc -p tsconfig.json

log "ncc build, zip -r -j (flat) as the hooks' release does, unzip elsewhere"
npx ncc build lib/index.js -o dist --no-cache 2>&1 | sed 's/^/  /'
(cd "$here" && zip -q -r -j "$scratch/hooks-ncc.zip" dist)
mkdir "$scratch/ncc" && unzip -q "$scratch/hooks-ncc.zip" -d "$scratch/ncc"
ls "$scratch/ncc" | sed 's/^/  unzipped: /'

log "esbuild bundle, the engines put beside it by the package's one command, zipped flat the same way"
npx esbuild lib/index.js --bundle --platform=node --target=node20 --outfile=dist-esbuild/index.js --log-level=warning
npx k8sretry-native copy --platforms linux --to dist-esbuild/ | sed 's/^/  /'
(cd "$here" && zip -q -r -j "$scratch/hooks-esbuild.zip" dist-esbuild)
mkdir "$scratch/esbuild" && unzip -q "$scratch/hooks-esbuild.zip" -d "$scratch/esbuild"

# Both load the engine from their flat folders (an unknown hook: the engine loads, nothing is sent).
for bundle in ncc esbuild; do
  out=$(cd / && "$node_bin" "$scratch/$bundle/index.js" no_such_hook 2>&1 || true)
  echo "$out" | grep -q 'RESULT {"ok":false,"type":"Error","message":"unknown hook' ||
    { log "$bundle bundle, flattened: did not load: $out"; exit 1; }
  log "$bundle bundle, flattened, Node $("$node_bin" --version): loads"
done
# Without the .node: one error that names the platform, the paths tried and K8SRETRY_NATIVE_PATH.
rm "$scratch"/esbuild/*.node
out=$(cd / && "$node_bin" "$scratch/esbuild/index.js" no_such_hook 2>&1 || true)
echo "$out" | grep -q 'no native engine for linux-x64' && echo "$out" | grep -q "$scratch/esbuild/k8sretry.linux-x64-gnu.node" &&
  echo "$out" | grep -q K8SRETRY_NATIVE_PATH || { log "a missing .node was not reported clearly: $out"; exit 1; }
log "without its .node: $(echo "$out" | grep -m1 'no native engine')"

if [ "${1:-}" = e2e ]; then
  # runner_hooks with 8 retries for the rounds: at ~20% faulted requests, 4 attempts leave about 1
  # call in 600 failing (0.2^4), 9 attempts about 1 in 2 million. The lost-create stress runs with
  # the default runner_hooks (STRESS_POLICY unset); see README.md.
  export HOOK_POLICY=${HOOK_POLICY-'{"preset": "runner_hooks", "max_retries": 8}'}
  log "the released (ncc, flat) hook with Node $("$node_bin" --version) against the apiserver behind the fault proxy, policy $HOOK_POLICY"
  node test/e2e.mjs "$scratch/ncc" "$node_bin"
fi
