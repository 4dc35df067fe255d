"""The retry loops: call, extract, ask the engine, sleep, call again. No decisions here."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import sys
import time
import types
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar, overload

from . import _native
from ._events import SETTINGS, EventHandler, default_policy
from ._extract import failure_from_exception
from ._policy import SHARED, Policy

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

# Who is retrying right now in this context: `_SYNC` inside a sync retry loop, the asyncio task
# inside an async one. This is Python's "same logical task" marker: a k8sretry wrapper called while
# another one retries (a wrapped client's method inside a decorated function, a decorated function
# inside another) begins its call `nested`, and the engine makes it a single attempt that leaves
# the retries to the outer one (docs/design.md "Nesting"): attempts never multiply (4 x 4 = 16).
_ACTIVE: contextvars.ContextVar[object] = contextvars.ContextVar("k8sretry_active", default=None)
_SYNC = object()


def nested() -> bool:
    """Whether this code runs inside the attempt of another k8sretry retry loop (same thread, or
    same asyncio task: tasks started from inside the attempt retry on their own)."""
    owner = _ACTIVE.get()
    if owner is None:
        return False
    if owner is _SYNC:
        return True
    try:
        return owner is asyncio.current_task()
    except RuntimeError:  # no running loop: a sync call from a thread the task's context was copied to
        return False


def _owner() -> object:
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return _SYNC
    return task if task is not None else _SYNC


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


def _note(exc: BaseException, text: str) -> None:
    add_note = getattr(exc, "add_note", None)
    if add_note is not None:  # Python 3.11+
        add_note(text)
    else:
        notes = getattr(exc, "__notes__", None)
        if not isinstance(notes, list):
            notes = []
        notes.append(text)
        try:
            exc.__notes__ = notes  # type: ignore[attr-defined]
        except AttributeError:
            pass


_SHOWN_NOTES: dict[type, type] = {}


def _with_notes_shown(cls: type[BaseException]) -> type[BaseException]:
    """A subclass of `cls` (same name, module and qualified name) whose `str()` ends with the
    exception's `__notes__`, which Python 3.10 tracebacks do not print; pickled as `cls`."""
    shown = _SHOWN_NOTES.get(cls)
    if shown is None:
        base_str = cls.__str__
        base_reduce = cls.__reduce__

        def __str__(self: BaseException) -> str:
            notes = getattr(self, "__notes__", None)
            text = base_str(self)
            return "\n".join([text, *map(str, notes)]) if isinstance(notes, list) and notes else text

        def __reduce__(self: BaseException) -> Any:
            reduced = base_reduce(self)
            if isinstance(reduced, tuple) and reduced and reduced[0] is type(self):
                return (cls, *reduced[1:])
            return reduced

        namespace = {
            "__slots__": (),
            "__str__": __str__,
            "__reduce__": __reduce__,
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__,
            "_k8sretry_notes_shown": True,
        }
        shown = _SHOWN_NOTES[cls] = type(cls.__name__, (cls,), namespace)
    return shown


def _show_notes(exc: BaseException) -> None:
    """Python 3.10 does not print `__notes__` (3.11+ does): put them where its tracebacks look,
    the exception's `str()`. A class defined in Python gets a subclass of the same name that adds
    the notes to its `str()` (`isinstance`, `except` and `type(exc).__name__` are unchanged); a
    built-in exception gets them in its message (`strerror` of an OSError with an errno, else
    `args`)."""
    if sys.version_info >= (3, 11) or getattr(type(exc), "_k8sretry_notes_shown", False):
        return
    notes = getattr(exc, "__notes__", None)
    if not isinstance(notes, list) or not notes:
        return
    try:
        exc.__class__ = _with_notes_shown(type(exc))
        return
    except TypeError:  # a built-in type: its instances cannot change class
        pass
    text = "\n".join(map(str, notes))
    if isinstance(exc, OSError) and exc.errno is not None and exc.strerror is not None:
        exc.strerror = f"{exc.strerror}\n{text}"
    elif not exc.args:
        exc.args = (text,)
    elif len(exc.args) == 1 and isinstance(exc.args[0], str):
        exc.args = (f"{exc.args[0]}\n{text}",)
    else:
        exc.args = (*exc.args, text)


def _history(errors: list[BaseException], what: str) -> str:
    return "; ".join(f"{what} {i}: {type(e).__name__}: {e}"[:200] for i, e in enumerate(errors, 1))


_OUTCOME_NOTES = {
    "not_ours": "k8sretry: the object read back does not carry this call's request id: not adopted",
    "missing": "k8sretry: the read-back found no such object",
}


def _gave_up(
    exc: BaseException,
    call: _native.Call,
    reason: str | None,
    earlier: list[BaseException],
    last_read: str | None,
    read_errors: list[BaseException],
) -> None:
    """Attaches what happened to the request's last exception, which is then raised unchanged:
    notes, and the attributes `k8sretry_give_up` (the reason), `k8sretry_attempts` and
    `k8sretry_retry_after` (seconds until the whole call may be tried again, after a give-up on a
    retryable failure; else None)."""
    if earlier:
        _note(exc, f"k8sretry: earlier attempts: {_history(earlier, 'attempt')}")
    if read_errors:
        _note(exc, f"k8sretry: read-backs failed: {_history(read_errors, 'read')}")
    if last_read in _OUTCOME_NOTES:
        _note(exc, _OUTCOME_NOTES[last_read])
    again_in = call.retry_after
    again = f"; try the call again in {again_in:.3g} s" if again_in is not None else ""
    _note(exc, f"k8sretry: gave up after {call.attempts} attempt(s): {reason}{again}")
    for attr, value in (
        ("k8sretry_give_up", reason),
        ("k8sretry_attempts", call.attempts),
        ("k8sretry_retry_after", again_in),
    ):
        try:
            setattr(exc, attr, value)
        except (AttributeError, TypeError):
            pass
    _show_notes(exc)


def retry_after(exc: BaseException) -> float | None:
    """Seconds until a call that k8sretry gave up on may be tried again as a whole (the server's
    hint or the next backoff), for a requeue (`kopf.TemporaryError(delay=...)`, a reconciler's
    RequeueAfter). None when the call did not give up on a retryable failure (a 404, a 409, a
    write whose outcome is unknown...) or the exception did not come through k8sretry."""
    value = getattr(exc, "k8sretry_retry_after", None)
    return value if isinstance(value, float) else None


class Retrier:
    """One configured retry loop after a failed first attempt; `after_sync_failure` /
    `after_async_failure` drive one call each (the success path is the caller's, inlined)."""

    __slots__ = (
        "policy", "name", "verb", "recovery", "retry_on", "sleep", "reader", "exclusive", "retry_if", "vouch",
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

    def _call(self, started: float, nested: bool) -> _native.Call:
        elapsed = time.monotonic() - started
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
        self, attempt: Callable[[], T], exc: BaseException, started: float, nested: bool = False
    ) -> T:
        call = self._call(started, nested)
        steps = self._steps(call, exc)
        sleep = self.sleep or time.sleep
        read = self.reader.read if self.reader is not None else None
        token = _ACTIVE.set(_SYNC) if self.exclusive else None
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
            if token is not None:
                _ACTIVE.reset(token)

    # ------------------------------------------------------------------ async

    async def finish_async(self, first: Awaitable[Any], attempt: Callable[[], Any], started: float) -> Any:
        """Awaits an attempt already started (a coroutine a client method returned), then retries."""
        token = _ACTIVE.set(_owner()) if self.exclusive else None
        try:
            try:
                result = await first
            except BaseException as exc:
                failed = exc
            else:
                self.policy._native.succeeded(self.name)
                return result
            # Retried outside the `except` block: what later attempts raise must not get the first
            # failure as its implicit __context__ (extraction walks that chain and would find its status).
            return await self.after_async_failure(attempt, failed, started)
        finally:
            if token is not None:
                _ACTIVE.reset(token)

    async def after_async_failure(
        self, attempt: Callable[[], Any], exc: BaseException, started: float, nested: bool = False
    ) -> Any:
        call = self._call(started, nested)
        steps = self._steps(call, exc)
        read = self.reader.read if self.reader is not None else None
        token = _ACTIVE.set(_owner()) if self.exclusive else None
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
            if token is not None:
                _ACTIVE.reset(token)


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


def _check_retry_on(retry_on: Any) -> tuple[type[BaseException], ...]:
    if isinstance(retry_on, type):
        retry_on = (retry_on,)
    if not isinstance(retry_on, tuple) or not all(
        isinstance(t, type) and issubclass(t, BaseException) for t in retry_on
    ):
        raise TypeError(f"retry_on must be a tuple of exception classes, not {retry_on!r}")
    return retry_on


class _Bound:
    """The policy, retry loop and success recorder of one decorated function. With `configured`,
    they follow `configure(policy=...)`: looked up again when the settings changed."""

    __slots__ = ("configured", "name", "retry_on", "sleep", "retry_if", "version", "retrier", "record")

    def __init__(
        self,
        policy: Policy | None,
        name: str,
        retry_on: tuple[type[BaseException], ...],
        sleep: Sleep | None,
        retry_if: RetryIf | None = None,
    ) -> None:
        self.configured = policy is None
        self.name, self.retry_on, self.sleep, self.retry_if = name, retry_on, sleep, retry_if
        self.version = SETTINGS.version
        self._bind(policy or default_policy())

    def _bind(self, policy: Policy) -> None:
        self.retrier = Retrier(
            policy, self.name, retry_on=self.retry_on, sleep=self.sleep, retry_if=self.retry_if
        )
        self.record = policy._native.recorder(self.name).record

    def refresh(self) -> None:
        """Follows `configure(policy=...)` (called when the settings changed)."""
        self.version = SETTINGS.version
        self._bind(default_policy())


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
        bound = _Bound(chosen, name, retry_on, sleep, retry_if)
        configured = bound.configured
        # The success path is all most calls ever run: no lookups or calls it can do without.
        monotonic, settings, coroutine = time.monotonic, SETTINGS, types.CoroutineType
        get_active, set_active, reset_active = _ACTIVE.get, _ACTIVE.set, _ACTIVE.reset
        current_task = asyncio.current_task
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                owner = get_active()
                if owner is not None and (owner is _SYNC or owner is current_task()):
                    # Inside another k8sretry retry loop: one attempt, the engine says (Nested).
                    return await run_nested_async(bound.retrier, lambda: fn(*args, **kwargs))
                if configured and bound.version != settings.version:
                    bound.refresh()
                started = monotonic()
                token = set_active(current_task())
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as exc:
                    failed = exc
                else:
                    reset_active(token)
                    bound.record()
                    return result
                reset_active(token)
                # Outside the `except` block: see Retrier.finish_async.
                return await bound.retrier.after_async_failure(lambda: fn(*args, **kwargs), failed, started)

            async_wrapper._k8sretry_decorated = True  # type: ignore[attr-defined]
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            owner = get_active()
            if owner is not None and (owner is _SYNC or nested()):
                # Inside another k8sretry retry loop: one attempt, the engine says (Nested).
                return run_nested(bound.retrier, lambda: fn(*args, **kwargs))
            if configured and bound.version != settings.version:
                bound.refresh()
            started = monotonic()
            token = set_active(_SYNC)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                failed = exc
            else:
                reset_active(token)
                if type(result) is coroutine:
                    # A `def` that returns a coroutine (`return api.read_...(...)` over
                    # kubernetes_asyncio): the call happens when it is awaited, so retry then.
                    return bound.retrier.finish_async(result, lambda: fn(*args, **kwargs), started)
                bound.record()
                return result
            reset_active(token)
            # Outside the `except` block: see Retrier.finish_async.
            return bound.retrier.after_sync_failure(lambda: fn(*args, **kwargs), failed, started)

        wrapper._k8sretry_decorated = True  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


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
    """Retries a `def` or `async def` on transient Kubernetes API failures (DESIGN §2.2).

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
