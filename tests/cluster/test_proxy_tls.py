"""The fault proxy verifies the server it forwards to, and its clients verify the proxy.

A TLS server with a certificate of CA "a" stands in for the apiserver; mitm.sh (what proxy.sh runs)
is started in front of it with the CA it is told to trust. A request carrying a bearer token through
the proxy reaches the server only when that CA is "a": with CA "b", or with the system's trust store,
the proxy answers 502 and the token never leaves it. Only K8SRETRY_PROXY_INSECURE_UPSTREAM=1 skips
the check, with a warning. The client side verifies the proxy's certificate (IP SAN 127.0.0.1)
against mitmproxy's CA file in the proxy's confdir.

Needs openssl and mitmproxy (mitm.sh installs it once); no apiserver. Run by `make test-cluster`.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import stat
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TOKEN = "Bearer not-for-impostors"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two unrelated throw-away CAs, each with a serving certificate for 127.0.0.1."""
    dirs = {name: tmp_path_factory.mktemp(f"ca-{name}") for name in ("a", "b")}
    for name, path in dirs.items():
        subprocess.run([str(HERE / "certs.sh"), str(path), f"test-{name}"], check=True)
    return dirs


class Upstream:
    """An HTTPS server with a certificate of `certs` that records the Authorization headers it receives
    and answers /readyz "ok" to anyone, as an apiserver does (test_local_only.py's user cluster)."""

    def __init__(self, certs: Path) -> None:
        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.headers.get("Authorization"))
                body = (
                    b"ok" if self.path.startswith("/readyz") else b'{"kind": "Status", "status": "Success"}'
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs / "server.crt", certs / "server.key")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.ca = certs / "ca.crt"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def upstream(pki: dict[str, Path]) -> Iterator[Upstream]:
    server = Upstream(pki["a"])
    yield server
    server.server.shutdown()


class Proxy:
    def __init__(self, port: int, state: Path, stderr: str) -> None:
        self.port, self.state, self.stderr = port, state, stderr
        self.ca = state / "mitm" / "mitmproxy-ca-cert.pem"

    def get(self, path: str = "/api/v1/namespaces", headers: dict[str, str] | None = None) -> tuple[int, str]:
        """A GET through the proxy, the proxy's certificate verified against mitmproxy's CA."""
        context = ssl.create_default_context(cafile=self.ca)
        request = urllib.request.Request(f"https://127.0.0.1:{self.port}{path}", headers=headers or {})
        request.add_header("Authorization", TOKEN)
        try:
            with urllib.request.urlopen(request, context=context, timeout=20) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


StartProxy = Callable[..., Proxy]


@pytest.fixture
def start_proxy(tmp_path: Path) -> Iterator[StartProxy]:
    """Starts mitm.sh in front of `upstream` trusting `ca` ("" = system store); stops it after."""
    started: list[Path] = []

    def start(upstream: str, ca: str, insecure: bool = False) -> Proxy:
        state = tmp_path / f"proxy-{len(started)}"
        env = {k: v for k, v in os.environ.items() if k != "K8SRETRY_PROXY_INSECURE_UPSTREAM"}
        if insecure:
            env["K8SRETRY_PROXY_INSECURE_UPSTREAM"] = "1"
        started.append(state)
        done = subprocess.run(
            [str(HERE / "mitm.sh"), upstream, ca, str(state)], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return Proxy(int(done.stdout.split()[-1]), state, done.stderr)

    yield start
    for state in started:
        pidfile = state / "proxy.pid"
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGTERM)
            except ProcessLookupError:
                pass


def test_the_right_ca_lets_the_request_through(
    upstream: Upstream, pki: dict[str, Path], start_proxy: StartProxy
) -> None:
    proxy = start_proxy(upstream.url, str(pki["a"] / "ca.crt"))
    before = len(upstream.seen)
    status, body = proxy.get()
    assert status == 200, body
    assert '"Success"' in body
    assert upstream.seen[before:] == [TOKEN]


def test_a_server_the_ca_did_not_sign_gets_no_request(
    upstream: Upstream, pki: dict[str, Path], start_proxy: StartProxy
) -> None:
    # The proxy trusts CA b; the server's certificate is CA a's: as good as an impostor's.
    proxy = start_proxy(upstream.url, str(pki["b"] / "ca.crt"))
    before = len(upstream.seen)
    status, body = proxy.get()
    assert status == 502, body
    assert "Certificate verify failed" in body
    assert upstream.seen[before:] == [], "the token reached a server the proxy could not verify"


def test_without_a_ca_the_system_store_decides(upstream: Upstream, start_proxy: StartProxy) -> None:
    proxy = start_proxy(upstream.url, "")
    before = len(upstream.seen)
    status, body = proxy.get()
    assert status == 502, body
    assert "Certificate verify failed" in body
    assert upstream.seen[before:] == []


def test_skipping_verification_is_an_opt_in_with_a_warning(
    upstream: Upstream, pki: dict[str, Path], start_proxy: StartProxy
) -> None:
    proxy = start_proxy(upstream.url, str(pki["b"] / "ca.crt"), insecure=True)
    assert "WARNING" in proxy.stderr and "does NOT verify" in proxy.stderr
    status, _ = proxy.get()
    assert status == 200


def test_the_proxy_certificate_names_127_0_0_1(
    upstream: Upstream, pki: dict[str, Path], start_proxy: StartProxy
) -> None:
    """Clients that connect by IP (rustls in kube-rs, Go) need an IP SAN, not a CN."""
    proxy = start_proxy(upstream.url, str(pki["a"] / "ca.crt"))
    context = ssl.create_default_context(cafile=proxy.ca)
    raw = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert ("IP Address", "127.0.0.1") in tls.getpeercert()["subjectAltName"]
    # And a CA that is not mitmproxy's does not verify it.
    wrong = ssl.create_default_context(cafile=pki["a"] / "ca.crt")
    raw = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError), raw:
        wrong.wrap_socket(raw, server_hostname="127.0.0.1")


def test_the_confdir_is_private(upstream: Upstream, pki: dict[str, Path], start_proxy: StartProxy) -> None:
    proxy = start_proxy(upstream.url, str(pki["a"] / "ca.crt"))
    assert stat.S_IMODE(proxy.state.stat().st_mode) == 0o700
    assert stat.S_IMODE((proxy.state / "mitm").stat().st_mode) == 0o700
    files = list((proxy.state / "mitm").iterdir())
    assert any(f.name == "mitmproxy-ca.pem" for f in files)  # the CA's private key
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: 0o600 for f in files}


def test_the_control_endpoints_need_the_token(
    upstream: Upstream, pki: dict[str, Path], start_proxy: StartProxy
) -> None:
    """Another local user reaches the port too: without DIR/proxy-token's token, no plan, no log."""
    proxy = start_proxy(upstream.url, str(pki["a"] / "ca.crt"))
    token = (proxy.state / "proxy-token").read_text().strip()
    assert stat.S_IMODE((proxy.state / "proxy-token").stat().st_mode) == 0o600
    before = len(upstream.seen)
    for headers in ({}, {"X-K8sretry-Control-Token": "guess"}, {"X-K8sretry-Control-Token": ""}):
        for path in ("/__k8sretry/stats", "/__k8sretry/log", "/__k8sretry/plan"):
            status, _ = proxy.get(path, headers)
            assert status == 403, (path, headers)
    status, body = proxy.get("/__k8sretry/stats", {"X-K8sretry-Control-Token": token})
    assert status == 200 and '"requests"' in body
    assert upstream.seen[before:] == []  # control requests are never forwarded
