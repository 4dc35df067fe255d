#!/usr/bin/env bash
# bindings-node/scripts/cross-addon.sh PLATFORM... : builds the addon for other Linux platforms
# (cargo-zigbuild, glibc 2.17 / musl, as tools/dist/npm.sh builds the published ones, in the same
# target/dist/napi-<triple> folders) into bindings-node/native/k8sretry.<tag>.node, so that the
# package `npm pack` makes here carries them as the published one does (an ncc bundle made from it
# loads on every Linux runner). PLATFORM: linux-aarch64-gnu, linux-x86_64-musl, linux-aarch64-musl.
# A warm build is a no-op for cargo; the file is copied only when it changed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/tools/dist/tools.sh"
ensure_tools
for platform in "$@"; do
  case $platform in
    linux-x86_64-gnu) tag=linux-x64-gnu ;;
    linux-aarch64-gnu) tag=linux-arm64-gnu ;;
    linux-x86_64-musl) tag=linux-x64-musl ;;
    linux-aarch64-musl) tag=linux-arm64-musl ;;
    *) echo "cross-addon.sh: only Linux platforms: $platform" >&2; exit 2 ;;
  esac
  triple=$(triple_of "$platform")
  ensure_rust_target "$triple"
  cargo_zigbuild "$platform" "$root/target/dist/napi-$triple" k8sretry-node
  out=$root/bindings-node/native/k8sretry.$tag.node
  mkdir -p "$(dirname "$out")"
  cmp -s "$root/target/dist/napi-$triple/$triple/release/libk8sretry_node.so" "$out" ||
    install -m 755 "$root/target/dist/napi-$triple/$triple/release/libk8sretry_node.so" "$out"
  echo "[cross-addon] $platform: bindings-node/native/k8sretry.$tag.node"
done
