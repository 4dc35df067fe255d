"""Policy: presets, JSON and keyword construction over the native engine; events to logging."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from . import _native
from ._events import emit
from ._settings import EventHandler
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

    Read back: the properties (`max_retries`, `initial_delay`, `jitter`, ...) and `to_json()` are
    the engine's view of every setting (a preset's included); `Policy.from_json(p.to_json())`
    decides like `p`. Two policies are equal when their settings are, and they share the same
    budget, breaker, event handler and random source (or have none).
    `seed=` makes the jitter repeat; `random=` (a callable returning a float in `[0, 1)`, e.g.
    `random.Random(1).random`) is the jitter's source instead.
    """

    __slots__ = ("_native", "_attached")

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
        random: Callable[[], float] | None = None,
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
        if random is not None and not callable(random):
            raise TypeError(
                f"random must be a callable returning a float in [0, 1), not {type(random).__name__}"
            )
        self._native = _build(text, budget=own_budget, breaker=breaker, on_event=on_event, random=random)
        self._attached = (own_budget, breaker, on_event, random)

    @classmethod
    def preset(cls, name: str, *, on_event: EventHandler | None = None) -> Policy:
        """The preset `name`, one of `k8sretry.PRESETS` (the engine's list, DESIGN §6)."""
        return cls._wrap(
            _build(json.dumps({"preset": name}), on_event=on_event), (None, None, on_event, None)
        )

    @classmethod
    def from_json(cls, text: str, *, on_event: EventHandler | None = None) -> Policy:
        """A policy from the JSON every k8sretry binding reads (snake_case keys)."""
        return cls._wrap(_build(text, on_event=on_event), (None, None, on_event, None))

    @classmethod
    def _wrap(cls, native: _native.Policy, attached: tuple[Any, ...] = (None, None, None, None)) -> Policy:
        policy = cls.__new__(cls)
        policy._native = native
        policy._attached = attached
        return policy

    def to_json(self) -> str:
        """Every setting as the JSON `from_json` reads, written by the engine (a budget of its
        own and a breaker as their settings; an event handler or random source is not written)."""
        return self._native.to_json()

    def _setting(self, key: str) -> Any:
        return json.loads(self._native.to_json())[key]

    @property
    def max_retries(self) -> int:
        return self._native.max_retries

    @property
    def name(self) -> str:
        """The preset this policy was built from."""
        return self._native.name

    @property
    def initial_delay(self) -> float:
        """Seconds before the first retry, before jitter."""
        return float(self._setting("initial_delay"))

    @property
    def max_delay(self) -> float:
        """The largest backoff delay, in seconds."""
        return float(self._setting("max_delay"))

    @property
    def exponential_base(self) -> float:
        return float(self._setting("exponential_base"))

    @property
    def jitter(self) -> str | dict[str, float]:
        """`"none"`, `"full"`, `"equal"`, `"decorrelated"`, `{"proportional": s}` or `{"upward": s}`."""
        return self._setting("jitter")  # type: ignore[no-any-return]

    @property
    def retry_after_cap(self) -> float:
        return float(self._setting("retry_after_cap"))

    @property
    def deadline(self) -> float | None:
        return self._setting("deadline")  # type: ignore[no-any-return]

    @property
    def retry_statuses(self) -> list[int]:
        return list(self._setting("retry_statuses"))

    @property
    def seed(self) -> int | None:
        return json.loads(self._native.to_json()).get("seed")  # type: ignore[no-any-return]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Policy):
            return NotImplemented
        same = all(a is b for a, b in zip(self._attached, other._attached, strict=True))
        return same and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __repr__(self) -> str:
        return f"Policy.from_json({self.to_json()!r})"


def _build(
    text: str,
    *,
    budget: _native.RetryBudget | None = None,
    breaker: _native.CircuitBreaker | None = None,
    on_event: EventHandler | None = None,
    random: Callable[[], float] | None = None,
) -> _native.Policy:
    try:
        return _native.Policy.from_json(
            text, budget=budget, breaker=breaker, on_event=_dispatcher(on_event), random=random
        )
    except ValueError as exc:
        raise PolicyError(str(exc)) from None
