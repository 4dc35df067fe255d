"""Turns an exception into a native Failure. Extraction only: the engine decides.

Reads the shapes of the real clients, none of them imported:

- an HTTP answer: `kubernetes` / `kubernetes.aio` / `kubernetes_asyncio` `ApiException` (status,
  headers, body as bytes or str holding a JSON Status), aiohttp's `ClientResponseError`, and any
  exception with an int `.status` and a mapping `.headers` (the official retry helpers' own test
  double); an exception with a `.response` that has an int `status_code` and `headers` (httpx's and
  httpx2's `HTTPStatusError`, lightkube's `ApiError`, kr8s's `ServerError`, requests' `HTTPError`),
  whose Status is read from lightkube's `.status` object, kr8s's `.status` dict or the response body;
  lightkube's `ApiError` from a watch event (a `.status` object with an int `.code`, no response);
- the transport: httpx / httpx2 / httpcore errors by class (`ConnectError`, `ReadTimeout`, ...: the
  engine's `HTTPX_*` codes say which were never sent; a TLS verification failure under a
  `ConnectError` keeps no code: Fatal), kr8s's `APITimeoutError` (a timeout), urllib3 errors
  (`MaxRetryError.reason`, `NewConnectionError`, `ProtocolError`, `ReadTimeoutError`), aiohttp errors
  (`ClientConnectorError.os_error`, `ServerDisconnectedError`, `ClientOSError`), `OSError.errno`,
  `TimeoutError`;

and `__cause__` / `__context__` chains, at most 16 links, cycles never followed twice.

Cancellation: the exception itself being a `CancelledError` (or `KeyboardInterrupt`, `SystemExit`)
is a cancellation, and so is any failure while the current asyncio task is being cancelled
(`Task.cancelling()`). A `CancelledError` deeper in the chain is not: `asyncio.wait_for`,
`asyncio.timeout`, `anyio.fail_after` and aiohttp's timeouts (kubernetes_asyncio's
`_request_timeout`) raise a `TimeoutError` whose `__cause__` is the `CancelledError` they used to
stop the awaited call; that is a client-side timeout.
"""

from __future__ import annotations

import asyncio
import errno as errno_names
import json
import socket
import ssl
from typing import Any

from . import _native

MAX_LINKS = 16

# Exceptions that mean "the caller stopped this" when they are the failure itself: never retried.
_CANCELLED: tuple[type[BaseException], ...] = (
    asyncio.CancelledError,
    KeyboardInterrupt,
    SystemExit,
    GeneratorExit,
)
# ... and anywhere in the chain: a process being stopped. (A CancelledError deeper in the chain is
# the mechanism of a timeout: see the module documentation.)
_STOPPED: tuple[type[BaseException], ...] = (KeyboardInterrupt, SystemExit)

# asyncio.TimeoutError and concurrent.futures.TimeoutError are the builtin TimeoutError from
# Python 3.11 on, distinct classes on 3.10.
_TIMEOUTS: tuple[type[BaseException], ...] = (TimeoutError, asyncio.TimeoutError)

# Connection errors without an errno: their class says what happened.
_OS_CLASS_CODES: tuple[tuple[type[OSError], str], ...] = (
    (ConnectionRefusedError, "ECONNREFUSED"),
    (ConnectionResetError, "ECONNRESET"),
    (ConnectionAbortedError, "ECONNABORTED"),
    (BrokenPipeError, "EPIPE"),
)

# `ssl.SSLError.errno` is OpenSSL's error kind (SSL_ERROR_EOF is 8), not an OS errno: read as one,
# an EOF during the handshake became ENOEXEC (Fatal). A TLS connection that ended early (EOF in
# the handshake or a record, a failed syscall, close_notify before the answer) broke the
# connection: ECONNRESET. Other TLS errors (a certificate that fails verification) keep no code:
# Fatal, never retried.
_TLS_CLOSED: tuple[type[ssl.SSLError], ...] = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)

# Client classes (by name, so neither aiohttp nor urllib3 must be importable) whose meaning is
# "the connection closed before the answer was complete".
_CLOSED_CONNECTION = frozenset(
    {
        "ServerDisconnectedError",
        "ClientPayloadError",
        "ClientConnectionResetError",
        "IncompleteRead",
        "ProtocolError",
    }
)
_TIMEOUT_CLASSES = frozenset(
    {"ReadTimeoutError", "ConnectTimeoutError", "ServerTimeoutError", "SocketTimeoutError", "APITimeoutError"}
)
# httpx's (and httpx2's, httpcore's) transport errors, by the most precise class: the engine's code.
# Whether each was never sent or has an unknown outcome is the engine's table (classify.rs).
_HTTPX_MODULES = ("httpx", "httpcore")
_HTTPX_CODES = {
    "ConnectError": "HTTPX_CONNECT_ERROR",
    "ConnectTimeout": "HTTPX_CONNECT_TIMEOUT",
    "PoolTimeout": "HTTPX_POOL_TIMEOUT",
    "ReadError": "HTTPX_READ_ERROR",
    "ReadTimeout": "HTTPX_READ_TIMEOUT",
    "WriteError": "HTTPX_WRITE_ERROR",
    "WriteTimeout": "HTTPX_WRITE_TIMEOUT",
    "RemoteProtocolError": "HTTPX_REMOTE_PROTOCOL_ERROR",
}
# A connection failure that names no errno and no more precise class (a bare `ConnectionError`,
# aiohttp's `ClientConnectionError` raised by user code): the connection broke at some point, so
# the request may or may not have been carried out. Reported as ECONNABORTED (ambiguous) when the
# chain has no more precise code.
_CONNECTION_CLASSES = frozenset({"ClientConnectionError", "ConnectionError"})
_GENERIC_CONNECTION_CODE = "ECONNABORTED"


def _current_task_cancelling() -> bool:
    """Whether the asyncio task running this code is being cancelled (Python 3.11+)."""
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running event loop
        return False
    cancelling = getattr(task, "cancelling", None)
    return bool(cancelling()) if cancelling is not None else False


def _links(exc: BaseException) -> list[BaseException]:
    """The exception and everything it points to, outermost first, bounded and cycle-safe."""
    seen: set[int] = set()
    out: list[BaseException] = []
    queue: list[Any] = [exc]
    while queue and len(out) < MAX_LINKS:
        link = queue.pop(0)
        if not isinstance(link, BaseException) or id(link) in seen:
            continue
        seen.add(id(link))
        out.append(link)
        # urllib3 keeps the cause in .reason, aiohttp in .os_error; both also pass it in args.
        for attr in ("reason", "os_error"):
            inner = getattr(link, attr, None)
            if isinstance(inner, BaseException):
                queue.append(inner)
        queue.extend(arg for arg in link.args if isinstance(arg, BaseException))
        if link.__cause__ is not None:
            queue.append(link.__cause__)
        elif link.__context__ is not None and not link.__suppress_context__:
            queue.append(link.__context__)
    return out


def _header(headers: Any, name: str) -> str | None:
    """A header value by case-insensitive name from a dict, HTTPHeaderDict or CIMultiDictProxy."""
    if not headers:
        return None
    try:
        items = headers.items()
    except AttributeError:
        return None
    for key, value in items:
        if isinstance(key, str) and key.lower() == name:
            return str(value)
    return None


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _message(exc: BaseException) -> str:
    """The error's own text, whole: events carry it through the engine's rule (DESIGN §7: first
    line, no bodies or credentials, bounded); other log text goes through `_native.event_text`."""
    reason = getattr(exc, "reason", None)
    try:
        text = reason if isinstance(reason, str) and reason else str(exc)
    except Exception:  # noqa: BLE001 - a client's __str__ that fails (aiohttp's without request_info)
        text = type(exc).__name__
    return text.strip() or type(exc).__name__


def _from_httpx(link: BaseException) -> bool:
    return type(link).__module__.split(".")[0].startswith(_HTTPX_MODULES)


def _httpx_code(link: BaseException) -> str | None:
    """The engine's code for an httpx / httpx2 / httpcore transport error (most precise class)."""
    for cls in type(link).__mro__:
        code = _HTTPX_CODES.get(cls.__name__)
        if code is not None and cls.__module__.split(".")[0].startswith(_HTTPX_MODULES):
            return code
    return None


def _is_headers(headers: Any) -> bool:
    return callable(getattr(headers, "items", None))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


Answer = tuple[int | None, Any, "str | None", "str | None", "int | None"]


def _answer(link: BaseException, names: set[str]) -> Answer | None:
    """What the server answered, when `link` carries an HTTP answer: (status, body, Retry-After,
    Status.reason, Status.details.retryAfterSeconds). None when it carries none."""
    own_status = getattr(link, "status", None)
    response: Any = getattr(link, "response", None)
    code = _int(getattr(response, "status_code", None))
    if code is not None and _is_headers(getattr(response, "headers", None)):
        # httpx's HTTPStatusError and what wraps it: lightkube's ApiError (.status: a Status object),
        # kr8s's ServerError (.status: the Status as a dict, or text), requests' HTTPError.
        reason, seconds = _status_object(own_status)
        body: Any = None
        if isinstance(own_status, dict):
            body = _json_text(own_status)
        elif reason is None:
            body = _response_body(response)
        retry_after = _header(response.headers, "retry-after")
        return code or None, body, retry_after, reason, seconds
    status = _int(own_status)
    headers = getattr(link, "headers", None)
    if status is not None and (
        "ApiException" in names or "ClientResponseError" in names or _is_headers(headers)
    ):
        # ApiException.reason is the HTTP reason phrase, not Status.reason: the body has that.
        return status or None, getattr(link, "body", None), _header(headers, "retry-after"), None, None
    if own_status is not None and "ApiError" in names:
        # lightkube's ApiError from a watch's ERROR event: a Status object and no response.
        reason, seconds = _status_object(own_status)
        status = _int(getattr(own_status, "code", None))
        if status is not None:
            return status or None, None, None, reason, seconds
    return None


def _status_object(value: Any) -> tuple[str | None, int | None]:
    """Status.reason and details.retryAfterSeconds of a Status model object (lightkube's)."""
    if value is None or isinstance(value, (str, bytes, dict, int)):
        return None, None
    reason = getattr(value, "reason", None)
    seconds = _int(getattr(getattr(value, "details", None), "retryAfterSeconds", None))
    return (reason if isinstance(reason, str) else None), seconds


def _json_text(value: Any) -> str | None:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return None


def _response_body(response: Any) -> Any:
    """A response's body as bytes, when it has been read (a streamed response may not have been)."""
    try:
        content = response.content
    except Exception:  # noqa: BLE001 - httpx's ResponseNotRead and the like: no body to read
        return None
    return content if isinstance(content, (bytes, str)) else None


def failure_from_exception(
    exc: BaseException,
    retry_on: tuple[type[BaseException], ...] = (),
    verb: str | None = None,
    *,
    vouched: bool = False,
    vetoed: bool = False,
) -> _native.Failure:
    """The Failure the engine classifies for `exc`. `vouched`: the caller's own rule says it is
    retryable (as `retry_on` does by class); `vetoed`: the caller's rule says it is not."""
    answered = False
    status: int | None = None
    body: Any = None
    retry_after: str | None = None
    reason: str | None = None
    retry_after_seconds: int | None = None
    tls_failed = False
    codes: list[str] = []
    timeout = False
    connection = False
    cancelled = isinstance(exc, _CANCELLED) or _current_task_cancelling()
    for link in _links(exc):
        names = _class_names(link)
        if not answered:
            answer = _answer(link, names)
            if answer is not None:
                answered = True
                status, body, retry_after, reason, retry_after_seconds = answer
        if isinstance(link, _STOPPED):
            cancelled = True
        httpx_code = _httpx_code(link)
        if httpx_code is not None:
            codes.append(httpx_code)
            if httpx_code.endswith("_TIMEOUT"):
                timeout = True
        if isinstance(link, ssl.SSLError):  # aiohttp's ClientConnectorSSLError is one too
            if isinstance(link, _TLS_CLOSED):
                codes.append("ECONNRESET")
            else:
                tls_failed = True
        elif isinstance(link, socket.gaierror):
            codes.append("EAI_AGAIN" if link.errno == socket.EAI_AGAIN else "ENOTFOUND")
        elif isinstance(link, OSError) and isinstance(link.errno, int) and link.errno > 0:
            name = errno_names.errorcode.get(link.errno)
            if name:
                codes.append(name)
        elif isinstance(link, OSError):
            codes.extend(code for cls, code in _OS_CLASS_CODES if isinstance(link, cls))
        if isinstance(link, _TIMEOUTS) or names & _TIMEOUT_CLASSES:
            timeout = True
        if names & _CLOSED_CONNECTION and httpx_code is None and not _from_httpx(link):
            # (httpx's ProtocolError is no urllib3 ProtocolError: its subclasses say what happened)
            codes.append("ECONNRESET")
        if names & _CONNECTION_CLASSES:
            connection = True
    if tls_failed:
        # httpx reports a certificate that fails verification as a ConnectError: not a network
        # failure to retry, and never "not sent" (Fatal, as for every other client).
        codes = [code for code in codes if code not in _HTTPX_CODES.values()]
    if connection and not codes and not timeout:
        codes.append(_GENERIC_CONNECTION_CODE)
    return _native.Failure(
        status=status,
        reason=reason,
        body=body,
        retry_after=retry_after,
        retry_after_seconds=retry_after_seconds,
        codes=codes,
        timeout=timeout,
        cancelled=cancelled,
        user_retryable=vouched or (bool(retry_on) and isinstance(exc, retry_on)),
        user_fatal=vetoed,
        verb=verb,
        error_type=type(exc).__name__,
        message=_message(exc),
    )
