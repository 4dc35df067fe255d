"""Every conformance vector in tests/vectors/, through the Python binding."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import pytest
from k8sretry import _native, parse_retry_after
from k8sretry._events import log_line

VECTORS = Path(__file__).resolve().parents[2] / "tests" / "vectors"


def load(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text())


def failure(spec: dict[str, Any]) -> _native.Failure:
    flags = {k: spec.get(k, False) for k in ("timeout", "cancelled", "user_retryable")}
    return _native.Failure(
        status=spec.get("status"),
        reason=spec.get("reason"),
        body=spec.get("body"),
        retry_after=spec.get("retry_after"),
        retry_after_seconds=spec.get("retry_after_seconds"),
        codes=spec.get("codes", []),
        verb=spec.get("verb"),
        **flags,
    )


@pytest.mark.parametrize("case", load("classification.json")["cases"], ids=lambda c: c["name"])
def test_classification(case: dict[str, Any]) -> None:
    policy = _native.Policy.from_json(case.get("policy_json", "{}"))
    f = failure(case["failure"])
    assert policy.classify(f) == case["class"]
    assert policy.is_retryable(f) == case["retryable"]


RETRY_AFTER = load("retry_after.json")


@pytest.mark.parametrize("case", RETRY_AFTER["cases"], ids=lambda c: c["name"])
def test_retry_after(case: dict[str, Any]) -> None:
    got = parse_retry_after(case["value"], now=RETRY_AFTER["now"])
    if case["seconds"] is None:
        assert got is None
    else:
        assert got is not None and math.isclose(got, case["seconds"], rel_tol=1e-9)


def check(at: str, expect: dict[str, Any], step: Any, *args: Any) -> None:
    """Runs one step, `step(*args)`, and compares the engine's answer with `expect`."""
    if expect["decision"] == "error":
        with pytest.raises(_native.StepError):
            step(*args)
        return
    action, delay, reason = step(*args)
    assert action == expect["decision"], (at, action, reason)
    if action in ("retry", "read_back", "wait"):
        assert abs(delay - expect["delay"]) <= 1e-6, (at, delay)
    if action == "give_up":
        assert reason == expect["reason"], at
    else:
        assert reason is None, at


def run(scenario: dict[str, Any], on_event: Any = None) -> None:
    clock = _native.ManualClock(scenario["start_unix"])
    policy = _native.Policy.from_json(scenario.get("policy_json", "{}"), clock=clock, on_event=on_event)
    calls: dict[str, _native.Call] = {}
    for i, step in enumerate(scenario["steps"]):
        at = f"{scenario['name']}: step {i}"
        call = calls.get(step.get("call", "a"))
        op = step["op"]
        if op == "begin":
            calls[step.get("call", "a")] = _native.Call(
                policy,
                step["function"],
                step["verb"],
                step["recovery"],
                reader=step.get("reader", True),
                nested=step.get("nested", False),
            )
        elif op == "cancel":
            assert call is not None
            check(at, step["expect"], call.on_cancelled)
        elif op == "fail":
            assert call is not None
            check(at, step["expect"], call.on_failure, failure(step["failure"]))
        elif op == "resume":
            assert call is not None
            check(at, step["expect"], call.resume)
        elif op == "read_back":
            assert call is not None
            read_failure = failure(step["failure"]) if "failure" in step else None
            check(at, step["expect"], call.on_read_back, step["outcome"], read_failure)
        elif op == "succeed":
            assert call is not None
            if "attempts" in step:
                assert call.attempts == step["attempts"], at
            call.on_success()
        elif op == "advance":
            clock.advance(step["seconds"])
        else:
            raise AssertionError(f"{at}: unknown op {op}")


@pytest.mark.parametrize("scenario", load("delays.json")["scenarios"], ids=lambda s: s["name"])
def test_delays(scenario: dict[str, Any]) -> None:
    run(scenario)


@pytest.mark.parametrize("scenario", load("decisions.json")["scenarios"], ids=lambda s: s["name"])
def test_decisions(scenario: dict[str, Any]) -> None:
    run(scenario)


_LOGGING = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


@pytest.mark.parametrize("scenario", load("events.json")["scenarios"], ids=lambda s: s["name"])
def test_events(scenario: dict[str, Any]) -> None:
    """The events of each scenario with the engine's level, and the log line at that level."""
    seen: list[dict[str, Any]] = []
    run(scenario, seen.append)
    got = [{k: e[k] for k in ("function", "event", "attempt", "level", "give_up")} for e in seen]
    assert got == scenario["events"]
    for event in seen:
        assert log_line(event)[0] == _LOGGING[event["level"]], event


@pytest.mark.parametrize("case", load("plans.json")["cases"], ids=lambda c: c["name"])
def test_plans(case: dict[str, Any]) -> None:
    request = dict(case["request"])
    verb = request.pop("verb")
    patch = request.pop("patch", None) or request.pop("content_type", None)
    try:
        recovery, stamp = _native.plan(verb, patch_type=patch, **request)
    except ValueError:  # a content type that is no patch type: not known (as the wrappers do)
        recovery, stamp = _native.plan(verb, **request)
    assert (recovery, stamp) == (case["recovery"], case["stamp"])


def test_runs_the_installed_wheel() -> None:
    import k8sretry

    assert "site-packages" in (k8sretry.__file__ or ""), k8sretry.__file__
