#!/usr/bin/env bash
# Prints the path of a cached Debian rootfs tarball for an architecture (default arm64), building it
# first if the cache does not have it: ~/.cache/k8sretry/rootfs-<arch>-<version>.tar, where <version>
# is the suite and a hash of this script's package list, so a changed list makes a new tarball and a
# warm machine skips the build. Built with mmdebstrap from Debian's own packages; its maintainer
# scripts run under qemu-user through binfmt_misc (tools/dist/binfmt.sh).
#   python3, python3-venv: the aarch64 wheel in a venv; libcjson1: the C vectors; musl: the musl
#   libk8sretry.so; nodejs: the npm package (Debian's Node 18).
set -euo pipefail
arch=${1:-arm64}
suite=bookworm
mirror=http://deb.debian.org/debian
packages=python3,python3-venv,libcjson1,musl,nodejs
version=$suite-$(printf '%s %s %s' "$suite" "$mirror" "$packages" | sha256sum | cut -c1-8)
cache=${K8SRETRY_CACHE:-$HOME/.cache/k8sretry}
out=$cache/rootfs-$arch-$version.tar
if [ -s "$out" ]; then echo "$out"; exit 0; fi

here=$(cd "$(dirname "$0")" && pwd)
command -v mmdebstrap >/dev/null || { echo "rootfs.sh: mmdebstrap is missing: run make deps" >&2; exit 1; }
"$here/binfmt.sh" "$arch" >&2
mkdir -p "$cache"
echo "[rootfs] building $out (mmdebstrap $suite $arch: $packages)" >&2
start=$(date +%s)
# mmdebstrap writes a tarball when the name ends in .tar (a directory otherwise).
tmp=$cache/rootfs-$arch-$version.part.tar
rm -rf "$tmp"
# essential + the packages and their dependencies; apt's lists and caches are left out of the tarball.
mmdebstrap --quiet --variant=essential --architectures="$arch" --include="$packages" \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  "$suite" "$tmp" "$mirror" >&2
mv "$tmp" "$out"
echo "[rootfs] built in $(( $(date +%s) - start )) s: $(du -h "$out" | cut -f1)" >&2
echo "$out"
