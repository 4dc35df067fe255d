"""Log lines as the decorator k8sretry replaces wrote them (its design note's "Log Events"), under
structlog and stdlib logging, and `configure(...)`. Each output setup runs in a fresh interpreter:
they configure logging for the whole process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import k8sretry
import pytest
from k8sretry import Policy, RetryBudget, retry_on_k8s_error, wrap_client
from kubernetes.client.exceptions import ApiException

# The design note's four lines (field names and values), which the scenario below reproduces.
SEED_SUCCEEDED = {
    "event": "k8s_api_call_succeeded_after_retry",
    "function": "create_database",
    "attempt": 3,
    "max_retries": 5,
}
SEED_RETRYING = {
    "event": "k8s_api_call_failed_retrying",
    "function": "delete_database",
    "attempt": 2,
    "max_retries": 5,
    "delay_seconds": 4.0,
    "error_type": "ApiException",
    "error": "Service Unavailable",
    "status_code": 503,
}
SEED_MAX_RETRIES = {
    "event": "k8s_api_call_failed_max_retries",
    "function": "get_database_status",
    "attempt": 4,
    "max_retries": 3,
    "error_type": "ApiException",
    "error": "Gateway Timeout",
}
SEED_NON_RETRYABLE = {
    "event": "k8s_api_call_failed_non_retryable",
    "function": "create_database",
    "error_type": "ApiException",
    "error": "Resource already exists",
}

# The design note's operations, as its users decorate them (no jitter then), failing as in its
# examples. Prints nothing itself; the setup before it decides where the log lines go.
SCENARIO = """
from kubernetes.client.exceptions import ApiException
from k8sretry import retry_on_k8s_error

def failing(*statuses):
    it = iter(statuses)
    def fail():
        status = next(it, None)
        if status is not None:
            raise ApiException(status=status[0], reason=status[1])
    return fail

MUTATION = dict(max_retries=5, initial_delay=2.0, max_delay=30.0, jitter=0, budget=None, sleep=lambda d: None)
STATUS = dict(max_retries=3, initial_delay=1.0, max_delay=10.0, jitter=0, budget=None, sleep=lambda d: None)

create_fail = failing((503, "Service Unavailable"), (502, "Bad Gateway"))
@retry_on_k8s_error(**MUTATION)
def create_database():
    create_fail()

delete_fail = failing((503, "Service Unavailable"), (503, "Service Unavailable"))
@retry_on_k8s_error(**MUTATION)
def delete_database():
    delete_fail()

@retry_on_k8s_error(**STATUS)
def get_database_status():
    raise ApiException(status=504, reason="Gateway Timeout")

create_database()
delete_database()
try:
    get_database_status()
except ApiException:
    pass

exists = failing((409, "Resource already exists"))
@retry_on_k8s_error(**MUTATION)
def create_database():
    exists()
try:
    create_database()
except ApiException:
    pass
"""

STDLIB_JSON = """
import json, logging, sys
STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

class ExtrasJson(logging.Formatter):
    # What extras-aware JSON formatters print: the record's own fields.
    def format(self, record):
        return json.dumps({k: v for k, v in record.__dict__.items() if k not in STANDARD})

handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(ExtrasJson())
logging.basicConfig(handlers=[handler])
"""

STRUCTLOG_JSON = """
import structlog
structlog.configure(processors=[structlog.processors.JSONRenderer()])
"""


def run(setup: str, scenario: str = SCENARIO) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(setup) + "\n" + scenario
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def check_seed_lines(lines: list[dict[str, Any]], debug: bool = False) -> None:
    """The design note's lines: the same fields with the same values; the give-ups also say why.
    The first attempt's 409 of the last call is a debug line (the engine's level: an answer the
    caller handles), there only where the setup shows debug lines."""
    by_event = [(line["event"], line["function"]) for line in lines]
    assert len(lines) == (11 if debug else 10), by_event
    assert (
        by_event
        == [
            ("k8s_api_call_failed_retrying", "create_database"),
            ("k8s_api_call_failed_retrying", "create_database"),
            ("k8s_api_call_succeeded_after_retry", "create_database"),
            ("k8s_api_call_failed_retrying", "delete_database"),
            ("k8s_api_call_failed_retrying", "delete_database"),
            ("k8s_api_call_succeeded_after_retry", "delete_database"),
            ("k8s_api_call_failed_retrying", "get_database_status"),
            ("k8s_api_call_failed_retrying", "get_database_status"),
            ("k8s_api_call_failed_retrying", "get_database_status"),
            ("k8s_api_call_failed_max_retries", "get_database_status"),
            ("k8s_api_call_failed_non_retryable", "create_database"),
        ][: len(lines)]
    )
    assert lines[2] == SEED_SUCCEEDED
    assert lines[4] == SEED_RETRYING
    assert [line["delay_seconds"] for line in lines[6:9]] == [1.0, 2.0, 4.0]
    assert lines[9] == {**SEED_MAX_RETRIES, "status_code": 504, "give_up": "MaxRetries"}
    if debug:
        assert lines[10] == {
            **SEED_NON_RETRYABLE,
            "attempt": 1,
            "max_retries": 5,
            "status_code": 409,
            "give_up": "NonRetryable",
        }
    assert not any(value is None for line in lines for value in line.values())


def test_structlog_json_renderer_prints_the_seed_lines() -> None:
    out = run(STRUCTLOG_JSON).stdout
    lines = out.splitlines()
    check_seed_lines([json.loads(line) for line in lines], debug=True)
    # Byte for byte, event first as in the design note.
    assert lines[4] == json.dumps(SEED_RETRYING)
    assert lines[2] == json.dumps(SEED_SUCCEEDED)


def test_structlog_usual_setup_with_level_and_timestamp_through_stdlib() -> None:
    setup = """
    import logging, sys, structlog
    logging.basicConfig(stream=sys.stdout, format="%(message)s", level=logging.INFO)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.stdlib.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", key="timestamp"),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    """
    lines = json_lines(run(setup).stdout)
    levels = [line.pop("level") for line in lines]
    for line in lines:
        assert line.pop("timestamp")
    check_seed_lines(lines)
    # The engine's levels: retries and a give-up that returns the error are warnings.
    assert levels[:3] == ["warning", "warning", "info"]
    assert levels[9:] == ["warning"]


def test_stdlib_extras_json_formatter_prints_the_seed_lines() -> None:
    out = run(STDLIB_JSON).stdout
    check_seed_lines(json_lines(out))
    assert out.splitlines()[4] == json.dumps(SEED_RETRYING)


def test_python_json_logger_prints_the_seed_fields() -> None:
    setup = """
    import logging, sys
    from pythonjsonlogger.json import JsonFormatter
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(handlers=[handler])
    """
    lines = json_lines(run(setup).stdout)
    messages = [line.pop("message") for line in lines]
    check_seed_lines(lines)
    assert (
        messages[2]
        == "k8s_api_call_succeeded_after_retry, function=create_database, attempt=3, max_retries=5"
    )


def test_basic_config_shows_the_fields_in_the_message_and_keeps_info() -> None:
    err = run("import logging\nlogging.basicConfig()\n").stderr.splitlines()
    succeeded = "k8s_api_call_succeeded_after_retry, function=create_database, attempt=3, max_retries=5"
    assert err[2] == f"INFO:k8sretry:{succeeded}"
    assert err[4] == (
        "WARNING:k8sretry:k8s_api_call_failed_retrying, function=delete_database, attempt=2, max_retries=5, "
        'delay_seconds=4.0, error_type=ApiException, error="Service Unavailable", status_code=503'
    )
    assert err[9] == (
        "WARNING:k8sretry:k8s_api_call_failed_max_retries, function=get_database_status, attempt=4, "
        'max_retries=3, error_type=ApiException, error="Gateway Timeout", status_code=504, give_up=MaxRetries'
    )
    assert len(err) == 10


def test_kopf_default_and_json_formats() -> None:
    err = run("import kopf\nkopf.configure()\n").stderr.splitlines()
    assert len(err) == 10, err
    assert err[4].endswith(
        "k8sretry             [WARNING ] k8s_api_call_failed_retrying, function=delete_database, "
        'attempt=2, max_retries=5, delay_seconds=4.0, error_type=ApiException, error="Service Unavailable", '
        "status_code=503"
    ), err[4]
    assert "[INFO    ] k8s_api_call_succeeded_after_retry, function=create_database, attempt=3" in err[2]
    err = run("import kopf\nkopf.configure(log_format=kopf.LogFormat.JSON)\n").stderr
    lines = json_lines(err)
    for line in lines:
        for key in ("message", "timestamp", "severity"):
            line.pop(key)
    check_seed_lines(lines)


def test_budget_and_deadline_give_ups_reach_the_max_retries_alert() -> None:
    """A give-up after a retryable failure is logged as k8s_api_call_failed_max_retries, whatever
    stopped the retries; `give_up` says what, `engine_event` keeps the engine's own event."""
    scenario = """
from kubernetes.client.exceptions import ApiException
from k8sretry import RetryBudget, retry_on_k8s_error

NO_RETRY = RetryBudget(ratio=0.0, min_per_second=0, ttl=10, burst=0.0, min_per_episode=0)

@retry_on_k8s_error(budget=NO_RETRY, sleep=lambda d: None)
def refused():
    raise ApiException(status=503, reason="Service Unavailable")

@retry_on_k8s_error(deadline=1.5, jitter=0, budget=None, sleep=lambda d: None)
def late():
    raise ApiException(status=503, reason="Service Unavailable")

for fn in (refused, late):
    try:
        fn()
    except ApiException:
        pass
"""
    lines = json_lines(run(STRUCTLOG_JSON, scenario).stdout)
    # A refused retry in a young failure episode waits first (k8s_api_call_retry_deferred).
    gave_up = [
        line
        for line in lines
        if line["event"] not in ("k8s_api_call_failed_retrying", "k8s_api_call_retry_deferred")
    ]
    assert gave_up == [
        {
            "event": "k8s_api_call_failed_max_retries",
            "function": "refused",
            "attempt": 1,
            "max_retries": 3,
            "error_type": "ApiException",
            "error": "Service Unavailable",
            "status_code": 503,
            "give_up": "BudgetExhausted",
            "engine_event": "k8s_api_call_budget_exhausted",
        },
        {
            "event": "k8s_api_call_failed_max_retries",
            "function": "late",
            "attempt": 2,
            "max_retries": 3,
            "error_type": "ApiException",
            "error": "Service Unavailable",
            "status_code": 503,
            "give_up": "Deadline",
            "engine_event": "k8s_api_call_deadline_exceeded",
        },
    ]


def test_engine_events_keep_their_names_for_on_event() -> None:
    events: list[dict[str, Any]] = []

    @retry_on_k8s_error(
        budget=RetryBudget(ratio=0.0, min_per_second=0, ttl=10, burst=0.0, min_per_episode=0),
        sleep=lambda d: None,
        on_event=events.append,
    )
    def refused() -> None:
        raise ApiException(status=503, reason="Service Unavailable")

    with pytest.raises(ApiException):
        refused()
    # The episode is young (nothing sleeps): each of the 3 slots is waited out, then it gives up.
    assert [(e["event"], e["give_up"]) for e in events] == [
        *[("k8s_api_call_retry_deferred", None)] * 3,
        ("k8s_api_call_budget_exhausted", "BudgetExhausted"),
    ]


def test_a_read_back_that_cannot_tell_is_alerted_on(
    apiserver: Any, core: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """OutcomeUnknown: a lost create whose read-backs keep failing."""
    apiserver.fault("POST", "drop_after")
    apiserver.fault("GET", *[("503", None)] * 10)
    api = wrap_client(core, policy=Policy(max_retries=2, initial_delay=0.001, max_delay=0.002, budget=None))
    with caplog.at_level("INFO", logger="k8sretry"), pytest.raises(Exception) as info:
        api.create_namespaced_config_map("default", {"metadata": {"name": "unknown"}})
    assert getattr(info.value, "k8sretry_give_up", None) == "OutcomeUnknown"
    last = caplog.records[-1]
    assert (last.event, last.give_up, last.levelname) == (  # type: ignore[attr-defined]
        "k8s_api_call_failed_max_retries",
        "OutcomeUnknown",
        "ERROR",
    )


def test_configure_routes_logs_and_events_and_sets_the_default_policy() -> None:
    events: list[dict[str, Any]] = []
    seen: list[tuple[str, str, dict[str, Any]]] = []

    class Structured:  # a structlog-like logger
        def bind(self, **kw: Any) -> Structured:
            return self

        def _log(self, level: str) -> Any:
            return lambda event, **fields: seen.append((level, event, fields))

        def __getattr__(self, level: str) -> Any:
            if level in ("debug", "info", "warning", "error"):
                return self._log(level)
            raise AttributeError(level)

    calls: list[int] = []

    @retry_on_k8s_error(sleep=lambda d: None)  # decorated before configure: follows it
    def read() -> str:
        calls.append(1)
        if len(calls) % 3:
            raise ApiException(status=503, reason="Service Unavailable")
        return "ok"

    try:
        k8sretry.configure(
            logger=Structured(),
            on_event=events.append,
            policy=Policy(max_retries=7, initial_delay=0.001, max_delay=0.001, budget=None),
        )
        assert read() == "ok"
        assert [level for level, _, _ in seen] == ["warning", "warning", "info"]
        assert seen[0][2]["max_retries"] == 7, "the configured policy"
        assert [e["event"] for e in events] == [
            "k8s_api_call_failed_retrying",
            "k8s_api_call_failed_retrying",
            "k8s_api_call_succeeded_after_retry",
        ]
        k8sretry.configure(logger=False)
        seen.clear()
        assert read() == "ok"
        assert seen == [] and len(events) == 6
        with pytest.raises(TypeError):
            k8sretry.configure(logger="k8sretry")
        with pytest.raises(TypeError):
            k8sretry.configure(policy="default")  # type: ignore[arg-type]
    finally:
        k8sretry.configure(logger=None, on_event=None, policy=None)
    calls.clear()
    events.clear()
    assert read() == "ok" and events == []


# DESIGN §7: error text that carries a bearer token, a Secret's data and the request body.
TOKEN = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0"
    ".eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDpjaSJ9.c2lnbmF0dXJlLW5vdC1yZWFs"
)
SECRET = "c3VwZXItc2VjcmV0LXBhc3N3b3JkLTQy"
BODY = "request-body-canary"
LEAKY = (
    'Put "https://127.0.0.1:6443/api/v1/namespaces/default/secrets/db": '
    f"Authorization: Bearer {TOKEN}; data.password={SECRET}; request body: "
    f'{{"kind":"Secret","data":{{"password":"{SECRET}"}},"stringData":{{"note":"{BODY}"}}}}\n'
    f"response body: {BODY} {SECRET}"
)


class LeakyError(Exception):
    """A client error whose message embeds the request (as some clients' errors do)."""


def test_no_credentials_bodies_or_secret_data_in_logs_or_events() -> None:
    import logging

    from k8sretry.kopf import temporary_error

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    target = logging.getLogger("k8sretry.test_leaks")
    target.setLevel(logging.DEBUG)
    target.addHandler(Keep())
    target.propagate = False
    events: list[dict[str, Any]] = []
    k8sretry.configure(logger=target)
    try:
        # The text in the reason (kubernetes' ApiException) and in the message (any other error).
        for error in (ApiException(status=503, reason=LEAKY), LeakyError(LEAKY)):

            @retry_on_k8s_error(
                max_retries=1,
                retry_on=(LeakyError,),
                jitter=0,
                budget=None,
                sleep=lambda d: None,
                on_event=events.append,
            )
            def replace_secret() -> None:
                raise error  # noqa: B023 (called right here)

            with pytest.raises(type(error)) as info:
                replace_secret()
            assert info.value is error
    finally:
        k8sretry.configure(logger=None)
    texts = [json.dumps(e) for e in events]
    texts += [r.getMessage() + " " + json.dumps({k: str(v) for k, v in vars(r).items()}) for r in records]
    assert len(events) == 4 and len(records) == 4, texts
    texts.append(str(temporary_error(LeakyError(LEAKY), default_delay=1.0)))
    for text in texts:
        for gone in (TOKEN, SECRET, BODY, '\\"kind\\"', "stringData"):
            assert gone not in text, text
        assert "secrets/db" in text and "Bearer [redacted]" in text, text
    assert len(events[0]["error"].encode()) <= 256


def test_log_levels_are_the_engines(caplog: pytest.LogCaptureFixture) -> None:
    """The level of each line is the one the engine gives the event (the same in every language):
    a first attempt's 404 is DEBUG, retries and a give-up on used-up retries WARNING, a write whose
    outcome is unknown ERROR, a success after a retry INFO."""
    fast: dict[str, Any] = {"max_retries": 1, "jitter": 0, "budget": None, "sleep": lambda d: None}

    def failing(*errors: BaseException) -> Any:
        it = iter(errors)

        def call() -> None:
            error = next(it, None)
            if error is not None:
                raise error

        return call

    @retry_on_k8s_error(**fast)
    def read_missing() -> None:
        raise ApiException(status=404, reason="Not Found")

    @retry_on_k8s_error(**fast)
    def read_unavailable() -> None:
        raise ApiException(status=503, reason="Service Unavailable")

    flaky = failing(ApiException(status=503, reason="Service Unavailable"))

    @retry_on_k8s_error(**fast)
    def read_flaky() -> None:
        flaky()

    with caplog.at_level("DEBUG", logger="k8sretry"):
        for fn in (read_missing, read_unavailable):
            with pytest.raises(ApiException):
                fn()
        read_flaky()
    got = [(r.levelname, r.event, getattr(r, "function", None)) for r in caplog.records]  # type: ignore[attr-defined]
    assert got == [
        ("DEBUG", "k8s_api_call_failed_non_retryable", "read_missing"),
        ("WARNING", "k8s_api_call_failed_retrying", "read_unavailable"),
        ("WARNING", "k8s_api_call_failed_max_retries", "read_unavailable"),
        ("WARNING", "k8s_api_call_failed_retrying", "read_flaky"),
        ("INFO", "k8s_api_call_succeeded_after_retry", "read_flaky"),
    ]
