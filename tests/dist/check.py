#!/usr/bin/env python3
"""Checks every wheel and libk8sretry tarball in dist/ without running it: format, architecture,
platform tag and exported symbols, so that what cannot run here (macOS, Windows) is checked too.

  wheels:   the tag agrees with `auditwheel show` (Linux); the native module's format and CPU match
            the tag (ELF machine, Mach-O arch, PE machine), PyInit__native is exported, a macOS
            module's minimum OS is the tag's, its libraries are the system's; `twine check`.
  C:        the tarball holds the header (the repository's, byte for byte), the static and shared
            library, a relocatable .pc and the README; both libraries are for the platform's CPU and
            format; the shared library exports every function of the header, has its SONAME /
            install name, and needs at most glibc 2.17 (gnu) or no glibc at all (musl).
  npm:      each platform package (k8sretry-<tag>): package.json's name, version, main, os/cpu/libc
            agree with the tag, the addon k8sretry.<tag>.node is for that format and CPU (ELF machine
            and glibc <= 2.17 / no glibc for musl, Mach-O arch and minimum macOS, PE32+ x86-64) and
            exports napi_register_module_v1, README.md; the main package k8sretry lists every platform
            package of dist/ as an optional dependency at its exact version, carries every Linux
            platform package's addon (the same bytes) in native/ and bin/k8sretry-native.js; `npm publish --dry-run`
            passes for each, with no warning but the one about not being logged in.
  Go:       each module zip of dist/goproxy holds exactly the files git tracks in its directory
            (bindings-go, bindings-go/prometheus; the same bytes), plus for k8sretry.dev/go the
            header and lib/GOOS_GOARCH/libk8sretry.a for each gnu and macOS tarball of dist/: the
            tarball's own library (same bytes), objects for that CPU; the zip's h1: hash (dirhash)
            is in <version>.ziphash and, with the go.mod's, in dist/goproxy/go.sum.
  manifest: dist/manifest.json matches dist/ (sizes and SHA-256).
Prints one line per checked artefact and ends with 'N passed, N failed'.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DIST = Path(sys.argv[1]) if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else ROOT / "dist"
TOOLS = Path(os.environ.get("DIST_PY_TOOLS", ROOT / ".cache/build/py-tools")) / "bin"
HEADER = (ROOT / "include/k8sretry.h").read_bytes()
# The functions the header declares (comments removed: they name functions too).
_CODE = re.sub(rb"/\*.*?\*/|//[^\n]*", b"", HEADER, flags=re.S)
FUNCTIONS = sorted(set(re.findall(rb"\b(k8sretry_[a-z0-9_]+)\s*\(", _CODE)))

passed = failed = 0


def ok(what: str, problems: list[str]) -> None:
    global passed, failed
    if problems:
        failed += 1
        print(f"FAIL {what}")
        for p in problems:
            print(f"     {p}")
    else:
        passed += 1
        print(f"ok   {what}")


def run(*cmd: str | Path, check: bool = True) -> str:
    return subprocess.run([str(c) for c in cmd], check=check, capture_output=True, text=True).stdout


# CPU names: wheel tag / tarball name -> what `file` says of an ELF and of a Mach-O file.
FILE_ARCH = {"x86_64": "x86-64", "aarch64": "ARM aarch64"}
MACHO_ARCH = {"x86_64": "x86_64", "arm64": "arm64"}
# The oldest macOS each build supports (maturin's defaults for the wheels; the C library the same).
MACOS_MIN = {"x86_64": "10.12", "arm64": "11.0"}


def linux_elf(path: Path, arch: str, problems: list[str]) -> str:
    out = run("file", "-L", path)
    if "ELF 64-bit" not in out or FILE_ARCH[arch] not in out:
        problems.append(f"{path.name}: not a 64-bit ELF for {arch}: {out.strip()}")
    return out


def glibc_max(path: Path) -> tuple[int, ...]:
    versions = re.findall(r"GLIBC_(\d+(?:\.\d+)+)", run("objdump", "-T", path))
    return max((tuple(int(x) for x in v.split(".")) for v in versions), default=())


def exported(path: Path, fmt: str) -> set[str]:
    if fmt == "elf":
        out = run("nm", "-D", "--defined-only", path)
        return {line.split()[-1] for line in out.splitlines() if line.strip()}
    if fmt == "macho":
        out = run("llvm-nm", "-g", "--defined-only", path)
        return {line.split()[-1].removeprefix("_") for line in out.splitlines() if line.strip()}
    out = run("llvm-readobj", "--coff-exports", path)
    return set(re.findall(r"Name: (\S+)", out))


def macho_info(path: Path) -> tuple[str, list[str]]:
    headers = run("llvm-objdump", "--macho", "--private-headers", path)
    # LC_BUILD_VERSION (minos 11.0) or, for older targets, LC_VERSION_MIN_MACOSX (version 10.12).
    minos = re.search(r"minos (\S+)", headers) or re.search(r"LC_VERSION_MIN_MACOSX\n.*?\n\s*version (\S+)", headers, re.S)
    libs = run("llvm-objdump", "--macho", "--dylibs-used", path).splitlines()[1:]
    return (minos.group(1) if minos else "?"), [line.split(" (")[0].strip() for line in libs]


SYSTEM_DYLIBS = re.compile(r"^(/usr/lib/(libSystem\.B|libiconv\.2|libcharset\.1|libc\+\+\.1)\.dylib|@rpath/.*)$")


def elf_libc(path: Path, arch: str, libc: str, problems: list[str]) -> str:
    """A Linux ELF for `arch`: at most glibc 2.17 (glibc) or no glibc symbols at all (musl)."""
    linux_elf(path, arch, problems)
    g = glibc_max(path)
    if libc == "glibc" and g > (2, 17):
        problems.append(f"needs glibc {'.'.join(map(str, g))} (> 2.17)")
    if libc == "musl" and g:
        problems.append(f"{path.name}: built for musl, references glibc symbols")
    return f"ELF {arch}, " + (f"glibc >= {'.'.join(map(str, g))}" if g else "no glibc symbols")


def macho_checks(path: Path, arch: str, install_name: str, problems: list[str]) -> str:
    """A Mach-O for `arch`, its minimum macOS the wheels' and its install name, system libraries only."""
    out = run("file", "-L", path)
    if "Mach-O 64-bit" not in out or MACHO_ARCH[arch] not in out:
        problems.append(f"not a Mach-O for {arch}: {out.strip()}")
    minos, libs = macho_info(path)
    if minos != MACOS_MIN[arch]:
        problems.append(f"minimum macOS {minos}, want {MACOS_MIN[arch]} (as the wheel)")
    if not libs or libs[0] != install_name:
        problems.append(f"install name is {libs[:1]}, want {install_name}")
    bad = [x for x in libs if not SYSTEM_DYLIBS.match(x)]
    if bad:
        problems.append(f"links non-system libraries: {bad}")
    return f"Mach-O {arch}, minos {minos}"


# Windows' own DLLs and API sets: what a DLL may import (and what else each artefact allows).
WINDOWS_DLLS = r"kernel32|ntdll|bcryptprimitives|advapi32|ws2_32|userenv|api-ms-win-.*"


def pe_imports(path: Path, also: str = "") -> tuple[set[str], list[str]]:
    """The DLLs a PE file imports, and those that are neither Windows' own nor matched by `also`."""
    imports = set(re.findall(r"Name: (\S+\.dll)", run("llvm-readobj", "--coff-imports", path), re.I))
    allowed = re.compile(rf"(?i)^({WINDOWS_DLLS}{'|' + also if also else ''})\.dll$")
    return imports, sorted(i for i in imports if not allowed.match(i))


def check_wheel(whl: Path) -> None:
    problems: list[str] = []
    m = re.match(r"^k8sretry-[^-]+-cp310-abi3-(?P<plat>[^-]+)\.whl$", whl.name)
    if not m:
        ok(whl.name, [f"not an abi3 cp310 wheel name: {whl.name}"])
        return
    plats = m["plat"].split(".")
    with zipfile.ZipFile(whl) as z, tempfile.TemporaryDirectory() as tmp:
        natives = [n for n in z.namelist() if re.match(r"k8sretry/_native\.(abi3\.so|pyd)$", n)]
        if len(natives) != 1:
            ok(whl.name, [f"native modules in the wheel: {natives}"])
            return
        z.extract(natives[0], tmp)
        so = Path(tmp) / natives[0]
        plat = plats[-1]
        if plat.startswith(("manylinux", "musllinux")):
            arch = re.sub(r"^(many|musl)linux_?\d*(_\d+)?_", "", plat)
            linux_elf(so, arch, problems)
            show = run(TOOLS / "auditwheel", "show", whl)
            want = re.search(r'consistent\s+with\s+the\s+following\s+platform\s+tag:\s*"([^"]+)"', show)
            got = want.group(1) if want else "?"
            # The wheel's most specific tag (manylinux_2_17_x86_64 / musllinux_1_2_aarch64) is auditwheel's.
            if got not in plats:
                problems.append(f"auditwheel says {got}, the wheel is tagged {m['plat']}")
            if "PyInit__native" not in exported(so, "elf"):
                problems.append("PyInit__native is not exported")
            if plat.startswith("musllinux") and glibc_max(so):
                problems.append("a musllinux module references glibc symbols")
            detail = f"auditwheel: {got}"
        elif plat.startswith("macosx"):
            mm = re.match(r"macosx_(\d+)_(\d+)_(\w+)$", plat)
            assert mm
            out = run("file", so)
            if "Mach-O 64-bit" not in out or MACHO_ARCH[mm[3]] not in out:
                problems.append(f"not a Mach-O for {mm[3]}: {out.strip()}")
            minos, libs = macho_info(so)
            if minos != f"{mm[1]}.{mm[2]}":
                problems.append(f"minimum macOS {minos}, tag says {mm[1]}.{mm[2]}")
            bad = [lib for lib in libs if not SYSTEM_DYLIBS.match(lib)]
            if bad:
                problems.append(f"links non-system libraries: {bad}")
            if "PyInit__native" not in exported(so, "macho"):
                problems.append("PyInit__native is not exported")
            detail = f"Mach-O {mm[3]}, minos {minos}, libraries: {', '.join(libs[1:])}"
        elif plat.startswith("win"):
            out = run("file", so)
            if "PE32+" not in out or "x86-64" not in out:
                problems.append(f"not a PE32+ x86-64 DLL: {out.strip()}")
            if "PyInit__native" not in exported(so, "pe"):
                problems.append("PyInit__native is not exported")
            # abi3: the stable ABI's python3.dll, never python3X.dll; else Windows' own DLLs
            # (msvcrt.dll: MinGW-w64's C runtime, which no object crosses to Python's).
            imports, foreign = pe_imports(so, also=r"msvcrt|python3")
            if "python3.dll" not in imports:
                problems.append(f"does not import python3.dll (abi3): {sorted(imports)}")
            if foreign:
                problems.append(f"imports DLLs Windows does not have: {foreign}")
            detail = f"PE32+ x86-64, imports python3.dll + {len(imports) - 1} system DLLs"
        else:
            problems.append(f"unknown platform tag {plat}")
            detail = ""
    twine = subprocess.run([TOOLS / "twine", "check", "--strict", whl], capture_output=True, text=True)
    if twine.returncode != 0:
        problems.append("twine check: " + (twine.stdout + twine.stderr).strip())
    ok(f"{whl.name}: {detail}; twine check", problems)


def check_sdist(sdist: Path) -> None:
    twine = subprocess.run([TOOLS / "twine", "check", "--strict", sdist], capture_output=True, text=True)
    ok(f"{sdist.name}: twine check", [] if twine.returncode == 0 else [(twine.stdout + twine.stderr).strip()])


def check_tarball(tgz: Path) -> None:
    problems: list[str] = []
    name = tgz.name.removesuffix(".tar.gz")
    platform = name.split("-", 2)[2]
    os_, arch = platform.split("-")[:2]
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(tgz) as t:
        t.extractall(tmp, filter="tar")
        top = Path(tmp) / name
        lib = top / "lib"
        shared = {
            "linux": lib / "libk8sretry.so",
            "macos": lib / "libk8sretry.dylib",
            "windows": top / "bin/k8sretry.dll",
        }[os_]
        for need in (top / "include/k8sretry.h", lib / "libk8sretry.a", lib / "pkgconfig/k8sretry.pc", top / "README.md", shared):
            if not need.exists():
                problems.append(f"missing {need.relative_to(tmp)}")
        if problems:
            ok(tgz.name, problems)
            return
        if (top / "include/k8sretry.h").read_bytes() != HEADER:
            problems.append("include/k8sretry.h differs from the repository's")
        pc = (lib / "pkgconfig/k8sretry.pc").read_text()
        if "prefix=${pcfiledir}/../.." not in pc:
            problems.append("the .pc is not relocatable (prefix=${pcfiledir}/../..)")
        fmt = {"linux": "elf", "macos": "macho", "windows": "pe"}[os_]
        if fmt == "elf":
            dyn = run("readelf", "-d", shared)
            if "Library soname: [libk8sretry.so.0]" not in dyn:
                problems.append("SONAME is not libk8sretry.so.0")
            detail = elf_libc(shared, arch, "musl" if platform.endswith("-musl") else "glibc", problems)
        elif fmt == "macho":
            detail = macho_checks(shared, arch, "@rpath/libk8sretry.0.dylib", problems)
        else:
            out = run("file", shared)
            if "PE32+" not in out or "x86-64" not in out:
                problems.append(f"not a PE32+ x86-64 DLL: {out.strip()}")
            if not (lib / "libk8sretry.dll.a").exists():
                problems.append("missing lib/libk8sretry.dll.a (import library)")
            detail = "PE32+ x86-64 DLL"
        missing = [f.decode() for f in FUNCTIONS if f.decode() not in exported(shared, fmt)]
        if missing:
            problems.append(f"not exported: {missing}")
        want = static_lib_arch(lib / "libk8sretry.a", fmt, arch, problems)
        detail += f", {len(FUNCTIONS)} functions exported, static library {want}"
    ok(f"{tgz.name}: {detail}", problems)


def static_lib_arch(path: Path, fmt: str, arch: str, problems: list[str]) -> str:
    """The static library's objects are for the CPU (one member is enough); returns the format's name."""
    # (Debian's llvm-objdump 14 stops at some members of a Mach-O archive: its exit code is not ours.)
    members = run("llvm-objdump", "-f", path, check=False)
    want = {"elf": {"x86_64": "elf64-x86-64", "aarch64": "elf64-littleaarch64"},
            "macho": {"x86_64": "mach-o 64-bit x86-64", "arm64": "mach-o arm64"},
            "pe": {"x86_64": "coff-x86-64"}}[fmt][arch]
    if want not in members.lower():
        problems.append(f"{path.name} has no {want} objects")
    return want


# The Go platforms of the module zip -> the libk8sretry tarball whose libk8sretry.a each carries,
# and that library's format and CPU.
GO_PLATFORMS = {
    "linux_amd64": ("linux-x86_64-gnu", "elf", "x86_64"),
    "linux_arm64": ("linux-aarch64-gnu", "elf", "aarch64"),
    "darwin_amd64": ("macos-x86_64", "macho", "x86_64"),
    "darwin_arm64": ("macos-arm64", "macho", "arm64"),
}


def go_h1(files: dict[str, bytes]) -> str:
    """golang.org/x/mod/sumdb/dirhash.Hash1: what go.sum records for these files (a zip's: named
    as in the zip, module@version/ prefix included; a go.mod's: "go.mod")."""
    lines = "".join(f"{hashlib.sha256(files[n]).hexdigest()}  {n}\n" for n in sorted(files))
    return "h1:" + base64.b64encode(hashlib.sha256(lines.encode()).digest()).decode()


def tracked(directory: str) -> list[str]:
    """The files git tracks under ROOT/directory (relative to it), without nested modules'."""
    names = run("git", "-C", ROOT, "ls-files", "-z", "--", directory).split("\0")
    rel = [n.removeprefix(directory + "/") for n in names if n]
    nested = {n.rsplit("/", 1)[0] + "/" for n in rel if n.endswith("/go.mod")}
    return sorted(n for n in rel if not any(n.startswith(d) for d in nested))


def check_go_module(path: str, directory: str, version: str, tarballs: list[Path]) -> None:
    """A module zip of dist/goproxy: exactly the tracked files of `directory` (the same bytes) plus,
    for k8sretry.dev/go, the header and the static library of each gnu/macOS tarball of dist/ (the
    same bytes, the right CPU); its h1: hash in <version>.ziphash and dist/goproxy/go.sum."""
    problems: list[str] = []
    at = DIST / "goproxy" / path / "@v"
    zpath = at / f"v{version}.zip"
    if not zpath.exists():
        ok(f"Go module {path}", [f"dist/ has no {zpath.relative_to(DIST)}"])
        return
    prefix = f"{path}@v{version}/"
    with zipfile.ZipFile(zpath) as z:
        names = z.namelist()
        outside = [n for n in names if not n.startswith(prefix)]
        files = {n.removeprefix(prefix): z.read(n) for n in names if n.startswith(prefix)}
    if outside:
        problems.append(f"entries outside {prefix}: {outside}")
    want = {n: (ROOT / directory / n).read_bytes() for n in tracked(directory)}
    libs: dict[str, Path] = {}
    if path == "k8sretry.dev/go":
        want["include/k8sretry.h"] = HEADER
        by_platform = {t.name.removesuffix(".tar.gz").split("-", 2)[2]: t for t in tarballs}
        for goplat, (platform, _, _) in GO_PLATFORMS.items():
            if platform in by_platform:
                libs[f"lib/{goplat}/libk8sretry.a"] = by_platform[platform]
    extra = sorted(set(files) - set(want) - set(libs))
    missing = sorted((set(want) | set(libs)) - set(files))
    if extra:
        problems.append(f"files that are neither tracked nor this run's libraries: {extra}")
    if missing:
        problems.append(f"missing: {missing}")
    changed = sorted(n for n in want if n in files and files[n] != want[n])
    if changed:
        problems.append(f"differ from the work tree: {changed}")
    for name, tgz in sorted(libs.items()):
        if name not in files:
            continue
        goplat = name.split("/")[1]
        _, fmt, arch = GO_PLATFORMS[goplat]
        with tarfile.open(tgz) as t:
            member = t.extractfile(f"{tgz.name.removesuffix('.tar.gz')}/lib/libk8sretry.a")
            if member is None or member.read() != files[name]:
                problems.append(f"{name} is not {tgz.name}'s lib/libk8sretry.a")
        with tempfile.TemporaryDirectory() as tmp:
            a = Path(tmp) / f"{goplat}-libk8sretry.a"
            a.write_bytes(files[name])
            static_lib_arch(a, fmt, arch, problems)
    h1 = go_h1({prefix + n: b for n, b in files.items()})
    mod_h1 = go_h1({"go.mod": (at / f"v{version}.mod").read_bytes()})
    ziphash = at / f"v{version}.ziphash"
    if not ziphash.exists() or ziphash.read_text().strip() != h1:
        problems.append(f"{ziphash.name} is not {h1}")
    gosum = DIST / "goproxy/go.sum"
    lines = gosum.read_text().splitlines() if gosum.exists() else []
    for line in (f"{path} v{version} {h1}", f"{path} v{version}/go.mod {mod_h1}"):
        if line not in lines:
            problems.append(f"dist/goproxy/go.sum lacks {line!r}")
    if files.get("go.mod") != (at / f"v{version}.mod").read_bytes():
        problems.append(f"v{version}.mod differs from the zip's go.mod")
    platforms = ", ".join(n.split("/")[1] for n in sorted(libs))
    libraries = f"; libraries {platforms}, the tarballs' own" if libs else ""
    ok(f"Go module {path}@v{version}: {len(files)} files, the tracked ones{libraries}; {h1}", problems)


# napi-rs tag -> (format, CPU as check_tarball names it, os, cpu, libc)
NPM_TAGS = {
    "linux-x64-gnu": ("elf", "x86_64", "linux", "x64", "glibc"),
    "linux-arm64-gnu": ("elf", "aarch64", "linux", "arm64", "glibc"),
    "linux-x64-musl": ("elf", "x86_64", "linux", "x64", "musl"),
    "linux-arm64-musl": ("elf", "aarch64", "linux", "arm64", "musl"),
    "darwin-x64": ("macho", "x86_64", "darwin", "x64", None),
    "darwin-arm64": ("macho", "arm64", "darwin", "arm64", None),
    "win32-x64-gnu": ("pe", "x86_64", "win32", "x64", None),
}


def npm_publish_dry_run(tgz: Path, problems: list[str]) -> None:
    r = subprocess.run(["npm", "publish", "--dry-run", "--loglevel=warn", tgz], capture_output=True, text=True, cwd=tempfile.gettempdir())
    warnings = [line for line in (r.stdout + r.stderr).splitlines()
                if re.match(r"npm (warn|error)", line) and "requires you to be logged in" not in line]
    if r.returncode != 0 or warnings:
        problems.append(f"npm publish --dry-run: exit {r.returncode}: " + "; ".join(warnings or [(r.stdout + r.stderr).strip()[-400:]]))


def node_addon(path: Path, fmt: str, arch: str, libc: str | None, problems: list[str]) -> str:
    if fmt == "elf":
        detail = elf_libc(path, arch, libc or "glibc", problems)
    elif fmt == "macho":
        detail = macho_checks(path, arch, f"@rpath/{path.name}", problems)
    else:
        out = run("file", path)
        if "PE32+" not in out or "x86-64" not in out or "DLL" not in out:
            problems.append(f"not a PE32+ x86-64 DLL: {out.strip()}")
        imports, foreign = pe_imports(path)
        if foreign:
            problems.append(f"imports non-system DLLs (Node-API must come from node.exe at load time): {foreign}")
        detail = f"PE32+ x86-64 DLL importing {len(imports)} system DLLs"
    if "napi_register_module_v1" not in exported(path, fmt):
        problems.append("napi_register_module_v1 is not exported")
    return detail


def check_npm(tgz: Path, version: str, platform_tgzs: dict[str, Path]) -> None:
    problems: list[str] = []
    tag = tgz.name.removeprefix("k8sretry-").removesuffix(f"-{version}.tgz")
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(tgz) as t:
        t.extractall(tmp, filter="tar")
        top = Path(tmp) / "package"
        pkg = json.loads((top / "package.json").read_text())
        if pkg.get("version") != version:
            problems.append(f"version {pkg.get('version')}, want {version}")
        if not (top / "README.md").exists():
            problems.append("missing README.md")
        if tgz.name == f"k8sretry-{version}.tgz":
            want = {f"k8sretry-{t}": version for t in platform_tgzs}
            if pkg.get("name") != "k8sretry" or pkg.get("optionalDependencies", {}) != want:
                problems.append(f"optionalDependencies {pkg.get('optionalDependencies')}, want {want}")
            for need in ("dist/cjs/index.js", "dist/cjs/native.js", "dist/esm/index.mjs", "dist/cjs/index.d.ts", "bin/k8sretry-native.js"):
                if not (top / need).exists():
                    problems.append(f"missing {need}")
            natives = sorted(p.name for p in (top / "native").glob("*.node")) if (top / "native").exists() else []
            linux = sorted(t for t in platform_tgzs if t.startswith("linux-"))
            want_natives = sorted(f"k8sretry.{t}.node" for t in linux)
            if natives != want_natives:
                problems.append(f"native/ holds {natives}, want {want_natives}")
            else:
                for t in linux:
                    with tarfile.open(platform_tgzs[t]) as p:
                        member = p.extractfile(f"package/k8sretry.{t}.node")
                        if member is None or member.read() != (top / "native" / f"k8sretry.{t}.node").read_bytes():
                            problems.append(f"native/k8sretry.{t}.node differs from k8sretry-{t}'s")
            detail = f"optional dependencies {', '.join(sorted(want)) or 'none'}; native/ {', '.join(natives) or 'empty'}"
        elif tag in NPM_TAGS:
            fmt, arch, os_, cpu, libc = NPM_TAGS[tag]
            node = f"k8sretry.{tag}.node"
            want_pkg = {"name": f"k8sretry-{tag}", "main": node, "os": [os_], "cpu": [cpu]}
            if libc:
                want_pkg["libc"] = [libc]
            for k, v in want_pkg.items():
                if pkg.get(k) != v:
                    problems.append(f"package.json {k} = {pkg.get(k)!r}, want {v!r}")
            if not libc and "libc" in pkg:
                problems.append("package.json has libc on a non-Linux platform")
            extra = sorted(str(p.relative_to(top)) for p in top.rglob("*") if p.is_file())
            if extra != sorted([node, "README.md", "package.json"]):
                problems.append(f"files {extra}")
            if not (top / node).exists():
                ok(tgz.name, problems + [f"missing {node}"])
                return
            detail = node_addon(top / node, fmt, arch, libc, problems)
            detail = f"{os_}/{cpu}/{libc or '-'}, {detail}, napi_register_module_v1"
        else:
            ok(tgz.name, [f"unknown npm package (tag {tag})"])
            return
    npm_publish_dry_run(tgz, problems)
    ok(f"{tgz.name}: {detail}, npm publish --dry-run", problems)


def main() -> int:
    wheels = sorted(DIST.glob("*.whl"))
    tarballs = sorted(DIST.glob("libk8sretry-*.tar.gz"))
    if not wheels or not tarballs:
        print(f"dist/ has no wheels or libk8sretry tarballs: {DIST}")
        return 1
    for whl in wheels:
        check_wheel(whl)
    for sdist in sorted(DIST.glob("k8sretry-*.tar.gz")):
        if not sdist.name.startswith("k8sretry-go-"):
            check_sdist(sdist)
    for tgz in tarballs:
        check_tarball(tgz)
    version = (ROOT / "Cargo.toml").read_text().split('version = "', 1)[1].split('"', 1)[0]
    npm_main = DIST / f"k8sretry-{version}.tgz"
    platform_tgzs = {p.name.removeprefix("k8sretry-").removesuffix(f"-{version}.tgz"): p
                     for p in sorted(DIST.glob(f"k8sretry-*-{version}.tgz"))}
    if not npm_main.exists():
        ok("npm: k8sretry", [f"dist/ has no {npm_main.name}"])
    else:
        for tgz in [*platform_tgzs.values(), npm_main]:
            check_npm(tgz, version, platform_tgzs)
    check_go_module("k8sretry.dev/go", "bindings-go", version, tarballs)
    check_go_module("k8sretry.dev/go/prometheus", "bindings-go/prometheus", version, tarballs)
    for crate in sorted(DIST.glob("*.crate")):
        stem = crate.name.removesuffix(".crate")
        with tarfile.open(crate) as t:
            names = set(t.getnames())
        need = [f"{stem}/{f}" for f in ("Cargo.toml", "README.md", "src/lib.rs")]
        ok(f"{crate.name}: {len(names)} files", [f"missing {n}" for n in need if n not in names])
    manifest = DIST / "manifest.json"
    if manifest.exists():
        r = subprocess.run([sys.executable, ROOT / "tools/dist/manifest.py", DIST, "--check"], capture_output=True, text=True)
        files = len(json.loads(manifest.read_text())["files"])
        ok(f"manifest.json: {files} files, sizes and SHA-256 match", [] if r.returncode == 0 else [r.stderr.strip()])
    print(f"dist: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
