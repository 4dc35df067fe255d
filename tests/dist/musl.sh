#!/usr/bin/env bash
# tests/dist/musl.sh: runs dist/'s musl libk8sretry on musl, for x86_64 (natively) and aarch64
# (qemu-user), without an Alpine system: programs built by zig cc for *-linux-musl, static ones
# (musl linked in) and dynamic ones run by Debian's musl loader (package musl, make deps-dist).
#   C vectors (ffi/tests/c/test_vectors.c) with cJSON compiled for musl from Debian's source
#   package (cached in ~/.cache/k8sretry), against the tarball's libk8sretry.a, static;
#   the README program (examples/c/retry.c) through the tarball's pkg-config, shared and static.
# The musllinux wheels are checked by tests/dist/check.py (auditwheel) but not run: no musl CPython
# can be had from the registries this project reaches (Debian's python3 is glibc-only).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dist=${DIST:-$root/dist}
cache=${K8SRETRY_CACHE:-$HOME/.cache/k8sretry}
log() { echo "[musl] $*"; }
. "$root/tools/dist/tools.sh"
ensure_tools

# cJSON's source from Debian (apt-get source, through a private sources list: the system's is left
# alone), once.
cjson_version=1.7.15
cjson=$cache/cjson-$cjson_version
if [ ! -f "$cjson/cJSON.c" ]; then
  log "cJSON $cjson_version source from Debian"
  apt=$(mktemp -d /tmp/k8sretry-aptsrc.XXXXXX)
  mkdir -p "$apt/lists/partial"
  echo "deb-src http://deb.debian.org/debian bookworm main" > "$apt/sources.list"
  opts=(-o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$apt/lists"
    -o APT::Sandbox::User=root)
  apt-get -qq "${opts[@]}" update
  (cd "$apt" && apt-get -qq "${opts[@]}" source --download-only "cjson=$cjson_version-1+deb12u4" >/dev/null 2>&1 ||
    apt-get -qq "${opts[@]}" source --download-only cjson >/dev/null)
  tar -xzf "$apt"/cjson_*.orig.tar.gz -C "$apt"
  mkdir -p "$cjson.part/cjson"
  cp "$apt"/cJSON-*/cJSON.c "$cjson.part/"
  cp "$apt"/cJSON-*/cJSON.h "$cjson.part/"
  cp "$apt"/cJSON-*/cJSON.h "$cjson.part/cjson/"
  rm -rf "$apt" "$cjson" && mv "$cjson.part" "$cjson"
fi

"$root/tools/dist/binfmt.sh" arm64
scratch=$(mktemp -d /tmp/k8sretry-musl.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
ran=0
for arch in x86_64 aarch64; do
  tgz=$dist/libk8sretry-$version-linux-$arch-musl.tar.gz
  [ -f "$tgz" ] || { log "no $(basename "$tgz") in dist/: make dist DIST_PLATFORMS=linux-$arch-musl"; exit 1; }
  tar -xzf "$tgz" -C "$scratch"
  prefix=$scratch/libk8sretry-$version-linux-$arch-musl
  out=$scratch/$arch && mkdir -p "$out"
  export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
  target=$arch-linux-musl
  log "$arch: zig cc -target $target: C vectors (static), README program (shared and static)"
  # Static links name the unwinder: -lunwind is zig's (the .pc's -lgcc_s is gcc's, as on Alpine).
  # -O2: a debug build by zig cc carries zig's UBSan runtime, which needs a newer musl than Debian's.
  zigcc -target $target -static -O2 -std=c11 -Wall -Wextra -Werror -I"$root/ffi/tests/c" -I"$cjson" \
    $(pkg-config --cflags k8sretry) "$root/ffi/tests/c/test_vectors.c" "$cjson/cJSON.c" \
    "$prefix/lib/libk8sretry.a" -lunwind -o "$out/test_vectors"
  zigcc -target $target -O2 -Wall -Wextra -Werror "$root/examples/c/retry.c" $(pkg-config --cflags --libs k8sretry) -o "$out/retry_shared"
  zigcc -target $target -static -O2 -Wall -Wextra -Werror "$root/examples/c/retry.c" $(pkg-config --cflags k8sretry) \
    "$prefix/lib/libk8sretry.a" -lunwind -o "$out/retry_static"
  unset PKG_CONFIG_PATH
  file "$out/test_vectors" | grep -q 'statically linked' || { log "test_vectors is not static"; exit 1; }
  readelf -l "$out/retry_shared" | grep -q "ld-musl-$arch.so.1" || { log "retry_shared is not a musl program"; exit 1; }

  "$out/test_vectors" "$root/tests/vectors"
  "$out/retry_static"
  # Dynamic: Debian's musl loader for x86_64 (on this machine); for aarch64 the arm64 rootfs's
  # (tests/dist/arm64.sh runs that one).
  if [ "$arch" = "$(uname -m)" ]; then
    [ -e "/lib/ld-musl-$arch.so.1" ] || { log "/lib/ld-musl-$arch.so.1 is missing: make deps-dist (package musl)"; exit 1; }
    LD_LIBRARY_PATH=$prefix/lib "$out/retry_shared"
  fi
  ran=$((ran + 1))
done
log "musl: C vectors and the README program on $ran architectures"
