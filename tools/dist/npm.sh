#!/usr/bin/env bash
# tools/dist/npm.sh PLATFORM... : the npm packages, the napi-rs way, into $DIST (default dist/):
#   k8sretry-<tag>-<version>.tgz  per platform: the addon k8sretry.<tag>.node (cargo-zigbuild, each
#                                 target in its own target/dist/napi-<triple>), package.json with
#                                 os/cpu/libc, a short README;
#   k8sretry-<version>.tgz        the main package (bindings-node's dist/ and README, `make node`
#                                 first) with every platform package built here as an optional
#                                 dependency at its exact version, and every Linux addon built here
#                                 (x64/arm64, glibc/musl) in native/ too, for bundlers: @vercel/ncc
#                                 copies each by its literal path in lib/native.ts, so one bundle made
#                                 on x64 loads on every Linux runner; bin/k8sretry-native copies them
#                                 beside an esbuild/webpack bundle.
# The packages are staged in target/dist/npm/ and packed with npm pack.
#
#   platform            Rust target                 npm tag          os/cpu/libc
#   linux-x86_64-gnu    x86_64-unknown-linux-gnu    linux-x64-gnu    linux/x64/glibc (>= 2.17)
#   linux-aarch64-gnu   aarch64-unknown-linux-gnu   linux-arm64-gnu  linux/arm64/glibc (>= 2.17)
#   linux-x86_64-musl   x86_64-unknown-linux-musl   linux-x64-musl   linux/x64/musl
#   linux-aarch64-musl  aarch64-unknown-linux-musl  linux-arm64-musl linux/arm64/musl
#   macos-x86_64        x86_64-apple-darwin         darwin-x64       darwin/x64 (macOS >= 10.12)
#   macos-arm64         aarch64-apple-darwin        darwin-arm64     darwin/arm64 (macOS >= 11)
#   windows-x86_64      x86_64-pc-windows-gnu       win32-x64-gnu    win32/x64 (MinGW-w64 build:
#                                                                    no MSVC linker here)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tools/dist
dist=${DIST:-$root/dist}
stage=$root/target/dist/npm
log() { echo "[dist] $*"; }

. "$here/tools.sh"
ensure_tools

# platform -> "tag os cpu libc what"
spec_of() {
  case $1 in
    linux-x86_64-gnu) echo "linux-x64-gnu linux x64 glibc Linux_x64_with_glibc_>=_2.17" ;;
    linux-aarch64-gnu) echo "linux-arm64-gnu linux arm64 glibc Linux_arm64_with_glibc_>=_2.17" ;;
    linux-x86_64-musl) echo "linux-x64-musl linux x64 musl Linux_x64_with_musl_>=_1.2" ;;
    linux-aarch64-musl) echo "linux-arm64-musl linux arm64 musl Linux_arm64_with_musl_>=_1.2" ;;
    macos-x86_64) echo "darwin-x64 darwin x64 - macOS_x64_>=_10.12" ;;
    macos-arm64) echo "darwin-arm64 darwin arm64 - macOS_arm64_>=_11" ;;
    windows-x86_64) echo "win32-x64-gnu win32 x64 - Windows_x64_(a_MinGW-w64_build)" ;;
    *) echo "unknown platform $1 (see tools/dist/npm.sh)" >&2; return 1 ;;
  esac
}

# The addon for one platform (tools.sh's cargo_zigbuild); prints the built file.
build_addon() {
  local platform=$1 triple=$2 tag=$3 cargo_dir=$root/target/dist/napi-$2 rustflags= libnode=
  case $platform in
    # The install name is the file's, not the build directory's.
    macos-*) rustflags="-C link-arg=-Wl,-install_name,@rpath/k8sretry.$tag.node" ;;
    # napi-build links windows-gnu with -lnode from $LIBNODE_PATH (where a libnode.dll must exist):
    # an empty libnode.a there satisfies it, as the addon takes Node-API from node.exe at load time
    # (napi-rs's dyn-symbols, bindings-node/Cargo.toml) and imports nothing from a libnode.dll.
    windows-*)
      libnode=$root/target/dist/napi-libnode
      mkdir -p "$libnode" && : > "$libnode/libnode.dll" && rm -f "$libnode/libnode.a" && ar rcs "$libnode/libnode.a" ;;
  esac
  EXTRA_RUSTFLAGS=$rustflags LIBNODE_PATH=$libnode cargo_zigbuild "$platform" "$cargo_dir" k8sretry-node
  case $platform in
    macos-*) echo "$cargo_dir/$triple/release/libk8sretry_node.dylib" ;;
    windows-*) echo "$cargo_dir/$triple/release/k8sretry_node.dll" ;;
    *) echo "$cargo_dir/$triple/release/libk8sretry_node.so" ;;
  esac
}

# A platform package: package.json (os, cpu, libc), the addon, README.md.
platform_package() {
  local tag=$1 os=$2 cpu=$3 libc=$4 what=${5//_/ } addon=$6 dir=$stage/k8sretry-$1
  rm -rf "$dir" && mkdir -p "$dir"
  install -m 755 "$addon" "$dir/k8sretry.$tag.node"
  TAG=$tag OS=$os CPU=$cpu LIBC=$libc WHAT=$what VERSION=$version node -e '
    const e = process.env;
    const pkg = {
      name: `k8sretry-${e.TAG}`,
      version: e.VERSION,
      description: `The native engine of k8sretry for ${e.WHAT} (installed by k8sretry as an optional dependency)`,
      license: "Apache-2.0",
      main: `k8sretry.${e.TAG}.node`,
      files: [`k8sretry.${e.TAG}.node`, "README.md"],
      os: [e.OS],
      cpu: [e.CPU],
    };
    if (e.LIBC !== "-") pkg.libc = [e.LIBC];
    pkg.engines = { node: ">=18" };
    require("fs").writeFileSync(process.argv[1], JSON.stringify(pkg, null, 2) + "\n");
  ' "$dir/package.json"
  cat > "$dir/README.md" <<EOF
# k8sretry-$tag

The native engine of [k8sretry](https://www.npmjs.com/package/k8sretry) $version for $what:
\`k8sretry.$tag.node\`, a Node-API (napi6) addon built with napi-rs.

Do not install this package by itself: \`npm install k8sretry\` installs it on this platform
(it is one of k8sretry's optional dependencies, each limited by \`os\`/\`cpu\`$([ "$libc" = - ] || echo '/`libc`')
to its own platform), and k8sretry finds it at run time. Installed with \`--omit=optional\`, add it
with \`npm install k8sretry-$tag@$version\` (always the same version as k8sretry).

A bundle (ncc, esbuild) can carry the file beside itself, or point \`K8SRETRY_NATIVE_PATH\` at it.
EOF
  (cd "$dir" && npm pack --silent --pack-destination "$dist" >/dev/null)
  log "$tag: $(basename "$dist")/k8sretry-$tag-$version.tgz"
}

mkdir -p "$dist" "$stage"
tags=()
linux_addons=()
for platform in "$@"; do
  read -r tag os cpu libc what <<<"$(spec_of "$platform")"
  triple=$(triple_of "$platform")
  ensure_rust_target "$triple"
  start=$(date +%s)
  addon=$(build_addon "$platform" "$triple" "$tag")
  platform_package "$tag" "$os" "$cpu" "$libc" "$what" "$addon"
  tags+=("$tag")
  case $tag in linux-*) linux_addons+=("$tag=$addon") ;; esac
  log "$platform: npm package done in $(( $(date +%s) - start )) s"
done

# The main package: bindings-node as `npm pack` takes it, plus the optional dependencies.
main=$stage/k8sretry
node_dir=$root/bindings-node
[ -f "$node_dir/dist/cjs/index.js" ] && [ -f "$node_dir/dist/esm/index.mjs" ] || { log "bindings-node/dist is not built: make node"; exit 1; }
rm -rf "$main" && mkdir -p "$main/native"
cp -r "$node_dir/dist" "$main/dist"
cp -r "$node_dir/bin" "$main/bin"
cp "$node_dir/README.md" "$main/"
for entry in "${linux_addons[@]}"; do install -m 755 "${entry#*=}" "$main/native/k8sretry.${entry%%=*}.node"; done
TAGS="${tags[*]}" VERSION=$version node -e '
  const fs = require("fs");
  const pkg = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  if (pkg.version !== process.env.VERSION) throw new Error(`bindings-node is ${pkg.version}, Cargo.toml ${process.env.VERSION}`);
  const tags = process.env.TAGS.split(" ").filter(Boolean);
  pkg.optionalDependencies = Object.fromEntries(tags.map((t) => [`k8sretry-${t}`, pkg.version]));
  delete pkg.scripts;
  fs.writeFileSync(process.argv[2], JSON.stringify(pkg, null, 2) + "\n");
' "$node_dir/package.json" "$main/package.json"
(cd "$main" && npm pack --silent --pack-destination "$dist" >/dev/null)
log "k8sretry: $(basename "$dist")/k8sretry-$version.tgz (optional dependencies: ${tags[*]:-none}; native/: $(cd "$main/native" && ls | tr '\n' ' '))"
