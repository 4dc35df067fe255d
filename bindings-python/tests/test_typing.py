"""Types users see: `wrap_client(api: T) -> T` under `mypy --strict` (the client's own class, each
method's signature, a misspelt method rejected), and methods that keep their signature, return
annotation and docstring at run time (what `watch.Watch().stream` reads to build models)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from k8sretry import wrap_client
from kubernetes import client, watch

SCRIPT = Path(__file__).parent / "typing" / "wrap_client_types.py"


def test_mypy_strict_sees_the_client_class_and_rejects_a_misspelt_method(tmp_path: Path) -> None:
    from mypy import api

    out, err, status = api.run(["--strict", "--cache-dir", str(tmp_path / "cache"), str(SCRIPT)])
    lines = out.splitlines()
    assert status == 1, out + err
    assert any('Revealed type is "kubernetes.client.api.core_v1_api.CoreV1Api"' in line for line in lines), (
        out
    )
    assert any(
        'Revealed type is "def (name: str, namespace: str,' in line
        and line.endswith('-> kubernetes.client.models.v1_config_map.V1ConfigMap"')
        for line in lines
    ), out
    assert any('"CoreV1Api" has no attribute "read_namespaced_config_mapp"' in line for line in lines), out
    assert any(line.endswith('Revealed type is "int"') for line in lines), out
    assert any(line.endswith('Revealed type is "str"') for line in lines), out
    assert out.rstrip().endswith("Found 1 error in 1 file (checked 1 source file)"), out


def test_mypy_strict_sees_client_go_and_lightkube_types(tmp_path: Path) -> None:
    from mypy import api

    script = Path(__file__).parent / "typing" / "client_go_types.py"
    out, err, status = api.run(["--strict", "--cache-dir", str(tmp_path / "cache"), str(script)])
    revealed = [line.split("Revealed type is ", 1)[1] for line in out.splitlines() if "Revealed type" in line]
    assert revealed == ['"int"', '"str"', '"float"', '"bool"', '"lightkube.core.client.Client"'], out + err
    assert status == 0 and "Success: no issues found" in out, out


def test_methods_keep_signature_annotations_and_docstring(core: Any) -> None:
    api = wrap_client(core)
    method = api.read_namespaced_config_map
    assert inspect.signature(method) == inspect.signature(core.read_namespaced_config_map)
    assert inspect.signature(method).return_annotation is client.V1ConfigMap
    assert method.__doc__ == core.read_namespaced_config_map.__doc__
    assert method.__name__ == "read_namespaced_config_map"
    assert isinstance(api, client.CoreV1Api)


def test_watch_finds_the_model_type_of_a_wrapped_list(core: Any) -> None:
    """What `watch.Watch().stream(wrapped.list_...)` deserializes events into (a real stream: e2e)."""
    api = wrap_client(core)
    stream = watch.Watch()
    assert stream.get_return_type(api.list_namespaced_config_map) is client.V1ConfigMap
    assert stream.get_return_type(core.list_namespaced_config_map) is client.V1ConfigMap
