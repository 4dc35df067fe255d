"""The retry loop and success path of one wrapped function or client method, prepared once;
without a policy of its own it follows `configure(policy=...)`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _native
from ._configure import FOLLOWERS, default_policy
from ._driver import Retrier
from ._policy import Policy


class _Bound:
    """`first`: the first attempt and its success path (native, `_native.FirstAttempt`), which
    hands everything else to `hooks`; `retrier`: the loop after a failed first attempt; `record`
    and `timed`: the success record and whether the start is taken, for the async wrappers."""

    __slots__ = ("make", "retrier", "record", "timed", "first", "__weakref__")

    def __init__(
        self,
        policy: Policy | None,
        make: Callable[[Policy], Retrier],
        target: Any,
        hooks: Any,
        *,
        method: str | None = None,
        any_awaitable: bool = False,
    ) -> None:
        self.make = make
        chosen = policy or default_policy()
        self._bind(chosen)
        self.first = _native.FirstAttempt(
            target,
            hooks,
            chosen._native.recorder(self.retrier.name),
            self.timed,
            method=method,
            any_awaitable=any_awaitable,
        )
        if policy is None:
            FOLLOWERS.add(self)

    def _bind(self, policy: Policy) -> _native.SuccessRecorder:
        retrier = self.make(policy)
        recorder = policy._native.recorder(retrier.name)
        self.record = recorder.record
        # Only a deadline needs the first attempt's start.
        self.timed = policy.deadline is not None
        self.retrier = retrier
        return recorder

    def rebind(self, policy: Policy) -> None:
        """`configure(policy=...)` chose another default policy."""
        self.first.rebind(self._bind(policy), self.timed)
