"""`make demo` with $KUBECONFIG set: nothing is touched without consent, and what it writes is private.

Runs examples/demo.py's functions with a fake kubeconfig whose server is https://127.0.0.1:1: with
neither K8SRETRY_DEMO_YES=1 nor a typed "yes" it refuses without opening a socket, starting a
process or writing a file. What it copies goes to .run-external, never the local cluster's .run; its
own client uses the context consented to even when the kubeconfig changed since, and only for the
server the proxy fronts. Needs the demo's imports (`kubernetes`, `yaml`: the py-test venv).
Run by `make test-cluster`.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import shlex
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("k8sretry_demo", ROOT / "examples" / "demo.py")
assert spec is not None and spec.loader is not None
demo = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = demo  # dataclasses look their module up there
spec.loader.exec_module(demo)

CA_PEM = b"-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n"


def kubeconfig(path: Path, cluster: str, user: str = "{token: secret-token}") -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: real, cluster: {cluster}}}]\n"
        f"users: [{{name: me, user: {user}}}]\n"
        "contexts: [{name: prod-admin, context: {cluster: real, user: me}}]\n"
        "current-context: prod-admin\n"
    )
    return path


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo's .run-external (returned) and .run moved to tmp_path; sockets, processes and the
    consent variables forbidden."""

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"the demo touched something: {args!r}")

    run = tmp_path / "run-external"
    monkeypatch.setattr(demo, "RUN_EXTERNAL", run)
    monkeypatch.setattr(demo, "RUN", tmp_path / "run")
    monkeypatch.setattr(socket.socket, "connect", forbidden)
    monkeypatch.setattr(socket, "create_connection", forbidden)
    monkeypatch.setattr(subprocess, "run", forbidden)
    monkeypatch.setattr(subprocess, "Popen", forbidden)
    monkeypatch.delenv("K8SRETRY_DEMO_YES", raising=False)
    monkeypatch.delenv("K8SRETRY_PROXY_INSECURE_UPSTREAM", raising=False)
    return run


def test_refuses_a_real_cluster_without_consent(
    tmp_path: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = kubeconfig(tmp_path / "config", '{server: "https://127.0.0.1:1"}')
    monkeypatch.setenv("KUBECONFIG", str(config))
    monkeypatch.setattr(sys, "stdin", io.StringIO("yes\n"))  # not a terminal: its "yes" does not count

    assert demo.main() == 2

    out = capsys.readouterr().out
    assert "server:  https://127.0.0.1:1" in out
    assert "context: prod-admin" in out
    assert "one namespace per language" in out and "deletes the namespaces at the end" in out
    assert "refusing" in out and "K8SRETRY_DEMO_YES=1" in out
    assert not isolated.exists()


def test_consent_is_yes_env_or_yes_typed_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = demo.read_external(str(kubeconfig(tmp_path / "config", '{server: "https://127.0.0.1:1"}')))
    assert demo.confirm_external(target, {"K8SRETRY_DEMO_YES": "1"}, io.StringIO())
    assert not demo.confirm_external(target, {"K8SRETRY_DEMO_YES": "yes please"}, io.StringIO())
    assert not demo.confirm_external(target, {}, io.StringIO("yes\n"))
    assert demo.confirm_external(target, {}, Tty("yes\n"))
    assert not demo.confirm_external(target, {}, Tty("y\n"))
    assert not demo.confirm_external(target, {}, Tty(""))


def test_refuses_to_drop_verification_silently(
    tmp_path: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A kubeconfig that skips verification gives the proxy nothing to verify: an explicit opt-in."""
    cluster = '{server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}'
    config = kubeconfig(tmp_path / "config", cluster)
    monkeypatch.setenv("KUBECONFIG", str(config))
    monkeypatch.setenv("K8SRETRY_DEMO_YES", "1")

    assert demo.main() == 2

    assert "K8SRETRY_PROXY_INSECURE_UPSTREAM=1" in capsys.readouterr().out
    assert not isolated.exists()


def test_client_certificates_are_refused_before_anything_is_copied(tmp_path: Path, isolated: Path) -> None:
    user = "{client-certificate-data: x, client-key-data: y}"
    config = kubeconfig(tmp_path / "config", '{server: "https://127.0.0.1:1"}', user)
    with pytest.raises(demo.Refused, match="client certificate"):
        demo.use_external(demo.read_external(str(config)), {})
    assert not isolated.exists()


@pytest.mark.parametrize("form", ["data", "file"])
def test_the_copy_for_the_proxy_is_private_with_its_ca(tmp_path: Path, isolated: Path, form: str) -> None:
    (tmp_path / "ca.pem").write_bytes(CA_PEM)
    ca = (
        f"certificate-authority-data: {base64.b64encode(CA_PEM).decode()}"
        if form == "data"
        else "certificate-authority: ca.pem"  # relative to the kubeconfig's directory
    )
    config = kubeconfig(tmp_path / "config", f'{{server: "https://127.0.0.1:1/", {ca}}}')
    isolated.mkdir(mode=0o755)  # an older, looser .run is tightened

    demo.use_external(demo.read_external(str(config)), {})

    assert stat.S_IMODE(isolated.stat().st_mode) == 0o700
    files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in isolated.iterdir()}
    assert files == {"kubeconfig": 0o600, "env": 0o600, "upstream-ca.crt": 0o600}
    assert (isolated / "upstream-ca.crt").read_bytes() == CA_PEM
    env = dict(word.split("=", 1) for word in shlex.split((isolated / "env").read_text()))
    ca_copy = str(isolated / "upstream-ca.crt")
    assert env == {"KUBECONFIG": str(config), "K8S_API": "https://127.0.0.1:1", "K8S_CA": ca_copy}
    copied = (isolated / "kubeconfig").read_text()
    assert "insecure-skip-tls-verify" not in copied
    assert f'"certificate-authority": "{isolated / "upstream-ca.crt"}"' in copied
    assert "secret-token" in copied  # the credentials the workloads need: why it is 0600


def test_no_ca_named_means_the_system_store(tmp_path: Path, isolated: Path) -> None:
    config = kubeconfig(tmp_path / "config", '{server: "https://127.0.0.1:1"}')
    demo.use_external(demo.read_external(str(config)), {})
    assert "K8S_CA=''\n" in (isolated / "env").read_text()
    assert not (isolated / "upstream-ca.crt").exists()
    assert not (isolated.parent / "run").exists()  # the local cluster's .run is not written


def test_the_demo_client_uses_the_context_consented_to(tmp_path: Path, isolated: Path) -> None:
    """A context switched (or the file rewritten) after consent is not what the demo writes to."""
    (tmp_path / "ca.pem").write_bytes(CA_PEM)
    config = kubeconfig(tmp_path / "config", '{server: "https://127.0.0.1:1", certificate-authority: ca.pem}')
    target = demo.read_external(str(config))
    # While proxy.sh starts (up to a minute), the user switches to another context.
    kubeconfig(tmp_path / "config", '{server: "https://10.0.0.9:6443"}', "{token: other-token}")

    direct = demo.direct_client(target, {"K8S_API": "https://127.0.0.1:1"})

    configuration = direct.api_client.configuration
    assert configuration.host == "https://127.0.0.1:1"
    assert configuration.api_key == {"BearerToken": "Bearer secret-token"}
    assert configuration.ssl_ca_cert == str(tmp_path / "ca.pem")
    # The proxy (.run-external/env) fronting another server than the one consented to: refused.
    with pytest.raises(demo.Refused, match="consented"):
        demo.direct_client(target, {"K8S_API": "https://10.0.0.9:6443"})
