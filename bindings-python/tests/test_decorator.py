"""The decorators and retry_async: behaviour the old decorator's users rely on, and more."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import k8sretry
import pytest
from k8sretry import (
    Policy,
    PolicyError,
    RetryBudget,
    retry_async,
    retry_on_connection_error,
    retry_on_k8s_error,
)
from kubernetes.client.exceptions import ApiException

UNAVAILABLE = (
    b'{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"ServiceUnavailable","code":503}'
)


def api_error(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> ApiException:
    exc = ApiException(status=status, reason="Service Unavailable")
    exc.body = body
    exc.headers = headers
    return exc


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def test_sync_retries_then_returns() -> None:
    sleeps = Sleeps()
    calls = []

    @retry_on_k8s_error(max_retries=3, initial_delay=1.0, jitter=0, budget=None, sleep=sleeps)
    def create_database(name: str) -> str:
        calls.append(name)
        if len(calls) < 3:
            raise api_error(503, UNAVAILABLE)
        return f"created {name}"

    assert create_database("db") == "created db"
    assert len(calls) == 3
    assert sleeps.delays == [1.0, 2.0]
    assert create_database.__name__ == "create_database"


def test_max_retries_means_that_many_retries_and_the_original_is_raised() -> None:
    errors = [api_error(503) for _ in range(6)]
    calls = iter(errors)

    @retry_on_k8s_error(max_retries=5, initial_delay=2.0, max_delay=30.0, budget=None, sleep=lambda d: None)
    def delete_database() -> None:
        raise next(calls)

    with pytest.raises(ApiException) as info:
        delete_database()
    assert info.value is errors[5], "the last attempt's exception itself"
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "gave up after 6 attempt(s): MaxRetries" in notes
    assert "attempt 1: ApiException" in notes


def test_retry_after_header_is_honoured_never_shortened() -> None:
    """A hint is waited for (spread by up to 20% so a fleet does not come back at once); a hint
    above the cap (30 s here) gives up at once, never retrying sooner than asked."""
    sleeps = Sleeps()
    outcomes: list[Any] = [
        api_error(429, headers={"Retry-After": "7"}),
        api_error(429, headers={"retry-after": "120"}),
        "ok",
    ]

    @retry_on_k8s_error(jitter=0, budget=None, sleep=sleeps)
    def read() -> Any:
        out = outcomes.pop(0)
        if isinstance(out, Exception):
            raise out
        return out

    with pytest.raises(ApiException) as info:
        read()
    assert len(sleeps.delays) == 1 and 7.0 <= sleeps.delays[0] <= 8.4, sleeps.delays
    assert getattr(info.value, "k8sretry_give_up", None) == "RetryAfterTooLong"
    assert k8sretry.retry_after(info.value) == 120.0


def test_non_retryable_errors_are_raised_at_once() -> None:
    calls = []

    @retry_on_k8s_error(sleep=lambda d: None)
    def read() -> None:
        calls.append(1)
        raise api_error(404, b'{"kind":"Status","reason":"NotFound","code":404}')

    with pytest.raises(ApiException):
        read()
    assert len(calls) == 1


def test_keyboard_interrupt_is_never_retried() -> None:
    calls = []

    @retry_on_k8s_error(sleep=lambda d: None)
    def read() -> None:
        calls.append(1)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        read()
    assert len(calls) == 1


def test_retry_on_adds_exception_types() -> None:
    class Flaky(Exception):
        pass

    calls = []

    @retry_on_k8s_error(retry_on=(Flaky,), budget=None, sleep=lambda d: None)
    def op() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise Flaky()
        return "ok"

    assert op() == "ok"
    with pytest.raises(TypeError):
        retry_on_k8s_error(retry_on=("not a type",))  # type: ignore[arg-type]


def test_connection_decorator_ignores_statuses() -> None:
    calls = []

    @retry_on_connection_error(budget=None, sleep=lambda d: None)
    def op() -> None:
        calls.append(1)
        raise api_error(503)

    with pytest.raises(ApiException):
        op()
    assert len(calls) == 1

    @retry_on_connection_error(budget=None, sleep=lambda d: None)
    def op2() -> str:
        calls.append(2)
        if len(calls) < 4:
            raise ConnectionRefusedError(111, "Connection refused")
        return "ok"

    assert op2() == "ok"


def test_async_decorator_and_retry_async() -> None:
    sleeps = Sleeps()
    calls = []

    @retry_on_k8s_error(max_retries=5, initial_delay=2.0, max_delay=30.0, jitter=0, budget=None, sleep=sleeps)
    async def create_database(name: str) -> str:
        calls.append(name)
        if len(calls) < 3:
            raise api_error(502)
        return name

    assert asyncio.run(create_database("x")) == "x"
    assert sleeps.delays == [2.0, 4.0]

    async def read_namespaced_pod(name: str, namespace: str) -> str:
        calls.append(name)
        if len(calls) < 5:
            raise api_error(504)
        return f"{namespace}/{name}"

    result = asyncio.run(
        retry_async(
            read_namespaced_pod, name="my-pod", namespace="default", max_retries=5, budget=None, sleep=sleeps
        )
    )
    assert result == "default/my-pod"


def test_a_cancelled_task_stops_sleeping_at_once() -> None:
    attempts = []

    @retry_on_k8s_error(initial_delay=3600, max_delay=3600, budget=None)
    async def op() -> None:
        attempts.append(1)
        raise api_error(503)

    async def main() -> float:
        task = asyncio.create_task(op())
        await asyncio.sleep(0.05)
        loop = asyncio.get_running_loop()
        started = loop.time()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return loop.time() - started

    assert asyncio.run(main()) < 1.0
    assert attempts == [1]


def test_events_are_logged_with_fields_in_extra(caplog: pytest.LogCaptureFixture) -> None:
    events: list[dict[str, Any]] = []
    calls = []

    @retry_on_k8s_error(jitter=0, budget=None, sleep=lambda d: None, on_event=events.append)
    def get_database_status() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise api_error(503, UNAVAILABLE)
        return "ok"

    with caplog.at_level(logging.INFO, logger="k8sretry"):
        get_database_status()
    records = [r for r in caplog.records if r.name == "k8sretry"]
    assert [r.event for r in records] == [  # type: ignore[attr-defined]
        "k8s_api_call_failed_retrying",
        "k8s_api_call_succeeded_after_retry",
    ]
    assert records[1].getMessage() == (
        "k8s_api_call_succeeded_after_retry, function=get_database_status, attempt=2, max_retries=3"
    )
    first = records[0]
    assert first.levelno == logging.WARNING
    assert (first.function, first.attempt, first.max_retries, first.delay_seconds, first.status_code) == (  # type: ignore[attr-defined]
        "get_database_status",
        1,
        3,
        1.0,
        503,
    )
    assert first.error_type == "ApiException" and first.reason == "ServiceUnavailable"  # type: ignore[attr-defined]
    assert [e["event"] for e in events] == [
        "k8s_api_call_failed_retrying",
        "k8s_api_call_succeeded_after_retry",
    ]
    assert (
        'k8sretry_calls_total{function="get_database_status",outcome="success_after_retry"}'
        in k8sretry.metrics_text()
    )


def test_the_budget_refuses_retries_in_an_outage() -> None:
    budget = RetryBudget(ratio=0.0, min_per_second=0, ttl=10, burst=0.0, min_per_episode=0)
    calls = []

    @retry_on_k8s_error(budget=budget, sleep=lambda d: None)
    def op() -> None:
        calls.append(1)
        raise api_error(503)

    with pytest.raises(ApiException) as info:
        op()
    assert len(calls) == 1
    assert "BudgetExhausted" in "\n".join(info.value.__notes__)


def test_policies_validate_their_input() -> None:
    with pytest.raises(PolicyError, match="max_retrys"):
        Policy.from_json('{"max_retrys": 1}')
    with pytest.raises(PolicyError, match="max_delay"):
        Policy(max_delay=-1)
    with pytest.raises(PolicyError):
        Policy.preset("fast")
    with pytest.raises(PolicyError):
        Policy(initial_delay=float("nan"))
    with pytest.raises(ValueError):  # PolicyError is a ValueError too
        retry_on_k8s_error(max_retries=-1)
    assert Policy.preset("mutation").max_retries == 5
    assert set(k8sretry.PRESETS) >= {"default", "mutation", "read", "connection", "runner_hooks"}


def test_parse_retry_after_and_classify() -> None:
    assert k8sretry.parse_retry_after("5") == 5.0
    assert k8sretry.parse_retry_after("Tue, 14 Nov 2023 22:13:30 GMT", now=1_700_000_000) == 10.0
    assert k8sretry.parse_retry_after("garbage") is None
    assert k8sretry.classify(api_error(429)) == "Throttled"
    assert k8sretry.is_retryable_k8s_error(api_error(503))
    assert not k8sretry.is_retryable_k8s_error(api_error(403))
