"""k8sretry inside kopf handlers (see docs/kopf.md): retry transient API failures inside the
handler, and when k8sretry gives up on one, let kopf retry the whole handler when the server (or
the backoff) says to::

    import kopf
    import k8sretry.kopf

    @kopf.on.create("example.com", "v1", "widgets")
    async def create(spec, name, namespace, **_):
        try:
            await core.create_namespaced_config_map(namespace, body)   # core = wrap_client(...)
        except Exception as exc:
            raise k8sretry.kopf.temporary_error(exc) from exc

Needs `kopf` (not a dependency of k8sretry).
"""

from __future__ import annotations

from typing import Any

from ._extract import _message
from ._native import event_text
from ._notes import retry_after

__all__ = ["temporary_error"]


def temporary_error(exc: BaseException, *, default_delay: float | None = None) -> Any:
    """A `kopf.TemporaryError` for `exc` (to `raise ... from exc`): kopf runs the handler again
    after the delay k8sretry gave when it gave up on a retryable failure (`k8sretry.retry_after`:
    the server's Retry-After, or the next backoff), else after `default_delay` (kopf's own default,
    60 s, when None). Its message names the error type, its message (as events carry it: first
    line, no bodies or credentials) and its HTTP status."""
    import kopf

    delay = retry_after(exc)
    if delay is None:
        delay = default_delay
    status = getattr(exc, "status", None)
    # kopf logs the message: the error text goes through the rule of events (DESIGN §7).
    text = event_text(_message(exc))
    message = f"{type(exc).__name__}: {text}" + (f" ({status})" if isinstance(status, int) else "")
    if delay is None:
        return kopf.TemporaryError(message)
    return kopf.TemporaryError(message, delay=delay)
