"""Failure extraction from the real client exception classes."""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
import threading
from collections.abc import Iterator

import aiohttp
import kubernetes.client
import kubernetes.client.exceptions as k8s_exc
import kubernetes_asyncio.client
import kubernetes_asyncio.client.exceptions as k8s_async_exc
import pytest
import urllib3.exceptions as u3
from k8sretry import classify, failure_from_exception

ALREADY_EXISTS = '{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"AlreadyExists","code":409}'
THROTTLED = '{"kind":"Status","reason":"TooManyRequests","code":429,"details":{"retryAfterSeconds":4}}'


def api_exc(cls: type, status: int, body: bytes | str | None, headers: object = None) -> BaseException:
    exc = cls(status=status, reason="Reason Phrase")
    exc.body = body
    exc.headers = headers
    return exc


@pytest.mark.parametrize("cls", [k8s_exc.ApiException, k8s_async_exc.ApiException])
@pytest.mark.parametrize("body", [ALREADY_EXISTS, ALREADY_EXISTS.encode()])
def test_api_exception_bodies_as_bytes_or_str(cls: type, body: bytes | str) -> None:
    assert classify(api_exc(cls, 409, body)) == "AlreadyExists"


def test_conflict_without_reason_and_the_reason_phrase_is_not_status_reason() -> None:
    exc = k8s_exc.ApiException(status=409, reason="AlreadyExists")  # an HTTP reason phrase
    assert classify(exc) == "Conflict"


def test_retry_after_from_urllib3_and_aiohttp_headers() -> None:
    from multidict import CIMultiDict, CIMultiDictProxy
    from urllib3 import HTTPHeaderDict

    for headers in (
        HTTPHeaderDict({"Retry-After": "9"}),
        CIMultiDictProxy(CIMultiDict({"retry-after": "9"})),
    ):
        f = failure_from_exception(api_exc(k8s_exc.ApiException, 429, THROTTLED, headers))
        assert f.status == 429 and f.reason == "TooManyRequests"


def test_subclasses_raised_by_the_sync_client() -> None:
    exc = k8s_exc.ServiceException(status=503, reason="Service Unavailable")
    assert classify(exc) == "Transient"
    ssl = k8s_exc.ApiException(status=0, reason="SSLError\nhandshake")
    assert classify(ssl) == "Fatal"


def test_urllib3_errors() -> None:
    refused = u3.NewConnectionError(
        None, "Failed to establish a new connection: [Errno 111] Connection refused"
    )  # type: ignore[arg-type]
    refused.__cause__ = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    assert classify(u3.MaxRetryError(None, "/api", reason=refused)) == "NetworkNotSent"  # type: ignore[arg-type]
    reset = u3.ProtocolError("Connection aborted.", ConnectionResetError(errno.ECONNRESET, "reset by peer"))
    assert classify(reset) == "NetworkAmbiguous"
    disconnected = u3.ProtocolError(
        "Connection aborted.", ConnectionResetError("Remote end closed connection")
    )
    assert classify(disconnected) == "NetworkAmbiguous"
    timeout = u3.ReadTimeoutError(None, "/api", "Read timed out.")  # type: ignore[arg-type]
    assert classify(timeout) == "NetworkAmbiguous"
    gaierror = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    dns = u3.NameResolutionError("example.invalid", None, gaierror)  # type: ignore[arg-type]
    dns.__cause__ = gaierror  # urllib3 raises it `from e`
    assert classify(dns) == "NetworkNotSent"
    again = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    assert failure_from_exception(again).codes == ["EAI_AGAIN"]


def test_aiohttp_errors() -> None:
    key = type("Key", (), {"host": "127.0.0.1", "port": 6443, "ssl": None})()
    refused = aiohttp.ClientConnectorError(key, ConnectionRefusedError(errno.ECONNREFUSED, "refused"))  # type: ignore[arg-type]
    assert classify(refused) == "NetworkNotSent"
    assert classify(aiohttp.ServerDisconnectedError()) == "NetworkAmbiguous"
    assert classify(aiohttp.ClientOSError(errno.ECONNRESET, "reset")) == "NetworkAmbiguous"
    assert classify(asyncio.TimeoutError()) == "NetworkAmbiguous"


@pytest.fixture
def closes_during_handshake() -> Iterator[str]:
    """A server that accepts TCP connections and closes them before any TLS: an apiserver
    stopping (or killed) under load."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    server.close()


def test_tls_errnos_are_not_os_errnos(closes_during_handshake: str) -> None:
    config = kubernetes.client.Configuration(host=closes_during_handshake)
    config.retries = 0
    with pytest.raises(Exception) as raised:
        kubernetes.client.CoreV1Api(kubernetes.client.ApiClient(config)).read_namespace("x")
    failure = failure_from_exception(raised.value, verb="POST")
    assert "ENOEXEC" not in failure.codes and "ECONNRESET" in failure.codes, (raised.value, failure.codes)
    assert classify(raised.value) == "NetworkAmbiguous"

    async def read_async() -> None:
        config = kubernetes_asyncio.client.Configuration(host=closes_during_handshake)
        async with kubernetes_asyncio.client.ApiClient(config) as client:
            await kubernetes_asyncio.client.CoreV1Api(client).read_namespace("x")

    with pytest.raises(Exception) as raised_async:
        asyncio.run(read_async())
    assert classify(raised_async.value) == "NetworkAmbiguous", raised_async.value
    # OpenSSL's kinds: EOF (8) is a broken connection; a failed verification (1) is no errno EPERM.
    eof = ssl.SSLEOFError(8, "EOF occurred in violation of protocol")
    assert failure_from_exception(eof).codes == ["ECONNRESET"]
    refused_cert = ssl.SSLCertVerificationError(1, "certificate verify failed")
    assert failure_from_exception(refused_cert).codes == []
    assert classify(refused_cert) == "Fatal"


def test_oserror_errno_and_cancellation() -> None:
    assert failure_from_exception(OSError(errno.EHOSTUNREACH, "no route")).codes == ["EHOSTUNREACH"]
    assert classify(asyncio.CancelledError()) == "Cancelled"
    assert classify(KeyboardInterrupt()) == "Cancelled"
    assert classify(SystemExit()) == "Cancelled"
    assert classify(GeneratorExit()) == "Cancelled"
    assert classify(ValueError("bad")) == "Fatal"


def test_cause_chains_are_walked_and_bounded() -> None:
    try:
        try:
            raise ConnectionResetError(errno.ECONNRESET, "reset")
        except OSError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert classify(outer) == "NetworkAmbiguous"

    a, b = RuntimeError("a"), RuntimeError("b")
    a.__cause__, b.__cause__ = b, a  # a cycle: must terminate
    assert classify(a) == "Fatal"

    deep: BaseException = ConnectionRefusedError(errno.ECONNREFUSED, "refused")
    for i in range(100):
        wrapper = RuntimeError(f"level {i}")
        wrapper.__cause__ = deep
        deep = wrapper
    assert classify(deep) == "Fatal", "past 16 links the refusal is not seen"
