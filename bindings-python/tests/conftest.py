"""A small ConfigMap server on 127.0.0.1 with scripted faults, for the real Python clients.

Faults are consumed in order, one per request matching their method:
  ("503", retry_after) / ("429", retry_after): answer with a Kubernetes Status body
  "drop_before": close the connection without doing anything
  "drop_after": do the request (e.g. commit the create), then close without answering
  "504_after": do the request, then answer 504 (a gateway that timed out after the server acted)
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/configmaps(?:/([^/?]+))?(?:\?(.*))?$")


def status(code: int, reason: str, message: str, retry_after_seconds: int | None = None) -> bytes:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if retry_after_seconds is not None:
        body["details"] = {"retryAfterSeconds": retry_after_seconds}
    return json.dumps(body).encode()


class FakeApiServer:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.faults: list[tuple[str, Any]] = []  # (method, fault)
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def fault(self, method: str, *faults: Any) -> None:
        self.faults.extend((method, f) for f in faults)

    def _take_fault(self, method: str) -> Any:
        with self.lock:
            for i, (m, f) in enumerate(self.faults):
                if m == method:
                    del self.faults[i]
                    return f
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _drop(self) -> None:
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                self.close_connection = True
                self.connection.close()

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                fake.requests.append(f"{method} {self.path}")
                fault = fake._take_fault(method)
                if fault == "drop_before":
                    return self._drop()
                if isinstance(fault, tuple):
                    code, retry_after = fault
                    reason = {"503": "ServiceUnavailable", "429": "TooManyRequests", "504": "Timeout"}[code]
                    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
                    return self._send(int(code), status(int(code), reason, "injected"), headers)
                code, body = self._serve(method, raw)
                if fault == "drop_after":
                    return self._drop()
                if fault == "504_after":
                    return self._send(504, status(504, "Timeout", "gateway timeout after commit"))
                self._send(code, body)

            def _serve(self, method: str, raw: bytes) -> tuple[int, bytes]:
                m = PATH.match(self.path)
                if not m:
                    return 404, status(404, "NotFound", self.path)
                ns, name, query = m.group(1), m.group(2), m.group(3) or ""
                with fake.lock:
                    if method == "POST":
                        obj = json.loads(raw)
                        meta = obj.setdefault("metadata", {})
                        if not meta.get("name") and meta.get("generateName"):
                            meta["name"] = meta["generateName"] + str(len(fake.objects))
                        meta["namespace"] = ns
                        key = (ns, meta["name"])
                        if key in fake.objects:
                            return 409, status(
                                409, "AlreadyExists", f'configmaps "{meta["name"]}" already exists'
                            )
                        meta["uid"] = f"uid-{len(fake.objects)}"
                        obj.setdefault("kind", "ConfigMap")
                        obj.setdefault("apiVersion", "v1")
                        fake.objects[key] = obj
                        return 201, json.dumps(obj).encode()
                    if method == "GET" and name:
                        if (ns, name) not in fake.objects:
                            return 404, status(404, "NotFound", f'configmaps "{name}" not found')
                        return 200, json.dumps(fake.objects[(ns, name)]).encode()
                    if method == "GET":
                        selector = dict(
                            p.split("=", 1) for p in query.split("&") if p.startswith("labelSelector=")
                        )
                        wanted = selector.get("labelSelector", "")
                        from urllib.parse import unquote

                        key, _, value = unquote(wanted).partition("=")
                        items = [
                            o
                            for (n, _), o in fake.objects.items()
                            if n == ns and (not key or (o["metadata"].get("labels") or {}).get(key) == value)
                        ]
                        return 200, json.dumps(
                            {"kind": "ConfigMapList", "apiVersion": "v1", "metadata": {}, "items": items}
                        ).encode()
                    if method == "DELETE" and name:
                        if fake.objects.pop((ns, name), None) is None:
                            return 404, status(404, "NotFound", f'configmaps "{name}" not found')
                        return 200, status(200, "", "deleted").replace(b'"Failure"', b'"Success"')
                return 405, status(405, "MethodNotAllowed", method)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def apiserver() -> Iterator[FakeApiServer]:
    server = FakeApiServer()
    yield server
    server.close()


@pytest.fixture
def core(apiserver: FakeApiServer) -> Any:
    """A real kubernetes.client.CoreV1Api against the fake server, urllib3's own retries off."""
    from kubernetes import client

    configuration = client.Configuration(host=apiserver.url)
    configuration.retries = False  # urllib3 retries connection errors 3 times by default
    return client.CoreV1Api(client.ApiClient(configuration))
