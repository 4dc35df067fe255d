"""What a caller controls in every retry loop: a predicate that vetoes a retry (`retry_if`),
`sleep=` wherever the engine waits, a seeded or injected random source, and a Policy that can be
read back (properties, `to_json`, `==`)."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest
from k8sretry import (
    Policy,
    RetryBudget,
    apply,
    create_idempotent,
    delete_idempotent,
    retry_async,
    retry_on_conflict,
    retry_on_k8s_error,
)
from kubernetes.client.exceptions import ApiException

NO_BUDGET: Any = None


def failing(status: int, times: int) -> tuple[list[int], Any]:
    calls: list[int] = []

    def fn(*args: Any, **kwargs: Any) -> str:
        calls.append(1)
        if len(calls) <= times:
            raise ApiException(status=status)
        return "ok"

    return calls, fn


def test_retry_if_vetoes_what_the_engine_would_retry() -> None:
    calls, fn = failing(503, 5)
    decorated = retry_on_k8s_error(
        max_retries=5, budget=NO_BUDGET, retry_if=lambda e: False, sleep=lambda s: None
    )(fn)
    with pytest.raises(ApiException) as caught:
        decorated()
    assert len(calls) == 1 and caught.value.k8sretry_give_up  # type: ignore[attr-defined]
    # True leaves the decision to the engine: a 503 is retried, a 400 is not.
    calls, fn = failing(503, 2)
    assert retry_on_k8s_error(budget=NO_BUDGET, retry_if=lambda e: True, sleep=lambda s: None)(fn)() == "ok"
    calls, fn = failing(400, 1)
    with pytest.raises(ApiException):
        retry_on_k8s_error(budget=NO_BUDGET, retry_if=lambda e: True, sleep=lambda s: None)(fn)()
    assert len(calls) == 1


def test_retry_if_is_asked_with_the_exception_and_vetoes_in_async_code() -> None:
    seen: list[BaseException] = []

    async def fn() -> None:
        raise ApiException(status=503)

    def only_twice(exc: Exception) -> bool:
        seen.append(exc)
        return len(seen) < 3

    async def sleep(seconds: float) -> None:
        pass

    with pytest.raises(ApiException):
        asyncio.run(retry_async(fn, max_retries=10, budget=NO_BUDGET, retry_if=only_twice, sleep=sleep))
    assert len(seen) == 3 and all(isinstance(e, ApiException) for e in seen)


def test_seed_repeats_and_random_is_the_source() -> None:
    def sleeps_of(**keywords: Any) -> list[float]:
        sleeps: list[float] = []
        _, fn = failing(503, 3)
        retry_on_k8s_error(max_retries=3, budget=NO_BUDGET, sleep=sleeps.append, **keywords)(fn)()
        return sleeps

    assert sleeps_of(seed=7) == sleeps_of(seed=7) != sleeps_of(seed=8)
    # proportional jitter 0.1: d * (1 - 0.1 + 0.2 * U); U = 0 -> 0.9 d
    assert sleeps_of(random=lambda: 0.0) == pytest.approx([0.9, 1.8, 3.6])
    draws, reference = random.Random(3), random.Random(3)
    expected = [d * (0.9 + 0.2 * reference.random()) for d in (1.0, 2.0, 4.0)]
    assert sleeps_of(random=draws.random) == pytest.approx(expected)
    with pytest.raises(TypeError):
        retry_on_k8s_error(policy=Policy(), seed=1)


def test_sleep_is_used_by_every_helper() -> None:
    policy = Policy(max_retries=2, initial_delay=0.5, jitter="none", budget=None)
    sleeps: list[float] = []

    calls, fn = failing(409, 1)
    assert retry_on_conflict(fn, policy=policy, sleep=sleeps.append) == "ok"
    calls, fn = failing(503, 1)
    assert delete_idempotent(fn, "x", policy=policy, sleep=sleeps.append) == "ok"
    calls, fn = failing(503, 1)
    assert (
        apply(fn, body={"metadata": {"name": "x"}}, field_manager="m", policy=policy, sleep=sleeps.append)
        == "ok"
    )
    calls, fn = failing(503, 1)
    assert create_idempotent(
        fn, lambda name: None, {"metadata": {"name": "x"}}, policy=policy, sleep=sleeps.append
    )
    assert sleeps == [0.5, 0.5, 0.5, 0.5]


def test_retry_on_conflict_retry_if_vetoes() -> None:
    calls, fn = failing(409, 5)
    with pytest.raises(ApiException):
        retry_on_conflict(fn, retry_if=lambda e: False, sleep=lambda s: None)
    assert len(calls) == 1


def test_a_policy_reads_back() -> None:
    policy = Policy(preset="read", max_retries=4, initial_delay=0.25, jitter={"upward": 0.5}, seed=9)  # type: ignore[arg-type]
    assert policy.name == "read" and policy.max_retries == 4
    assert policy.initial_delay == 0.25 and policy.jitter == {"upward": 0.5} and policy.seed == 9
    assert isinstance(policy.max_delay, float) and isinstance(policy.retry_statuses, list)
    config = json.loads(policy.to_json())
    assert config["preset"] == "read" and config["max_retries"] == 4
    again = Policy.from_json(policy.to_json())
    assert again == policy and hash(again) == hash(policy)
    assert Policy.preset("default") == Policy() and Policy(max_retries=1) != Policy()
    budget = RetryBudget()
    assert Policy(budget=budget) != Policy(budget=RetryBudget()) and Policy(budget=budget) == Policy(
        budget=budget
    )
    assert Policy.from_json(repr(policy).removeprefix("Policy.from_json(")[1:-2]) == policy
