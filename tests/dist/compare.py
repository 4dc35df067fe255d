#!/usr/bin/env python3
"""Compares two dist/ trees file by file (tests/dist/reproducible.sh).

    tests/dist/compare.py DIST_A DIST_B

Prints one line per file, "same" or "DIFFERS", with its SHA-256 (both when they differ); for an
archive that differs (wheel, zip, .tgz, .tar.gz, .crate), the members that differ in content, in
metadata (mode, mtime, owner) or in order, so the cause can be found. Exit status 1 when any file
differs or exists on one side only.
"""

from __future__ import annotations

import hashlib
import sys
import tarfile
import zipfile
from pathlib import Path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def members(path: Path) -> list[tuple[str, str, str]] | None:
    """(name, content hash, metadata) per member, in archive order, or None if not an archive."""
    name = path.name
    if name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(path) as z:
            out = []
            for i in z.infolist():
                meta = f"date={i.date_time} attr={i.external_attr:o} type={i.compress_type}"
                out.append((i.filename, sha256(z.read(i)), meta))
            return out
    if name.endswith((".tgz", ".tar.gz", ".crate")):
        out = []
        with tarfile.open(path) as t:
            for m in t.getmembers():
                data = t.extractfile(m).read() if m.isfile() else m.linkname.encode()
                owner = f"{m.uid}:{m.gid}/{m.uname}:{m.gname}"
                meta = f"mode={m.mode:o} mtime={m.mtime} owner={owner} type={m.type!r}"
                out.append((m.name, sha256(data), meta))
        return out
    return None


def explain(a: Path, b: Path) -> list[str]:
    ma, mb = members(a), members(b)
    if ma is None or mb is None:
        return [f"    sizes {a.stat().st_size} / {b.stat().st_size}"]
    lines = []
    da, db = {m[0]: m for m in ma}, {m[0]: m for m in mb}
    for n in sorted(da.keys() | db.keys()):
        if n not in da or n not in db:
            lines.append(f"    {n}: only in {'A' if n in da else 'B'}")
        elif da[n][1] != db[n][1]:
            lines.append(f"    {n}: content differs")
        elif da[n][2] != db[n][2]:
            lines.append(f"    {n}: metadata differs ({da[n][2]} / {db[n][2]})")
    if not lines and [m[0] for m in ma] != [m[0] for m in mb]:
        lines.append("    the members are in a different order")
    return lines or ["    same members, same metadata: the archive's own bytes differ (compression, headers)"]


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    a, b = Path(sys.argv[1]), Path(sys.argv[2])
    fa = {p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()}
    fb = {p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()}
    differ = 0
    for rel in sorted(fa | fb):
        if rel not in fa or rel not in fb:
            print(f"ONLY IN {'A' if rel in fa else 'B'}  {rel}")
            differ += 1
            continue
        ha, hb = sha256((a / rel).read_bytes()), sha256((b / rel).read_bytes())
        if ha == hb:
            print(f"same     {ha}  {rel}")
        else:
            differ += 1
            print(f"DIFFERS  {ha} / {hb}  {rel}")
            for line in explain(a / rel, b / rel):
                print(line)
    total = len(fa | fb)
    tail = f", {differ} differ" if differ else ""
    print(f"[reproducible] {total - differ} of {total} files identical{tail}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
