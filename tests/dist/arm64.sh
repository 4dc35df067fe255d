#!/usr/bin/env bash
# tests/dist/arm64.sh: runs dist/'s aarch64 artefacts on arm64, in a Debian arm64 rootfs
# (tools/dist/rootfs.sh, cached in ~/.cache/k8sretry) under qemu-user through binfmt_misc:
#   Python: the aarch64 wheel picked by pip from all of dist/'s wheels into a venv of Debian's
#           python3, then the conformance vectors (bindings-python/tests/test_vectors.py, pytest);
#   C:      the vectors (ffi/tests/c/test_vectors.c, compiled by zig cc for aarch64 against the
#           tarball's libk8sretry.a and Debian arm64's libcjson) and the README program
#           (examples/c/retry.c) through the tarball's pkg-config, shared and static;
#   Node:   the npm packages installed as a user on arm64 gets them: npm (on the host, told
#           --os linux --cpu arm64 --libc glibc) installs dist/'s main k8sretry tarball and
#           k8sretry-linux-arm64-gnu's into a project in the rootfs; there Debian's Node 18 runs a
#           script that must load the platform package's k8sretry.linux-arm64-gnu.node and gets the
#           engine's decisions (two 503s retried, isRetryableError);
#   Go:     bindings-go's tests from the module zip of dist/goproxy (go test -c for linux/arm64, cgo
#           through zig cc, the zip's lib/linux_arm64/libk8sretry.a), when the zip carries it;
#   musl:   the README program against the linux-aarch64-musl tarball, shared (Debian's musl
#           loader) and static, when dist/ has that tarball.
# Nothing is installed on the host; the rootfs is unpacked into a scratch directory and removed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dist=${DIST:-$root/dist}
cache=${K8SRETRY_CACHE:-$HOME/.cache/k8sretry}
log() { echo "[arm64] $*"; }
. "$root/tools/dist/tools.sh"
ensure_tools

gnu_tar=$dist/libk8sretry-$version-linux-aarch64-gnu.tar.gz
musl_tar=$dist/libk8sretry-$version-linux-aarch64-musl.tar.gz
ls "$dist"/k8sretry-*-manylinux*_aarch64.whl >/dev/null && [ -f "$gnu_tar" ] ||
  { log "dist/ has no aarch64 wheel or libk8sretry tarball: make dist DIST_PLATFORMS=linux-aarch64-gnu"; exit 1; }

start=$(date +%s)
rootfs_tar=$("$root/tools/dist/rootfs.sh" arm64)
"$root/tools/dist/binfmt.sh" arm64
scratch=$(mktemp -d /tmp/k8sretry-arm64.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
fs=$scratch/root
mkdir -p "$fs" && tar -xf "$rootfs_tar" -C "$fs"
w=$fs/k8sretry
mkdir -p "$w/dist" "$w/bindings-python/tests" "$w/c" "$w/tests"
cp -r "$root/tests/vectors" "$w/tests/"

# pytest and its dependencies (pure Python), downloaded once on the host and installed offline.
pytest_wheels=$cache/pywheels-pytest-9.2.0
if [ ! -d "$pytest_wheels" ]; then
  "$DIST_PY_TOOLS/bin/pip" download -q --only-binary=:all: --python-version 3.11 -d "$pytest_wheels.part" pytest==9.2.0
  mv "$pytest_wheels.part" "$pytest_wheels"
fi
cp "$dist"/*.whl "$pytest_wheels"/*.whl "$w/dist/"
cp "$root/bindings-python/tests/conftest.py" "$root/bindings-python/tests/test_vectors.py" "$w/bindings-python/tests/"

# C, built on the host by zig cc for the rootfs (Debian 12: glibc 2.36), linked as a user of the
# tarball would. (The library itself needs glibc 2.17 only: tests/dist/check.sh.)
target=aarch64-linux-gnu.2.36
tar -xzf "$gnu_tar" -C "$w/c"
prefix_name=libk8sretry-$version-linux-aarch64-gnu
prefix=$w/c/$prefix_name
mkdir -p "$scratch/inc" && ln -s /usr/include/cjson "$scratch/inc/cjson"
cjson=$(ls "$fs"/usr/lib/aarch64-linux-gnu/libcjson.so.1)
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# The archive by path; its -lgcc_s (the unwinder) is Debian arm64's, as an arm64 gcc would link it
# (zig's own sysroot has none).
gcc_s=$(ls "$fs"/usr/lib/aarch64-linux-gnu/libgcc_s.so.1)
static_libs=$(pkg-config --static --libs-only-l k8sretry | sed "s/-lk8sretry//; s|-lgcc_s|$gcc_s|")
log "C: zig cc -target $target (vectors, README program shared and static)"
zigcc -target $target -std=c11 -Wall -Wextra -Werror -I"$root/ffi/tests/c" -I"$scratch/inc" \
  $(pkg-config --cflags k8sretry) "$root/ffi/tests/c/test_vectors.c" -o "$w/c/test_vectors" \
  "$prefix/lib/libk8sretry.a" "$cjson" $static_libs
zigcc -target $target -Wall -Wextra -Werror "$root/examples/c/retry.c" $(pkg-config --cflags --libs k8sretry) -o "$w/c/retry_shared"
readelf -d "$w/c/retry_shared" | grep -q 'NEEDED.*libk8sretry.so.0' || { log "retry_shared does not need libk8sretry.so.0"; exit 1; }
zigcc -target $target -Wall -Wextra -Werror "$root/examples/c/retry.c" $(pkg-config --cflags k8sretry) \
  "$prefix/lib/libk8sretry.a" $static_libs -o "$w/c/retry_static"
unset PKG_CONFIG_PATH

# Node: the main package and the arm64 platform package, installed by npm as for an arm64 machine.
npm_arm64=$dist/k8sretry-linux-arm64-gnu-$version.tgz
[ -f "$npm_arm64" ] && [ -f "$dist/k8sretry-$version.tgz" ] ||
  { log "dist/ has no k8sretry-$version.tgz or k8sretry-linux-arm64-gnu-$version.tgz: make dist DIST_PLATFORMS=linux-aarch64-gnu"; exit 1; }
log "Node: npm install --os linux --cpu arm64 --libc glibc k8sretry-$version.tgz k8sretry-linux-arm64-gnu-$version.tgz"
# The platform package is an optional dependency of the project, as it is of k8sretry: npm checks
# a required package's os/cpu against this machine's whatever --cpu says, an optional one's against
# --os/--cpu/--libc. (From a registry, k8sretry's own optional dependency brings it: npm-registry.sh.)
mkdir -p "$w/node"
cat > "$w/node/package.json" <<EOF
{
  "name": "k8sretry-arm64-check",
  "private": true,
  "dependencies": { "k8sretry": "file:$dist/k8sretry-$version.tgz" },
  "optionalDependencies": { "k8sretry-linux-arm64-gnu": "file:$npm_arm64" }
}
EOF
(cd "$w/node" && npm install --os linux --cpu arm64 --libc glibc --no-audit --no-fund --loglevel=error >/dev/null)
installed=$(cd "$w/node/node_modules" && ls -d k8sretry-* | tr '\n' ' ')
[ "$installed" = "k8sretry-linux-arm64-gnu " ] || { log "Node: installed platform packages: $installed"; exit 1; }
cat > "$w/node/engine.js" <<'EOF'
const k = require('k8sretry');
(async () => {
  let calls = 0;
  const out = await k.withRetry(async () => {
    if (++calls < 3) throw Object.assign(new Error('busy'), { code: 503 });
    return 'ok';
  }, { verb: 'get', logger: null });
  const opened = [...globalThis[Symbol.for('k8sretry.native.v1')].keys()];
  if (out !== 'ok' || calls !== 3) throw new Error(`${out} after ${calls} calls`);
  if (!k.isRetryableError(Object.assign(new Error('x'), { code: 503 })) || k.isRetryableError(Object.assign(new Error('x'), { code: 404 }))) {
    throw new Error('isRetryableError is wrong');
  }
  // The main package carries every Linux engine in native/ (one bundle for every runner; the same
  // bytes as the platform package's, tests/dist/check.py), and the loader takes it first.
  const engines = ['/node_modules/k8sretry/native/k8sretry.linux-arm64-gnu.node', '/node_modules/k8sretry-linux-arm64-gnu/k8sretry.linux-arm64-gnu.node'];
  if (opened.length !== 1 || !engines.some((e) => opened[0].endsWith(e))) {
    throw new Error(`opened ${opened}`);
  }
  console.log(`[arm64] Node ${process.version} ${process.arch} (glibc ${process.report.getReport().header.glibcVersionRuntime}): engine from ${opened[0]}, two 503s retried (${calls} calls)`);
})().catch((e) => { console.error(e); process.exit(1); });
EOF

# Go: the binding's tests for linux/arm64, built from the module zip of dist/goproxy as shipped
# (its lib/linux_arm64/libk8sretry.a, the tarball's), when that zip carries an arm64 library.
go_test=false
go_zip=$dist/goproxy/k8sretry.dev/go/@v/v$version.zip
if [ -f "$go_zip" ] && unzip -l "$go_zip" | grep -q "@v$version/lib/linux_arm64/libk8sretry.a\$"; then
  log "Go: go test -c for linux/arm64 (cgo through zig cc) from $(basename "$go_zip")"
  mkdir -p "$w/bindings-go" "$scratch/gomod"
  unzip -q "$go_zip" -d "$scratch/gomod"
  # gcc links libgcc_s (the unwinder) by itself; zig has none, so Debian arm64's is named.
  (cd "$scratch/gomod/k8sretry.dev/go@v$version" && GOFLAGS=-mod=mod GOTOOLCHAIN=local GOOS=linux GOARCH=arm64 CGO_ENABLED=1 \
    CC="$DIST_PY_TOOLS/bin/python3 -m ziglang cc -target $target" CGO_LDFLAGS="$gcc_s" \
    go test -c -o "$w/bindings-go/k8sretry.test" .)
  go_test=true
fi

# musl: the README program against the aarch64 musl tarball, when dist/ has it.
musl=false
if [ -f "$musl_tar" ]; then
  log "musl: zig cc -target aarch64-linux-musl (README program shared and static)"
  tar -xzf "$musl_tar" -C "$w/c"
  mprefix=$w/c/libk8sretry-$version-linux-aarch64-musl
  export PKG_CONFIG_PATH=$mprefix/lib/pkgconfig
  zigcc -target aarch64-linux-musl -O2 -Wall -Wextra -Werror "$root/examples/c/retry.c" $(pkg-config --cflags --libs k8sretry) -o "$w/c/retry_musl_shared"
  zigcc -target aarch64-linux-musl -static -O2 -Wall -Wextra -Werror "$root/examples/c/retry.c" $(pkg-config --cflags k8sretry) \
    "$mprefix/lib/libk8sretry.a" -lunwind -o "$w/c/retry_musl_static"
  unset PKG_CONFIG_PATH
  musl=true
fi

cat > "$w/run.sh" <<EOF
set -eu
echo "[arm64] inside: \$(uname -m), \$(python3 --version)"
python3 -m venv /venv
/venv/bin/pip install -q --no-index --find-links /k8sretry/dist k8sretry pytest==9.2.0
/venv/bin/python -c 'import importlib.metadata as m, platform; print("[arm64] Python", platform.machine(), "installed", *[l for l in m.distribution("k8sretry").read_text("WHEEL").splitlines() if l.startswith("Tag")])'
cd /tmp && /venv/bin/python -m pytest -q -p no:cacheprovider /k8sretry/bindings-python/tests/test_vectors.py
echo "[arm64] Node: the npm packages"
(cd /k8sretry/node && node engine.js)
echo "[arm64] C vectors"
/k8sretry/c/test_vectors /k8sretry/tests/vectors
echo "[arm64] C README program, shared and static"
LD_LIBRARY_PATH=/k8sretry/c/$prefix_name/lib /k8sretry/c/retry_shared
/k8sretry/c/retry_static
if $go_test; then
  echo "[arm64] Go tests"
  cd /k8sretry/bindings-go
  ./k8sretry.test -test.v -test.count=1 > /tmp/go.log 2>&1 || { cat /tmp/go.log; exit 1; }
  echo "go test (linux/arm64): \$(grep -c '^--- PASS' /tmp/go.log) passed, \$(grep -c '^--- FAIL' /tmp/go.log) failed, \$(grep -c '^--- SKIP' /tmp/go.log) skipped"
fi
if $musl; then
  echo "[arm64] musl README program, shared and static"
  LD_LIBRARY_PATH=/k8sretry/c/libk8sretry-$version-linux-aarch64-musl/lib /k8sretry/c/retry_musl_shared
  /k8sretry/c/retry_musl_static
fi
EOF

log "running under qemu-aarch64 in $(basename "$rootfs_tar")"
# A private mount namespace: /proc and /dev vanish with it, whatever happens.
unshare --mount --propagation private sh -c \
  'mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" &&
   exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 chroot "$1" /bin/sh /k8sretry/run.sh' sh "$fs"
log "passed in $(( $(date +%s) - start )) s"
