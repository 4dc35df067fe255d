"""What the sync and asyncio forms of `k8sretry.client_go` share: `Backoff` as an engine policy,
the retry loops' settings, and the helpers that read an error."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import _native
from .._driver import Retrier
from .._extract import _header
from .._policy import Policy


@dataclass(frozen=True)
class Backoff:
    """client-go's `wait.Backoff`, in seconds: `steps` calls at most (the first included),
    `duration` the first delay, `factor` its growth per retry (0: unchanged), `jitter` up to that
    fraction added to each delay, `cap` the largest delay (0: none)."""

    steps: int
    duration: float
    factor: float
    jitter: float = 0.0
    cap: float = 0.0

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError("steps must be at least 1")
        if self.duration < 0:
            raise ValueError("duration must be non-negative")
        if self.factor < 0:
            raise ValueError("factor must be non-negative")
        if self.jitter < 0:
            raise ValueError("jitter must be non-negative")
        if self.cap < 0:
            raise ValueError("cap must be non-negative")


# client-go's util/retry DefaultBackoff and DefaultRetry, and rest.Request's Retry-After ceiling
# (one attempt and 10 retries), as kubernetes.utils.retry has them.
DEFAULT_BACKOFF = Backoff(steps=4, duration=0.01, factor=5.0, jitter=0.1)
DEFAULT_RETRY = Backoff(steps=5, duration=0.01, factor=1.0, jitter=0.1)
DEFAULT_RETRY_AFTER_BACKOFF = Backoff(steps=11, duration=0.0, factor=1.0, jitter=0.0)

# client-go's rest.WithRetry honours Retry-After on 429 and every 5xx.
_RETRY_AFTER_STATUSES = [429, *range(500, 600)]
_NO_CAP = 86_400.0 * 365  # the engine's largest delay: client-go's "no cap"


def policy_of(backoff: Backoff, random_func: Callable[[], float]) -> Policy:
    """The engine policy a `Backoff` stands for, drawing its jitter from `random_func`."""
    if not isinstance(backoff, Backoff):
        raise TypeError(f"backoff must be a k8sretry.client_go.Backoff, not {type(backoff).__name__}")
    if not callable(random_func):
        raise TypeError("random_func must be a callable returning a float in [0, 1)")
    config = {
        "preset": "default",
        "max_retries": backoff.steps - 1,
        "initial_delay": backoff.duration,
        "max_delay": backoff.cap if backoff.cap > 0 else _NO_CAP,
        "exponential_base": backoff.factor if backoff.factor != 0 else 1.0,
        "jitter": {"upward": backoff.jitter},
        "retry_after_statuses": _RETRY_AFTER_STATUSES,
    }
    return Policy._wrap(_build(json.dumps(config), random_func))


def _build(text: str, random_func: Callable[[], float]) -> _native.Policy:
    from .._policy import _build as build

    return build(text, random=random_func)


def predicate_retrier(
    backoff: Backoff,
    retriable: Callable[[Exception], bool],
    fn: Callable[..., Any],
    sleep_func: Callable[[float], Any],
    random_func: Callable[[], float],
) -> Retrier:
    """`on_error`'s loop: the predicate vouches (retried whatever the verb) or vetoes."""
    if not callable(retriable):
        raise TypeError("retriable must be a callable taking the error")
    return Retrier(
        policy_of(backoff, random_func),
        getattr(fn, "__name__", "on_error"),
        verb="UNKNOWN",
        sleep=sleep_func,
        retry_if=retriable,
        vouch=True,
    )


def conflict_retrier(
    backoff: Backoff,
    fn: Callable[..., Any],
    sleep_func: Callable[[float], Any],
    random_func: Callable[[], float],
) -> Retrier:
    """`retry_on_conflict`'s loop: the engine's conflict recovery (a Conflict re-runs `fn`; a
    failure that leaves the write's outcome unknown does not)."""
    return Retrier(
        policy_of(backoff, random_func),
        getattr(fn, "__name__", "retry_on_conflict"),
        verb="PUT",
        recovery="retry_conflict",
        sleep=sleep_func,
        exclusive=False,
    )


# ---------------------------------------------------------------------------- reading an error


def retry_after_seconds(error: BaseException) -> float | None:
    """The seconds the error's `Retry-After` header asks to wait, as the engine reads it
    (delta-seconds or an HTTP-date; None when missing, invalid, zero or past)."""
    value = _header(getattr(error, "headers", None), "retry-after")
    if value is None:
        return None
    return _native.parse_retry_after(value, time.time())


def _class(error: BaseException) -> str:
    from .. import classify

    return classify(error)


def is_conflict(error: BaseException) -> bool:
    """Whether the engine classifies `error` `Conflict` (a 409 that is not `AlreadyExists`)."""
    return _class(error) == "Conflict"


def is_too_many_requests(error: BaseException) -> bool:
    """Whether the engine classifies `error` `Throttled` (429, `TooManyRequests`)."""
    return _class(error) == "Throttled"


def is_retry_after_response(error: BaseException) -> bool:
    """Whether `error` is a retryable answer (throttled or transient) with a usable Retry-After."""
    return _class(error) in ("Throttled", "Transient") and retry_after_seconds(error) is not None


def retry_after_max_retries(retries: Any = None) -> int:
    """The retry ceiling a client `Configuration.retries` value stands for (client-go's default:
    10): False / 0 none, an int itself, urllib3's `Retry.total`, aiohttp_retry's `attempts - 1`."""
    if retries is None or retries is True:
        return 10
    if retries is False:
        return 0
    if isinstance(retries, int):
        return max(0, retries)
    if hasattr(retries, "total"):
        total = retries.total
        if total is False:
            return 0
        if isinstance(total, int) and not isinstance(total, bool):
            return max(0, total)
        return 10
    attempts = getattr(retries, "attempts", None)
    if attempts is False:
        return 0
    if isinstance(attempts, int) and not isinstance(attempts, bool):
        return max(0, attempts - 1)
    return 10


def retry_after_backoff(retries: Any = None, backoff: Backoff | None = None) -> Backoff:
    """`backoff` (default `DEFAULT_RETRY_AFTER_BACKOFF`) with its steps set from `retries` (a
    `Configuration.retries` value) when given."""
    base = backoff if backoff is not None else DEFAULT_RETRY_AFTER_BACKOFF
    if retries is None:
        return base
    return Backoff(
        steps=retry_after_max_retries(retries) + 1,
        duration=base.duration,
        factor=base.factor,
        jitter=base.jitter,
        cap=base.cap,
    )
