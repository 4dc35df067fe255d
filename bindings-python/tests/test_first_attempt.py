"""The native first attempt (`_native.FirstAttempt`): the nesting marker is per thread (per
greenlet under gevent, per task in asyncio) and always removed, what is awaited is decided by the
result's type, the deadline counts the first attempt, and bad arguments are clear errors."""

from __future__ import annotations

import _thread
import asyncio
import threading
import time
from typing import Any

import pytest
from k8sretry import Policy, _native, retry_on_k8s_error, wrap_client
from k8sretry._nesting import RUNNING
from kubernetes.client.exceptions import ApiException

FAST = Policy(initial_delay=0.001, max_delay=0.001, budget=None, max_retries=3)


def unavailable() -> ApiException:
    return ApiException(status=503, reason="Service Unavailable")


def test_another_thread_during_an_attempt_retries_on_its_own() -> None:
    inner_attempts: list[int] = []

    @retry_on_k8s_error(policy=FAST)
    def first_inner() -> str:
        inner_attempts.append(1)
        if len(inner_attempts) < 3:
            raise unavailable()
        return "inner"

    @retry_on_k8s_error(policy=FAST)
    def first_outer() -> str:
        # The same thread: nested (one attempt). Another thread: a call of its own.
        results: list[str] = []
        worker = threading.Thread(target=lambda: results.append(first_inner()))
        worker.start()
        worker.join()
        return results[0]

    assert first_outer() == "inner"
    assert len(inner_attempts) == 3, "the worker thread's call retried on its own"
    assert not RUNNING and not _native.thread_inside()


def test_the_marker_is_removed_after_success_failure_and_interrupt() -> None:
    @retry_on_k8s_error(policy=FAST)
    def first_ok() -> int:
        return 1

    @retry_on_k8s_error(policy=FAST)
    def first_fails() -> int:
        raise unavailable()

    @retry_on_k8s_error(policy=FAST)
    def first_interrupted() -> int:
        raise KeyboardInterrupt

    assert first_ok() == 1
    assert not RUNNING and not _native.thread_inside()
    with pytest.raises(ApiException):
        first_fails()
    assert not RUNNING and not _native.thread_inside()
    with pytest.raises(KeyboardInterrupt):
        first_interrupted()
    assert not RUNNING and not _native.thread_inside()
    # Still not nested afterwards: a failing call retries again.
    attempts: list[int] = []

    @retry_on_k8s_error(policy=FAST)
    def first_after() -> int:
        attempts.append(1)
        if len(attempts) < 2:
            raise unavailable()
        return 2

    assert first_after() == 2 and len(attempts) == 2


class Pending:
    """An awaitable that is not a coroutine (as a Future is)."""

    def __init__(self, value: Any, error: BaseException | None = None) -> None:
        self.value, self.error = value, error

    def __await__(self) -> Any:
        yield from asyncio.sleep(0).__await__()
        if self.error is not None:
            raise self.error
        return self.value


def test_a_decorated_def_returns_a_non_coroutine_awaitable_as_it_is() -> None:
    pending = Pending(1)

    @retry_on_k8s_error(policy=FAST)
    def first_gives_awaitable() -> Pending:
        return pending

    assert first_gives_awaitable() is pending


def test_a_client_method_returning_an_awaitable_is_awaited_and_retried() -> None:
    attempts: list[int] = []

    class Api:
        def read_namespaced_config_map(self, name: str, namespace: str) -> Pending:
            attempts.append(1)
            return Pending(name, unavailable() if len(attempts) < 3 else None)

    api = wrap_client(Api(), policy=FAST)

    async def main() -> Any:
        return await api.read_namespaced_config_map("x", "y")

    assert asyncio.run(main()) == "x"
    assert len(attempts) == 3


def test_the_deadline_counts_the_first_attempt() -> None:
    attempts: list[int] = []

    @retry_on_k8s_error(
        policy=Policy(initial_delay=0.2, max_delay=0.2, jitter="none", budget=None, deadline=0.3)
    )
    def first_slow() -> None:
        attempts.append(1)
        time.sleep(0.15)
        raise unavailable()

    with pytest.raises(ApiException) as info:
        first_slow()
    # 0.15 s spent + 0.2 s to wait > 0.3 s: no retry.
    assert len(attempts) == 1
    assert getattr(info.value, "k8sretry_give_up", None) == "Deadline"


def test_bad_arguments_are_type_errors() -> None:
    class Hooks:
        plain = None

    recorder = Policy.preset("default")._native.recorder("first_bad")
    first = _native.FirstAttempt(lambda: 1, Hooks(), recorder, False)
    assert first.run((), None) == 1
    with pytest.raises(TypeError):
        first.run([], None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        first.run((), [])  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        _native.FirstAttempt(lambda: 1, object(), recorder, False)


def test_tasks_are_marked_apart() -> None:
    inner_attempts: list[str] = []

    @retry_on_k8s_error(policy=FAST)
    async def first_task_inner(who: str) -> str:
        inner_attempts.append(who)
        if inner_attempts.count(who) < 3:
            raise unavailable()
        return who

    @retry_on_k8s_error(policy=FAST)
    def first_sync_inner() -> None:
        inner_attempts.append("sync")
        raise unavailable()

    @retry_on_k8s_error(policy=FAST)
    async def first_task_outer() -> list[str]:
        # A task of its own retries on its own; the same task (awaited, or a sync wrapper called
        # in it) is nested: one attempt each.
        spawned = await asyncio.create_task(first_task_inner("spawned"))
        with pytest.raises(ApiException):
            first_sync_inner()
        with pytest.raises(ApiException):
            await first_task_inner("awaited")
        return [spawned]

    assert asyncio.run(first_task_outer()) == ["spawned"]
    assert inner_attempts.count("spawned") == 3, "a spawned task's call retried on its own"
    assert inner_attempts.count("sync") == 1 and inner_attempts.count("awaited") == 1, "nested: one attempt"
    assert not RUNNING and not _native.thread_inside()


def test_a_patched_get_ident_marks_greenlets_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    # gevent's monkey-patch makes `_thread.get_ident` the greenlet's id: one OS thread, many marks.
    current = [1]
    monkeypatch.setattr(_thread, "get_ident", lambda: current[0])
    assert _native.thread_enter() and not _native.thread_enter(), "greenlet 1 is inside"
    current[0] = 2
    assert not _native.thread_inside(), "greenlet 2 on the same OS thread is not"
    assert _native.thread_enter()
    current[0] = 1
    _native.thread_leave()
    assert not _native.thread_inside()
    current[0] = 2
    assert _native.thread_inside()
    _native.thread_leave()
    assert not _native.thread_inside()
    monkeypatch.undo()
    assert not _native.thread_inside(), "the OS thread's own flag was never set"
