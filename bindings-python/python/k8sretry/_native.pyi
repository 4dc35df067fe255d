from collections.abc import Callable, Sequence
from typing import Any, final

__all__ = [
    "APPLY_PATCH",
    "Call",
    "CircuitBreaker",
    "Failure",
    "FirstAttempt",
    "GAVE_UP_ON_RETRYABLE",
    "ManualClock",
    "PRESETS",
    "Policy",
    "REQUEST_ID",
    "RetryBudget",
    "StepError",
    "SuccessRecorder",
    "VERSION",
    "event_text",
    "metrics_text",
    "parse_retry_after",
    "plan",
    "thread_enter",
    "thread_inside",
    "thread_leave",
]

PRESETS: list[str]
GAVE_UP_ON_RETRYABLE: list[str]
APPLY_PATCH: str
VERSION: str
REQUEST_ID: str

class StepError(RuntimeError): ...

@final
class RetryBudget:
    def __new__(
        cls,
        ratio: float = 0.1,
        min_per_second: int = 0,
        ttl: float = 10.0,
        *,
        burst: float | None = None,
        min_per_episode: int | None = None,
    ) -> RetryBudget: ...
    def balance(self) -> float: ...

@final
class CircuitBreaker:
    def __new__(cls, failure_threshold: int = 5, open_for: float = 30.0) -> CircuitBreaker: ...
    @property
    def is_open(self) -> bool: ...

@final
class ManualClock:
    def __new__(cls, start_unix: float) -> ManualClock: ...
    def advance(self, seconds: float) -> None: ...

@final
class Failure:
    def __new__(
        cls,
        *,
        status: int | None = None,
        reason: str | None = None,
        body: Any = None,
        retry_after: str | None = None,
        retry_after_seconds: int | None = None,
        codes: Sequence[str] = ...,
        timeout: bool = False,
        cancelled: bool = False,
        user_retryable: bool = False,
        user_fatal: bool = False,
        verb: str | None = None,
        error_type: str | None = None,
        message: str | None = None,
    ) -> Failure: ...
    @property
    def status(self) -> int | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def codes(self) -> list[str]: ...
    @property
    def timeout(self) -> bool: ...
    @property
    def cancelled(self) -> bool: ...

@final
class Policy:
    @staticmethod
    def preset(name: str, *, on_event: Callable[[dict[str, Any]], object] | None = None) -> Policy: ...
    @staticmethod
    def from_json(
        text: str,
        *,
        budget: RetryBudget | str | None = None,
        breaker: CircuitBreaker | None = None,
        on_event: Callable[[dict[str, Any]], object] | None = None,
        clock: ManualClock | None = None,
        random: Callable[[], float] | None = None,
    ) -> Policy: ...
    @property
    def max_retries(self) -> int: ...
    @property
    def name(self) -> str: ...
    def to_json(self) -> str: ...
    def classify(self, failure: Failure) -> str: ...
    def is_retryable(self, failure: Failure) -> bool: ...
    def retry_delay(self, failure: Failure, attempt: int) -> float: ...
    def recorder(self, function: str) -> SuccessRecorder: ...

@final
class SuccessRecorder:
    def record(self) -> None: ...

@final
class FirstAttempt:
    def __new__(
        cls,
        target: Any,
        hooks: Any,
        recorder: SuccessRecorder,
        timed: bool,
        *,
        method: str | None = None,
        any_awaitable: bool = False,
    ) -> FirstAttempt: ...
    def rebind(self, recorder: SuccessRecorder, timed: bool) -> None: ...
    def run(self, args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> Any: ...

@final
class Call:
    def __new__(
        cls,
        policy: Policy,
        function: str,
        verb: str = "UNKNOWN",
        recovery: str = "none",
        elapsed: float = 0.0,
        *,
        reader: bool = True,
        nested: bool = False,
    ) -> Call: ...
    def on_failure(self, failure: Failure) -> tuple[str, float, str | None]: ...
    def on_cancelled(self) -> tuple[str, float, str | None]: ...
    def on_read_back(self, outcome: str, failure: Failure | None = None) -> tuple[str, float, str | None]: ...
    def resume(self) -> tuple[str, float, str | None]: ...
    def on_success(self) -> None: ...
    @property
    def attempts(self) -> int: ...
    @property
    def retry_after(self) -> float | None: ...
    @property
    def awaiting_read_back(self) -> bool: ...
    @property
    def awaiting_resume(self) -> bool: ...
    @property
    def is_finished(self) -> bool: ...

def thread_enter() -> bool: ...
def thread_leave() -> None: ...
def thread_inside() -> bool: ...
def parse_retry_after(value: str, now: float) -> float | None: ...
def metrics_text() -> str: ...
def event_text(text: str) -> str: ...
def plan(
    verb: str,
    *,
    resource: str = "",
    named: bool = False,
    generate_name: bool = False,
    resource_version: bool = False,
    patch_type: str | None = None,
    object_body: bool = False,
    adopt_existing: bool = False,
    can_get: bool = False,
    can_list: bool = False,
    missing_ok: bool = False,
) -> tuple[str, str]: ...
