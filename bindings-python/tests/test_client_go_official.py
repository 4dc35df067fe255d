"""The official client's own tests of its retry utilities, run against `k8sretry.client_go`.

`kubernetes/utils/retry_test.py` and `kubernetes/aio/utils/retry_test.py` are taken at test time
from the kubernetes 37.0.2 sdist on PyPI (pinned by its sha256; the same files as
kubernetes-client/python at commit 024658493d124f046fc0a9827a2a3165cf2aee28), changed only in their
import line (`kubernetes.utils.retry` -> `k8sretry.client_go`, `kubernetes.aio.utils.retry` ->
`k8sretry.client_go.aio`). The tests listed in `k8sretry.client_go.DIFFERS_ON_PURPOSE` are skipped
by name with the reason given there; every other test must pass. Their code is not committed here.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tarfile
import unittest
from pathlib import Path
from types import ModuleType

import pytest
from k8sretry.client_go import DIFFERS_ON_PURPOSE

SDIST = "kubernetes-37.0.2.tar.gz"
SDIST_SHA256 = "6967599ef976d0bb9c663c3621e690db0e26fbab7cf5c5e3ccf7e11b790d2de9"
FILES = {
    # file in the sdist -> (the import line, the line it becomes)
    "kubernetes-37.0.2/kubernetes/utils/retry_test.py": (
        "from kubernetes.utils.retry import (",
        "from k8sretry.client_go import (",
    ),
    "kubernetes-37.0.2/kubernetes/aio/utils/retry_test.py": (
        "from kubernetes.aio.utils.retry import (",
        "from k8sretry.client_go.aio import (",
    ),
}
OFFICIAL_TESTS = 34  # 28 sync + 6 asyncio


def _sdist() -> Path:
    """The pinned sdist, downloaded once into the user's cache by pip."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "k8sretry" / "sdist"
    path = cache / SDIST
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
        done = subprocess.run(
            [*command, "-d", str(cache), "kubernetes==37.0.2"], capture_output=True, text=True
        )
        if done.returncode != 0 or not path.exists():
            pytest.fail(f"could not download {SDIST} from PyPI: {done.stderr.strip()[-500:]}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == SDIST_SHA256, f"{path} is not the pinned sdist (sha256 {digest})"
    return path


def _official_modules(tmp: Path) -> list[ModuleType]:
    modules = []
    with tarfile.open(_sdist()) as sdist:
        for member, (line, replacement) in FILES.items():
            extracted = sdist.extractfile(member)
            assert extracted is not None, member
            source = extracted.read().decode()
            assert source.count(line + "\n") == 1, f"{member}: the import line is not there once"
            name = "official_" + member.replace("/", "_").removesuffix(".py").replace("-", "_").replace(
                ".", "_"
            )
            path = tmp / f"{name}.py"
            path.write_text(source.replace(line + "\n", replacement + "\n"))
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            modules.append(module)
    return modules


def test_the_official_retry_tests_pass_against_k8sretry_client_go(tmp_path: Path) -> None:
    suite = unittest.TestSuite()
    loader = unittest.TestLoader()
    skipped_by_name = set()
    for module in _official_modules(tmp_path):
        for case in loader.loadTestsFromModule(module):
            for test in case:  # type: ignore[attr-defined]
                name = test._testMethodName
                if name in DIFFERS_ON_PURPOSE:
                    method = getattr(type(test), name)
                    setattr(type(test), name, unittest.skip(DIFFERS_ON_PURPOSE[name])(method))
                    skipped_by_name.add(name)
                suite.addTest(test)
    result = unittest.TextTestRunner(stream=open(os.devnull, "w"), verbosity=0).run(suite)  # noqa: SIM115
    problems = [
        f"{test.id()}: {text.strip().splitlines()[-1]}" for test, text in result.failures + result.errors
    ]
    assert not problems, "\n".join(problems)
    assert result.testsRun == OFFICIAL_TESTS
    assert skipped_by_name == set(DIFFERS_ON_PURPOSE), "every listed difference names an official test"
    assert {reason for _, reason in result.skipped} == set(DIFFERS_ON_PURPOSE.values())
    print(
        f"official retry tests: {result.testsRun - len(result.skipped)} passed, {len(result.skipped)} skipped"
    )
