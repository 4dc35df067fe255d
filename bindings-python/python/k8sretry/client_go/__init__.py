"""The official client's retry utilities (`kubernetes.utils.retry`, ports of client-go's
`util/retry` and `rest.WithRetry`) on the k8sretry engine: switch with one import::

    from k8sretry.client_go import retry_on_conflict, on_error, Backoff   # sync
    from k8sretry.client_go.aio import retry_on_conflict, on_error         # asyncio

The API is the official one: `Backoff(steps, duration, factor, jitter, cap)`, `DEFAULT_BACKOFF`,
`DEFAULT_RETRY`, `DEFAULT_RETRY_AFTER_BACKOFF`, `on_error(backoff, retriable, fn, sleep_func,
random_func)`, `retry_on_conflict(fn, backoff, sleep_func, random_func)`,
`on_retry_after_error(...)`, `retry_after_backoff`, `retry_after_max_retries`,
`retry_after_seconds`, `is_conflict`, `is_too_many_requests`, `is_retry_after_response`.

What is whose:

- **The predicate decides what is retryable** in `on_error` / `on_retry_after_error`: the caller
  vouches (`True`: retried whatever the verb; `False`: a veto, raised at once).
  `retry_on_conflict` retries what the engine classifies `Conflict`.
- **The engine decides the rest**: the delays (a `Backoff` is a policy: `steps - 1` retries,
  `duration` the first delay, `factor` the growth, `jitter` client-go's upward jitter
  `d * (1 + jitter * random_func())`, `cap` the largest delay), the Retry-After hints, the
  retry budget (the process-wide one), the events (logging) and the metrics
  (`k8sretry_calls_total{function=<fn's name>}`, ...). `random_func` is the engine's random
  source for the jitter; `sleep_func` does every wait.

Where the engine's rule differs from client-go's **on purpose** (and the official tests that check
client-go's rule, skipped by name with this reason when the official `retry_test.py` /
`aio_retry_test.py` run against this module, `tests/official/run.py`):

- **A cap is a ceiling.** client-go stops retrying once the growing delay reaches `cap` (it sleeps
  `cap`'s step, then gives up without calling `fn` again); the engine keeps retrying at most every
  `cap` seconds until `steps` run out: a cap limits waiting, not trying.
  Skipped: `test_on_error_stops_after_capped_sleep`.
- **A server's Retry-After is honoured by every helper.** client-go's `OnError` ignores it (only
  `rest.WithRetry` reads it); here `on_error` waits `max(Retry-After, backoff)` like
  `on_retry_after_error` (the hint capped by the engine's `retry_after_cap`, 30 s; HTTP-dates are
  read too). Skipped: `test_on_error_uses_backoff_with_retry_after`.
- **AlreadyExists is not a conflict.** A 409 whose Status reason is `AlreadyExists` (a create that
  met an existing object) is not retried by `retry_on_conflict` and `is_conflict` is False for it:
  re-running a read-modify-write cannot make a create succeed. (No official test checks this.)
- **A lost write is not re-run.** `retry_on_conflict` re-runs `fn` after a `Conflict` only; after
  a failure that leaves the write's outcome unknown (a reset, a timeout, a 5xx) it raises: the
  change may have landed. (The official tests agree: a 500 is raised at once.)
- `factor` below 1 (a shrinking backoff) is refused (`PolicyError`); `factor=0` means "keep the
  duration", as in client-go.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
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

# The official client's own tests (kubernetes 37.0.2's kubernetes/utils/retry_test.py and
# kubernetes/aio/utils/retry_test.py) that check a rule the engine differs from on purpose (see
# above); the k8sretry test suite runs the others against this module and skips these by name.
DIFFERS_ON_PURPOSE: dict[str, str] = {
    "test_on_error_stops_after_capped_sleep": (
        "a cap is a ceiling: the engine keeps retrying at most every `cap` seconds until `steps` run "
        "out, where client-go gives up once the delay reaches the cap"
    ),
    "test_on_error_uses_backoff_with_retry_after": (
        "a server's Retry-After is honoured by every helper: on_error waits max(Retry-After, backoff) "
        "where client-go's OnError ignores the header"
    ),
}


def _run(retrier: Any, fn: Callable[[], T]) -> T:
    started = time.monotonic()
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 - the engine (and the predicate) decide
        failed = exc
    else:
        retrier.record_success()
        return result
    # Retried outside the `except` block: later failures must not chain to this one.
    return retrier.after_sync_failure(fn, failed, started)  # type: ignore[no-any-return]


def on_error(
    backoff: Backoff,
    retriable: Callable[[Exception], bool],
    fn: Callable[[], T],
    sleep_func: Callable[[float], object] = time.sleep,
    random_func: Callable[[], float] = random.random,
) -> T:
    """Runs `fn`, again while `retriable(error)` is True, waiting as the engine decides from
    `backoff` and the server's Retry-After (client-go's `retry.OnError`)."""
    return _run(predicate_retrier(backoff, retriable, fn, sleep_func, random_func), fn)


# client-go's rest.WithRetry waits the larger of the server's Retry-After and the backoff; the
# engine does that in every helper, so this is `on_error` under its other name.
on_retry_after_error = on_error


def retry_on_conflict(
    fn: Callable[[], T],
    backoff: Backoff = DEFAULT_RETRY,
    sleep_func: Callable[[float], object] = time.sleep,
    random_func: Callable[[], float] = random.random,
) -> T:
    """Re-runs the read-modify-write `fn` on `Conflict` (client-go's `retry.RetryOnConflict`);
    never after a failure that leaves the write's outcome unknown. Read the object inside `fn`."""
    return _run(conflict_retrier(backoff, fn, sleep_func, random_func), fn)


__all__ = [
    "DEFAULT_BACKOFF",
    "DIFFERS_ON_PURPOSE",
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
