"""The decorators: `retry_on_k8s_error`, `retry_on_connection_error` and `retry_async`."""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

from . import _native
from ._bound import Hooks, _Bound
from ._driver import Retrier, RetryIf, Sleep, run_nested_async
from ._native import thread_inside
from ._nesting import RUNNING
from ._policy import SHARED, Policy
from ._settings import EventHandler

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def _check_retry_on(retry_on: Any) -> tuple[type[BaseException], ...]:
    if isinstance(retry_on, type):
        retry_on = (retry_on,)
    if not isinstance(retry_on, tuple) or not all(
        isinstance(t, type) and issubclass(t, BaseException) for t in retry_on
    ):
        raise TypeError(f"retry_on must be a tuple of exception classes, not {retry_on!r}")
    return retry_on


def _decorator(
    preset: str,
    max_retries: int | None,
    initial_delay: float | None,
    max_delay: float | None,
    exponential_base: float | None,
    retry_on: Any,
    jitter: float | str | None,
    retry_after_cap: float | None,
    deadline: float | None,
    budget: Any,
    breaker: _native.CircuitBreaker | None,
    policy: Policy | None,
    on_event: EventHandler | None,
    sleep: Sleep | None,
    retry_if: RetryIf | None = None,
    seed: int | None = None,
    random: Callable[[], float] | None = None,
) -> Callable[[F], F]:
    retry_on = _check_retry_on(retry_on)
    if retry_if is not None and not callable(retry_if):
        raise TypeError(f"retry_if must be a callable taking the exception, not {type(retry_if).__name__}")
    if sleep is not None and not callable(sleep):
        raise TypeError(f"sleep must be a callable taking seconds, not {type(sleep).__name__}")
    keywords = (
        max_retries, initial_delay, max_delay, exponential_base, jitter, retry_after_cap, deadline,
        budget, breaker, on_event, seed, random,
    )  # fmt: skip
    if policy is None and not (preset == "default" and keywords == _DEFAULT_KEYWORDS):
        policy = Policy(
            preset=preset,
            max_retries=max_retries,
            initial_delay=initial_delay,
            max_delay=max_delay,
            exponential_base=exponential_base,
            jitter=jitter,
            retry_after_cap=retry_after_cap,
            deadline=deadline,
            budget=budget,
            breaker=breaker,
            on_event=on_event,
            seed=seed,
            random=random,
        )
    elif policy is not None and (on_event is not None or seed is not None or random is not None):
        raise TypeError("with policy=..., give on_event, seed and random to the Policy")
    # policy None here: retry_on_k8s_error() without retry keywords, which follows configure(policy=...).
    chosen = policy

    def decorate(fn: F) -> F:
        name = getattr(fn, "__name__", "call")
        hooks = _FunctionHooks(fn)
        bound = _Bound(
            chosen,
            lambda policy: Retrier(policy, name, retry_on=retry_on, sleep=sleep, retry_if=retry_if),
            fn,
            hooks,
        )
        if inspect.iscoroutinefunction(fn):
            return _async_wrapper(fn, bound)  # type: ignore[return-value]
        # The success path is all most calls ever run: one native call (the nesting check, the
        # call, the success record; docs/design.md "Nesting"), which hands the rest to `hooks`.
        run = bound.first.run

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return run(args, kwargs)

        wrapper._k8sretry_decorated = True  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


class _FunctionHooks(Hooks):
    """A decorated function's: a function's keywords are its own (never special), and its result
    is awaited only when it is a coroutine (a `def` that returns `api.read_...(...)` over
    kubernetes_asyncio: the call happens when it is awaited, so it is retried then)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.fn = fn

    def again(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[[], Any]:
        return functools.partial(self.fn, *args, **kwargs)


def _async_wrapper(fn: Callable[..., Any], bound: _Bound) -> Callable[..., Any]:
    """The `async def` wrapper: its marker is its task (in `RUNNING` for the attempt)."""
    monotonic, running, current_task = time.monotonic, RUNNING, asyncio.current_task

    @functools.wraps(fn)
    async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
        task: object = current_task()
        if task in running or thread_inside():
            # Inside another k8sretry retry loop: one attempt, the engine says (Nested).
            return await run_nested_async(bound.retrier, functools.partial(fn, *args, **kwargs))
        if task is None:  # a coroutine driven by hand: a key of its own
            task = object()
        running.add(task)
        started = monotonic() if bound.timed else None
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            failed = exc
        else:
            running.discard(task)
            bound.record()
            return result
        running.discard(task)
        # Outside the `except` block: see Retrier.finish_async.
        again = functools.partial(fn, *args, **kwargs)
        return await bound.retrier.after_async_failure(again, failed, started)

    async_wrapper._k8sretry_decorated = True  # type: ignore[attr-defined]
    return async_wrapper


# Every retry keyword left out: the preset's values (None means "the preset's value").
_DEFAULT_KEYWORDS = (None, None, None, None, None, None, None, SHARED, None, None, None, None)


def retry_on_k8s_error(
    max_retries: int | None = None,
    initial_delay: float | None = None,
    max_delay: float | None = None,
    exponential_base: float | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
    *,
    jitter: float | str | None = None,
    retry_after_cap: float | None = None,
    deadline: float | None = None,
    budget: Any = SHARED,
    breaker: _native.CircuitBreaker | None = None,
    policy: Policy | None = None,
    on_event: EventHandler | None = None,
    sleep: Sleep | None = None,
    retry_if: RetryIf | None = None,
    seed: int | None = None,
    random: Callable[[], float] | None = None,
) -> Callable[[F], F]:
    """Retries a `def` or `async def` on transient Kubernetes API failures (DESIGN §2).

    The retry keywords left out (None) take the `default` preset's values (`Policy.preset("default")`
    shows them); `retry_on_connection_error`'s take the `connection` preset's.

    After the last attempt the original exception is re-raised unchanged, with notes that
    tell the attempts made. With `policy=`, the policy's settings apply and the other retry
    keywords are ignored.

    `retry_if(exc)` returning False vetoes a retry the engine would make (the failure counts as
    Fatal); it is never asked about a cancellation. `sleep` does every wait (`time.sleep` /
    `asyncio.sleep` by default; it may return an awaitable in async code). `seed` makes the
    jitter repeat; `random` (returning a float in [0, 1)) is its source instead.
    """
    return _decorator(
        "default", max_retries, initial_delay, max_delay, exponential_base, retry_on, jitter,
        retry_after_cap, deadline, budget, breaker, policy, on_event, sleep, retry_if, seed, random,
    )  # fmt: skip


def retry_on_connection_error(
    max_retries: int | None = None,
    initial_delay: float | None = None,
    max_delay: float | None = None,
    exponential_base: float | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
    *,
    jitter: float | str | None = None,
    retry_after_cap: float | None = None,
    deadline: float | None = None,
    budget: Any = SHARED,
    breaker: _native.CircuitBreaker | None = None,
    policy: Policy | None = None,
    on_event: EventHandler | None = None,
    sleep: Sleep | None = None,
    retry_if: RetryIf | None = None,
    seed: int | None = None,
    random: Callable[[], float] | None = None,
) -> Callable[[F], F]:
    """Like `retry_on_k8s_error`, but only connection-level failures are retried (no statuses)."""
    return _decorator(
        "connection", max_retries, initial_delay, max_delay, exponential_base, retry_on, jitter,
        retry_after_cap, deadline, budget, breaker, policy, on_event, sleep, retry_if, seed, random,
    )  # fmt: skip


@overload
async def retry_async(
    func: Callable[..., Awaitable[T]],
    *args: Any,
    max_retries: int | None = None,
    initial_delay: float | None = None,
    max_delay: float | None = None,
    exponential_base: float | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
    jitter: float | str | None = None,
    retry_after_cap: float | None = None,
    deadline: float | None = None,
    budget: Any = SHARED,
    breaker: _native.CircuitBreaker | None = None,
    policy: Policy | None = None,
    on_event: EventHandler | None = None,
    sleep: Sleep | None = None,
    retry_if: RetryIf | None = None,
    seed: int | None = None,
    random: Callable[[], float] | None = None,
    **kwargs: Any,
) -> T: ...


@overload
async def retry_async(
    func: Callable[..., T],
    *args: Any,
    max_retries: int | None = None,
    initial_delay: float | None = None,
    max_delay: float | None = None,
    exponential_base: float | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
    jitter: float | str | None = None,
    retry_after_cap: float | None = None,
    deadline: float | None = None,
    budget: Any = SHARED,
    breaker: _native.CircuitBreaker | None = None,
    policy: Policy | None = None,
    on_event: EventHandler | None = None,
    sleep: Sleep | None = None,
    retry_if: RetryIf | None = None,
    seed: int | None = None,
    random: Callable[[], float] | None = None,
    **kwargs: Any,
) -> T: ...


async def retry_async(
    func: Callable[..., Any],
    *args: Any,
    max_retries: int | None = None,
    initial_delay: float | None = None,
    max_delay: float | None = None,
    exponential_base: float | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
    jitter: float | str | None = None,
    retry_after_cap: float | None = None,
    deadline: float | None = None,
    budget: Any = SHARED,
    breaker: _native.CircuitBreaker | None = None,
    policy: Policy | None = None,
    on_event: EventHandler | None = None,
    sleep: Sleep | None = None,
    retry_if: RetryIf | None = None,
    seed: int | None = None,
    random: Callable[[], float] | None = None,
    **kwargs: Any,
) -> Any:
    """Awaits `func(*args, **kwargs)` with retries and returns its result. The retry keywords
    configure the retry; every other argument goes to `func`. `func` may be `async` or return an
    awaitable (as `kubernetes_asyncio` methods do), or be a plain function."""
    decorate = _decorator(
        "default", max_retries, initial_delay, max_delay, exponential_base, retry_on, jitter,
        retry_after_cap, deadline, budget, breaker, policy, on_event, sleep, retry_if, seed, random,
    )  # fmt: skip

    async def once() -> Any:
        result = func(*args, **kwargs)
        return await result if inspect.isawaitable(result) else result

    once.__name__ = getattr(func, "__name__", "retry_async")
    return await decorate(once)()
