"""The retry loop and success path of one wrapped function or client method, prepared once;
without a policy of its own it follows `configure(policy=...)`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _native
from ._configure import FOLLOWERS, default_policy
from ._driver import Retrier, run_nested
from ._policy import Policy


class Hooks:
    """What a native first attempt (`_native.FirstAttempt`) hands back to the package. `again`
    (the same request once more) is the subclass's; a nested call makes one attempt, a failure
    goes to `bound`'s retry loop, an awaitable result is awaited and retried. A call with one of
    `special_keywords` goes to `special`, which returns `plain` to have it run as any other."""

    __slots__ = ("bound",)
    plain: Any = None
    special_keywords: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.bound: _Bound

    def again(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[[], Any]:
        raise NotImplementedError

    def nested(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Inside another k8sretry retry loop: one attempt, the engine says (Nested)."""
        return run_nested(self.bound.retrier, self.again(args, kwargs))

    def failed(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], exc: BaseException, started: float | None
    ) -> Any:
        return self.bound.retrier.after_sync_failure(self.again(args, kwargs), exc, started)

    def awaitable(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any, started: float | None
    ) -> Any:
        return self.bound.retrier.finish_async(result, self.again(args, kwargs), started)


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
        hooks: Hooks,
        *,
        method: str | None = None,
        any_awaitable: bool = False,
    ) -> None:
        self.make = make
        hooks.bound = self
        self.first = _native.FirstAttempt(
            target,
            hooks,
            self._bind(policy or default_policy()),
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
