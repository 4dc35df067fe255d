"""The loops only carry out what the engine decides: a cancel in any state reaches the engine (one
outcome, one event, one metric), a nested wrapper makes one attempt because the engine says so."""

from __future__ import annotations

import asyncio
from typing import Any

import k8sretry
import pytest
from k8sretry import _native, retry_on_k8s_error
from kubernetes.client.exceptions import ApiException


def unavailable() -> ApiException:
    exc = ApiException(status=503, reason="Service Unavailable")
    exc.body = b'{"kind":"Status","status":"Failure","reason":"ServiceUnavailable","code":503}'
    return exc


def giveups(function: str, reason: str) -> str | None:
    prefix = f'k8sretry_giveups_total{{function="{function}",reason="{reason}"}} '
    for line in k8sretry.metrics_text().splitlines():
        if line.startswith(prefix):
            return line[len(prefix) :]
    return None


def test_a_cancel_during_an_async_sleep_is_one_outcome_and_one_event() -> None:
    events: list[dict[str, Any]] = []

    @retry_on_k8s_error(initial_delay=3600, max_delay=3600, budget=None, on_event=events.append)
    async def driver_async_cancel() -> None:
        raise unavailable()

    async def main() -> None:
        task = asyncio.create_task(driver_async_cancel())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert [(e["event"], e.get("give_up")) for e in events] == [
        ("k8s_api_call_failed_retrying", None),
        ("k8s_api_call_failed_non_retryable", "Cancelled"),
    ]
    assert giveups("driver_async_cancel", "Cancelled") == "1"


def test_a_keyboard_interrupt_during_a_sync_sleep_is_one_outcome_and_one_event() -> None:
    events: list[dict[str, Any]] = []

    def interrupted(delay: float) -> None:
        raise KeyboardInterrupt

    @retry_on_k8s_error(budget=None, sleep=interrupted, on_event=events.append)
    def driver_sync_cancel() -> None:
        raise unavailable()

    with pytest.raises(KeyboardInterrupt):
        driver_sync_cancel()
    assert [(e["event"], e.get("give_up")) for e in events] == [
        ("k8s_api_call_failed_retrying", None),
        ("k8s_api_call_failed_non_retryable", "Cancelled"),
    ]
    assert giveups("driver_sync_cancel", "Cancelled") == "1"


def test_a_nested_wrapper_makes_one_attempt_and_records_nothing() -> None:
    inner_attempts = []

    @retry_on_k8s_error(max_retries=3, budget=None, sleep=lambda d: None)
    def driver_inner() -> None:
        inner_attempts.append(1)
        raise unavailable()

    @retry_on_k8s_error(max_retries=3, budget=None, sleep=lambda d: None)
    def driver_outer() -> None:
        driver_inner()

    with pytest.raises(ApiException) as info:
        driver_outer()
    assert len(inner_attempts) == 4, "4 attempts, not 4 x 4"
    assert getattr(info.value, "k8sretry_give_up", None) == "MaxRetries"
    assert 'function="driver_inner"' not in k8sretry.metrics_text()


def test_a_call_without_a_reader_is_never_asked_to_read_back() -> None:
    policy = _native.Policy.from_json('{"jitter": "none", "budget": null}')
    call = _native.Call(policy, "driver_no_reader", "POST", "create", reader=False)
    assert call.on_failure(_native.Failure(codes=["ECONNRESET"]))[0] == "retry"
    assert call.on_failure(_native.Failure(status=409, reason="AlreadyExists")) == (
        "give_up",
        0.0,
        "OutcomeUnknown",
    )
    assert call.is_finished
    with pytest.raises(_native.StepError):
        call.on_cancelled()
