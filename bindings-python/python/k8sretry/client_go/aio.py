"""The asyncio form of `k8sretry.client_go` (the official `kubernetes.aio.utils.retry`): `fn`
returns an awaitable, `sleep_func` may (`asyncio.sleep` by default). Same rules and differences
as the sync form: see `k8sretry.client_go`."""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ._base import (
    DEFAULT_BACKOFF,
    DEFAULT_RETRY,
    DEFAULT_RETRY_AFTER_BACKOFF,
    Backoff,
    conflict_retrier,
    is_conflict,
    is_retry_after_response,
    is_too_many_requests,
    predicate_retrier,
    retry_after_backoff,
    retry_after_max_retries,
    retry_after_seconds,
)

T = TypeVar("T")


async def _run(retrier: Any, fn: Callable[[], Awaitable[T]]) -> T:
    async def attempt() -> T:
        result = fn()
        return await result if inspect.isawaitable(result) else result  # type: ignore[return-value]

    return await retrier.finish_async(attempt(), attempt, time.monotonic())  # type: ignore[no-any-return]


async def on_error(
    backoff: Backoff,
    retriable: Callable[[Exception], bool],
    fn: Callable[[], Awaitable[T]],
    sleep_func: Callable[[float], Awaitable[object]] = asyncio.sleep,
    random_func: Callable[[], float] = random.random,
) -> T:
    """Awaits `fn()`, again while `retriable(error)` is True (client-go's `retry.OnError`)."""
    return await _run(predicate_retrier(backoff, retriable, fn, sleep_func, random_func), fn)


# client-go's rest.WithRetry waits the larger of the server's Retry-After and the backoff; the
# engine does that in every helper, so this is `on_error` under its other name.
on_retry_after_error = on_error


async def retry_on_conflict(
    fn: Callable[[], Awaitable[T]],
    backoff: Backoff = DEFAULT_RETRY,
    sleep_func: Callable[[float], Awaitable[object]] = asyncio.sleep,
    random_func: Callable[[], float] = random.random,
) -> T:
    """Re-runs the read-modify-write `fn` on `Conflict`; never after a lost write."""
    return await _run(conflict_retrier(backoff, fn, sleep_func, random_func), fn)


__all__ = [
    "DEFAULT_BACKOFF",
    "DEFAULT_RETRY",
    "DEFAULT_RETRY_AFTER_BACKOFF",
    "Backoff",
    "is_conflict",
    "is_retry_after_response",
    "is_too_many_requests",
    "on_error",
    "on_retry_after_error",
    "retry_after_backoff",
    "retry_after_max_retries",
    "retry_after_seconds",
    "retry_on_conflict",
]
