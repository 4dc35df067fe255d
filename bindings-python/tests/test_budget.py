"""The retry budget in a burst (DESIGN §2.6): N concurrent calls that each fail twice with a 503
and then succeed, through the real decorator with real sleeps, all succeed under the default
budget; a sustained outage is still held to a fraction of its first attempts (the e2e outage
tests measure that against the real apiserver)."""

from __future__ import annotations

import asyncio

import pytest
from k8sretry import RetryBudget, retry_on_k8s_error
from kubernetes.client.exceptions import ApiException


def unavailable() -> ApiException:
    error = ApiException(status=503, reason="Service Unavailable")
    error.body = b'{"kind":"Status","status":"Failure","reason":"ServiceUnavailable","code":503}'
    return error


async def blip(n: int, budget: RetryBudget) -> list[bool]:
    """n concurrent calls, each failing twice and then succeeding."""
    failures: dict[int, int] = {}

    @retry_on_k8s_error(initial_delay=0.2, budget=budget)
    async def call(i: int) -> None:
        failures[i] = failures.get(i, 0) + 1
        if failures[i] <= 2:
            raise unavailable()

    async def ok(i: int) -> bool:
        try:
            await call(i)
            return True
        except ApiException:
            return False

    return await asyncio.gather(*(ok(i) for i in range(n)))


@pytest.mark.parametrize("n", [60, 100, 300, 1000])
def test_a_blip_of_concurrent_calls_failing_twice_all_succeed(n: int) -> None:
    # A budget of its own with the default settings, so no other test's calls count.
    results = asyncio.run(blip(n, RetryBudget()))
    assert sum(results) == n, f"{n - sum(results)} of {n} calls failed"


def test_a_budget_without_burst_still_fails_the_blip() -> None:
    # burst == ratio is the old budget: 20% of first attempts (floor 100): the blip above fails
    # some calls. This is what the episode-aware ratio fixes.
    results = asyncio.run(blip(300, RetryBudget(ratio=0.2, min_per_second=10, burst=0.2)))
    assert sum(results) < 300


def test_limits_are_checked_by_the_core_with_an_error_not_a_panic() -> None:
    from k8sretry import CircuitBreaker

    with pytest.raises(ValueError, match="open_for"):
        CircuitBreaker(failure_threshold=1, open_for=1.8e19)  # used to raise PanicException
    with pytest.raises(ValueError, match="burst"):
        RetryBudget(ratio=0.5, burst=0.1)
    with pytest.raises(ValueError, match="ttl"):
        RetryBudget(ttl=1e9)


@pytest.mark.parametrize("verb", ["PSOT", "post\u200b", "CONNECT", ""])
def test_a_mistyped_verb_is_an_error_not_unknown(verb: str) -> None:
    from k8sretry import _native

    policy = _native.Policy.preset("default")
    with pytest.raises(ValueError, match="unknown verb"):
        _native.Call(policy, "f", verb)
