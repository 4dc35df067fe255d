#!/usr/bin/env python3
"""Writes the conformance vectors in this folder (see README.md for the format).

The expected values here do NOT come from the Rust core:
- classification and decision expectations are written out by hand from DESIGN.md;
- HTTP-date expectations come from Python's own email.utils.parsedate_tz (the parser the
  deployed decorator used), except where a comment says DESIGN deliberately differs;
- seeded delay sequences come from an independent SplitMix64 + jitter implementation below.

Run `python3 generate.py` to rewrite the JSON files, `python3 generate.py --check` to fail
when the committed files differ from what this script produces.
"""

import calendar
import email.utils
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOW = 1_700_000_000  # Tue, 14 Nov 2023 22:13:20 GMT

# ---------------------------------------------------------------- classification


def case(name, failure, cls, policy=None):
    c = {"name": name, "failure": failure, "class": cls}
    c["retryable"] = cls in (
        "Throttled",
        "Transient",
        "NetworkNotSent",
        "NetworkAmbiguous",
    )
    if policy is not None:
        c["policy"] = policy
        c["policy_json"] = json.dumps(policy)
    return c


def STATUS_BODY(reason: str, code: int, extra: str = "") -> str:  # noqa: N802
    """A raw Kubernetes Status JSON text, as clients keep it."""
    head = '{"kind":"Status","apiVersion":"v1","status":"Failure"'
    return f'{head},"reason":"{reason}","code":{code}{extra}}}'


def classification():
    cases = [
        # One row of DESIGN §2 at a time, by status.
        case("429 is throttled", {"status": 429}, "Throttled"),
        case("408 is transient", {"status": 408}, "Transient"),
        case("500 is transient", {"status": 500}, "Transient"),
        case("502 is transient", {"status": 502}, "Transient"),
        case("503 is transient", {"status": 503}, "Transient"),
        case("504 is transient", {"status": 504}, "Transient"),
        case("409 without reason is a conflict", {"status": 409}, "Conflict"),
        case("404 is not found", {"status": 404}, "NotFound"),
        case("410 is gone", {"status": 410}, "Gone"),
        case("400 is fatal", {"status": 400}, "Fatal"),
        case("401 is fatal", {"status": 401}, "Fatal"),
        case("403 is fatal", {"status": 403}, "Fatal"),
        case("422 is fatal", {"status": 422}, "Fatal"),
        case("501 is fatal", {"status": 501}, "Fatal"),
        case("505 is fatal", {"status": 505}, "Fatal"),
        case("200 as a failure is fatal", {"status": 200}, "Fatal"),
        case("status 0 is no status", {"status": 0}, "Fatal"),
        case("nothing at all is fatal", {}, "Fatal"),
        # By reason.
        case("reason TooManyRequests", {"reason": "TooManyRequests"}, "Throttled"),
        case("reason ServerTimeout", {"reason": "ServerTimeout"}, "Transient"),
        case("reason Timeout", {"reason": "Timeout"}, "Transient"),
        case("reason ServiceUnavailable", {"reason": "ServiceUnavailable"}, "Transient"),
        case("reason AlreadyExists", {"reason": "AlreadyExists"}, "AlreadyExists"),
        case("reason Conflict", {"reason": "Conflict"}, "Conflict"),
        case("reason NotFound", {"reason": "NotFound"}, "NotFound"),
        case("reason Gone", {"reason": "Gone"}, "Gone"),
        case("reason Expired", {"reason": "Expired"}, "Gone"),
        case(
            "unknown reason falls to the status",
            {"status": 503, "reason": "InternalError"},
            "Transient",
        ),
        case("unknown reason and no status", {"reason": "Invalid"}, "Fatal"),
        case("blank reason is ignored", {"status": 429, "reason": "  "}, "Throttled"),
        # A reason decides over a status.
        case(
            "409 AlreadyExists",
            {"status": 409, "reason": "AlreadyExists"},
            "AlreadyExists",
        ),
        case("409 Conflict", {"status": 409, "reason": "Conflict"}, "Conflict"),
        case("504 Timeout", {"status": 504, "reason": "Timeout"}, "Transient"),
        case("500 ServerTimeout", {"status": 500, "reason": "ServerTimeout"}, "Transient"),
        case(
            "403 with TooManyRequests is throttled",
            {"status": 403, "reason": "TooManyRequests"},
            "Throttled",
        ),
        case(
            "503 with NotFound reason is not found",
            {"status": 503, "reason": "NotFound"},
            "NotFound",
        ),
        case(
            "500 with AlreadyExists reason",
            {"status": 500, "reason": "AlreadyExists"},
            "AlreadyExists",
        ),
        # A status decides over codes.
        case(
            "503 with ECONNRESET is transient",
            {"status": 503, "codes": ["ECONNRESET"]},
            "Transient",
        ),
        case(
            "400 with ECONNRESET is fatal",
            {"status": 400, "codes": ["ECONNRESET"]},
            "Fatal",
        ),
        case(
            "404 with ECONNREFUSED is not found",
            {"status": 404, "codes": ["ECONNREFUSED"]},
            "NotFound",
        ),
        # Codes: never sent.
        case("ECONNREFUSED", {"codes": ["ECONNREFUSED"]}, "NetworkNotSent"),
        case("ENOTFOUND", {"codes": ["ENOTFOUND"]}, "NetworkNotSent"),
        case("EAI_AGAIN", {"codes": ["EAI_AGAIN"]}, "NetworkNotSent"),
        case("ENETUNREACH", {"codes": ["ENETUNREACH"]}, "NetworkNotSent"),
        case("EHOSTUNREACH", {"codes": ["EHOSTUNREACH"]}, "NetworkNotSent"),
        case(
            "UND_ERR_CONNECT_TIMEOUT",
            {"codes": ["UND_ERR_CONNECT_TIMEOUT"]},
            "NetworkNotSent",
        ),
        case("HTTPX_CONNECT_ERROR", {"codes": ["HTTPX_CONNECT_ERROR"]}, "NetworkNotSent"),
        case(
            "HTTPX_CONNECT_TIMEOUT",
            {"codes": ["HTTPX_CONNECT_TIMEOUT"]},
            "NetworkNotSent",
        ),
        case("HTTPX_POOL_TIMEOUT", {"codes": ["HTTPX_POOL_TIMEOUT"]}, "NetworkNotSent"),
        # Codes: ambiguous.
        case("ECONNRESET", {"codes": ["ECONNRESET"]}, "NetworkAmbiguous"),
        case("ETIMEDOUT", {"codes": ["ETIMEDOUT"]}, "NetworkAmbiguous"),
        case("EPIPE", {"codes": ["EPIPE"]}, "NetworkAmbiguous"),
        case("ECONNABORTED", {"codes": ["ECONNABORTED"]}, "NetworkAmbiguous"),
        case("UND_ERR_SOCKET", {"codes": ["UND_ERR_SOCKET"]}, "NetworkAmbiguous"),
        case(
            "UND_ERR_HEADERS_TIMEOUT",
            {"codes": ["UND_ERR_HEADERS_TIMEOUT"]},
            "NetworkAmbiguous",
        ),
        case(
            "UND_ERR_BODY_TIMEOUT",
            {"codes": ["UND_ERR_BODY_TIMEOUT"]},
            "NetworkAmbiguous",
        ),
        case(
            "ERR_STREAM_PREMATURE_CLOSE",
            {"codes": ["ERR_STREAM_PREMATURE_CLOSE"]},
            "NetworkAmbiguous",
        ),
        case("HTTPX_READ_ERROR", {"codes": ["HTTPX_READ_ERROR"]}, "NetworkAmbiguous"),
        case("HTTPX_READ_TIMEOUT", {"codes": ["HTTPX_READ_TIMEOUT"]}, "NetworkAmbiguous"),
        case("HTTPX_WRITE_ERROR", {"codes": ["HTTPX_WRITE_ERROR"]}, "NetworkAmbiguous"),
        case(
            "HTTPX_WRITE_TIMEOUT",
            {"codes": ["HTTPX_WRITE_TIMEOUT"]},
            "NetworkAmbiguous",
        ),
        case(
            "HTTPX_REMOTE_PROTOCOL_ERROR",
            {"codes": ["HTTPX_REMOTE_PROTOCOL_ERROR"]},
            "NetworkAmbiguous",
        ),
        case(
            "httpx connect error outside its ECONNREFUSED",
            {"codes": ["HTTPX_CONNECT_ERROR", "ECONNREFUSED"]},
            "NetworkNotSent",
        ),
        case(
            "httpx read timeout with the timeout flag",
            {"codes": ["HTTPX_READ_TIMEOUT"], "timeout": True},
            "NetworkAmbiguous",
        ),
        case("lower-case code", {"codes": ["econnreset"]}, "NetworkAmbiguous"),
        case("code with spaces", {"codes": [" ECONNREFUSED "]}, "NetworkNotSent"),
        # Code lists: outermost known code first.
        case(
            "unknown code then known",
            {"codes": ["EPROTO", "ECONNRESET"]},
            "NetworkAmbiguous",
        ),
        case(
            "not-sent outside ambiguous",
            {"codes": ["ECONNREFUSED", "ECONNRESET"]},
            "NetworkNotSent",
        ),
        case(
            "ambiguous outside not-sent",
            {"codes": ["UND_ERR_SOCKET", "ECONNREFUSED"]},
            "NetworkAmbiguous",
        ),
        case(
            "only unknown codes",
            {"codes": ["EPROTO", "ERR_SSL_WRONG_VERSION_NUMBER"]},
            "Fatal",
        ),
        case("empty code list", {"codes": []}, "Fatal"),
        # Timeouts, cancellation, the caller's own rule.
        case("client timeout", {"timeout": True}, "NetworkAmbiguous"),
        case(
            "timeout with known code uses the code",
            {"timeout": True, "codes": ["ECONNREFUSED"]},
            "NetworkNotSent",
        ),
        case(
            "timeout with a status uses the status",
            {"timeout": True, "status": 404},
            "NotFound",
        ),
        case("cancelled", {"cancelled": True}, "Cancelled"),
        case("cancelled beats 503", {"cancelled": True, "status": 503}, "Cancelled"),
        case(
            "cancelled beats a code",
            {"cancelled": True, "codes": ["ECONNRESET"]},
            "Cancelled",
        ),
        case("user_retryable marks transient", {"user_retryable": True}, "Transient"),
        case(
            "user_retryable beats 400",
            {"user_retryable": True, "status": 400},
            "Transient",
        ),
        # Bodies: a raw Status JSON text, as client-node and Python keep it.
        case(
            "body gives the reason",
            {"status": 409, "body": STATUS_BODY("AlreadyExists", 409)},
            "AlreadyExists",
        ),
        case(
            "body gives Conflict",
            {"status": 409, "body": STATUS_BODY("Conflict", 409)},
            "Conflict",
        ),
        case(
            "body gives the status when none is known",
            {"body": STATUS_BODY("TooManyRequests", 429)},
            "Throttled",
        ),
        case(
            "non-JSON body is ignored",
            {"status": 503, "body": "<html>Service Unavailable</html>"},
            "Transient",
        ),
        case(
            "truncated body is ignored",
            {"status": 502, "body": '{"kind":"Status","reason":"Alr'},
            "Transient",
        ),
        case(
            "body reason of the wrong type",
            {"status": 409, "body": '{"reason": 42}'},
            "Conflict",
        ),
        case(
            "explicit reason beats the body's",
            {
                "status": 409,
                "reason": "Conflict",
                "body": STATUS_BODY("AlreadyExists", 409),
            },
            "Conflict",
        ),
        # Configurable sets.
        case(
            "status removed from the set",
            {"status": 503},
            "Fatal",
            {"retry_statuses": [429]},
        ),
        case(
            "status added to the set",
            {"status": 501},
            "Transient",
            {"retry_statuses": [501]},
        ),
        case(
            "429 removed: reason TooManyRequests is fatal",
            {"status": 429, "reason": "TooManyRequests"},
            "Fatal",
            {"retry_statuses": [503]},
        ),
        case(
            "connection preset: 503 not retried",
            {"status": 503},
            "Fatal",
            {"preset": "connection"},
        ),
        case(
            "connection preset: 429 not retried",
            {"status": 429},
            "Fatal",
            {"preset": "connection"},
        ),
        case(
            "connection preset: reset retried",
            {"codes": ["ECONNRESET"]},
            "NetworkAmbiguous",
            {"preset": "connection"},
        ),
        case(
            "connection preset: 404 still not found",
            {"status": 404},
            "NotFound",
            {"preset": "connection"},
        ),
        case(
            "custom not-sent code",
            {"codes": ["EMYCODE"]},
            "NetworkNotSent",
            {"not_sent_codes": ["EMYCODE"]},
        ),
        case(
            "custom sets replace the defaults",
            {"codes": ["ECONNREFUSED"]},
            "Fatal",
            {"not_sent_codes": ["EMYCODE"]},
        ),
        case(
            "custom ambiguous code",
            {"codes": ["EIO"]},
            "NetworkAmbiguous",
            {"ambiguous_codes": ["eio"]},
        ),
        case(
            "timeouts switched off",
            {"timeout": True},
            "Fatal",
            {"retry_timeouts": False},
        ),
    ]
    return {"description": "Failure -> class (DESIGN §2)", "cases": cases}


# ---------------------------------------------------------------- Retry-After


def python_oracle(value):
    """Seconds until an HTTP-date, read by email.utils.parsedate_tz, always UTC."""
    t = email.utils.parsedate_tz(value)
    if t is None:
        return None
    at = calendar.timegm(t[:6]) - (t[9] or 0)
    wait = at - NOW
    return float(wait) if wait > 0 else None


def retry_after():
    cases = []

    def add(name, value, seconds):
        cases.append({"name": name, "value": value, "seconds": seconds})

    # delta-seconds, written by hand
    add("delta", "5", 5.0)
    add("delta one", "1", 1.0)
    add("delta with spaces", "  12  ", 12.0)
    add("delta with tab", "\t3\t", 3.0)
    add("delta leading zeros", "007", 7.0)
    add("delta zero is no hint", "0", None)
    add("delta zeros is no hint", "000", None)
    add("delta huge", "86400", 86400.0)
    add("delta beyond u64 saturates", "99999999999999999999999", 18446744073709551615.0)
    add("negative is no hint", "-5", None)
    add("plus sign is no hint", "+5", None)
    add("fraction is no hint", "1.5", None)
    add("exponent is no hint", "1e3", None)
    add("unit is no hint", "5s", None)
    add("inner space is no hint", "1 2", None)
    add("empty is no hint", "", None)
    add("blank is no hint", "   ", None)
    add("words are no hint", "soon", None)
    add("hex is no hint", "0x10", None)
    add("unicode digits are no hint", "\u0665", None)
    # HTTP-dates: the oracle computes the expectation.
    for name, value in [
        ("IMF-fixdate", "Tue, 14 Nov 2023 22:13:30 GMT"),
        ("IMF-fixdate an hour ahead", "Tue, 14 Nov 2023 23:13:20 GMT"),
        ("IMF-fixdate a day ahead", "Wed, 15 Nov 2023 22:13:20 GMT"),
        ("IMF-fixdate next year", "Mon, 01 Jan 2024 00:00:00 GMT"),
        ("RFC 850", "Tuesday, 14-Nov-23 22:13:40 GMT"),
        ("asctime", "Tue Nov 14 22:13:50 2023"),
        ("asctime one-digit day padded", "Wed Nov 15 00:00:00 2023"),
        ("one-digit day", "Wed, 1 Jan 2025 00:00:00 GMT"),
        ("UTC zone", "Tue, 14 Nov 2023 22:13:30 UTC"),
        ("UT zone", "Tue, 14 Nov 2023 22:13:30 UT"),
        ("numeric +0000", "Tue, 14 Nov 2023 22:13:30 +0000"),
        ("numeric +0100 is an hour earlier in UTC", "Tue, 14 Nov 2023 23:13:30 +0100"),
        ("numeric -0500", "Tue, 14 Nov 2023 17:13:30 -0500"),
        ("EST", "Tue, 14 Nov 2023 17:13:30 EST"),
        ("PDT", "Tue, 14 Nov 2023 15:13:30 PDT"),
        ("no zone is UTC", "Tue, 14 Nov 2023 22:13:30"),
        ("no weekday", "14 Nov 2023 22:13:30 GMT"),
        ("lower-case month", "Tue, 14 nov 2023 22:13:30 GMT"),
        ("full month name", "Tue, 14 November 2023 22:13:30 GMT"),
        ("no seconds", "Tue, 14 Nov 2023 22:15 GMT"),
        ("extra spaces", "  Tue,   14 Nov 2023   22:13:30   GMT  "),
        ("two-digit year 69 is 1969, past", "Fri, 14 Nov 69 22:13:30 GMT"),
        ("two-digit year 30 is 2030", "Thu, 14 Nov 30 22:13:30 GMT"),
        ("far future", "Fri, 31 Dec 9999 23:59:59 GMT"),
        ("leap day", "Thu, 29 Feb 2024 12:00:00 GMT"),
        ("one second ago", "Tue, 14 Nov 2023 22:13:19 GMT"),
        ("exactly now is no hint", "Tue, 14 Nov 2023 22:13:20 GMT"),
        ("the epoch", "Thu, 01 Jan 1970 00:00:00 GMT"),
        ("missing year", "Tue, 14 Nov 22:13:30 GMT"),
        ("not a month", "Tue, 14 Foo 2023 22:13:30 GMT"),
        ("time without colon", "Tue, 14 Nov 2023 221330 GMT"),
    ]:
        add(name, value, python_oracle(value))
    # Where DESIGN is stricter than parsedate_tz: impossible calendar dates are no hint
    # (timegm would roll 31 Feb over into March).
    add("31 February is no hint", "Fri, 31 Feb 2024 00:00:00 GMT", None)
    add("29 February of a common year", "Wed, 29 Feb 2023 12:00:00 GMT", None)
    add("day zero", "Tue, 00 Nov 2023 22:13:30 GMT", None)
    add("hour 25 is no hint", "Tue, 14 Nov 2023 25:99:99 GMT", None)
    add("bad numeric zone", "Tue, 14 Nov 2023 22:13:30 +99", None)
    return {
        "description": "Retry-After value -> seconds to wait at `now` (DESIGN §3); null = no hint",
        "now": NOW,
        "cases": cases,
    }


# ---------------------------------------------------------------- delays (independent RNG)

MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15

PRESETS = {
    "default": (3, 1.0, 30.0, ("proportional", 0.1)),
    "mutation": (5, 2.0, 30.0, ("proportional", 0.1)),
    "read": (3, 1.0, 10.0, ("proportional", 0.1)),
    "connection": (5, 0.5, 10.0, ("proportional", 0.1)),
    "runner_hooks": (3, 1.0, 30.0, ("proportional", 0.5)),
    "conflict": (4, 0.01, 0.01, ("proportional", 0.1)),
    "reconcile": (2, 0.2, 2.0, ("proportional", 0.1)),
}


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def unit(self):
        self.state = (self.state + GAMMA) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        return (z >> 11) * (1.0 / (1 << 53))


def delays_for(preset, seed, overrides):
    max_retries, initial, max_delay, jitter = PRESETS[preset]
    max_retries = overrides.get("max_retries", max_retries)
    initial = overrides.get("initial_delay", initial)
    max_delay = overrides.get("max_delay", max_delay)
    base = overrides.get("exponential_base", 2.0)
    j = overrides.get("jitter")
    if isinstance(j, str):
        jitter = (j, None)
    elif isinstance(j, (int, float)):
        jitter = ("proportional", float(j))
    rng = SplitMix64(seed)
    out, previous = [], None
    for n in range(1, max_retries + 1):
        d = min(max_delay, initial * base ** (n - 1))
        mode, s = jitter
        if mode == "none":
            x = d
        elif mode == "full":
            x = d * rng.unit()
        elif mode == "equal":
            x = d / 2 + d / 2 * rng.unit()
        elif mode == "proportional":
            x = d * (1 - s + 2 * s * rng.unit())
        elif mode == "decorrelated":
            low = initial
            high = max(3 * (previous if previous is not None else low), low)
            x = low + (high - low) * rng.unit()
        x = min(max(x, 0.0), max_delay)
        previous = x
        out.append(x)
    return max_retries, out


def delays():
    scenarios = []
    plans = []
    for preset in PRESETS:
        for seed in (1, 42, 2024):
            plans.append((preset, seed, {}))
    plans.append(("conflict", 5, {"exponential_base": 1.0}))
    for mode in ("none", "full", "equal", "decorrelated"):
        for seed in (7, 99):
            plans.append(("default", seed, {"jitter": mode, "max_retries": 8}))
    plans += [
        ("default", 5, {"jitter": 0.25, "max_retries": 6}),
        ("default", 5, {"jitter": 1.0, "max_retries": 6}),
        (
            "default",
            11,
            {"exponential_base": 1.5, "max_retries": 10, "max_delay": 20.0},
        ),
        (
            "default",
            11,
            {
                "exponential_base": 1.0,
                "initial_delay": 0.01,
                "jitter": 0.1,
                "max_retries": 5,
            },
        ),
        ("default", 3, {"initial_delay": 0.0, "max_retries": 3}),
        ("mutation", 123456789, {"max_retries": 12}),
        (
            "default",
            9007199254740991,
            {"max_retries": 4},
        ),  # 2^53-1: the largest seed every JSON reader keeps exact
        ("runner_hooks", 0, {}),
    ]
    for preset, seed, overrides in plans:
        max_retries, expected = delays_for(preset, seed, overrides)
        policy = {"preset": preset, "seed": seed, "budget": None, **overrides}
        # The connection preset retries network failures only.
        failure = {"codes": ["ECONNRESET"]} if preset == "connection" else {"status": 503}
        steps = [
            {
                "op": "begin",
                "call": "a",
                "function": "delays",
                "verb": "GET",
                "recovery": "none",
            }
        ]
        for d in expected:
            steps.append(
                {
                    "op": "fail",
                    "call": "a",
                    "failure": failure,
                    "expect": {"decision": "retry", "delay": d},
                }
            )
        steps.append(
            {
                "op": "fail",
                "call": "a",
                "failure": failure,
                "expect": {"decision": "give_up", "reason": "MaxRetries"},
            }
        )
        label = ", ".join(f"{k}={v}" for k, v in overrides.items())
        scenarios.append(
            {
                "name": f"{preset} seed {seed}" + (f" ({label})" if label else ""),
                "policy": policy,
                "policy_json": json.dumps(policy),
                "start_unix": NOW,
                "steps": steps,
            }
        )
    return {
        "description": "Seeded delay sequences: 503s (resets for `connection`) until max_retries "
        + "(DESIGN §3)",
        "scenarios": scenarios,
    }


# ---------------------------------------------------------------- decisions (hand-written)


def begin(call="a", verb="GET", recovery="none", function="f", reader=None, nested=None):
    step = {
        "op": "begin",
        "call": call,
        "function": function,
        "verb": verb,
        "recovery": recovery,
    }
    if reader is not None:
        step["reader"] = reader
    if nested is not None:
        step["nested"] = nested
    return step


def cancel(call="a", expect=None):
    """The caller cancels the call, whatever it is doing."""
    return {"op": "cancel", "call": call, "expect": expect}


def retry(delay):
    return {"decision": "retry", "delay": delay}


def give_up(reason):
    return {"decision": "give_up", "reason": reason}


def read_back(delay):
    return {"decision": "read_back", "delay": delay}


# DESIGN §4 "A missing object is read twice": after a generateName create's failure that may have
# written, a read-back that finds nothing is read again this many seconds later before a resend.
CONFIRM = 1.0

RECOVERED = {"decision": "recovered"}
DONE = {"decision": "done"}
OUT_OF_ORDER = {"decision": "error"}


def F(failure, call="a", expect=None):
    return {"op": "fail", "call": call, "failure": failure, "expect": expect}


def R(outcome, failure=None, call="a", expect=None):
    """The read-back asked for found `outcome` (ours, not_ours, missing, failed + failure)."""
    step = {"op": "read_back", "call": call, "outcome": outcome, "expect": expect}
    if failure is not None:
        step["failure"] = failure
    return step


def succeed(call="a", attempts=None):
    s = {"op": "succeed", "call": call}
    if attempts is not None:
        s["attempts"] = attempts
    return s


def advance(seconds):
    return {"op": "advance", "seconds": seconds}


def wait(delay):
    return {"decision": "wait", "delay": delay}


def resume(call="a", expect=None):
    """The wait a `wait` decision asked for has been slept: ask the call again."""
    return {"op": "resume", "call": call, "expect": expect}


def spread_delays(seed, jitter, plan):
    """Delays of one call of the default preset whose failures follow `plan`, a list of
    (backoff base seconds, hint or None), drawing as the engine draws: the backoff's jitter
    first, then the spread (0.2) when the hint decides the delay (hint >= backoff)."""
    rng = SplitMix64(seed)
    out = []
    for base, hint in plan:
        backoff = base if jitter is None else base * (1 - jitter + 2 * jitter * rng.unit())
        if hint is not None and hint >= backoff:
            out.append(hint * (1 + 0.2 * rng.unit()))
        else:
            out.append(backoff)
    return out


S503 = {"status": 503}
RESET = {"codes": ["ECONNRESET"]}
REFUSED = {"codes": ["ECONNREFUSED"]}
EXISTS = {"status": 409, "reason": "AlreadyExists"}
GONE404 = {"status": 404, "reason": "NotFound"}
RA = lambda status, value: {"status": status, "retry_after": value}  # noqa: E731
# A budget that allows each failure episode one retry and nothing more (no ratio, no floor).
ONE_RETRY_BUDGET = {
    "ratio": 0,
    "burst": 0,
    "min_per_second": 0,
    "min_per_episode": 1,
    "ttl": 10,
}
# No jitter, no budget, no Retry-After spread: every delay is exact.
EXACT = {"jitter": "none", "budget": None, "retry_after_spread": 0}


def scenario(name, steps, policy=None):
    policy = {**EXACT, **(policy or {})}
    return {
        "name": name,
        "policy": policy,
        "policy_json": json.dumps(policy),
        "start_unix": NOW,
        "steps": steps,
    }


def decisions():
    s = [
        scenario(
            "max_retries 3 means 4 calls",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F(S503, expect=retry(2.0)),
                F(S503, expect=retry(4.0)),
                F(S503, expect=give_up("MaxRetries")),
            ],
        ),
        scenario(
            "max_retries 0 never retries",
            [begin(), F(S503, expect=give_up("MaxRetries"))],
            {"max_retries": 0},
        ),
        scenario(
            "success after two retries",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F({"status": 502}, expect=retry(2.0)),
                succeed(attempts=3),
            ],
        ),
        scenario("success on the first attempt", [begin(), succeed(attempts=1)]),
        scenario(
            "Retry-After longer than the backoff wins",
            [begin(), F(RA(429, "5"), expect=retry(5.0))],
        ),
        scenario(
            "backoff longer than Retry-After wins",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F(S503, expect=retry(2.0)),
                F(RA(429, "1"), expect=retry(4.0)),
            ],
        ),
        scenario(
            "Retry-After above the 60 s cap gives up (never sooner than asked)",
            [begin(), F(RA(429, "120"), expect=give_up("RetryAfterTooLong"))],
        ),
        scenario(
            "Retry-After of APF's largest 32 s is honoured by default",
            [begin(), F(RA(429, "32"), expect=retry(32.0))],
        ),
        scenario(
            "Retry-After equal to the cap is honoured",
            [begin(), F(RA(429, "60"), expect=retry(60.0))],
        ),
        scenario(
            "Retry-After above retry_after_cap gives up",
            [begin(), F(RA(503, "120"), expect=give_up("RetryAfterTooLong"))],
            {"retry_after_cap": 10},
        ),
        scenario(
            "retryAfterSeconds above the cap gives up too",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F(
                    {"status": 429, "retry_after_seconds": 11},
                    expect=give_up("RetryAfterTooLong"),
                ),
            ],
            {"retry_after_cap": 10},
        ),
        scenario(
            "Retry-After spread: seeded, 0-20% after the hint, never before it",
            [
                begin(),
                *[
                    F(f, expect=retry(d))
                    for f, d in zip(
                        [RA(429, "5"), S503, RA(429, "10")],
                        spread_delays(7, None, [(1, 5), (2, None), (4, 10)]),
                        strict=True,
                    )
                ],
            ],
            {"seed": 7, "retry_after_spread": 0.2},
        ),
        scenario(
            "Retry-After spread: draws after the backoff's jitter, only when the hint decides",
            [
                begin(),
                *[
                    F(f, expect=retry(d))
                    for f, d in zip(
                        [RA(429, "3"), S503, RA(429, "1")],
                        spread_delays(42, 0.1, [(1, 3), (2, None), (4, 1)]),
                        strict=True,
                    )
                ],
            ],
            {"seed": 42, "jitter": 0.1, "retry_after_spread": 0.2},
        ),
        scenario(
            "Retry-After spread of 0 is the hint exactly",
            [begin(), F(RA(429, "7"), expect=retry(7.0))],
            {"seed": 3, "retry_after_spread": 0},
        ),
        scenario(
            "a hint may pass max_delay",
            [begin(), F(RA(429, "5"), expect=retry(5.0))],
            {"max_delay": 2},
        ),
        scenario("hint ignored on 500", [begin(), F(RA(500, "9"), expect=retry(1.0))]),
        scenario(
            "hint honoured on reason ServerTimeout",
            [
                begin(),
                F(
                    {"status": 500, "reason": "ServerTimeout", "retry_after": "9"},
                    expect=retry(9.0),
                ),
            ],
        ),
        scenario(
            "hint honoured on reason TooManyRequests without status",
            [
                begin(),
                F(
                    {"reason": "TooManyRequests", "retry_after_seconds": 4},
                    expect=retry(4.0),
                ),
            ],
        ),
        scenario(
            "retry_after_statuses extends to 502",
            [begin(), F(RA(502, "6"), expect=retry(6.0))],
            {"retry_after_statuses": [429, 502, 503]},
        ),
        scenario(
            "retryAfterSeconds from the body",
            [begin(), F({"status": 429, "retry_after_seconds": 7}, expect=retry(7.0))],
        ),
        scenario(
            "retryAfterSeconds read from a Status body",
            [
                begin(),
                F(
                    {
                        "status": 429,
                        "body": STATUS_BODY("TooManyRequests", 429, ',"details":{"retryAfterSeconds":6}'),
                    },
                    expect=retry(6.0),
                ),
            ],
        ),
        scenario(
            "header wins over body",
            [
                begin(),
                F(
                    {"status": 429, "retry_after": "3", "retry_after_seconds": 7},
                    expect=retry(3.0),
                ),
            ],
        ),
        scenario(
            "unparseable header falls back to body",
            [
                begin(),
                F(
                    {"status": 429, "retry_after": "soon", "retry_after_seconds": 7},
                    expect=retry(7.0),
                ),
            ],
        ),
        scenario(
            "zero retryAfterSeconds is no hint",
            [begin(), F({"status": 429, "retry_after_seconds": 0}, expect=retry(1.0))],
        ),
        scenario(
            "negative retryAfterSeconds is no hint",
            [begin(), F({"status": 429, "retry_after_seconds": -3}, expect=retry(1.0))],
        ),
        scenario(
            "HTTP-date hint",
            [begin(), F(RA(503, "Tue, 14 Nov 2023 22:13:26 GMT"), expect=retry(6.0))],
        ),
        scenario(
            "HTTP-date hint after the clock moved",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                advance(1),
                F(RA(503, "Tue, 14 Nov 2023 22:13:26 GMT"), expect=retry(5.0)),
            ],
        ),
        scenario(
            "past HTTP-date is no hint",
            [begin(), F(RA(503, "Tue, 14 Nov 2023 22:00:00 GMT"), expect=retry(1.0))],
        ),
        scenario("Retry-After 0 is no hint", [begin(), F(RA(429, "0"), expect=retry(1.0))]),
        scenario(
            "deadline stops before sleeping past it",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                advance(1),
                F(S503, expect=retry(2.0)),
                advance(2),
                F(S503, expect=give_up("Deadline")),
            ],
            {"deadline": 5, "max_retries": 10},
        ),
        scenario(
            "deadline reached exactly is allowed",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                advance(1),
                F(S503, expect=retry(2.0)),
            ],
            {"deadline": 3},
        ),
        scenario(
            "deadline counts a capped hint",
            [begin(), F(RA(429, "20"), expect=give_up("Deadline"))],
            {"deadline": 10},
        ),
        scenario(
            "budget reserve runs out",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F(S503, expect=retry(2.0)),
                F(S503, expect=wait(4.0)),  # refused in a young episode: slot 3 is waited out
            ],
            {
                "max_retries": 5,
                "budget": {
                    "ratio": 0,
                    "burst": 0,
                    "min_per_second": 1,
                    "ttl": 2,
                    "min_per_episode": 0,
                },
            },
        ),
        scenario(
            "budget refills after its window",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F(S503, expect=retry(2.0)),
                F(S503, expect=wait(4.0)),  # refused (a young episode: wait, send nothing)
                advance(2),
                begin("b"),
                F(S503, "b", retry(1.0)),
                F(S503, "b", retry(2.0)),
                F(S503, "b", wait(4.0)),
            ],
            {
                "max_retries": 5,
                "budget": {
                    "ratio": 0,
                    "burst": 0,
                    "min_per_second": 1,
                    "ttl": 2,
                    "min_per_episode": 0,
                },
            },
        ),
        scenario(
            "first attempts deposit into the budget",
            [
                begin("a"),
                begin("b"),
                begin("c"),
                begin("d"),
                F(S503, "a", retry(1.0)),
                F(S503, "b", retry(1.0)),
                F(S503, "c", wait(1.0)),  # refused: a young episode, so c waits
                begin("e"),
                begin("f"),
                F(S503, "d", retry(1.0)),
            ],
            {
                "budget": {
                    "ratio": 0.5,
                    "burst": 0.5,
                    "min_per_second": 0,
                    "ttl": 10,
                    "min_per_episode": 0,
                }
            },
        ),
        scenario(
            "budget: early in a failure episode a first attempt is worth 3 retries (a blip)",
            [
                begin("a"),
                begin("b"),
                F(S503, "a", retry(1.0)),
                F(S503, "b", retry(1.0)),
                F(S503, "a", retry(2.0)),
                F(S503, "b", retry(2.0)),
                F(S503, "a", retry(4.0)),
                F(S503, "b", retry(4.0)),
                F(S503, "a", give_up("MaxRetries")),
            ],
            {
                "budget": {
                    "ratio": 0.2,
                    "min_per_second": 0,
                    "ttl": 10,
                    "min_per_episode": 0,
                }
            },
        ),
        scenario(
            "budget: the extra allowance fades while the episode lasts; a quiet success ends it",
            [
                *[begin(c) for c in "abcde"],
                # The episode begins with 5 first attempts in the window: tokens =
                # ratio * 5 + (burst - ratio) * 5 / (1 + (age / tau)^4), tau = 1 + 4 * 5 / 20 = 2 s.
                F(S503, "a", retry(1.0)),  # age 0: 1 + 14 = 15 tokens, 1 taken
                advance(3),  # age 3: 1 + 14 / (1 + 1.5^4) = 3.31 tokens
                F(S503, "b", retry(1.0)),  # 2 taken
                F(S503, "c", retry(1.0)),  # 3 taken
                F(S503, "e", wait(1.0)),  # 0.31 left: refused, waits (young episode)
                begin("s"),
                succeed("s"),  # at the instant of a failed retry: the episode goes on
                # 1.2 + 14 / 6.06 + 0.5 (s's success) - 3 = 1.01: s's success pays for d
                F(S503, "d", retry(1.0)),
                advance(1),
                begin("t"),
                succeed("t"),  # half a second without a failed retry: the episode is over
                begin("f"),
                F(S503, "f", retry(1.0)),  # a new one: 8 first attempts * 3 - 3 taken
            ],
            {
                "budget": {
                    "ratio": 0.2,
                    "min_per_second": 0,
                    "ttl": 10,
                    "min_per_episode": 0,
                },
            },
        ),
        scenario(
            "budget: every episode may take min_per_episode retries whatever the traffic",
            [
                begin("a"),
                begin("b"),
                F(S503, "a", retry(1.0)),
                F(S503, "b", retry(1.0)),  # two calls have asked: the minimum's rules alone
                # The third of the minimum is a probe: 5 s after the last retry allowed.
                F(S503, "a", wait(2.0)),
                advance(2),
                resume("a", wait(4.0)),  # 2 s after: not yet
                advance(3),
                begin("c"),
                F(S503, "c", retry(1.0)),  # 5 s after: the probe
                F(S503, "c", wait(2.0)),  # 3 used; the ratio rule gives 0; a young episode
                advance(100),  # per episode, not per second: time alone gives nothing back
                resume("a", give_up("BudgetExhausted")),  # 105 s old: an outage, no more waits
                F(S503, "b", give_up("BudgetExhausted")),  # no wait either
                begin("d"),
                F(S503, "d", give_up("BudgetExhausted")),
                resume("c", give_up("BudgetExhausted")),
                advance(1),
                begin("s"),
                succeed("s"),  # a second after the last failed retry: the episode is over
                begin("e"),
                F(S503, "e", retry(1.0)),
            ],
            {"budget": {"ratio": 0, "burst": 0, "min_per_second": 0, "ttl": 10}},
        ),
        scenario(
            "budget: the one call that has asked since the last success uses its own retries",
            [
                begin("a"),
                F(S503, "a", retry(1.0)),  # the minimum's two at once
                advance(1),
                F(S503, "a", retry(2.0)),
                advance(2),
                F(S503, "a", retry(4.0)),  # the probe is not due (5 s after 1 s): a call alone
                advance(4),
                F(S503, "a", retry(8.0)),  # beyond the minimum: still alone
                advance(8),
                F(S503, "a", retry(16.0)),  # the episode is 15 s old: alone, not an outage
                advance(16),
                F(S503, "a", retry(30.0)),
                advance(30),
                F(S503, "a", give_up("MaxRetries")),  # its own max_retries bound it
                begin("b"),
                F(S503, "b", give_up("BudgetExhausted")),  # a second caller: an outage's rules
                advance(1),
                begin("s"),
                succeed("s"),  # the episode is over
                begin("c"),
                F(S503, "c", retry(1.0)),
                begin("d"),
                F(S503, "d", retry(1.0)),  # the minimum's two at once
                advance(1),
                F(S503, "c", wait(2.0)),  # two callers: the probe's 5 s are the rule
            ],
            {
                "max_retries": 6,
                "budget": {"ratio": 0, "burst": 0, "min_per_second": 0, "ttl": 10},
            },
        ),
        scenario(
            "budget: a success makes the next call that asks the only one again",
            [
                begin("a"),
                begin("b"),
                F(S503, "a", retry(1.0)),
                F(S503, "b", retry(1.0)),  # the minimum's two at once, two callers
                advance(0.2),
                begin("s"),
                succeed("s"),  # 0.2 s after a failed ask: the episode goes on
                advance(0.1),
                F(S503, "a", retry(2.0)),  # the only call to ask since that success
            ],
            {"budget": {"ratio": 0, "burst": 0, "min_per_second": 0, "ttl": 10}},
        ),
        scenario(
            "budget: a refused retry with a deadline waits (sending nothing) and resumes",
            [
                begin(),
                F(S503, expect=retry(1.0)),  # the episode minimum of 1
                F(S503, expect=wait(2.0)),  # refused: slot 2 is waited out
                advance(2),
                resume(expect=wait(4.0)),  # refused again: slot 3's backoff
                advance(4),
                begin("s"),
                succeed("s"),  # the server answers: a new episode, a new minimum
                resume(expect=retry(0.0)),  # the deferred retry is sent now
                F(S503, expect=wait(8.0)),  # slot 4; 6 + 8 <= 20
                advance(8),
                resume(expect=give_up("BudgetExhausted")),  # slot 5's 16 s would pass 20 s
            ],
            {
                "max_retries": 5,
                "deadline": 20,
                "budget": {
                    "ratio": 0,
                    "burst": 0,
                    "min_per_second": 0,
                    "min_per_episode": 1,
                    "ttl": 10,
                },
            },
        ),
        scenario(
            "budget: without a deadline a refused retry waits while the episode is young (< 10 s)",
            [
                begin(),
                F(S503, expect=retry(1.0)),  # the episode (and its minimum of 1) begins
                F(S503, expect=wait(2.0)),  # refused at age 0: wait slot 2, send nothing
                advance(2),
                resume(expect=wait(4.0)),  # refused again at age 2: still young
                advance(4),
                begin("s"),
                succeed("s"),  # the server answers (no failed ask for 6 s): the episode ends
                resume(expect=retry(0.0)),  # a new episode's minimum: the waited call goes
            ],
            {
                "max_retries": 5,
                "budget": {
                    "ratio": 0,
                    "burst": 0,
                    "min_per_second": 0,
                    "min_per_episode": 1,
                    "ttl": 10,
                },
            },
        ),
        scenario(
            "budget: without a deadline a refused retry gives up once the episode is 10 s old",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F(S503, expect=wait(2.0)),  # age 0: young, wait
                advance(2),
                resume(expect=wait(4.0)),  # age 2: young, wait again
                advance(8),
                resume(expect=give_up("BudgetExhausted")),  # age 10: an outage, no more waits
                begin("b"),
                F(S503, "b", give_up("BudgetExhausted")),  # a call failing in it: no wait
            ],
            {
                "max_retries": 5,
                "budget": {
                    "ratio": 0,
                    "burst": 0,
                    "min_per_second": 0,
                    "min_per_episode": 1,
                    "ttl": 10,
                },
            },
        ),
        scenario(
            "budget: a wait sends nothing and uses up no retry; the deadline ends the waits",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F(S503, expect=wait(2.0)),
                advance(2),
                resume(expect=wait(4.0)),  # 2 waits, 1 retry sent: max_retries 2 still allows one
                advance(4),
                begin("s"),
                succeed("s"),  # the episode is over: a new minimum
                resume(expect=retry(0.0)),
                F(S503, expect=give_up("MaxRetries")),  # 2 retries sent
            ],
            {
                "max_retries": 2,
                "deadline": 100,
                "budget": {
                    "ratio": 0,
                    "burst": 0,
                    "min_per_second": 0,
                    "min_per_episode": 1,
                    "ttl": 10,
                },
            },
        ),
        scenario(
            "budget: a wait that does not fit before the deadline gives up Deadline",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                advance(1),
                F(S503, expect=give_up("Deadline")),  # 1 + 2 > 2.5: the deadline decides first
            ],
            {
                "deadline": 2.5,
                "budget": {
                    "ratio": 0,
                    "burst": 0,
                    "min_per_second": 0,
                    "min_per_episode": 1,
                    "ttl": 10,
                },
            },
        ),
        scenario(
            "budget: resumed past the deadline gives up Deadline",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F(S503, expect=wait(2.0)),
                advance(30),  # overslept
                resume(expect=give_up("Deadline")),
            ],
            {
                "deadline": 10,
                "budget": {
                    "ratio": 0,
                    "burst": 0,
                    "min_per_second": 0,
                    "min_per_episode": 1,
                    "ttl": 10,
                },
            },
        ),
        scenario(
            "resume out of order is an error; so is any other step while waiting",
            [
                begin(),
                resume(expect=OUT_OF_ORDER),  # nothing to resume
                F(S503, expect=retry(1.0)),
                resume(expect=OUT_OF_ORDER),
                F(S503, expect=wait(2.0)),
                F(S503, expect=OUT_OF_ORDER),  # nothing was sent
                R("ours", expect=OUT_OF_ORDER),
                resume(expect=wait(4.0)),
                advance(4),
                resume(expect=give_up("BudgetExhausted")),  # the next wait (8 s) passes 10 s
                resume(expect=OUT_OF_ORDER),  # the call has ended
            ],
            {
                "deadline": 10,
                "budget": {
                    "ratio": 0,
                    "burst": 0,
                    "min_per_second": 0,
                    "min_per_episode": 1,
                    "ttl": 10,
                },
            },
        ),
        scenario(
            "budget: successes pay for retries (0.5 each), a 429's only while 429s are under a fifth",
            [
                begin("a"),
                F(S503, "a", wait(1.0)),  # ratio 0, no minimum: nothing yet; the episode begins
                *[x for c in "stuv" for x in (begin(c), succeed(c))],  # 4 successes: 2 tokens
                begin("b"),
                F(RA(429, "1"), "b", retry(1.0)),  # one 429 (a stray fault): paid, 1 left
                begin("c"),
                F(RA(429, "1"), "c", wait(1.0)),  # 2 of 6 answers are 429s: overload, not paid
                *[x for c in "wxyz" for x in (begin(c), succeed(c))],  # 4 earned in all
                begin("d"),
                F(S503, "d", retry(1.0)),  # a 503's retry is paid: 4 - 1
            ],
            {
                "budget": {
                    "ratio": 0,
                    "burst": 0,
                    "min_per_second": 0,
                    "ttl": 10,
                    "min_per_episode": 0,
                }
            },
        ),
        scenario(
            "budget: under overload a success within ttl of a 429 does not end the episode; later one does",
            [
                begin("a"),
                F(RA(429, "1"), "a", retry(1.0)),  # the minimum of 1; Retry-After 1 s
                F(RA(429, "1"), "a", wait(2.0)),  # refused: backoff 2 s is past the hint
                advance(2),
                begin("s"),
                succeed("s"),  # 2 s after a 429: the episode goes on
                resume("a", wait(4.0)),
                advance(8),
                begin("t"),
                succeed("t"),  # 10 s after the last 429: over
                resume("a", retry(0.0)),  # a new episode's minimum
            ],
            {
                "budget": {
                    "ratio": 0,
                    "burst": 0,
                    "min_per_second": 0,
                    "ttl": 10,
                    "min_per_episode": 1,
                }
            },
        ),
        scenario(
            "budget: a success that no failure followed for half a second ends the episode at the next ask",
            [
                begin("a"),
                F(S503, "a", retry(1.0)),  # the minimum of 1
                advance(0.1),
                begin("s"),
                succeed("s"),  # 0.1 s after a failed ask: the episode goes on for now
                advance(0.5),
                begin("c"),
                F(S503, "c", retry(1.0)),  # no failure since s's success: a new episode
            ],
            {
                "budget": {
                    "ratio": 0,
                    "burst": 0,
                    "min_per_second": 0,
                    "ttl": 10,
                    "min_per_episode": 1,
                }
            },
        ),
        scenario(
            "budget: a success that a failure followed does not end the episode",
            [
                begin("a"),
                F(S503, "a", retry(1.0)),  # the minimum of 1
                advance(0.1),
                begin("s"),
                succeed("s"),
                advance(0.1),
                begin("b"),
                F(S503, "b", wait(1.0)),  # a failure after the success
                advance(0.5),
                begin("c"),
                F(S503, "c", wait(1.0)),  # the episode goes on
            ],
            {
                "budget": {
                    "ratio": 0,
                    "burst": 0,
                    "min_per_second": 0,
                    "ttl": 10,
                    "min_per_episode": 1,
                }
            },
        ),
        scenario(
            "budget off never refuses",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F(S503, expect=retry(2.0)),
                F(S503, expect=retry(4.0)),
                F(S503, expect=retry(8.0)),
                F(S503, expect=give_up("MaxRetries")),
            ],
            {"max_retries": 4, "budget": None},
        ),
        scenario(
            "breaker opens after the threshold",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F(S503, expect=give_up("CircuitOpen")),
                begin("b"),
                F(S503, "b", give_up("CircuitOpen")),
            ],
            {"max_retries": 5, "breaker": {"failure_threshold": 2, "open_for": 10}},
        ),
        scenario(
            "breaker: open, half-open probe, closed",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F(S503, expect=give_up("CircuitOpen")),
                advance(10),
                begin("b"),
                F(S503, "b", retry(1.0)),
                succeed("b", attempts=2),
                begin("c"),
                F(S503, "c", retry(1.0)),
                succeed("c"),
            ],
            {"max_retries": 5, "breaker": {"failure_threshold": 2, "open_for": 10}},
        ),
        scenario(
            "breaker: one probe at a time, a failed probe reopens",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F(S503, expect=give_up("CircuitOpen")),
                advance(10),
                begin("b"),
                F(S503, "b", retry(1.0)),
                begin("c"),
                F(S503, "c", give_up("CircuitOpen")),
                F(S503, "b", give_up("CircuitOpen")),
                advance(10),
                begin("d"),
                F(S503, "d", retry(1.0)),
            ],
            {"max_retries": 5, "breaker": {"failure_threshold": 2, "open_for": 10}},
        ),
        scenario(
            "breaker: a non-retryable answer resets the count",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F({"status": 404}, expect=give_up("NonRetryable")),
                begin("b"),
                F(S503, "b", retry(1.0)),
            ],
            {"max_retries": 5, "breaker": {"failure_threshold": 2, "open_for": 10}},
        ),
        scenario(
            "POST reset without recovery is not retried",
            [begin(verb="POST"), F(RESET, expect=give_up("NotIdempotent"))],
        ),
        scenario(
            "POST 503 without recovery is not retried",
            [begin(verb="POST"), F(S503, expect=give_up("NotIdempotent"))],
        ),
        scenario(
            "POST refused is retried",
            [begin(verb="POST"), F(REFUSED, expect=retry(1.0))],
        ),
        scenario(
            "POST 429 is retried",
            [begin(verb="POST"), F({"status": 429}, expect=retry(1.0))],
        ),
        scenario(
            "PATCH timeout is not retried",
            [
                begin(verb="PATCH"),
                F({"timeout": True}, expect=give_up("NotIdempotent")),
            ],
        ),
        scenario(
            "PATCH declared idempotent is retried",
            [
                begin(verb="PATCH", recovery="idempotent"),
                F({"timeout": True}, expect=retry(1.0)),
            ],
        ),
        scenario("PUT reset is retried", [begin(verb="PUT"), F(RESET, expect=retry(1.0))]),
        # A watch is a stream: re-establishing it (relist or resume) is the caller's; never repeated.
        scenario(
            "WATCH 503 is not retried",
            [begin(verb="WATCH"), F(S503, expect=give_up("NonRetryable"))],
        ),
        scenario(
            "WATCH reset is not retried",
            [begin(verb="WATCH"), F(RESET, expect=give_up("NonRetryable"))],
        ),
        scenario(
            "failure verb WATCH is not retried",
            [
                begin(verb="UNKNOWN"),
                F({"status": 503, "verb": "WATCH"}, expect=give_up("NonRetryable")),
            ],
        ),
        scenario(
            "unknown verb: the caller vouches",
            [begin(verb="UNKNOWN"), F(RESET, expect=retry(1.0))],
        ),
        scenario(
            "unknown call verb uses the failure's verb",
            [
                begin(verb="UNKNOWN"),
                F(
                    {"codes": ["ECONNRESET"], "verb": "POST"},
                    expect=give_up("NotIdempotent"),
                ),
            ],
        ),
        scenario(
            "create: lost response then AlreadyExists reads back",
            [
                begin(verb="POST", recovery="create"),
                F(RESET, expect=retry(1.0)),
                F(EXISTS, expect=read_back(0.0)),
                R("ours", expect=RECOVERED),
            ],
        ),
        scenario(
            "create: 504 then AlreadyExists reads back",
            [
                begin(verb="POST", recovery="create"),
                F({"status": 504}, expect=retry(1.0)),
                F(EXISTS, expect=read_back(0.0)),
                R("not_ours", expect=give_up("NonRetryable")),
            ],
        ),
        scenario(
            "create: AlreadyExists on the first attempt is a real conflict",
            [
                begin(verb="POST", recovery="create"),
                F(EXISTS, expect=give_up("NonRetryable")),
            ],
        ),
        scenario(
            "create: 429 never applied, so AlreadyExists is real",
            [
                begin(verb="POST", recovery="create"),
                F({"status": 429}, expect=retry(1.0)),
                F(EXISTS, expect=give_up("NonRetryable")),
            ],
        ),
        scenario(
            "create: refused never applied, so AlreadyExists is real",
            [
                begin(verb="POST", recovery="create"),
                F(REFUSED, expect=retry(1.0)),
                F(EXISTS, expect=give_up("NonRetryable")),
            ],
        ),
        scenario(
            "generateName create: a reset means look before retrying",
            [
                begin(verb="POST", recovery="create_generated"),
                F(RESET, expect=read_back(1.0)),
                R("ours", expect=RECOVERED),
            ],
        ),
        scenario(
            "generateName create: nothing found, retried, then created",
            [
                begin(verb="POST", recovery="create_generated"),
                F({"status": 504}, expect=read_back(1.0)),
                R("missing", expect=read_back(CONFIRM)),
                R("missing", expect=retry(0.0)),
                # The resend's 429 sent nothing: one look suffices before the next resend.
                F({"status": 429}, expect=read_back(2.0)),
                R("missing", expect=retry(0.0)),
                succeed(attempts=3),
            ],
        ),
        scenario(
            "generateName create: a 504 create that lands after the first look is found by the second",
            [
                # etcd stopped: the 504'd create and the list wait in it; when it goes on the
                # list is answered one revision before the create lands.
                begin(verb="POST", recovery="create_generated"),
                F({"status": 504, "reason": "Timeout"}, expect=read_back(1.0)),
                R("missing", expect=read_back(CONFIRM)),
                R("ours", expect=RECOVERED),
            ],
        ),
        scenario(
            "a write that may have landed waits for its retry whatever the episode's age; a read gives up",
            [
                begin("x"),
                F(S503, "x", retry(1.0)),  # the episode's one retry
                advance(11),  # the episode is 11 s old: an outage
                begin("g"),
                F(S503, "g", give_up("BudgetExhausted")),  # a read: no wait in an old episode
                begin("c", verb="POST", recovery="create"),
                F(RESET, "c", wait(1.0)),  # the create may have landed: it waits
                advance(1),
                begin("s"),
                succeed("s"),  # the server answers: a new episode
                resume("c", retry(0.0)),
            ],
            {"budget": ONE_RETRY_BUDGET},
        ),
        scenario(
            "a read-back's retry the budget refuses: the write's own max_retries go, then it waits",
            [
                begin(verb="POST", recovery="create"),
                F(RESET, expect=retry(1.0)),  # the episode's one retry
                F(EXISTS, expect=read_back(0.0)),  # ours or somebody else's?
                R("failed", S503, expect=read_back(1.0)),  # refused, but within max_retries: goes
                R("failed", S503, expect=wait(2.0)),  # past them: wait, read nothing
                advance(2),
                begin("s"),
                succeed("s"),  # the episode is over: a new one's minimum
                resume(expect=read_back(0.0)),  # the read is due now
                R("ours", expect=RECOVERED),
            ],
            {"max_retries": 1, "budget": ONE_RETRY_BUDGET},
        ),
        scenario(
            "generateName create: a failed confirming look is retried as a read, then confirms",
            [
                begin(verb="POST", recovery="create_generated"),
                F(RESET, expect=read_back(1.0)),
                R("not_ours", expect=read_back(CONFIRM)),
                R("failed", {"status": 504, "verb": "GET"}, expect=read_back(1.0)),
                R("missing", expect=retry(0.0)),
                F(RESET, expect=read_back(2.0)),
                R("missing", expect=read_back(CONFIRM)),
            ],
        ),
        scenario(
            "generateName create: a confirming look that would pass the deadline gives up Deadline",
            [
                begin(verb="POST", recovery="create_generated"),
                F(RESET, expect=read_back(1.0)),
                advance(1.5),
                R("missing", expect=read_back(CONFIRM)),
                advance(1.0),
                R("failed", {"codes": ["ECONNREFUSED"]}, expect=read_back(1.0)),
                advance(1.0),
                R("missing", expect=retry(0.0)),
                F(RESET, expect=give_up("Deadline")),
            ],
            {"deadline": 4.5},
        ),
        scenario(
            "generateName create: no time left for the confirming look",
            [
                begin(verb="POST", recovery="create_generated"),
                F({"status": 504}, expect=read_back(1.0)),
                advance(2.5),
                R("missing", expect=give_up("Deadline")),
            ],
            {"deadline": 3},
        ),
        scenario(
            "generateName create: a 429 alone needs no check",
            [
                begin(verb="POST", recovery="create_generated"),
                F({"status": 429}, expect=retry(1.0)),
                succeed(attempts=2),
            ],
        ),
        scenario(
            "generateName create: the checks count as retries",
            [begin(verb="POST", recovery="create_generated")]
            + [
                step
                for d in (1.0, 2.0, 4.0)
                for step in (
                    F(RESET, expect=read_back(d)),
                    R("missing", expect=read_back(CONFIRM)),
                    R("missing", expect=retry(0.0)),
                )
            ]
            + [F(RESET, expect=give_up("MaxRetries"))],
        ),
        scenario(
            "create that adopts existing objects adopts any AlreadyExists",
            [
                begin(verb="POST", recovery="create_adopt"),
                F(EXISTS, expect=read_back(0.0)),
                R("not_ours", expect=RECOVERED),
            ],
        ),
        scenario(
            "create: the read-back fails, is retried as a read on its own count, then finds ours",
            [
                begin(verb="POST", recovery="create"),
                F(RESET, expect=retry(1.0)),
                F(EXISTS, expect=read_back(0.0)),
                R("failed", S503, expect=read_back(1.0)),
                R("failed", RESET, expect=read_back(2.0)),
                R("ours", expect=RECOVERED),
            ],
        ),
        scenario(
            "create: read-back retries do not use up the create's retries",
            [
                begin(verb="POST", recovery="create"),
                F(RESET, expect=retry(1.0)),
                F(RESET, expect=retry(2.0)),
                F(RESET, expect=retry(4.0)),
                F(EXISTS, expect=read_back(0.0)),
                R("failed", S503, expect=read_back(1.0)),
                R("ours", expect=RECOVERED),
            ],
        ),
        # A read-back confirms a write that may have landed: it gets 4 retries for each of the
        # call's own (DESIGN 4), here 12 for max_retries 3, with the policy's backoff.
        scenario(
            "create: a read-back failing past its retries leaves the outcome unknown",
            [
                begin(verb="POST", recovery="create"),
                F(RESET, expect=retry(1.0)),
                F(EXISTS, expect=read_back(0.0)),
            ]
            + [R("failed", S503, expect=read_back(d)) for d in (1.0, 2.0, 4.0, 8.0, 16.0, *[30.0] * 7)]
            + [R("failed", S503, expect=give_up("OutcomeUnknown"))],
        ),
        scenario(
            "create: a read-back has 4 times the call's retries (max_retries 1: 4)",
            [
                begin(verb="POST", recovery="create"),
                F(RESET, expect=retry(1.0)),
                F(EXISTS, expect=read_back(0.0)),
            ]
            + [R("failed", RESET, expect=read_back(d)) for d in (1.0, 2.0, 4.0, 8.0)]
            + [R("failed", RESET, expect=give_up("OutcomeUnknown"))],
            {"max_retries": 1},
        ),
        scenario(
            "create: the 12th read-back retry finds ours (half the reads dropped, 11 in a row)",
            [
                begin(verb="POST", recovery="create"),
                F(RESET, expect=retry(0.1)),
                F(EXISTS, expect=read_back(0.0)),
            ]
            + [R("failed", RESET, expect=read_back(0.1)) for _ in range(12)]
            + [R("ours", expect=RECOVERED)],
            {"initial_delay": 0.1, "max_delay": 0.1},
        ),
        scenario(
            "create_adopt with max_retries 0: a failed read-back is not retried",
            [
                begin(verb="POST", recovery="create_adopt"),
                F(EXISTS, expect=read_back(0.0)),
                R("failed", RESET, expect=give_up("OutcomeUnknown")),
            ],
            {"max_retries": 0},
        ),
        scenario(
            "create: the call's deadline ends read-back retries before their count",
            [
                begin(verb="POST", recovery="create"),
                F(RESET, expect=retry(1.0)),
                advance(1),
                F(EXISTS, expect=read_back(0.0)),
                R("failed", S503, expect=read_back(1.0)),
                advance(1),
                R("failed", S503, expect=read_back(2.0)),
                advance(2),
                R("failed", S503, expect=give_up("Deadline")),
            ],
            {"deadline": 6},
        ),
        scenario(
            "create: a read-back refused by the server leaves the outcome unknown",
            [
                begin(verb="POST", recovery="create"),
                F(RESET, expect=retry(1.0)),
                F(EXISTS, expect=read_back(0.0)),
                R(
                    "failed",
                    {"status": 403, "reason": "Forbidden"},
                    expect=give_up("OutcomeUnknown"),
                ),
            ],
        ),
        scenario(
            "create: the object that answered AlreadyExists is gone: resend",
            [
                begin(verb="POST", recovery="create"),
                F(RESET, expect=retry(1.0)),
                F(EXISTS, expect=read_back(0.0)),
                R("missing", expect=retry(0.0)),
                succeed(attempts=3),
            ],
        ),
        scenario(
            "create: a NotFound read-back counts as missing",
            [
                begin(verb="POST", recovery="create"),
                F(RESET, expect=retry(1.0)),
                F(EXISTS, expect=read_back(0.0)),
                R("failed", GONE404, expect=retry(0.0)),
                succeed(attempts=3),
            ],
        ),
        scenario(
            "create: gone after AlreadyExists, but the retries are used up",
            [begin(verb="POST", recovery="create")]
            + [F(RESET, expect=retry(d)) for d in (1.0, 2.0, 4.0)]
            + [
                F(EXISTS, expect=read_back(0.0)),
                R("missing", expect=give_up("MaxRetries")),
            ],
        ),
        scenario(
            "create: a cancelled read-back is a cancelled call",
            [
                begin(verb="POST", recovery="create"),
                F(RESET, expect=retry(1.0)),
                F(EXISTS, expect=read_back(0.0)),
                R("failed", {"cancelled": True}, expect=give_up("Cancelled")),
            ],
        ),
        scenario(
            "generateName create: a failed look is retried, then finds ours",
            [
                begin(verb="POST", recovery="create_generated"),
                F(RESET, expect=read_back(1.0)),
                R("failed", {"codes": ["ECONNREFUSED"]}, expect=read_back(1.0)),
                R("ours", expect=RECOVERED),
            ],
        ),
        scenario(
            "steps out of order are errors",
            [
                begin(verb="POST", recovery="create"),
                R("ours", expect=OUT_OF_ORDER),
                F(RESET, expect=retry(1.0)),
                F(EXISTS, expect=read_back(0.0)),
                F(RESET, expect=OUT_OF_ORDER),
                R("ours", expect=RECOVERED),
                R("ours", expect=OUT_OF_ORDER),
            ],
        ),
        scenario(
            "replace with resourceVersion: lost response, resend, Conflict, read back ours",
            [
                begin(verb="PUT", recovery="replace_stamped"),
                F(RESET, expect=retry(1.0)),
                F({"status": 409, "reason": "Conflict"}, expect=read_back(0.0)),
                R("ours", expect=RECOVERED),
            ],
        ),
        scenario(
            "replace with resourceVersion: Conflict after a lost response, not ours: raised",
            [
                begin(verb="PUT", recovery="replace_stamped"),
                F({"status": 503}, expect=retry(1.0)),
                F({"status": 409, "reason": "Conflict"}, expect=read_back(0.0)),
                R("not_ours", expect=give_up("NonRetryable")),
            ],
        ),
        scenario(
            "replace with resourceVersion that cannot be read back: never resent",
            [
                begin(verb="PUT", recovery="not_idempotent"),
                F({"status": 429}, expect=retry(1.0)),
                F(RESET, expect=give_up("NotIdempotent")),
            ],
        ),
        scenario(
            "replace with resourceVersion: a first-attempt Conflict is real",
            [
                begin(verb="PUT", recovery="replace_stamped"),
                F(
                    {"status": 409, "reason": "Conflict"},
                    expect=give_up("NonRetryable"),
                ),
            ],
        ),
        scenario(
            "JSON patch (no recovery): a lost response leaves the outcome unknown",
            [
                begin(verb="PATCH"),
                F(RESET, expect=give_up("NotIdempotent")),
            ],
        ),
        scenario(
            "merge patch (idempotent): a lost response is resent",
            [
                begin(verb="PATCH", recovery="idempotent"),
                F(RESET, expect=retry(1.0)),
                F({"status": 504}, expect=retry(2.0)),
                succeed(attempts=3),
            ],
        ),
        scenario(
            "retry_conflict: a lost response is not re-run (the change may be there)",
            [
                begin(verb="PUT", recovery="retry_conflict"),
                F({"status": 409, "reason": "Conflict"}, expect=retry(0.01)),
                F(RESET, expect=give_up("NotIdempotent")),
            ],
            {"preset": "conflict"},
        ),
        scenario(
            "retry_conflict: a 429 was never carried out and is retried",
            [
                begin(verb="PUT", recovery="retry_conflict"),
                F({"status": 429}, expect=retry(0.01)),
                succeed(attempts=2),
            ],
            {"preset": "conflict"},
        ),
        scenario(
            "create: reason in the body",
            [
                begin(verb="POST", recovery="create"),
                F(RESET, expect=retry(1.0)),
                F(
                    {"status": 409, "body": STATUS_BODY("AlreadyExists", 409)},
                    expect=read_back(0.0),
                ),
            ],
        ),
        scenario(
            "create: Conflict is not AlreadyExists",
            [
                begin(verb="POST", recovery="create"),
                F(RESET, expect=retry(1.0)),
                F(
                    {"status": 409, "reason": "Conflict"},
                    expect=give_up("NonRetryable"),
                ),
            ],
        ),
        scenario(
            "delete: lost response then NotFound is done",
            [
                begin(verb="DELETE", recovery="delete"),
                F(RESET, expect=retry(1.0)),
                F(GONE404, expect={"decision": "done"}),
            ],
        ),
        scenario(
            "delete: 504 then NotFound is done",
            [
                begin(verb="DELETE", recovery="delete"),
                F({"status": 504}, expect=retry(1.0)),
                F({"status": 404}, expect={"decision": "done"}),
            ],
        ),
        scenario(
            "delete: a failed UID precondition after a lost response is done",
            [
                begin(verb="DELETE", recovery="delete"),
                F(RESET, expect=retry(1.0)),
                F({"status": 409, "reason": "Conflict"}, expect={"decision": "done"}),
            ],
        ),
        scenario(
            "delete: a failed precondition on the first attempt is raised",
            [
                begin(verb="DELETE", recovery="delete"),
                F(
                    {"status": 409, "reason": "Conflict"},
                    expect=give_up("NonRetryable"),
                ),
            ],
        ),
        scenario(
            "delete: NotFound on the first attempt is raised",
            [
                begin(verb="DELETE", recovery="delete"),
                F(GONE404, expect=give_up("NonRetryable")),
            ],
        ),
        scenario(
            "delete: missing_ok accepts a first NotFound",
            [
                begin(verb="DELETE", recovery="delete_missing_ok"),
                F(GONE404, expect={"decision": "done"}),
            ],
        ),
        scenario(
            "delete: 429 then NotFound is raised",
            [
                begin(verb="DELETE", recovery="delete"),
                F({"status": 429}, expect=retry(1.0)),
                F(GONE404, expect=give_up("NonRetryable")),
            ],
        ),
        scenario(
            "delete without recovery: NotFound after reset is raised",
            [
                begin(verb="DELETE"),
                F(RESET, expect=retry(1.0)),
                F(GONE404, expect=give_up("NonRetryable")),
            ],
        ),
        scenario(
            "cancelled is never retried",
            [begin(), F({"cancelled": True}, expect=give_up("Cancelled"))],
        ),
        scenario(
            "cancelled after retries",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F({"cancelled": True, "status": 503}, expect=give_up("Cancelled")),
            ],
        ),
        scenario(
            "cancelled beats recovery",
            [
                begin(verb="DELETE", recovery="delete_missing_ok"),
                F({"cancelled": True, "status": 404}, expect=give_up("Cancelled")),
            ],
        ),
        scenario(
            "404 GET is raised",
            [begin(), F({"status": 404}, expect=give_up("NonRetryable"))],
        ),
        scenario(
            "403 is raised",
            [begin(), F({"status": 403}, expect=give_up("NonRetryable"))],
        ),
        scenario(
            "409 Conflict is raised",
            [
                begin(verb="PUT"),
                F(
                    {"status": 409, "reason": "Conflict"},
                    expect=give_up("NonRetryable"),
                ),
            ],
        ),
        scenario("unknown error is raised", [begin(), F({}, expect=give_up("NonRetryable"))]),
        scenario("timeout GET is retried", [begin(), F({"timeout": True}, expect=retry(1.0))]),
        scenario(
            "user_retryable is retried",
            [begin(), F({"user_retryable": True}, expect=retry(1.0))],
        ),
        scenario(
            "connection preset ignores 503",
            [begin(), F(S503, expect=give_up("NonRetryable"))],
            {"preset": "connection"},
        ),
        scenario(
            "connection preset retries resets from 0.5 s",
            [
                begin(),
                F(RESET, expect=retry(0.5)),
                F(RESET, expect=retry(1.0)),
                F(REFUSED, expect=retry(2.0)),
            ],
            {"preset": "connection"},
        ),
        scenario(
            "mutation preset starts at 2 s",
            [begin(), F(S503, expect=retry(2.0)), F(S503, expect=retry(4.0))],
            {"preset": "mutation"},
        ),
        scenario(
            "read preset caps at 10 s",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F(S503, expect=retry(2.0)),
                F(S503, expect=retry(4.0)),
                F(S503, expect=retry(8.0)),
                F(S503, expect=retry(10.0)),
            ],
            {"preset": "read", "max_retries": 5},
        ),
        scenario(
            "reconcile: a Retry-After past the 5 s deadline gives up at once (the reconciler requeues)",
            [
                begin(),
                F(RA(429, "30"), expect=give_up("Deadline")),
            ],
            {"preset": "reconcile"},
        ),
        scenario(
            "reconcile: two quick retries",
            [
                begin(),
                F(S503, expect=retry(0.2)),
                F(S503, expect=retry(0.4)),
                F(S503, expect=give_up("MaxRetries")),
            ],
            {"preset": "reconcile"},
        ),
        scenario(
            "retry_conflict retries a Conflict",
            [
                begin(verb="PUT", recovery="retry_conflict"),
                F({"status": 409, "reason": "Conflict"}, expect=retry(0.01)),
                F({"status": 409}, expect=retry(0.01)),
                succeed(attempts=3),
            ],
            {"preset": "conflict"},
        ),
        scenario(
            "retry_conflict: 5 attempts like client-go DefaultRetry",
            [begin(verb="PUT", recovery="retry_conflict")]
            + [F({"status": 409, "reason": "Conflict"}, expect=retry(0.01)) for _ in range(4)]
            + [F({"status": 409, "reason": "Conflict"}, expect=give_up("MaxRetries"))],
            {"preset": "conflict"},
        ),
        scenario(
            "retry_conflict does not retry other 4xx",
            [
                begin(verb="PUT", recovery="retry_conflict"),
                F({"status": 422, "reason": "Invalid"}, expect=give_up("NonRetryable")),
            ],
            {"preset": "conflict"},
        ),
        scenario(
            "without retry_conflict a Conflict is raised",
            [
                begin(verb="PUT"),
                F(
                    {"status": 409, "reason": "Conflict"},
                    expect=give_up("NonRetryable"),
                ),
            ],
            {"preset": "conflict"},
        ),
        scenario(
            "max retries is checked before the budget",
            [begin(), F(S503, expect=give_up("MaxRetries"))],
            {
                "max_retries": 0,
                "budget": {
                    "ratio": 0,
                    "burst": 0,
                    "min_per_second": 0,
                    "ttl": 1,
                    "min_per_episode": 0,
                },
            },
        ),
        scenario(
            "not idempotent is checked before max retries",
            [begin(verb="POST"), F(RESET, expect=give_up("NotIdempotent"))],
            {"max_retries": 0},
        ),
        scenario(
            "deadline is checked before the budget",
            [begin(), F(RA(429, "20"), expect=give_up("Deadline"))],
            {
                "deadline": 10,
                "budget": {
                    "ratio": 0,
                    "burst": 0,
                    "min_per_second": 0,
                    "ttl": 1,
                    "min_per_episode": 0,
                },
            },
        ),
    ]
    s += cancellations() + no_reader() + nesting()
    return {"description": "Decision sequences (DESIGN §1, §4, §5)", "scenarios": s}


CANCELLED = give_up("Cancelled")
# A budget that refuses the second retry of an episode while a deadline leaves time: a wait.
WAITING = {"deadline": 30, "max_retries": 5, "budget": ONE_RETRY_BUDGET}


def cancellations():
    """A cancel is taken in every state and ends the call Cancelled; nothing after it counts."""
    return [
        scenario(
            "cancel: during the first attempt",
            [
                begin(),
                cancel(expect=CANCELLED),
                cancel(expect=OUT_OF_ORDER),
                F(S503, expect=OUT_OF_ORDER),
            ],
        ),
        scenario(
            "cancel: during the sleep before a retry, or the retry itself",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                cancel(expect=CANCELLED),
                F(S503, expect=OUT_OF_ORDER),
            ],
        ),
        scenario(
            "cancel: during a wait the budget asked for",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F(S503, expect=wait(2.0)),
                cancel(expect=CANCELLED),
                resume(expect=OUT_OF_ORDER),
            ],
            WAITING,
        ),
        scenario(
            "cancel: during a read-back's wait",
            [
                begin(verb="POST", recovery="create"),
                F(RESET, expect=retry(1.0)),
                F(EXISTS, expect=read_back(0.0)),
                R("failed", S503, expect=read_back(1.0)),
                R("failed", S503, expect=wait(2.0)),
                cancel(expect=CANCELLED),
                resume(expect=OUT_OF_ORDER),
            ],
            {"max_retries": 1, "budget": ONE_RETRY_BUDGET},
        ),
        scenario(
            "cancel: during a read-back after AlreadyExists",
            [
                begin(verb="POST", recovery="create"),
                F(RESET, expect=retry(1.0)),
                F(EXISTS, expect=read_back(0.0)),
                cancel(expect=CANCELLED),
                R("ours", expect=OUT_OF_ORDER),
            ],
        ),
        scenario(
            "cancel: a cancelled failure reported while a read-back is pending",
            [
                begin(verb="POST", recovery="create"),
                F(RESET, expect=retry(1.0)),
                F(EXISTS, expect=read_back(0.0)),
                F({"cancelled": True}, expect=CANCELLED),
                R("ours", expect=OUT_OF_ORDER),
            ],
        ),
        scenario(
            "cancel: during the sleep before a generateName look-up",
            [
                begin(verb="POST", recovery="create_generated"),
                F(RESET, expect=read_back(1.0)),
                cancel(expect=CANCELLED),
                R("missing", expect=OUT_OF_ORDER),
            ],
        ),
        scenario(
            "cancel: during a read-back's own retry",
            [
                begin(verb="PUT", recovery="replace_stamped"),
                F(RESET, expect=retry(1.0)),
                F({"status": 409, "reason": "Conflict"}, expect=read_back(0.0)),
                R("failed", S503, expect=read_back(1.0)),
                cancel(expect=CANCELLED),
            ],
        ),
        scenario(
            "cancel: a wait's cancelled failure is the same cancel",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F(S503, expect=wait(2.0)),
                F({"cancelled": True}, expect=CANCELLED),
                cancel(expect=OUT_OF_ORDER),
            ],
            WAITING,
        ),
        scenario(
            "cancel: after the end it is out of order",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                succeed(attempts=2),
                cancel(expect=OUT_OF_ORDER),
            ],
        ),
        scenario(
            "cancel: after a give-up it is out of order",
            [
                begin(),
                F(GONE404, expect=give_up("NonRetryable")),
                cancel(expect=OUT_OF_ORDER),
            ],
        ),
    ]


def no_reader():
    """A call whose binding cannot read back is never asked to: where a read-back would tell
    whether an uncertain write landed, the outcome is unknown."""
    return [
        scenario(
            "no reader: a named create's AlreadyExists after a reset is an unknown outcome",
            [
                begin(verb="POST", recovery="create", reader=False),
                F(RESET, expect=retry(1.0)),
                F(EXISTS, expect=give_up("OutcomeUnknown")),
                R("ours", expect=OUT_OF_ORDER),
            ],
        ),
        scenario(
            "no reader: a first AlreadyExists is the caller's answer",
            [
                begin(verb="POST", recovery="create", reader=False),
                F(EXISTS, expect=give_up("NonRetryable")),
            ],
        ),
        scenario(
            "no reader: create_adopt cannot adopt",
            [
                begin(verb="POST", recovery="create_adopt", reader=False),
                F(EXISTS, expect=give_up("NonRetryable")),
            ],
        ),
        scenario(
            "no reader: create_adopt after a reset is an unknown outcome",
            [
                begin(verb="POST", recovery="create_adopt", reader=False),
                F(RESET, expect=retry(1.0)),
                F(EXISTS, expect=give_up("OutcomeUnknown")),
            ],
        ),
        scenario(
            "no reader: a generateName create is not resent after a reset",
            [
                begin(verb="POST", recovery="create_generated", reader=False),
                F(RESET, expect=give_up("NotIdempotent")),
            ],
        ),
        scenario(
            "no reader: a generateName create is resent when nothing was sent",
            [
                begin(verb="POST", recovery="create_generated", reader=False),
                F(REFUSED, expect=retry(1.0)),
                F({"status": 429}, expect=retry(2.0)),
                succeed(attempts=3),
            ],
        ),
        scenario(
            "no reader: a stamped replace's Conflict after a reset is an unknown outcome",
            [
                begin(verb="PUT", recovery="replace_stamped", reader=False),
                F(RESET, expect=retry(1.0)),
                F(
                    {"status": 409, "reason": "Conflict"},
                    expect=give_up("OutcomeUnknown"),
                ),
            ],
        ),
        scenario(
            "no reader: a delete needs none",
            [
                begin(verb="DELETE", recovery="delete", reader=False),
                F(RESET, expect=retry(1.0)),
                F(GONE404, expect=DONE),
            ],
        ),
    ]


def nesting():
    """A call made inside another call's attempt makes one attempt: the outer one retries."""
    return [
        scenario(
            "nested: one attempt, then the error goes to the enclosing call",
            [
                begin(nested=True),
                F(S503, expect=give_up("Nested")),
                F(S503, expect=OUT_OF_ORDER),
            ],
        ),
        scenario(
            "nested: whatever the failure and recovery",
            [
                begin("a", verb="POST", recovery="create", nested=True),
                F(RESET, "a", give_up("Nested")),
                begin("b", nested=True),
                F(GONE404, "b", give_up("Nested")),
                begin("c", verb="DELETE", recovery="delete_missing_ok", nested=True),
                F(GONE404, "c", give_up("Nested")),
            ],
        ),
        scenario(
            "nested: a success ends it",
            [begin(nested=True), succeed(attempts=1), F(S503, expect=OUT_OF_ORDER)],
        ),
        scenario(
            "nested: a cancel ends it",
            [begin(nested=True), cancel(expect=CANCELLED), cancel(expect=OUT_OF_ORDER)],
        ),
        scenario(
            "nested: the enclosing call retries as usual",
            [
                begin("outer"),
                begin("inner", nested=True),
                F(S503, "inner", give_up("Nested")),
                F(S503, "outer", retry(1.0)),
                begin("inner2", nested=True),
                succeed("inner2"),
                succeed("outer", attempts=2),
            ],
        ),
    ]


# ---------------------------------------------------------------- plans (hand-written)


def plan_case(name, request, recovery, stamp="none"):
    return {"name": name, "request": request, "recovery": recovery, "stamp": stamp}


def plans():
    """Every row of the per-verb table of docs/design.md §4 (`plan::choose`). A request holds only
    the facts a wrapper knows (left out: false / none); `patch` is a short patch-type name,
    `content_type` a PATCH's Content-Type header value."""
    post = {"verb": "POST"}
    named = {**post, "named": True, "can_get": True, "can_list": True}
    generated = {**post, "generate_name": True, "can_get": True, "can_list": True}
    put = {"verb": "PUT", "named": True, "resource_version": True, "can_get": True}
    c = [
        # POST
        plan_case("create, named, readable: stamped, read back", named, "create", "annotation"),
        plan_case(
            "create, named, by method name: stamped",
            {**named, "resource": "create_namespaced_config_map"},
            "create",
            "annotation",
        ),
        plan_case(
            "create, generateName, listable: stamped with a label, looked for",
            generated,
            "create_generated",
            "annotation_and_label",
        ),
        plan_case("create, named, no reader: not resent", {**post, "named": True}, "none"),
        plan_case(
            "create, generateName, no lister: not resent",
            {**post, "generate_name": True, "can_get": True},
            "none",
        ),
        plan_case("create, nothing known (a zeroed request): not resent", post, "none"),
        plan_case(
            "create with adopt_existing: adopts, unstamped",
            {**named, "adopt_existing": True},
            "create_adopt",
        ),
        plan_case(
            "create with adopt_existing, no reader: not resent",
            {**post, "named": True, "adopt_existing": True},
            "none",
        ),
        plan_case(
            "create with adopt_existing, generateName: nothing to adopt by",
            {**generated, "adopt_existing": True},
            "none",
        ),
    ]
    for resource in (
        "SelfSubjectAccessReview",
        "subjectaccessreviews",
        "create_namespaced_local_subject_access_review",
        "createSelfSubjectRulesReview",
        "SelfSubjectReview",
        "TokenReview",
        "TokenRequest",
        "create_namespaced_service_account_token",
        "serviceaccounts/token",
    ):
        c.append(
            plan_case(
                f"create of {resource}: persists nothing, resent unstamped",
                {**named, "resource": resource},
                "idempotent",
            )
        )
    c.append(
        plan_case(
            "create of a review with adopt_existing: still resent unstamped",
            {**post, "resource": "TokenReview", "adopt_existing": True},
            "idempotent",
        )
    )
    c.append(
        plan_case(
            "create of a service account (not its token): stamped",
            {**named, "resource": "create_namespaced_service_account"},
            "create",
            "annotation",
        )
    )
    c += [
        # PUT
        plan_case(
            "replace with resourceVersion, readable: stamped",
            put,
            "replace_stamped",
            "annotation",
        ),
        plan_case(
            "replace with resourceVersion, no reader: never resent",
            {**put, "can_get": False},
            "not_idempotent",
        ),
        plan_case(
            "replace with resourceVersion and adopt_existing: never resent",
            {**put, "adopt_existing": True},
            "not_idempotent",
        ),
        plan_case(
            "replace without resourceVersion: the verb decides (a full replace)",
            {"verb": "PUT", "named": True, "can_get": True},
            "none",
        ),
    ]
    # PATCH, by short name and by content type.
    for patch, recovery in (
        ("merge", "idempotent"),
        ("strategic", "idempotent"),
        ("apply", "idempotent"),
        ("json", "none"),
    ):
        c.append(plan_case(f"patch {patch}", {"verb": "PATCH", "patch": patch}, recovery))
    for content_type, recovery in (
        ("application/merge-patch+json", "idempotent"),
        ("application/strategic-merge-patch+json", "idempotent"),
        ("application/apply-patch+yaml", "idempotent"),
        ("application/apply-patch+json", "idempotent"),
        ("application/apply-patch+cbor", "idempotent"),
        ("application/json-patch+json", "none"),
        ("application/merge-patch+json; charset=utf-8", "idempotent"),
        ("Application/Strategic-Merge-Patch+JSON", "idempotent"),
        ("application/json", "none"),
    ):
        c.append(
            plan_case(
                f"patch sent as {content_type}",
                {"verb": "PATCH", "content_type": content_type},
                recovery,
            )
        )
    c += [
        plan_case("patch of unknown type: not resent", {"verb": "PATCH"}, "none"),
        plan_case(
            "JSON patch of an object body: refused unapplied or sent as a strategic merge, so resent",
            {"verb": "PATCH", "patch": "json", "object_body": True},
            "idempotent",
        ),
        plan_case(
            "patch of unknown type with an object body: resent",
            {"verb": "PATCH", "object_body": True},
            "idempotent",
        ),
        plan_case(
            "JSON patch content type with an object body: resent",
            {
                "verb": "PATCH",
                "content_type": "application/json-patch+json",
                "object_body": True,
            },
            "idempotent",
        ),
        # DELETE
        plan_case("delete", {"verb": "DELETE", "named": True}, "delete"),
        plan_case(
            "delete, missing_ok",
            {"verb": "DELETE", "missing_ok": True},
            "delete_missing_ok",
        ),
    ]
    # Reads and unknown verbs: nothing to plan.
    for verb in ("GET", "LIST", "WATCH", "UNKNOWN"):
        c.append(
            plan_case(
                f"{verb}: nothing to plan",
                {"verb": verb, **{k: True for k in ("named", "can_get", "can_list")}},
                "none",
            )
        )
    return {
        "description": "plan::choose, every row of the per-verb table (docs/design.md 4)",
        "cases": c,
    }


# ---------------------------------------------------------------- events (hand-written)


def ev(event, attempt, level, give_up=None, function="f"):
    return {
        "function": function,
        "event": f"k8s_api_call_{event}",
        "attempt": attempt,
        "level": level,
        "give_up": give_up,
    }


def event_scenario(name, steps, events, policy=None):
    return {**scenario(name, steps, policy), "events": events}


def events():
    """The events a call emits, with their level (docs/design.md 7): debug for a first attempt's
    answer the caller handles and for a cancel, info for good news, warn for retries and give-ups
    that return the error, error for a write whose outcome is unknown."""
    budget = {
        "ratio": 0,
        "burst": 0,
        "min_per_second": 0,
        "min_per_episode": 1,
        "ttl": 10,
    }
    e = [
        event_scenario("a first success emits nothing", [begin(), succeed(attempts=1)], []),
        event_scenario(
            "a first attempt's 404 is debug",
            [begin(), F(GONE404, expect=give_up("NonRetryable"))],
            [ev("failed_non_retryable", 1, "debug", "NonRetryable")],
        ),
        event_scenario(
            "a first attempt's 409 of a create is debug",
            [
                begin(verb="POST", recovery="create"),
                F(EXISTS, expect=give_up("NonRetryable")),
            ],
            [ev("failed_non_retryable", 1, "debug", "NonRetryable")],
        ),
        event_scenario(
            "a 404 after a retry is a warning",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F(GONE404, expect=give_up("NonRetryable")),
            ],
            [
                ev("failed_retrying", 1, "warn"),
                ev("failed_non_retryable", 2, "warn", "NonRetryable"),
            ],
        ),
        event_scenario(
            "retries are warnings; a success after them is info",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F(S503, expect=retry(2.0)),
                succeed(attempts=3),
            ],
            [
                ev("failed_retrying", 1, "warn"),
                ev("failed_retrying", 2, "warn"),
                ev("succeeded_after_retry", 3, "info"),
            ],
        ),
        event_scenario(
            "retries used up is a warning",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F(S503, expect=give_up("MaxRetries")),
            ],
            [
                ev("failed_retrying", 1, "warn"),
                ev("failed_max_retries", 2, "warn", "MaxRetries"),
            ],
            {"max_retries": 1},
        ),
        event_scenario(
            "a lost POST without recovery is an error: its outcome is unknown",
            [begin(verb="POST"), F(RESET, expect=give_up("NotIdempotent"))],
            [ev("failed_non_retryable", 1, "error", "NotIdempotent")],
        ),
        event_scenario(
            "a lost POST after a retry is an error too",
            [
                begin(verb="POST"),
                F({"status": 429}, expect=retry(1.0)),
                F(RESET, expect=give_up("NotIdempotent")),
            ],
            [
                ev("failed_retrying", 1, "warn"),
                ev("failed_non_retryable", 2, "error", "NotIdempotent"),
            ],
        ),
        event_scenario(
            "a cancel on the first attempt is debug",
            [begin(), F({"cancelled": True}, expect=give_up("Cancelled"))],
            [ev("failed_non_retryable", 1, "debug", "Cancelled")],
        ),
        event_scenario(
            "a cancel after retries is debug",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F({"cancelled": True}, expect=give_up("Cancelled")),
            ],
            [
                ev("failed_retrying", 1, "warn"),
                ev("failed_non_retryable", 2, "debug", "Cancelled"),
            ],
        ),
        event_scenario(
            "Retry-After above the cap is a warning",
            [begin(), F(RA(429, "120"), expect=give_up("RetryAfterTooLong"))],
            [ev("retry_after_too_long", 1, "warn", "RetryAfterTooLong")],
        ),
        event_scenario(
            "the deadline is a warning",
            [begin(), F(RA(429, "20"), expect=give_up("Deadline"))],
            [ev("deadline_exceeded", 1, "warn", "Deadline")],
            {"deadline": 10},
        ),
        event_scenario(
            "an open breaker is a warning",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F(S503, expect=give_up("CircuitOpen")),
            ],
            [
                ev("failed_retrying", 1, "warn"),
                ev("circuit_open", 2, "warn", "CircuitOpen"),
            ],
            {"max_retries": 5, "breaker": {"failure_threshold": 2, "open_for": 10}},
        ),
        event_scenario(
            "a deferred retry and an empty budget are warnings",
            [
                begin(),
                F(S503, expect=retry(1.0)),
                F(S503, expect=wait(2.0)),
                advance(2),
                resume(expect=give_up("BudgetExhausted")),  # the next wait (4 s) passes 3 s
            ],
            [
                ev("failed_retrying", 1, "warn"),
                ev("retry_deferred", 2, "warn"),
                ev("budget_exhausted", 2, "warn", "BudgetExhausted"),
            ],
            {"max_retries": 2, "deadline": 3, "budget": budget},
        ),
        event_scenario(
            "a recovered lost create is info",
            [
                begin(verb="POST", recovery="create"),
                F(RESET, expect=retry(1.0)),
                F(EXISTS, expect=read_back(0.0)),
                R("ours", expect=RECOVERED),
            ],
            [
                ev("failed_retrying", 1, "warn"),
                ev("recovered_lost_response", 2, "info"),
            ],
        ),
        event_scenario(
            "a lost create that finds somebody else's object is a warning",
            [
                begin(verb="POST", recovery="create"),
                F(RESET, expect=retry(1.0)),
                F(EXISTS, expect=read_back(0.0)),
                R("not_ours", expect=give_up("NonRetryable")),
            ],
            [
                ev("failed_retrying", 1, "warn"),
                ev("failed_non_retryable", 2, "warn", "NonRetryable"),
            ],
        ),
        event_scenario(
            "a read-back that cannot tell is an error; its retries are warnings of <function>/read_back",
            [
                begin(verb="POST", recovery="create"),
                F(RESET, expect=retry(1.0)),
                F(EXISTS, expect=read_back(0.0)),
            ]
            + [R("failed", S503, expect=read_back(d)) for d in (1.0, 2.0, 4.0, 8.0)]
            + [R("failed", S503, expect=give_up("OutcomeUnknown"))],
            [ev("failed_retrying", 1, "warn")]
            + [ev("failed_retrying", n, "warn", function="f/read_back") for n in (1, 2, 3, 4)]
            + [ev("failed_non_retryable", 2, "error", "OutcomeUnknown")],
            {"max_retries": 1},
        ),
    ]
    return {"description": "Events and their levels (docs/design.md 7)", "scenarios": e}


# ---------------------------------------------------------------- output


def main():
    files = {
        "classification.json": classification(),
        "retry_after.json": retry_after(),
        "delays.json": delays(),
        "decisions.json": decisions(),
        "plans.json": plans(),
        "events.json": events(),
    }
    check = "--check" in sys.argv[1:]
    stale = []
    total = 0
    for name, data in files.items():
        total += len(data.get("cases", data.get("scenarios", [])))
        text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
        path = HERE / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(
            "stale vectors (run tests/vectors/generate.py):",
            ", ".join(stale),
            file=sys.stderr,
        )
        return 1
    print(f"{total} vectors {'up to date' if check else 'written'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
