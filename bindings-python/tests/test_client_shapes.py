"""Failure extraction from the httpx-based clients (lightkube over httpx2, kr8s over httpx), the
official client's `kubernetes.aio`, aiohttp's response error, and any error with an int `.status`
and a mapping of headers. Real classes from the pinned packages; k8sretry imports none of them."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import httpx2
import lightkube
import pytest
from k8sretry import Policy, classify, failure_from_exception, is_retryable_k8s_error
from kr8s._exceptions import APITimeoutError, ServerError
from lightkube.core.exceptions import ApiError
from lightkube.core.internal_models import meta_v1

THROTTLED = {
    "kind": "Status",
    "apiVersion": "v1",
    "status": "Failure",
    "reason": "TooManyRequests",
    "code": 429,
}
ALREADY_EXISTS = {
    "kind": "Status",
    "apiVersion": "v1",
    "status": "Failure",
    "reason": "AlreadyExists",
    "code": 409,
}

# Which httpx transport errors were never sent and which have an unknown outcome is the engine's
# table (core/src/classify.rs); these are the classes it is read from.
NOT_SENT = ["ConnectError", "ConnectTimeout", "PoolTimeout"]
AMBIGUOUS = ["ReadError", "ReadTimeout", "WriteError", "WriteTimeout", "RemoteProtocolError"]
FATAL = ["LocalProtocolError", "UnsupportedProtocol", "ProxyError", "DecodingError", "TooManyRedirects"]


def _delay_hint(exc: BaseException) -> float:
    """The engine's first delay for `exc` under a policy whose backoff is tiny: the server's hint."""
    policy = Policy(initial_delay=0.001, max_delay=0.001, jitter="none", retry_after_cap=60.0, budget=None)
    return policy._native.retry_delay(failure_from_exception(exc), 0)


def _response(module: Any, status: int, body: Any, headers: dict[str, str] | None = None) -> Any:
    request = module.Request("GET", "https://apiserver.test/api/v1/namespaces/default/pods/p")
    content = json.dumps(body).encode() if isinstance(body, dict) else body
    kind = {"Content-Type": "application/json" if isinstance(body, dict) else "text/plain"}
    return module.Response(status, headers={**kind, **(headers or {})}, content=content, request=request)


@pytest.mark.parametrize("module", [httpx, httpx2], ids=["httpx", "httpx2"])
@pytest.mark.parametrize("name", NOT_SENT + AMBIGUOUS + FATAL)
def test_every_httpx_error_class(module: Any, name: str) -> None:
    exc = getattr(module, name)("boom")
    expected = "NetworkNotSent" if name in NOT_SENT else "NetworkAmbiguous" if name in AMBIGUOUS else "Fatal"
    assert classify(exc) == expected, name


@pytest.mark.parametrize("module", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_httpx_tls_verification_failure_is_fatal_not_a_connect_error(module: Any) -> None:
    try:
        try:
            raise ssl.SSLCertVerificationError(
                1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"
            )
        except ssl.SSLError as tls:
            raise module.ConnectError(str(tls)) from tls
    except module.ConnectError as exc:
        assert classify(exc) == "Fatal"


@pytest.mark.parametrize("module", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_httpx_status_error_reads_the_response(module: Any) -> None:
    response = _response(module, 429, "Too many requests, please try again later.\n", {"Retry-After": "7"})
    exc = module.HTTPStatusError("429", request=response.request, response=response)
    assert classify(exc) == "Throttled"
    assert _delay_hint(exc) == pytest.approx(7.0)
    conflict = _response(module, 409, ALREADY_EXISTS)
    assert (
        classify(module.HTTPStatusError("409", request=conflict.request, response=conflict))
        == "AlreadyExists"
    )


# ------------------------------------------------------------------------ real transports, loopback


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def hangs_up() -> Iterator[int]:
    """A server that reads the request and closes the connection without answering."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            # Half-close and drain before closing: a close with unread request bytes
            # (the body can arrive after the headers) makes the kernel send RST, and
            # the client then sees a reset instead of the hang-up this test is about.
            conn.settimeout(2)
            try:
                conn.recv(65536)
                conn.shutdown(socket.SHUT_WR)
                while conn.recv(65536):
                    pass
            except OSError:
                pass
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    server.close()


@pytest.mark.parametrize("module", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_real_refused_connection_was_never_sent(module: Any, closed_port: int) -> None:
    with pytest.raises(module.ConnectError) as caught:
        module.get(f"http://127.0.0.1:{closed_port}/")
    f = failure_from_exception(caught.value)
    assert f.codes[0] == "HTTPX_CONNECT_ERROR" and "ECONNREFUSED" in f.codes
    assert classify(caught.value) == "NetworkNotSent"


@pytest.mark.parametrize("module", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_real_hang_up_has_an_unknown_outcome(module: Any, hangs_up: int) -> None:
    with pytest.raises(module.RemoteProtocolError) as caught:
        module.post(f"http://127.0.0.1:{hangs_up}/", content=b"{}")
    assert classify(caught.value) == "NetworkAmbiguous"


# ------------------------------------------------------------------------ lightkube


def test_lightkube_api_error_with_its_status() -> None:
    response = _response(
        httpx2, 429, {**THROTTLED, "details": {"retryAfterSeconds": 4}}, {"Retry-After": "4"}
    )
    exc = ApiError(request=response.request, response=response)
    assert lightkube.ApiError is ApiError
    f = failure_from_exception(exc)
    assert (f.status, f.reason) == (429, "TooManyRequests")
    assert classify(exc) == "Throttled" and _delay_hint(exc) == pytest.approx(4.0)
    response = _response(httpx2, 409, ALREADY_EXISTS)
    assert classify(ApiError(request=response.request, response=response)) == "AlreadyExists"
    response = _response(httpx2, 503, {"kind": "Status", "code": 503, "reason": "ServiceUnavailable"})
    assert classify(ApiError(request=response.request, response=response)) == "Transient"


def test_lightkube_api_error_from_a_watch_event_has_no_response() -> None:
    exc = ApiError(status=meta_v1.Status(code=410, reason="Expired", message="too old resource version"))
    assert classify(exc) == "Gone"
    exc = ApiError(status=meta_v1.Status(code=500, reason="InternalError"))
    assert classify(exc) == "Transient"


def test_lightkube_non_json_answer_stays_an_httpx2_status_error() -> None:
    # lightkube turns only application/json answers into ApiError: the APF 429 is text/plain.
    from lightkube.core.generic_client import transform_exception

    response = _response(httpx2, 429, "Too many requests\n", {"Retry-After": "2"})
    exc = transform_exception(httpx2.HTTPStatusError("429", request=response.request, response=response))
    assert type(exc) is httpx2.HTTPStatusError
    assert classify(exc) == "Throttled" and _delay_hint(exc) == pytest.approx(2.0)


# ------------------------------------------------------------------------ kr8s


def _kr8s_server_error(status: int, body: Any, headers: dict[str, str] | None = None) -> ServerError:
    """A ServerError as kr8s's Api.call_api raises it (raised from the HTTPStatusError)."""
    response = _response(httpx, status, body, headers)
    try:
        try:
            response.raise_for_status()
        except httpx.HTTPStatusError as e:
            status_field = body if isinstance(body, dict) else str(status) if status >= 500 else body
            raise ServerError(str(e), status=status_field, response=e.response) from e
    except ServerError as exc:
        return exc
    raise AssertionError("unreachable")


def test_kr8s_server_errors() -> None:
    throttled = _kr8s_server_error(429, "Too many requests\n", {"Retry-After": "3"})
    assert classify(throttled) == "Throttled" and _delay_hint(throttled) == pytest.approx(3.0)
    assert classify(_kr8s_server_error(409, ALREADY_EXISTS)) == "AlreadyExists"
    assert classify(_kr8s_server_error(409, {**ALREADY_EXISTS, "reason": "Conflict"})) == "Conflict"
    assert classify(_kr8s_server_error(503, "unavailable")) == "Transient"
    assert (
        classify(_kr8s_server_error(404, {"kind": "Status", "code": 404, "reason": "NotFound"})) == "NotFound"
    )
    assert classify(_kr8s_server_error(422, {"kind": "Status", "code": 422, "reason": "Invalid"})) == "Fatal"


def test_kr8s_timeouts() -> None:
    for cause, expected in (
        (httpx.ConnectTimeout("t"), "NetworkNotSent"),
        (httpx.ReadTimeout("t"), "NetworkAmbiguous"),
    ):
        try:
            try:
                raise cause
            except httpx.TimeoutException as e:
                raise APITimeoutError("Timeout while waiting for the Kubernetes API server") from e
        except APITimeoutError as exc:
            assert classify(exc) == expected
    # Without its cause it is still a client-side timeout.
    assert classify(APITimeoutError("timeout")) == "NetworkAmbiguous"


# ------------------------------------------------------------------------ other shapes


def test_official_aio_api_exception() -> None:
    aio = pytest.importorskip("kubernetes.aio.client.exceptions")
    exc = aio.ApiException(status=503, reason="Service Unavailable")
    exc.headers = {"Retry-After": "5"}
    assert classify(exc) == "Transient" and _delay_hint(exc) == pytest.approx(5.0)


def test_aiohttp_client_response_error() -> None:
    from multidict import CIMultiDict, CIMultiDictProxy
    from yarl import URL

    url = URL("https://apiserver.test/api")
    info = aiohttp.RequestInfo(url, "GET", CIMultiDictProxy(CIMultiDict()), url)
    exc = aiohttp.ClientResponseError(info, (), status=429, headers=CIMultiDict({"Retry-After": "6"}))
    assert classify(exc) == "Throttled" and _delay_hint(exc) == pytest.approx(6.0)


class FakeError(Exception):
    """The official retry helpers' own test double (aio_retry_test.py)."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"status {status}")
        self.status = status
        self.headers = headers or {}


def test_any_error_with_an_int_status_and_headers() -> None:
    assert classify(FakeError(503, {"Retry-After": "2"})) == "Transient"
    assert _delay_hint(FakeError(429, {"retry-after": "2"})) == pytest.approx(2.0)
    assert classify(FakeError(409)) == "Conflict" and is_retryable_k8s_error(FakeError(500))


def test_a_failing_str_never_breaks_extraction() -> None:
    exc = aiohttp.ClientResponseError(None, (), status=503)  # type: ignore[arg-type]
    assert classify(exc) == "Transient"


def test_status_without_headers_or_a_bool_status_is_not_an_answer() -> None:
    class Odd(Exception):
        status = 503  # no headers: an unrelated attribute, not an HTTP answer

    class Flag(Exception):
        status = True
        headers: dict[str, str] = {}

    assert classify(Odd()) == "Fatal" and classify(Flag()) == "Fatal"
