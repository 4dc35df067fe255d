"""k8sretry: retries and idempotent writes for Kubernetes API calls.

The decisions (is this retryable? how long to wait?) are made by the native k8sretry engine,
the same one behind the C, Go, Node and Rust bindings.
"""

from __future__ import annotations

import time

from . import _native
from ._client import wrap_client
from ._configure import configure
from ._extract import failure_from_exception
from ._helpers import apply, create_idempotent, delete_idempotent, retry_on_conflict
from ._native import CircuitBreaker, RetryBudget
from ._notes import retry_after
from ._policy import Policy
from ._retry import retry_async, retry_on_connection_error, retry_on_k8s_error
from ._stamp import REQUEST_ID
from .errors import K8sRetryError, PolicyError

__version__: str = _native.VERSION
PRESETS: list[str] = list(_native.PRESETS)

_DEFAULT = Policy.preset("default")


def classify(exc: BaseException) -> str:
    """The engine's class of `exc` under the default policy (`Throttled`, `Transient`, ...)."""
    return _DEFAULT._native.classify(failure_from_exception(exc))


def is_retryable_k8s_error(
    exception: BaseException | None = None, *, exc: BaseException | None = None
) -> bool:
    """Whether the default policy retries `exception` (for an idempotent request). `exc=` is the
    same argument under its earlier name."""
    if (exception is None) == (exc is None):
        raise TypeError("is_retryable_k8s_error() takes one exception: exception=... (or exc=...)")
    failed = exception if exception is not None else exc
    assert failed is not None
    return _DEFAULT._native.is_retryable(failure_from_exception(failed))


def parse_retry_after(value: str, now: float | None = None) -> float | None:
    """Seconds a Retry-After value asks to wait (delta-seconds or HTTP-date, UTC), or None."""
    return _native.parse_retry_after(value, time.time() if now is None else now)


def metrics_text() -> str:
    """All k8sretry metrics of this process in Prometheus text format."""
    return _native.metrics_text()


__all__ = [
    "PRESETS",
    "REQUEST_ID",
    "CircuitBreaker",
    "K8sRetryError",
    "Policy",
    "PolicyError",
    "RetryBudget",
    "apply",
    "classify",
    "configure",
    "create_idempotent",
    "delete_idempotent",
    "failure_from_exception",
    "is_retryable_k8s_error",
    "metrics_text",
    "parse_retry_after",
    "retry_after",
    "retry_async",
    "retry_on_conflict",
    "retry_on_connection_error",
    "retry_on_k8s_error",
    "wrap_client",
]
