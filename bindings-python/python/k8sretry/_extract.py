"""Turns an exception into a native Failure. Extraction only: the engine decides.

Reads the shapes of the real clients: `kubernetes` / `kubernetes_asyncio` `ApiException`
(status, headers, body as bytes or str holding a JSON Status), urllib3 errors (`MaxRetryError.reason`,
`NewConnectionError`, `ProtocolError`, `ReadTimeoutError`), aiohttp errors (`ClientConnectorError.os_error`,
`ServerDisconnectedError`, `ClientOSError`), `OSError.errno`, `TimeoutError`, and
`__cause__` / `__context__` chains, at most 16 links, cycles never followed twice.

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
    {"ReadTimeoutError", "ConnectTimeoutError", "ServerTimeoutError", "SocketTimeoutError"}
)
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
    text = reason if isinstance(reason, str) and reason else str(exc)
    return text.strip() or type(exc).__name__


def failure_from_exception(
    exc: BaseException, retry_on: tuple[type[BaseException], ...] = (), verb: str | None = None
) -> _native.Failure:
    """The Failure the engine classifies for `exc`."""
    status: int | None = None
    body: Any = None
    retry_after: str | None = None
    codes: list[str] = []
    timeout = False
    connection = False
    cancelled = isinstance(exc, _CANCELLED) or _current_task_cancelling()
    for link in _links(exc):
        names = _class_names(link)
        link_status = getattr(link, "status", None)
        if status is None and isinstance(link_status, int) and "ApiException" in names:
            # ApiException.reason is the HTTP reason phrase, not Status.reason: the body has that.
            status = link_status or None
            body = getattr(link, "body", None)
            retry_after = _header(getattr(link, "headers", None), "retry-after")
        if isinstance(link, _STOPPED):
            cancelled = True
        if isinstance(link, ssl.SSLError):  # aiohttp's ClientConnectorSSLError is one too
            if isinstance(link, _TLS_CLOSED):
                codes.append("ECONNRESET")
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
        if names & _CLOSED_CONNECTION:
            codes.append("ECONNRESET")
        if names & _CONNECTION_CLASSES:
            connection = True
    if connection and not codes and not timeout:
        codes.append(_GENERIC_CONNECTION_CODE)
    return _native.Failure(
        status=status,
        body=body,
        retry_after=retry_after,
        codes=codes,
        timeout=timeout,
        cancelled=cancelled,
        user_retryable=bool(retry_on) and isinstance(exc, retry_on),
        verb=verb,
        error_type=type(exc).__name__,
        message=_message(exc),
    )
