"""The retry budget in a blip and in an outage, side by side (`make bench`).

Every decision comes from the real engine (`k8sretry._native`, as the Python binding uses it) on a
manual clock, so nothing sleeps: calls are events on a timeline, a failed attempt asks the engine,
and a retry is scheduled at the delay it answers. Three budgets: the default (burst 3 at the start
of a failure episode, fading to 0.1; 3 retries per episode; no floor), the plain
fraction-of-traffic budget the project had before (burst = ratio = 0.2), and none.

- blip: N calls start together, each fails twice with a 503 and then succeeds (the decorator's
  default policy with initial_delay 0.2, as measured in the reliability issue);
- outage: 100 new calls per second for 10 s against a server that answers 503 throughout, then
  recovers; attempts per first attempt (the e2e outage tests measure the same against the real
  apiserver).

Prints one JSON document.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable

from k8sretry import _native

UNAVAILABLE = _native.Failure(status=503, reason="ServiceUnavailable")
POLICY = '{"initial_delay": 0.2, "seed": 7}'  # the default preset: 3 retries, jitter 0.1


def budgets() -> dict[str, Callable[[], _native.RetryBudget | None]]:
    return {
        "default (burst 3 -> 0.1)": lambda: _native.RetryBudget(),
        "fraction only (0.2)": lambda: _native.RetryBudget(ratio=0.2, burst=0.2),
        "none": lambda: None,
    }


def simulate(
    starts: list[float], fails: Callable[[float, int], bool], budget: _native.RetryBudget | None
) -> dict[str, int]:
    """Runs calls starting at `starts`; `fails(t, attempt)` says whether an attempt fails."""
    clock = _native.ManualClock(1_700_000_000.0)
    text = POLICY if budget is not None else POLICY[:-1] + ', "budget": null}'
    policy = _native.Policy.from_json(text, budget=budget, clock=clock)
    timeline = [(t, i, 1) for i, t in enumerate(starts)]
    heapq.heapify(timeline)
    now, attempts, succeeded = 0.0, 0, 0
    calls: dict[int, _native.Call] = {}
    while timeline:
        t, i, attempt = heapq.heappop(timeline)
        if t > now:
            clock.advance(t - now)
            now = t
        attempts += 1
        if not fails(t, attempt):
            succeeded += 1
            if attempt == 1:
                policy.succeeded("bench_budget")  # the binding's first-attempt success path
            else:
                calls[i].on_success()
            continue
        if attempt == 1:  # as the binding does: the call begins when the first attempt failed
            calls[i] = _native.Call(policy, "bench_budget", "GET")
        action, delay, _reason = calls[i].on_failure(UNAVAILABLE)
        if action == "retry":
            heapq.heappush(timeline, (t + delay, i, attempt + 1))
    return {"calls": len(starts), "attempts": attempts, "succeeded": succeeded}


def main() -> None:
    out: dict[str, object] = {"policy": POLICY, "blip": {}, "outage": {}}
    for name, make in budgets().items():
        out["blip"][name] = {  # type: ignore[index]
            str(n): simulate([0.0] * n, lambda _t, attempt: attempt <= 2, make())
            for n in (60, 100, 300, 1000)
        }
        run = simulate([i / 100 for i in range(1000)], lambda t, _attempt: t < 10.0, make())
        run["per_first_attempt"] = round(run["attempts"] / run["calls"], 3)  # type: ignore[assignment]
        out["outage"][name] = run  # type: ignore[index]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
