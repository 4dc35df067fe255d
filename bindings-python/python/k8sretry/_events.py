"""What happens to the engine's events: the log lines, and the `on_event` handlers.

The engine reports events with the names of DESIGN §7 (`k8s_api_call_budget_exhausted`, ...)
and these fields; `on_event` handlers get exactly those. A log line is presentation, made here:

- `event` is the engine's event name, except that every give-up after a failure a retry could have
  fixed (retries, budget, breaker or deadline used up; a write whose outcome stayed unknown) is
  logged as `k8s_api_call_failed_max_retries`, the event the decorator k8sretry replaces logged and
  its users alert on. Its field `give_up` says why (`MaxRetries`, `BudgetExhausted`, `CircuitOpen`,
  `Deadline`, `RetryAfterTooLong`, `NotIdempotent`, `OutcomeUnknown`), and `engine_event` keeps
  the engine's own name when it is another.
- the level is the engine's (`level` in the event: `debug` for a first attempt's answer the caller
  handles, such as a 404, and a cancel; `info` for a success after retries or a recovered lost
  response; `warn` for retries, deferred retries and give-ups that return the error; `error` for
  a write whose outcome is unknown), mapped to logging's DEBUG, INFO, WARNING, ERROR.
- the fields are those of the old decorator's lines (`function`, `attempt`, `max_retries`,
  `delay_seconds`, `error_type`, `error`, `status_code`) plus `reason` (the Kubernetes
  `Status.reason`) and `code` (a network error code), each only when it has a value;
  `delay_seconds` is rounded to milliseconds.
- under structlog (configured by the application) the line goes through
  `structlog.get_logger("k8sretry")` with the fields as keywords; otherwise through the stdlib
  logger `k8sretry`, with the fields in `extra` (for formatters that print them) and in the message
  as `event, key=value, ...` (for formatters that print only the message: `logging.basicConfig`,
  kopf's).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

from . import _native
from ._settings import SETTINGS, EventHandler, logger

MAX_RETRIES_EVENT = "k8s_api_call_failed_max_retries"

# Give-ups on a failure that a retry could have fixed (the engine's list): logged as MAX_RETRIES_EVENT.
GAVE_UP_ON_RETRYABLE = frozenset(_native.GAVE_UP_ON_RETRYABLE)

# The fields of a log line, in order, after `event`.
LOG_FIELDS = (
    "function",
    "attempt",
    "max_retries",
    "delay_seconds",
    "error_type",
    "error",
    "status_code",
    "reason",
    "code",
)

# The engine's level of an event (`fields["level"]`, one rule for every language) as logging's.
_LOGGING_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
_LEVEL_NAMES = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
}


def log_line(fields: dict[str, Any]) -> tuple[int, str, dict[str, Any]]:
    """`(level, event, fields)` of the log line for one engine event (see the module documentation)."""
    engine_event = fields["event"]
    give_up = fields.get("give_up")
    event = MAX_RETRIES_EVENT if give_up in GAVE_UP_ON_RETRYABLE else engine_event
    line: dict[str, Any] = {}
    for key in LOG_FIELDS:
        value = fields.get(key)
        if value is None:
            continue
        if key == "delay_seconds":
            value = round(value, 3)
        line[key] = value
    if give_up is not None:
        line["give_up"] = give_up
    if event != engine_event:
        line["engine_event"] = engine_event
    level = _LOGGING_LEVELS.get(fields.get("level") or "", logging.WARNING)
    return level, event, line


_PLAIN = re.compile(r"[\w./:@+\-]+")


def _text_value(value: Any) -> str:
    if isinstance(value, str):
        return value if _PLAIN.fullmatch(value) else json.dumps(value)
    return str(value)


def message(event: str, line: dict[str, Any]) -> str:
    """`event, key=value, ...`: the line for formatters that show only the message."""
    return ", ".join([event, *(f"{key}={_text_value(value)}" for key, value in line.items())])


def _structlog() -> Any:
    """structlog's `get_logger`, when the application imported and configured structlog."""
    structlog = sys.modules.get("structlog")
    if structlog is None:
        return None
    try:
        if not structlog.is_configured():
            return None
    except AttributeError:
        return None
    return structlog.get_logger


def emit(fields: dict[str, Any], on_event: EventHandler | None) -> None:
    """One engine event: its log line, then the policy's `on_event`, then the global one."""
    target = SETTINGS.logger
    if target is not False:
        level, event, line = log_line(fields)
        if target is None:
            get_logger = _structlog()
            target = get_logger("k8sretry") if get_logger is not None else logger
        if isinstance(target, logging.Logger):
            if target.isEnabledFor(level):
                target.log(level, message(event, line), extra={"event": event, **line})
        else:
            # Bound first, `event` leads the rendered line, as in the old decorator's lines
            # (structlog puts it last otherwise).
            bind = getattr(target, "bind", None)
            if bind is not None:
                target = bind(event=event)
            getattr(target, _LEVEL_NAMES[level])(event, **line)
    if on_event is not None:
        on_event(fields)
    handler = SETTINGS.on_event
    if handler is not None:
        handler(fields)
