"""A small ConfigMap server on 127.0.0.1 with scripted faults, for the real Python clients.

ConfigMaps can be created, read, listed (by label), replaced (a stale metadata.resourceVersion is
a Conflict), patched (merge / strategic merge as a merge, JSON patch `add`) and deleted; a
SelfSubjectAccessReview is answered and stored nowhere (a body with metadata is refused, 422).
Faults are consumed in order, one per request matching their method:
  ("503", retry_after) / ("429", retry_after): answer with a Kubernetes Status body
  "drop_before": close the connection without doing anything
  "drop_after": do the request (e.g. commit the create), then close without answering
  "504_after": do the request, then answer 504 (a gateway that timed out after the server acted)
  ("slow", seconds): wait that long, then do the request and answer
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/configmaps(?:/([^/?]+))?(?:\?(.*))?$")
REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


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


def merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """RFC 7386 on maps."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = value


class FakeApiServer:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.faults: list[tuple[str, Any]] = []  # (method, fault)
        self.requests: list[str] = []
        self.bodies: list[Any] = []  # every request body, parsed
        self.content_types: list[str] = []
        self.version = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _store(self, key: tuple[str, str], obj: dict[str, Any]) -> bytes:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        self.objects[key] = obj
        return json.dumps(obj).encode()

    def clear(self) -> None:
        """Forgets the requests seen so far."""
        self.requests.clear()
        self.bodies.clear()
        self.content_types.clear()

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
                fake.bodies.append(json.loads(raw) if raw else None)
                fake.content_types.append(self.headers.get("Content-Type") or "")
                fault = fake._take_fault(method)
                if fault == "drop_before":
                    return self._drop()
                if isinstance(fault, tuple) and fault[0] == "slow":
                    time.sleep(fault[1])
                    fault = None
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
                if self.path.split("?")[0] == REVIEWS and method == "POST":
                    review = json.loads(raw)
                    if review.get("metadata"):
                        return 422, status(422, "Invalid", "metadata must be empty")
                    review["status"] = {"allowed": True}
                    return 201, json.dumps(review).encode()
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
                        return 201, fake._store(key, obj)
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
                    current = fake.objects.get((ns, name or ""))
                    if current is None:
                        return 404, status(404, "NotFound", f'configmaps "{name}" not found')
                    if method == "PUT":
                        obj = json.loads(raw)
                        version = obj.get("metadata", {}).get("resourceVersion")
                        if version and version != current["metadata"]["resourceVersion"]:
                            return 409, status(409, "Conflict", "the object has been modified")
                        obj["metadata"]["uid"] = current["metadata"]["uid"]
                        return 200, fake._store((ns, name), obj)
                    if method == "PATCH":
                        patch = json.loads(raw)
                        obj = json.loads(json.dumps(current))
                        if self.headers.get("Content-Type") == "application/json-patch+json":
                            for op in patch:  # only "add", enough for appending to a list
                                *parents, last = op["path"].strip("/").split("/")
                                target = obj
                                for i, part in enumerate(parents):
                                    into_list = last == "-" and i == len(parents) - 1
                                    target = target.setdefault(part, [] if into_list else {})
                                if last == "-":
                                    target.append(op["value"])
                                else:
                                    target[last] = op["value"]
                        else:  # merge and strategic merge, for maps only
                            merge(obj, patch)
                        return 200, fake._store((ns, name), obj)
                    if method == "DELETE":
                        del fake.objects[(ns, name or "")]
                        return 200, status(200, "", "deleted").replace(b'"Failure"', b'"Success"')
                return 405, status(405, "MethodNotAllowed", method)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

            def do_PUT(self) -> None:
                self._handle("PUT")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def apiserver() -> Iterator[FakeApiServer]:
    server = FakeApiServer()
    yield server
    server.close()


def api_client(apiserver: FakeApiServer) -> Any:
    from kubernetes import client

    configuration = client.Configuration(host=apiserver.url)
    configuration.retries = False  # urllib3 retries connection errors 3 times by default
    return client.ApiClient(configuration)


@pytest.fixture
def core(apiserver: FakeApiServer) -> Any:
    """A real kubernetes.client.CoreV1Api against the fake server, urllib3's own retries off."""
    from kubernetes import client

    return client.CoreV1Api(api_client(apiserver))


@pytest.fixture
def authorization(apiserver: FakeApiServer) -> Any:
    """A real kubernetes.client.AuthorizationV1Api against the fake server."""
    from kubernetes import client

    return client.AuthorizationV1Api(api_client(apiserver))
