"""The retry budget in a burst (DESIGN §5): N concurrent calls that each fail twice with a 503
and then succeed, through the real decorator with real sleeps, all succeed under the default
budget; a sustained outage is still held to a fraction of its first attempts (the e2e outage
tests measure that against the real apiserver)."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from k8sretry import Policy, RetryBudget, retry_on_k8s_error
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


# A budget that allows one retry per failure episode and nothing else.
ONE_RETRY = {"ratio": 0, "burst": 0, "min_per_second": 0, "min_per_episode": 1, "ttl": 10}


def waiting_policy(events: list[str], **extra: object) -> Policy:
    config = {"initial_delay": 0.01, "max_delay": 0.02, "jitter": "none", "max_retries": 50}
    config["budget"] = ONE_RETRY
    return Policy.from_json(json.dumps({**config, **extra}), on_event=lambda e: events.append(e["event"]))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_refused_retry_waits_with_a_deadline_and_goes_once_the_server_is_back(mode: str) -> None:
    events: list[str] = []
    policy = waiting_policy(events, deadline=10)
    slept: list[float] = []
    attempts: list[float] = []

    @retry_on_k8s_error(policy=policy)
    def other() -> str:
        return "ok"

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 2:
            # During the wait the server answers another call (on a thread of its own: here it
            # would be nested in this call's retries) a second after the last failure (a success
            # sooner does not end the failure episode): the episode is over.
            time.sleep(1.1)
            elsewhere = threading.Thread(target=other)
            elsewhere.start()
            elsewhere.join()

    def attempt() -> str:
        attempts.append(len(slept))
        if len(attempts) < 3:
            raise unavailable()
        return "done"

    if mode == "sync":
        assert retry_on_k8s_error(policy=policy, sleep=sleep)(attempt)() == "done"
    else:

        async def attempt_async() -> str:
            return attempt()

        assert asyncio.run(retry_on_k8s_error(policy=policy, sleep=sleep)(attempt_async)()) == "done"
    # The retry the budget refused was not sent: the third attempt came after the wait.
    assert attempts == [0, 1, 2], attempts
    assert slept == [0.01, 0.02], slept
    assert events.count("k8s_api_call_retry_deferred") == 1, events
    assert events[-1] == "k8s_api_call_succeeded_after_retry", events


def test_a_refused_retry_without_a_deadline_gives_up_budget_exhausted() -> None:
    events: list[str] = []
    policy = waiting_policy(events)
    attempts: list[int] = []

    @retry_on_k8s_error(policy=policy, sleep=lambda s: None)
    def attempt() -> None:
        attempts.append(1)
        raise unavailable()

    with pytest.raises(ApiException) as raised:
        attempt()
    assert len(attempts) == 2
    # It waited while the episode was young (sending nothing) until its retry slots ran out.
    assert getattr(raised.value, "k8sretry_give_up", None) == "BudgetExhausted"
    assert events[-1] == "k8s_api_call_budget_exhausted", events[-3:]


def test_a_cancel_during_a_wait_propagates_at_once() -> None:
    events: list[str] = []
    # The second slot's backoff is 10 s: the wait the refused retry gets.
    policy = waiting_policy(events, deadline=100, exponential_base=1000, max_delay=10)
    attempts: list[int] = []

    @retry_on_k8s_error(policy=policy)
    async def attempt() -> None:
        attempts.append(1)
        raise unavailable()

    async def main() -> None:
        task = asyncio.ensure_future(attempt())
        while "k8s_api_call_retry_deferred" not in events:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)

    asyncio.run(main())
    assert len(attempts) == 2
