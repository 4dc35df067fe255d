//! The Status body reader (`Failure::with_status_body`, DESIGN §2): any bytes, read as every
//! binding reads a body (invalid UTF-8 lossily), over a failure that may already carry a status,
//! a reason and a hint. Checks: no panic; fields already set are kept; a body that is not a JSON
//! object changes nothing; otherwise reason, code and `details.retryAfterSeconds` are exactly
//! what a full JSON parse (serde_json::Value) finds, whatever else the body holds.
//!
//! Input: the body text, or (first byte 0x00) `[0x00, reps_hi, reps_lo, head_len, mid_len,
//! text...]`: `text` cut into head, middle and tail, and the body `head * reps + middle + tail *
//! reps` (deeply nested bodies from a few bytes of input), read on a thread with a small stack.
#![no_main]

use k8sretry::{Failure, outside_text};
use k8sretry_fuzz::on_small_stack;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Repeated bodies are built up to this size (a real apiserver error body is a few hundred
/// bytes; proxies and webhooks may send more).
const MAX_BODY: usize = 64 << 10;

/// Repeated bodies are read on a thread with this stack (see `on_small_stack`).
const SMALL_STACK: usize = 256 << 10;

/// The body, and whether it was built by repetition.
fn body_of(data: &[u8]) -> Option<(String, bool)> {
    match data {
        [0, hi, lo, head_len, mid_len, text @ ..] => {
            let reps = usize::from(*hi) << 8 | usize::from(*lo);
            let (head, rest) = text.split_at(usize::from(*head_len).min(text.len()));
            let (mid, tail) = rest.split_at(usize::from(*mid_len).min(rest.len()));
            let size = (head.len() + tail.len()).saturating_mul(reps) + mid.len();
            if size > MAX_BODY {
                return None;
            }
            let mut body = Vec::with_capacity(size);
            for _ in 0..reps {
                body.extend_from_slice(head);
            }
            body.extend_from_slice(mid);
            for _ in 0..reps {
                body.extend_from_slice(tail);
            }
            Some((outside_text(&body).into_owned(), true))
        }
        _ => Some((outside_text(data).into_owned(), false)),
    }
}

/// What a full parse of `body` says: (reason, code, details.retryAfterSeconds), or `None` when
/// the body is not a JSON object.
fn reference(body: &str) -> Option<(Option<String>, Option<u64>, Option<i64>)> {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(body) else {
        return None;
    };
    let reason = map.get("reason").and_then(Value::as_str).map(str::to_owned);
    let code = map.get("code").and_then(Value::as_u64);
    let hint = match map.get("details") {
        Some(Value::Object(details)) => details.get("retryAfterSeconds").and_then(Value::as_i64),
        _ => None,
    };
    Some((reason, code, hint))
}

fuzz_target!(|data: &[u8]| {
    let Some((body, repeated)) = body_of(data) else {
        return;
    };
    if repeated {
        on_small_stack(SMALL_STACK, move || check(&body));
    } else {
        check(&body);
    }
});

fn check(body: &str) {
    let blank = Failure::new();
    let preset = Failure::new()
        .with_status(503)
        .with_reason("ServiceUnavailable")
        .with_retry_after_seconds(4);

    // Fields already known win over the body's.
    assert_eq!(preset.clone().with_status_body(body), preset, "{body:?}");

    let read = blank.clone().with_status_body(body);
    match reference(body) {
        Some((reason, code, hint)) => {
            let reason = reason
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned);
            let status = code.and_then(|c| u16::try_from(c).ok()).filter(|c| *c != 0);
            assert_eq!(read.reason, reason, "reason of {body:?}");
            assert_eq!(read.status, status, "code of {body:?}");
            assert_eq!(
                read.retry_after_seconds, hint,
                "details.retryAfterSeconds of {body:?}"
            );
            let rest = Failure {
                reason: None,
                status: None,
                retry_after_seconds: None,
                ..read.clone()
            };
            assert_eq!(rest, blank, "only three fields come from a body: {body:?}");
        }
        None => {
            // serde_json::Value refuses what the lenient reader may still read (a number out of
            // range somewhere, a lone surrogate in a string it skips): then only check that a
            // body which is no JSON object at all changes nothing.
            let trimmed = body.trim_start_matches([' ', '\t', '\n', '\r']);
            if !trimmed.starts_with('{') {
                assert_eq!(read, blank, "{body:?} is no object");
            }
        }
    }
}
