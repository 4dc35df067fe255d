#!/usr/bin/env bash
# tests/dist/npm-registry.sh: dist/'s npm packages through a real npm registry, as users get them.
#   1. verdaccio (tests/dist/verdaccio: package.json and its package-lock.json, installed once with
#      npm ci into ~/.cache/k8sretry/verdaccio-<version>-<lock hash>) started on
#      127.0.0.1 on a free port with its own scratch config and storage: k8sretry and k8sretry-* are
#      served only from what is published here (no uplink); any other package (the README example's
#      @kubernetes/client-node) comes through an uplink to the public registry;
#   2. every npm tarball of dist/ published to it with a throwaway user's token;
#   3. a scratch project whose .npmrc names only that registry (and a scratch npm cache):
#      `npm install k8sretry @kubernetes/client-node@1.4.0`; exactly this machine's platform package
#      must be installed, the other platforms' only recorded (optional) in package-lock.json, every
#      k8sretry package resolved from the local registry;
#   4. a call that proves the engine loaded (retries decided by it; which .node was opened), the
#      top README's Node example against the test cluster's kube-apiserver, and both again with the
#      main package's own native/ removed, so that the platform package is what loads.
# verdaccio is killed and the scratch directory removed on exit; the cluster is stopped only if this
# script started it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dist=${DIST:-$root/dist}
cache=${K8SRETRY_CACHE:-$HOME/.cache/k8sretry}
log() { echo "[npm-registry] $*"; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)

# This machine's napi-rs tag, as the loader names it.
case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
if ldd --version 2>&1 | grep -qi musl; then libc=musl; else libc=gnu; fi
host_tag=linux-$arch-$libc
main_tgz=$dist/k8sretry-$version.tgz
[ -f "$main_tgz" ] && [ -f "$dist/k8sretry-$host_tag-$version.tgz" ] ||
  { log "dist/ has no k8sretry-$version.tgz or k8sretry-$host_tag-$version.tgz: make dist"; exit 1; }
mapfile -t platform_tgzs < <(ls "$dist"/k8sretry-*-"$version".tgz)
published=()
for t in "${platform_tgzs[@]}"; do n=$(basename "$t" "-$version.tgz"); published+=("$n"); done
log "packages: k8sretry ${published[*]} (this machine: k8sretry-$host_tag)"

# verdaccio, installed once with `npm ci` from the committed tests/dist/verdaccio/package-lock.json
# (every package's version and sha512 integrity, node-fetch pinned by an override), keyed by the
# lock's hash (an install of another lock is not used).
vsrc=$root/tests/dist/verdaccio
VERDACCIO_VERSION=$(node -p 'require(process.argv[1]).dependencies.verdaccio' "$vsrc/package.json")
vdir=$cache/verdaccio-$VERDACCIO_VERSION-$(cat "$vsrc/package.json" "$vsrc/package-lock.json" | sha256sum | cut -c1-12)
if [ ! -x "$vdir/node_modules/.bin/verdaccio" ]; then
  log "installing verdaccio $VERDACCIO_VERSION into $vdir (npm ci, tests/dist/verdaccio/package-lock.json)"
  mkdir -p "$cache" && tmpv=$(mktemp -d "$vdir.part.XXXXXX")
  cp "$vsrc/package.json" "$vsrc/package-lock.json" "$tmpv/"
  (cd "$tmpv" && npm ci --no-audit --no-fund --loglevel=error)
  mv -T "$tmpv" "$vdir" 2>/dev/null || { rm -rf "$tmpv"; [ -x "$vdir/node_modules/.bin/verdaccio" ]; }
fi

scratch=$(mktemp -d /tmp/k8sretry-npm-registry.XXXXXX)
vpid=
started_cluster=false
cleanup() {
  if [ -n "$vpid" ]; then kill "$vpid" 2>/dev/null || true; wait "$vpid" 2>/dev/null || true; fi
  if $started_cluster; then "$root/tests/cluster/down.sh" >/dev/null 2>&1 || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
registry=http://127.0.0.1:$port/
mkdir -p "$scratch/storage"
: > "$scratch/htpasswd"
cat > "$scratch/config.yaml" <<EOF
storage: $scratch/storage
auth:
  htpasswd:
    file: $scratch/htpasswd
    max_users: 1
uplinks:
  npmjs:
    url: https://registry.npmjs.org/
packages:
  'k8sretry':
    access: \$all
    publish: \$authenticated
  'k8sretry-*':
    access: \$all
    publish: \$authenticated
  '**':
    access: \$all
    publish: \$authenticated
    proxy: npmjs
logs: { type: stdout, format: pretty, level: warn }
EOF
# No user or global npm configuration of this machine: only the files written here.
: > "$scratch/user.npmrc" && : > "$scratch/global.npmrc"
export npm_config_userconfig=$scratch/user.npmrc npm_config_globalconfig=$scratch/global.npmrc
export npm_config_cache=$scratch/npm-cache npm_config_update_notifier=false

node "$vdir/node_modules/verdaccio/bin/verdaccio" --config "$scratch/config.yaml" --listen "127.0.0.1:$port" \
  > "$scratch/verdaccio.log" 2>&1 &
vpid=$!
for _ in $(seq 100); do
  curl -fs "$registry-/ping" >/dev/null 2>&1 && break
  kill -0 "$vpid" 2>/dev/null || { cat "$scratch/verdaccio.log"; log "verdaccio exited"; exit 1; }
  sleep 0.2
done
curl -fs "$registry-/ping" >/dev/null || { cat "$scratch/verdaccio.log"; log "verdaccio did not answer"; exit 1; }
log "verdaccio $VERDACCIO_VERSION (pid $vpid) on $registry"

# A throwaway user (npm adduser's request), its token in the publishing .npmrc only.
password=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
token=$(curl -fs -X PUT -H 'content-type: application/json' \
  -d "{\"name\":\"k8sretry-ci\",\"password\":\"$password\"}" "$registry-/user/org.couchdb.user:k8sretry-ci" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
printf 'registry=%s\n//127.0.0.1:%s/:_authToken=%s\n' "$registry" "$port" "$token" > "$scratch/publish.npmrc"
for t in "${platform_tgzs[@]}" "$main_tgz"; do
  npm publish "$t" --userconfig "$scratch/publish.npmrc" --loglevel=error >/dev/null
done
log "published: $(for t in "${platform_tgzs[@]}" "$main_tgz"; do basename "$t" .tgz; done | tr '\n' ' ')"
deps=$(curl -fs "${registry}k8sretry" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const p=JSON.parse(s);console.log(Object.keys(p.versions[p["dist-tags"].latest].optionalDependencies||{}).sort().join(" "))})')
[ "$deps" = "$(printf '%s\n' "${published[@]}" | sort | tr '\n' ' ' | sed 's/ $//')" ] ||
  { log "k8sretry's optional dependencies ($deps) are not the published platform packages (${published[*]})"; exit 1; }

# The user's project: only the local registry.
app=$scratch/app
mkdir -p "$app" && cd "$app"
printf 'registry=%s\n' "$registry" > .npmrc
npm init -y >/dev/null
start=$(date +%s)
npm install --no-audit --no-fund --loglevel=error k8sretry @kubernetes/client-node@1.4.0
log "npm install k8sretry @kubernetes/client-node@1.4.0: $(( $(date +%s) - start )) s"
installed=$(cd node_modules && ls -d k8sretry-* 2>/dev/null | tr '\n' ' ' | sed 's/ $//')
[ "$installed" = "k8sretry-$host_tag" ] || { log "installed platform packages: '$installed', expected only k8sretry-$host_tag"; exit 1; }
node -e '
  const [registry, host, ...published] = process.argv.slice(1);
  const lock = require("./package-lock.json").packages;
  const bad = [];
  for (const name of ["k8sretry", ...published]) {
    const entry = lock[`node_modules/${name}`];
    if (!entry) { bad.push(`${name}: not in package-lock.json`); continue; }
    if (!entry.resolved || !entry.resolved.startsWith(registry)) bad.push(`${name}: resolved from ${entry.resolved}`);
    if (name !== "k8sretry" && !entry.optional) bad.push(`${name}: not optional`);
  }
  if (bad.length) { console.error(bad.join("\n")); process.exit(1); }
  const skipped = published.filter((n) => n !== `k8sretry-${host}`);
  console.log(`[npm-registry] installed k8sretry ${lock["node_modules/k8sretry"].version} and k8sretry-${host} from ${registry}; ` +
    `in package-lock.json but skipped (os/cpu/libc): ${skipped.join(" ") || "none"}`);
' "$registry" "$host_tag" "${published[@]}"

# The engine: retries decided by it, and which file was opened.
cat > engine.mjs <<'EOF'
import { withRetry, isRetryableError } from 'k8sretry';
let calls = 0;
const out = await withRetry(async () => {
  if (++calls < 3) throw Object.assign(new Error('busy'), { code: 503 });
  return 'ok';
}, { verb: 'get', logger: null });
const opened = [...globalThis[Symbol.for('k8sretry.native.v1')].keys()];
if (out !== 'ok' || calls !== 3 || !isRetryableError(Object.assign(new Error('x'), { code: 503 })) ||
    isRetryableError(Object.assign(new Error('x'), { code: 404 }))) {
  throw new Error(`the engine's decisions are wrong: ${out} after ${calls} calls`);
}
console.log(`[npm-registry] engine loaded from ${opened.join(', ')}: two 503s retried, ${calls} calls`);
if (process.argv[2] && !opened.every((f) => f.includes(process.argv[2]))) throw new Error(`expected ${process.argv[2]}`);
EOF
node engine.mjs

# The README's Node example against the test cluster's kube-apiserver (its own kubeconfig, CA verified).
awk '$0 == "```js" {on=1; next} on && /^```/ {exit} on {print}' "$root/README.md" > readme.mjs
grep -q "from 'k8sretry'" readme.mjs || { log "README.md has no js block importing k8sretry"; exit 1; }
if ! "$root/tests/cluster/status.sh" >/dev/null 2>&1; then
  "$root/tests/cluster/up.sh" >/dev/null
  started_cluster=true
fi
"$root/tests/cluster/local-env.sh" >/dev/null
KUBECONFIG=$(. "$root/tests/cluster/.run/env" && echo "$KUBECONFIG")
export KUBECONFIG
log "README example: $(node readme.mjs)"

# As on every platform but linux-x64-gnu (whose file k8sretry also carries for bundlers): the
# platform package is what loads.
rm -r node_modules/k8sretry/native
node engine.mjs "node_modules/k8sretry-$host_tag/k8sretry.$host_tag.node"
log "README example (k8sretry without native/): $(node readme.mjs)"

# And without the platform package (npm install --omit=optional): the error says what to install.
rm -r "node_modules/k8sretry-$host_tag"
if out=$(node engine.mjs 2>&1); then log "loaded without any engine?"; exit 1; fi
grep -q "npm install k8sretry-$host_tag" <<<"$out" || { log "no install hint in: $out"; exit 1; }
log "without it: $(grep -m1 -o 'k8sretry: no native engine for [a-z0-9-]* ([a-z]*)' <<<"$out") ... $(grep -m1 -o 'install it with [^(]*' <<<"$out")"
log "passed"
