"""`make test-readme`: the top README stays a front door whose examples are the ones `make test` runs.

- README.md has at most 150 lines.
- Its code blocks are `sh` (commands) or one example per language, each tied to what runs it:
  `rust`: a ```rust block of core/README.md, where it is a doctest (`make test-core`);
  `c` / `go`: a verbatim run of lines (indentation aside) of examples/c/retry.c (built and run by
  `make test-c` and `make test-dist`) / examples/go/readme/main.go (built and run by `make test-dist`);
  `python` / `js`: run as they are by tests/dist/install.sh (`make test-dist`, the first block of
  each language); here they must compile (`compile`, `node --check`).
- Every relative link of README.md and of the files that hold what it links to (LINKED_DOCS) names
  a file that exists and, for a Markdown file, a heading that exists (GitHub's anchors).
- `make help` has one line `make <target> - ...` for every .PHONY target of the Makefile and mk/*.mk,
  and no line for a target that does not exist.

Exit status 1 with one line per problem.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 150
EXAMPLE_FILES = {"c": "examples/c/retry.c", "go": "examples/go/readme/main.go"}
LINKED_DOCS = [
    "README.md",
    "docs/fleet.md",
    "docs/design.md",
    "examples/README.md",
    "bench/README.md",
    "tests/dist/README.md",
]


def code_blocks(text: str) -> list[tuple[str, list[str]]]:
    """(language, lines) of every fenced block, in order."""
    blocks: list[tuple[str, list[str]]] = []
    current: tuple[str, list[str]] | None = None
    for line in text.splitlines():
        if current is None:
            if line.startswith("```"):
                current = (line[3:].strip(), [])
        elif line.startswith("```"):
            blocks.append(current)
            current = None
        else:
            current[1].append(line)
    if current is not None:
        blocks.append(current)
    return blocks


def dedent(lines: list[str]) -> list[str]:
    """The lines without the indentation they share (tabs and spaces as they are)."""
    body = [line for line in lines if line.strip()]
    if not body:
        return lines
    prefix = body[0][: len(body[0]) - len(body[0].lstrip())]
    for line in body[1:]:
        while not line.startswith(prefix):
            prefix = prefix[:-1]
    return [line[len(prefix) :] if line.strip() else "" for line in lines]


def is_verbatim_part(block: list[str], program: list[str]) -> bool:
    """The block is a run of consecutive lines of the program, both dedented alike."""
    want = dedent(block)
    n = len(want)
    return any(dedent(program[i : i + n]) == want for i in range(len(program) - n + 1))


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[`*_]|\[|\]\([^)]*\)", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    in_code = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and re.match(r"#{1,6} ", line):
            found.add(slug(line.lstrip("#")))
    return found


def check_examples(readme: str, problems: list[str]) -> None:
    blocks = code_blocks(readme)
    crate_readme = (ROOT / "core/README.md").read_text()
    crate_blocks = [body for lang, body in code_blocks(crate_readme) if lang == "rust"]
    seen: dict[str, int] = {}
    for lang, body in blocks:
        seen[lang] = seen.get(lang, 0) + 1
        if lang == "sh":
            continue
        if lang not in ("rust", "c", "go", "python", "js"):
            problems.append(f"README.md: a ```{lang} block, which no test runs")
        elif seen[lang] > 1:
            problems.append(f"README.md: a second ```{lang} block (make test-dist runs only the first)")
        elif lang == "rust":
            strip = [line.rstrip() for line in body]
            if strip not in [[line.rstrip() for line in b] for b in crate_blocks]:
                problems.append("README.md: the ```rust block is not one of core/README.md's (its doctests)")
        elif lang in EXAMPLE_FILES:
            program = (ROOT / EXAMPLE_FILES[lang]).read_text().splitlines()
            if not is_verbatim_part(body, program):
                file = EXAMPLE_FILES[lang]
                problems.append(f"README.md: the ```{lang} block is not a verbatim part of {file}")
        elif lang == "python":
            try:
                compile("\n".join(body) + "\n", "README.md python block", "exec")
            except SyntaxError as e:
                problems.append(f"README.md: the ```python block does not compile: {e}")
        elif lang == "js":
            check_js(body, problems)
    for lang in ("rust", "c", "go", "python", "js"):
        if lang not in seen:
            problems.append(f"README.md: no ```{lang} example")


def check_js(body: list[str], problems: list[str]) -> None:
    node = shutil.which("node")
    if node is None:
        problems.append("node not found: cannot check the ```js block")
        return
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "readme.mjs"
        script.write_text("\n".join(body) + "\n")
        out = subprocess.run([node, "--check", str(script)], capture_output=True, text=True)
        if out.returncode != 0:
            problems.append(f"README.md: the ```js block does not parse: {out.stderr.strip()}")


def check_links(problems: list[str]) -> None:
    for name in LINKED_DOCS:
        doc = ROOT / name
        text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = (doc.parent / path).resolve() if path else doc
            if not file.exists():
                problems.append(f"{name}: link to {target}: no such file")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file):
                problems.append(f"{name}: link to {target}: no heading #{anchor} in {file.relative_to(ROOT)}")


def phony_targets() -> set[str]:
    targets: set[str] = set()
    for mk in [ROOT / "Makefile", *sorted((ROOT / "mk").glob("*.mk"))]:
        for line in mk.read_text().splitlines():
            if line.startswith(".PHONY:"):
                targets.update(line.split(":", 1)[1].split())
    return targets


def check_help(problems: list[str]) -> None:
    make = ["make", "-s", "--no-print-directory", "help"]
    out = subprocess.run(make, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        problems.append(f"make help failed: {out.stderr.strip()}")
        return
    listed: dict[str, int] = {}
    for line in out.stdout.splitlines():
        m = re.match(r"make (\S+) +- \S", line)
        if m:
            listed[m.group(1)] = listed.get(m.group(1), 0) + 1
    phony = phony_targets()
    for target in sorted(phony - set(listed)):
        problems.append(f"make help: no line for target {target}")
    for target in sorted(set(listed) - phony):
        problems.append(f"make help: a line for {target}, which is not a .PHONY target")
    for target, count in sorted(listed.items()):
        if count > 1:
            problems.append(f"make help: {count} lines for {target}")


def main() -> int:
    readme = (ROOT / "README.md").read_text()
    problems: list[str] = []
    lines = len(readme.splitlines())
    if lines > MAX_LINES:
        problems.append(f"README.md: {lines} lines, more than {MAX_LINES}")
    check_examples(readme, problems)
    check_links(problems)
    check_help(problems)
    for problem in problems:
        print(f"test-readme: {problem}")
    if problems:
        return 1
    print(f"test-readme: README.md {lines} lines; examples, links and make help checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
