#!/usr/bin/env python3
"""Writes dist/manifest.json, dist/manifest.tsv and dist/SHA256SUMS for every file under dist/.

Each entry: file (relative to dist/), kind, platform, size (bytes), sha256. The platform is read
from the file name: a wheel's platform tag, the libk8sretry tarball's suffix, an npm package's
platform suffix (k8sretry-linux-arm64-gnu-0.1.0.tgz), a Go platform directory or suffix
(linux_arm64); anything else is "any". `--check` verifies that the manifest still matches dist/.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import zipfile
from pathlib import Path

OUTPUTS = {"manifest.json", "manifest.tsv", "SHA256SUMS"}

WHEEL = re.compile(r"^(?P<name>[^-]+)-(?P<ver>[^-]+)-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$")
NODE_PLATFORM = re.compile(
    r"(?P<plat>(?:linux|darwin|win32|freebsd|android)-(?:x64|arm64|ia32|arm)(?:-(?:gnu|musl|msvc|gnueabihf))?)"
)
GO_PLATFORM = re.compile(r"(?P<plat>(?:linux|darwin|windows|freebsd)_(?:amd64|arm64|386|arm))")
GO_LIB = re.compile(r"/lib/" + GO_PLATFORM.pattern + r"/libk8sretry\.a$")


def go_zip_platforms(path: Path) -> str:
    """The platforms whose static library a Go module zip carries (lib/GOOS_GOARCH/libk8sretry.a)."""
    with zipfile.ZipFile(path) as z:
        plats = sorted({m["plat"] for n in z.namelist() if (m := GO_LIB.search(n))})
    return ",".join(plats) or "any"


def kind_and_platform(rel: str, path: Path) -> tuple[str, str]:
    name = rel.rsplit("/", 1)[-1]
    m = WHEEL.match(name)
    if m:
        return "wheel", m["plat"]
    if name.startswith("libk8sretry-") and name.endswith((".tar.gz", ".zip")):
        stem = name.removesuffix(".tar.gz").removesuffix(".zip")
        # libk8sretry-<version>-<platform>
        return "c", stem.split("-", 2)[2]
    if name.endswith(".tgz"):
        m = NODE_PLATFORM.search(name)
        return "npm", m["plat"] if m else "any"
    if name.endswith(".crate"):
        return "crate", "source"
    if re.match(r"^k8sretry-[0-9][^-]*\.tar\.gz$", name):
        return "sdist", "source"
    m = GO_PLATFORM.search(rel)
    plat = m["plat"] if m else "any"
    if rel.startswith(("go/", "goproxy/")) or "-go-" in name or name.endswith((".mod", ".info")):
        if name.endswith(".zip"):
            plat = go_zip_platforms(path)
        return "go", plat
    return "other", plat


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def entries(dist: Path) -> list[dict[str, object]]:
    out = []
    for path in sorted(p for p in dist.rglob("*") if p.is_file() and not p.is_symlink()):
        rel = path.relative_to(dist).as_posix()
        if rel in OUTPUTS:
            continue
        kind, platform = kind_and_platform(rel, path)
        out.append(
            {"file": rel, "kind": kind, "platform": platform, "size": path.stat().st_size, "sha256": sha256(path)}
        )
    return out


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    dist = Path(args[0] if args else "dist")
    got = entries(dist)
    if "--check" in sys.argv:
        want = json.loads((dist / "manifest.json").read_text())["files"]
        if want != got:
            print(f"{dist}/manifest.json does not match {dist}/: run tools/dist/manifest.py", file=sys.stderr)
            return 1
        print(f"manifest: {len(got)} files match")
        return 0
    version = ""
    for line in (Path(__file__).resolve().parents[2] / "Cargo.toml").read_text().splitlines():
        if line.startswith("version = "):
            version = line.split('"')[1]
            break
    (dist / "manifest.json").write_text(json.dumps({"version": version, "files": got}, indent=2) + "\n")
    tsv = ["file\tkind\tplatform\tsize\tsha256"]
    tsv += [f"{e['file']}\t{e['kind']}\t{e['platform']}\t{e['size']}\t{e['sha256']}" for e in got]
    (dist / "manifest.tsv").write_text("\n".join(tsv) + "\n")
    (dist / "SHA256SUMS").write_text("".join(f"{e['sha256']}  {e['file']}\n" for e in got))
    width = max((len(str(e["file"])) for e in got), default=0)
    for e in got:
        print(f"  {e['file']:<{width}}  {e['kind']:<6} {e['platform']:<44} {e['size']:>9}")
    print(f"[dist] manifest: {len(got)} files in {dist}/manifest.json, manifest.tsv, SHA256SUMS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
