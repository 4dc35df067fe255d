"""`k8sretry.client_go`: the official retry utilities' API, decided by the engine. The official
tests run in test_client_go_official.py; these check the rules that are the engine's."""

from __future__ import annotations

import asyncio

import pytest
from k8sretry import PolicyError, metrics_text
from k8sretry.client_go import Backoff, is_conflict, on_error, retry_on_conflict
from k8sretry.client_go import aio as client_go_aio
from kubernetes.client.exceptions import ApiException

ALREADY_EXISTS = '{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"AlreadyExists","code":409}'


def api_exception(
    status: int, body: str | None = None, headers: dict[str, str] | None = None
) -> ApiException:
    error = ApiException(status=status)
    error.body = body
    error.headers = headers or {}
    return error


def test_already_exists_is_not_a_conflict() -> None:
    error = api_exception(409, ALREADY_EXISTS)
    assert not is_conflict(error) and is_conflict(api_exception(409))
    calls = []

    def create() -> None:
        calls.append(1)
        raise error

    with pytest.raises(ApiException):
        retry_on_conflict(create, Backoff(steps=5, duration=0.0, factor=1.0), sleep_func=lambda s: None)
    assert len(calls) == 1


def test_a_lost_write_is_not_re_run() -> None:
    calls = []

    def update() -> None:
        calls.append(1)
        raise ConnectionResetError(104, "reset")  # the PUT may have landed

    with pytest.raises(ConnectionResetError):
        retry_on_conflict(update, Backoff(steps=5, duration=0.0, factor=1.0), sleep_func=lambda s: None)
    assert len(calls) == 1


def test_a_cap_is_a_ceiling() -> None:
    sleeps: list[float] = []
    calls = []

    def fn() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise api_exception(500)
        return "ok"

    backoff = Backoff(steps=4, duration=1.0, factor=5.0, cap=3.0)
    assert on_error(backoff, lambda e: True, fn, sleep_func=sleeps.append, random_func=lambda: 0.0) == "ok"
    assert sleeps == [1.0, 3.0, 3.0]


def test_the_predicate_vouches_and_vetoes() -> None:
    calls = []

    def post() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise api_exception(400)  # not retryable for the engine: the caller vouches
        return "ok"

    assert on_error(Backoff(steps=2, duration=0.0, factor=1.0), lambda e: True, post) == "ok"
    vetoed = []

    def read() -> None:
        vetoed.append(1)
        raise api_exception(503)  # retryable for the engine: the caller vetoes

    with pytest.raises(ApiException):
        on_error(Backoff(steps=5, duration=0.0, factor=1.0), lambda e: False, read)
    assert len(vetoed) == 1


def test_jitter_comes_from_random_func_and_metrics_from_the_engine() -> None:
    sleeps: list[float] = []
    calls = []

    def jittered() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise api_exception(503)
        return "ok"

    draws = iter([0.5, 1.0])
    backoff = Backoff(steps=3, duration=2.0, factor=2.0, jitter=0.5)
    assert (
        on_error(backoff, lambda e: True, jittered, sleep_func=sleeps.append, random_func=lambda: next(draws))
        == "ok"
    )
    assert sleeps[0] == pytest.approx(2.5) and 5.99 < sleeps[1] <= 6.0  # a draw of 1 is kept below 1
    assert 'k8sretry_calls_total{function="jittered",outcome="success_after_retry"}' in metrics_text()


def test_a_shrinking_factor_is_refused() -> None:
    with pytest.raises(PolicyError):
        on_error(Backoff(steps=2, duration=1.0, factor=0.5), lambda e: True, lambda: "never")


def test_async_forms() -> None:
    sleeps: list[float] = []
    calls = []

    async def fn() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise api_exception(409)
        return "updated"

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    backoff = Backoff(steps=3, duration=0.5, factor=1.0)
    result = asyncio.run(
        client_go_aio.retry_on_conflict(fn, backoff, sleep_func=sleep, random_func=lambda: 0.0)
    )
    assert result == "updated" and sleeps == [0.5, 0.5]
