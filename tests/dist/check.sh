#!/usr/bin/env bash
# tests/dist/check.sh [--full]: every artefact of dist/ checked without running it (check.py:
# tags against auditwheel, formats, CPUs, exported symbols, twine check, the manifest), then the
# crates (make dist packs them with --no-verify; --full builds the packaged crates).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/tools/dist/tools.sh"
ensure_tools
"$DIST_PY_TOOLS/bin/python3" "$root/tests/dist/check.py" "${DIST:-$root/dist}"

# The crates as crates.io users would get them: packaged apart from the workspace, built and tested.
if [ "${1:-}" = --full ]; then
  echo "[check] cargo package -p k8sretry -p k8sretry-ffi (verify: build the packaged crates)"
  (cd "$root" && CARGO_TARGET_DIR=$root/target/dist/package cargo package --locked --quiet --allow-dirty -p k8sretry -p k8sretry-ffi)
fi
