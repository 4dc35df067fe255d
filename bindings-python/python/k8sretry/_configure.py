"""`configure(...)`: the process-wide defaults, and the default policy they give."""

from __future__ import annotations

import logging
import weakref
from typing import Any

from ._policy import Policy
from ._settings import SETTINGS, EventHandler


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


UNSET: Any = _Unset()
"""A keyword of `configure` left out."""


def configure(
    *,
    logger: Any = UNSET,
    on_event: EventHandler | None | _Unset = UNSET,
    policy: Policy | None | _Unset = UNSET,
) -> None:
    """Process-wide defaults; a keyword left out keeps its current setting, `None` restores the default.

    - `logger`: where the log lines go. A `logging.Logger`; a structlog logger (anything with
      `.info(event, **fields)` / `.warning` / `.error` / `.debug`); `False` for no log lines; `None`
      (default): structlog's `get_logger("k8sretry")` when the application has configured structlog,
      else the stdlib logger `k8sretry`.
    - `on_event`: called with every event's dict (the engine's names and fields), for metrics or
      tracing, besides the `on_event` of the policy itself.
    - `policy`: the policy of `wrap_client(...)` without `policy=`, and of `retry_on_k8s_error()` /
      `retry_async(...)` used without retry keywords (the `default` preset until set). Calls
      decorated before `configure` use it from their next call on.
    """
    if logger is not UNSET:
        if logger is not None and logger is not False and not _loggable(logger):
            raise TypeError(
                f"logger must be a logging.Logger, a structlog logger, False or None, not {logger!r}"
            )
        SETTINGS.logger = logger
    if not isinstance(on_event, _Unset):
        if on_event is not None and not callable(on_event):
            raise TypeError(f"on_event must be callable or None, not {on_event!r}")
        SETTINGS.on_event = on_event
    if not isinstance(policy, _Unset):
        if policy is not None and not isinstance(policy, Policy):
            raise TypeError(f"policy must be a k8sretry.Policy or None, not {type(policy).__name__}")
        global _configured_policy
        _configured_policy = policy
        chosen = default_policy()
        for follower in list(FOLLOWERS):
            follower.rebind(chosen)


def _loggable(obj: Any) -> bool:
    return isinstance(obj, logging.Logger) or all(
        callable(getattr(obj, name, None)) for name in ("debug", "info", "warning", "error")
    )


def default_policy() -> Policy:
    """The configured default policy, or the `default` preset."""
    policy = _configured_policy
    if policy is None:
        policy = _DEFAULT_PRESET.get("default")
        if policy is None:
            policy = _DEFAULT_PRESET["default"] = Policy.preset("default")
    return policy


_configured_policy: Policy | None = None
# What was wrapped without a policy (`_bound._Bound`): `configure(policy=...)` rebinds each to the
# new default policy, so that their success path never checks whether the settings changed.
FOLLOWERS: weakref.WeakSet[Any] = weakref.WeakSet()
_DEFAULT_PRESET: dict[str, Policy] = {}
