#!/usr/bin/env python3
"""musl_wheel.py WHEEL PATCHELF: gives a musllinux wheel's native modules the C library name that
musllinux means (PEP 656, auditwheel): NEEDED libc.musl-<arch>.so.1, as Alpine's toolchain writes it.

zig links against its musl stub, whose soname is plain libc.so. musl's loader maps libc.so to
itself, so the module loads either way, but auditwheel only knows libc.musl-<arch>.so.1 as musl's C
library and calls such a wheel linux_<arch>. The wheel is rewritten in place (same entries, dates
and order; RECORD updated).
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def main() -> int:
    whl, patchelf = Path(sys.argv[1]), sys.argv[2]
    m = re.search(r"musllinux_\d+_\d+_(\w+)\.whl$", whl.name)
    if not m:
        print(f"{whl.name} is not a musllinux wheel", file=sys.stderr)
        return 1
    libc = f"libc.musl-{m[1]}.so.1"
    with zipfile.ZipFile(whl) as z:
        entries = [(info, z.read(info)) for info in z.infolist()]
    changed: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for info, data in entries:
            if not re.search(r"\.so(\.\d+)*$", info.filename):
                continue
            path = Path(tmp) / "module.so"
            path.write_bytes(data)
            needed = subprocess.run([patchelf, "--print-needed", path], check=True, capture_output=True, text=True).stdout.split()
            if "libc.so" not in needed:
                continue
            subprocess.run([patchelf, "--replace-needed", "libc.so", libc, path], check=True)
            changed[info.filename] = path.read_bytes()
            print(f"[dist] {whl.name}: {info.filename} NEEDED libc.so -> {libc}")
    if not changed:
        return 0
    out = []
    for info, data in entries:
        data = changed.get(info.filename, data)
        if info.filename.endswith(".dist-info/RECORD"):
            lines = []
            for line in data.decode().splitlines():
                name = line.rsplit(",", 2)[0]
                if name in changed:
                    line = f"{name},{record_hash(changed[name])},{len(changed[name])}"
                lines.append(line)
            data = ("\n".join(lines) + "\n").encode()
        out.append((info, data))
    tmp_whl = whl.with_suffix(".tmp")
    with zipfile.ZipFile(tmp_whl, "w") as z:
        for info, data in out:
            z.writestr(info, data)
    tmp_whl.replace(whl)
    return 0


if __name__ == "__main__":
    sys.exit(main())
