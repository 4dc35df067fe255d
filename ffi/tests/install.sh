#!/bin/sh
# Builds examples/c/retry.c against an installed libk8sretry found by pkg-config (PKG_CONFIG_PATH),
# once shared and once static, and runs both. $1 is a scratch directory.
set -eu
out=$1
libdir=$(pkg-config --variable=libdir k8sretry)
echo "== pkg-config: $(pkg-config --modversion k8sretry) in $libdir"

soname=$(readelf -d "$libdir/libk8sretry.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libk8sretry.so.0" ] || { echo "SONAME is '$soname', want libk8sretry.so.0"; exit 1; }

# Shared: what the README shows.
cc -Wall -Wextra -Werror examples/c/retry.c $(pkg-config --cflags --libs k8sretry) -o "$out/retry_shared"
readelf -d "$out/retry_shared" | grep -q 'NEEDED.*libk8sretry.so.0' || { echo "shared build does not need libk8sretry.so.0"; exit 1; }
LD_LIBRARY_PATH=$libdir "$out/retry_shared"

# Static: the archive by path, its private dependencies from pkg-config.
cc -Wall -Wextra -Werror examples/c/retry.c $(pkg-config --cflags k8sretry) "$libdir/libk8sretry.a" \
  -Wl,--as-needed $(pkg-config --static --libs k8sretry) -o "$out/retry_static"
if readelf -d "$out/retry_static" | grep -q 'NEEDED.*libk8sretry'; then echo "static build needs the .so"; exit 1; fi
"$out/retry_static"
echo "install: 2 passed, 0 failed"
