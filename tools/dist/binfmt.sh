#!/usr/bin/env bash
# Makes sure the kernel runs foreign binaries of an architecture (default arm64) through
# qemu-user-static: binfmt_misc mounted and the qemu entry enabled (both need root, as `make deps`).
set -euo pipefail
arch=${1:-arm64}
case $arch in arm64|aarch64) q=qemu-aarch64 ;; *) q=qemu-$arch ;; esac
[ -x /usr/bin/$q-static ] || { echo "binfmt.sh: /usr/bin/$q-static is missing: run make deps" >&2; exit 1; }
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [ ! -e /proc/sys/fs/binfmt_misc/$q ]; then
  update-binfmts --enable $q >/dev/null 2>&1 || update-binfmts --import $q
fi
grep -q '^enabled' /proc/sys/fs/binfmt_misc/$q || { echo "binfmt.sh: $q is not enabled" >&2; exit 1; }
