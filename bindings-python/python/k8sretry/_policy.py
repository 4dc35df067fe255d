"""Policy: presets, JSON and keyword construction over the native engine; events to logging."""

from __future__ import annotations

import json
from typing import Any

from . import _native
from ._events import EventHandler, emit
from .errors import PolicyError

SHARED: Any = ...
"""The default `budget`: the one process-wide retry budget."""


def _dispatcher(on_event: EventHandler | None) -> EventHandler:
    """Logs every event (see `_events`), then calls `on_event` and the global `on_event`."""

    def dispatch(fields: dict[str, Any]) -> None:
        emit(fields, on_event)

    return dispatch


class Policy:
    """An immutable retry policy. Build it from a preset, JSON, or keywords::

    Policy.preset("mutation")
    Policy.from_json('{"preset": "read", "max_retries": 5}')
    Policy(max_retries=5, initial_delay=2.0, jitter=0.1)
    """

    __slots__ = ("_native",)

    def __init__(
        self,
        *,
        preset: str = "default",
        max_retries: int | None = None,
        initial_delay: float | None = None,
        max_delay: float | None = None,
        exponential_base: float | None = None,
        jitter: float | str | None = None,
        retry_after_cap: float | None = None,
        deadline: float | None = None,
        retry_statuses: list[int] | None = None,
        seed: int | None = None,
        budget: _native.RetryBudget | None | Any = SHARED,
        breaker: _native.CircuitBreaker | None = None,
        on_event: EventHandler | None = None,
    ) -> None:
        config: dict[str, Any] = {"preset": preset}
        for key, value in (
            ("max_retries", max_retries),
            ("initial_delay", initial_delay),
            ("max_delay", max_delay),
            ("exponential_base", exponential_base),
            ("jitter", jitter),
            ("retry_after_cap", retry_after_cap),
            ("deadline", deadline),
            ("retry_statuses", retry_statuses),
            ("seed", seed),
        ):
            if value is not None:
                config[key] = value
        own_budget = None
        if budget is None:
            config["budget"] = None
        elif budget is not SHARED:
            if not isinstance(budget, _native.RetryBudget):
                raise TypeError(
                    f"budget must be a RetryBudget, None or left out, not {type(budget).__name__}"
                )
            own_budget = budget
        if breaker is not None and not isinstance(breaker, _native.CircuitBreaker):
            raise TypeError(f"breaker must be a CircuitBreaker or None, not {type(breaker).__name__}")
        try:
            text = json.dumps(config, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise PolicyError(f"invalid policy value: {exc}") from None
        self._native = _build(text, budget=own_budget, breaker=breaker, on_event=on_event)

    @classmethod
    def preset(cls, name: str, *, on_event: EventHandler | None = None) -> Policy:
        """The preset `name`: `default`, `mutation`, `read`, `connection`, `runner_hooks` or `conflict`."""
        return cls._wrap(_build(json.dumps({"preset": name}), on_event=on_event))

    @classmethod
    def from_json(cls, text: str, *, on_event: EventHandler | None = None) -> Policy:
        """A policy from the JSON every k8sretry binding reads (snake_case keys)."""
        return cls._wrap(_build(text, on_event=on_event))

    @classmethod
    def _wrap(cls, native: _native.Policy) -> Policy:
        policy = cls.__new__(cls)
        policy._native = native
        return policy

    @property
    def max_retries(self) -> int:
        return self._native.max_retries

    @property
    def name(self) -> str:
        """The preset this policy was built from."""
        return self._native.name

    def __repr__(self) -> str:
        return f"Policy(preset={self.name!r}, max_retries={self.max_retries})"


def _build(
    text: str,
    *,
    budget: _native.RetryBudget | None = None,
    breaker: _native.CircuitBreaker | None = None,
    on_event: EventHandler | None = None,
) -> _native.Policy:
    try:
        return _native.Policy.from_json(text, budget=budget, breaker=breaker, on_event=_dispatcher(on_event))
    except ValueError as exc:
        raise PolicyError(str(exc)) from None
