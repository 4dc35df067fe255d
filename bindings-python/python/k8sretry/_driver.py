"""The retry loops: call, extract, ask the engine, sleep, call again. No decisions here."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

from . import _native
from ._extract import failure_from_exception
from ._nesting import RUNNING, current_task, nested
from ._notes import _gave_up
from ._policy import Policy

T = TypeVar("T")

Sleep = Callable[[float], Any]
# A predicate over a failed attempt's exception: False vetoes the retry the engine would make.
RetryIf = Callable[[Exception], bool]

# The effects the shared loop asks its driver for.
SLEEP, READ, ATTEMPT = range(3)


class Reader:
    """A call's read-back, as the engine may ask for it: `read()` runs the GET by name or the LIST
    by the request-id label (it may return an awaitable), `judge(result)` says what that found:
    `("ours" | "not_ours" | "missing", found object or None)`. `verb` is the read's verb."""

    __slots__ = ("read", "judge", "verb")

    def __init__(self, read: Callable[[], Any], judge: Callable[[Any], tuple[str, Any]], verb: str) -> None:
        self.read = read
        self.judge = judge
        self.verb = verb


class Retrier:
    """One configured retry loop after a failed first attempt; `after_sync_failure` /
    `after_async_failure` drive one call each (the success path is the caller's, inlined)."""

    __slots__ = (
        "policy", "name", "verb", "recovery", "retry_on", "sleep", "reader", "exclusive", "retry_if", "vouch",
        "recorder",
    )  # fmt: skip

    def __init__(
        self,
        policy: Policy,
        name: str,
        *,
        verb: str = "UNKNOWN",
        recovery: str = "none",
        retry_on: tuple[type[BaseException], ...] = (),
        sleep: Sleep | None = None,
        reader: Reader | None = None,
        exclusive: bool = True,
        retry_if: Callable[[Exception], bool] | None = None,
        vouch: bool = False,
    ) -> None:
        # retry_if: the caller's predicate over a failed attempt's exception. False vetoes a retry
        # (the engine classifies the failure Fatal); True leaves it to the engine, or with `vouch`
        # declares it retryable (the official client's on_error: the caller vouches).
        self.retry_if = retry_if
        self.vouch = vouch
        # exclusive: k8sretry wrappers called during its attempts make one attempt each (the
        # transient-failure loops); retry_on_conflict's loop is not one of them.
        self.exclusive = exclusive
        self.policy = policy
        self.name = name
        self.verb = verb
        self.recovery = recovery
        self.retry_on = retry_on
        self.sleep = sleep
        self.reader = reader
        self.recorder: _native.SuccessRecorder | None = None

    def record_success(self) -> None:
        """A first-attempt success (the same record as a decorator's prepared recorder)."""
        recorder = self.recorder
        if recorder is None:
            recorder = self.recorder = self.policy._native.recorder(self.name)
        recorder.record()

    def _call(self, started: float | None, nested: bool) -> _native.Call:
        # `started` is None when the first attempt was not timed (no deadline needs it).
        elapsed = 0.0 if started is None else time.monotonic() - started
        return _native.Call(
            self.policy._native, self.name, self.verb, self.recovery, elapsed,
            reader=self.reader is not None, nested=nested,
        )  # fmt: skip

    def _failure(self, exc: BaseException) -> _native.Failure:
        """The Failure of an attempt's exception, with the caller's predicate applied (never to a
        cancellation or a process being stopped: those are not `Exception`s)."""
        vouched = vetoed = False
        if self.retry_if is not None and isinstance(exc, Exception):
            if self.retry_if(exc):
                vouched = self.vouch
            else:
                vetoed = True
        return failure_from_exception(exc, self.retry_on, self.verb, vouched=vouched, vetoed=vetoed)

    def _steps(self, call: _native.Call, exc: BaseException) -> Generator[tuple[int, Any], Any, Any]:
        """The loop after a failed first attempt, as a generator of effects shared by the sync and
        async drivers: it yields `(SLEEP, seconds)`, `(READ, None)` or `(ATTEMPT, None)` and gets
        back `(True, result)` or `(False, exception)` for the last two. It carries out what the
        engine decides, nothing more; its return value is the call's. A cancel (of the task, or a
        KeyboardInterrupt) during any sleep, before a retry or a read-back or during a `wait`,
        propagates from the sleep as it is, after the driver told the engine (`_cancelled`)."""
        earlier: list[BaseException] = []
        read_errors: list[BaseException] = []
        found: Any = None
        last_read: str | None = None
        reader = self.reader
        action, delay, reason = call.on_failure(self._failure(exc))
        while True:
            if action == "wait":
                # The budget deferred the retry: sleep, send nothing, ask again.
                yield SLEEP, delay
                action, delay, reason = call.resume()
            elif action == "retry":
                if delay > 0:
                    yield SLEEP, delay
                ok, result = yield ATTEMPT, None
                if ok:
                    call.on_success()
                    return result
                earlier.append(exc)
                exc = result
                action, delay, reason = call.on_failure(self._failure(exc))
            elif action == "read_back" and reader is not None:  # asked for only with a reader
                if delay > 0:
                    yield SLEEP, delay
                ok, result = yield READ, None
                if ok:
                    last_read, found = reader.judge(result)
                    action, delay, reason = call.on_read_back(last_read)
                else:
                    # The read's own error is never raised: the request's is, if anything.
                    read_errors.append(result)
                    last_read = "failed"
                    action, delay, reason = call.on_read_back(
                        "failed", failure_from_exception(result, verb=reader.verb)
                    )
            elif action == "done":
                return None
            elif action == "recovered":
                return found
            else:  # give_up
                if reason != "Nested":  # a nested call's error goes to the enclosing call as it is
                    _gave_up(exc, call, reason, earlier, last_read, read_errors)
                raise exc

    # ------------------------------------------------------------------ sync

    def after_sync_failure(
        self, attempt: Callable[[], T], exc: BaseException, started: float | None, nested: bool = False
    ) -> T:
        call = self._call(started, nested)
        steps = self._steps(call, exc)
        sleep = self.sleep or time.sleep
        read = self.reader.read if self.reader is not None else None
        # The retries and read-backs are attempts too: what they call is nested.
        marked = self.exclusive and _native.thread_enter()
        try:
            effect, arg = next(steps)
            while True:
                reply = None
                if effect == SLEEP:
                    sleep(arg)
                else:
                    try:
                        reply = (True, attempt() if effect == ATTEMPT else read())  # type: ignore[misc]
                    except BaseException as failed:
                        reply = (False, failed)
                effect, arg = steps.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        except BaseException:
            _cancelled(call)
            raise
        finally:
            if marked:
                _native.thread_leave()

    # ------------------------------------------------------------------ async

    async def finish_async(
        self, first: Awaitable[Any], attempt: Callable[[], Any], started: float | None
    ) -> Any:
        """Awaits an attempt already started (a coroutine a client method returned), then retries."""
        task = _mark_task() if self.exclusive else None
        try:
            try:
                result = await first
            except BaseException as exc:
                failed = exc
            else:
                self.record_success()
                return result
            # Retried outside the `except` block: what later attempts raise must not get the first
            # failure as its implicit __context__ (extraction walks that chain and would find its status).
            return await self.after_async_failure(attempt, failed, started)
        finally:
            if task is not None:
                RUNNING.discard(task)

    async def after_async_failure(
        self, attempt: Callable[[], Any], exc: BaseException, started: float | None, nested: bool = False
    ) -> Any:
        call = self._call(started, nested)
        steps = self._steps(call, exc)
        read = self.reader.read if self.reader is not None else None
        task = _mark_task() if self.exclusive else None
        try:
            effect, arg = next(steps)
            while True:
                reply = None
                if effect == SLEEP:
                    # A cancelled task stops here at once: CancelledError propagates from the sleep.
                    slept = (self.sleep or asyncio.sleep)(arg)
                    if inspect.isawaitable(slept):
                        await slept
                else:
                    try:
                        result = attempt() if effect == ATTEMPT else read()  # type: ignore[misc]
                        reply = (True, await result if inspect.isawaitable(result) else result)
                    except BaseException as failed:
                        reply = (False, failed)
                effect, arg = steps.send(reply)
        except StopIteration as done:
            return done.value
        except BaseException:
            _cancelled(call)
            raise
        finally:
            if task is not None:
                RUNNING.discard(task)


def _mark_task() -> Any:
    """Marks this task as inside an attempt (the retries of an async loop are attempts too);
    the task, to unmark, or None when it already was (a nested call) or there is no task."""
    task = current_task()
    if task is None or task in RUNNING:
        return None
    RUNNING.add(task)
    return task


def _cancelled(call: _native.Call) -> None:
    """The loop stopped before the call ended (a cancelled task, a KeyboardInterrupt during a sleep,
    a `retry_if` that raised): the engine records the cancel (one outcome, event and metric)."""
    if not call.is_finished:
        call.on_cancelled()


def run_nested(retrier: Retrier, attempt: Callable[[], Any]) -> Any:
    """A call made inside another k8sretry call's attempt: the attempt is made once; its failure
    goes to the engine as a nested call (which answers `Nested`) and is raised unchanged, for the
    enclosing call to decide. An awaitable result is returned as it is."""
    try:
        return attempt()
    except BaseException as exc:
        failed = exc
    return retrier.after_sync_failure(attempt, failed, time.monotonic(), nested=True)


async def run_nested_async(retrier: Retrier, attempt: Callable[[], Awaitable[Any]]) -> Any:
    """`run_nested` for an attempt to await."""
    try:
        return await attempt()
    except BaseException as exc:
        failed = exc
    return await retrier.after_async_failure(attempt, failed, time.monotonic(), nested=True)


def _dispatch(retrier: Retrier, attempt: Callable[[], Any]) -> Any:
    """Runs sync, or returns a coroutine when the first attempt returns an awaitable
    (kubernetes_asyncio methods return a coroutine)."""
    if retrier.exclusive and nested():  # inside another k8sretry retry loop: one attempt (Nested)
        return run_nested(retrier, attempt)
    started = time.monotonic()
    marked = retrier.exclusive and _native.thread_enter()
    try:
        first = attempt()
    except BaseException as exc:
        failed = exc
    else:
        if inspect.isawaitable(first):
            return retrier.finish_async(first, attempt, started)
        retrier.record_success()
        return first
    finally:
        if marked:
            _native.thread_leave()
    # Outside the `except` block: see Retrier.finish_async.
    return retrier.after_sync_failure(attempt, failed, started)
