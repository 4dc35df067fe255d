"""What PyPI and pip see of the package: its metadata (as installed from the wheel) and the source
distribution `make test-python` builds beside the wheel (`K8SRETRY_WHEELS`)."""

from __future__ import annotations

import os
import tarfile
from email.message import Message
from importlib import metadata
from pathlib import Path

import pytest

REPOSITORY = "https://example.invalid/k8sretry"  # the workspace Cargo.toml's


def wheel_metadata() -> Message:
    return metadata.distribution("k8sretry").metadata  # type: ignore[return-value]


def test_metadata_has_urls_license_and_classifiers() -> None:
    meta = wheel_metadata()
    urls = dict(value.split(", ", 1) for value in meta.get_all("Project-URL") or [])
    assert urls["Source"] == REPOSITORY and urls["Homepage"] == REPOSITORY
    assert all(url.startswith(REPOSITORY) for url in urls.values()), urls
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    license_text = metadata.distribution("k8sretry").read_text("licenses/LICENSE")
    assert license_text is not None and "Apache License" in license_text
    classifiers = set(meta.get_all("Classifier") or [])
    for expected in (
        "Development Status :: 4 - Beta",
        "Operating System :: POSIX :: Linux",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.13",
        "Typing :: Typed",
    ):
        assert expected in classifiers
    assert meta["Requires-Python"] == ">=3.10"
    description = meta.get_payload()  # type: ignore[no-untyped-call]
    assert isinstance(description, str)
    assert "pip install k8sretry\n" in description
    assert "k8sretry-0.1.0-cp310" not in description, "PyPI readers install by name, not a wheel path"


def test_the_sdist_holds_what_a_build_needs() -> None:
    wheels = os.environ.get("K8SRETRY_WHEELS")
    if not wheels:
        pytest.skip("K8SRETRY_WHEELS not set (make test-python sets it)")
    (sdist,) = Path(wheels).glob("k8sretry-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = set(tar.getnames())
        root = f"k8sretry-{metadata.version('k8sretry')}"
        for needed in (
            "pyproject.toml",
            "Cargo.toml",
            "Cargo.lock",
            "LICENSE",
            "README.md",
            "bindings-python/Cargo.toml",
            "bindings-python/src/lib.rs",
            "core/Cargo.toml",
            "core/src/lib.rs",
            "python/k8sretry/__init__.py",
            "python/k8sretry/_native.pyi",
            "python/k8sretry/py.typed",
            "python/k8sretry/prometheus.py",
            "python/k8sretry/kopf.py",
        ):
            assert f"{root}/{needed}" in names, needed
        info = tar.extractfile(f"{root}/PKG-INFO")
        assert info is not None
        pkg_info = info.read().decode()
    assert "License-Expression: Apache-2.0" in pkg_info
    assert f"Project-URL: Source, {REPOSITORY}" in pkg_info
