//! The wire format between the addon and `lib/wire.ts`, all in one place: the scratch array a
//! failure's numbers travel in, the flag bits, the packed string its text travels in, and the
//! one-number answer. `wireFormat()` hands the flag values and the names of actions, give-up
//! reasons and read-back outcomes to JavaScript, so the TypeScript side never repeats them.
//!
//! Why this shape: napi-rs reads every argument, object property and array element through a
//! separate engine call (tens of ns each on a small VM, microseconds for an object), and a
//! decision must stay within a few hundred ns, so the hot path passes a handle and at most one
//! string, and gets one number back.
//!
//! # The scratch array
//! A `Float64Array` of [`SCRATCH_LEN`] numbers, `[status (0 = none), flags, retryAfterSeconds
//! (NaN = none), body token]`, written by JavaScript just before `decide` / `readBack`. Safety rules: the
//! array is the binding's own (never handed to user code, so never detached or transferred); it
//! is kept alive by a strong reference that is never released; each JavaScript thread (main,
//! worker) binds its own, kept in a thread-local; JavaScript and the decision run on that one
//! thread, never at the same time.
//!
//! # The packed string
//! The failure's text fields joined by [`SEPARATOR`] in the order reason, body, Retry-After,
//! codes (joined by newlines), verb, error type, message; an empty field is an absent one, an
//! empty string is no text at all. JavaScript replaces the separator inside every field but the
//! last (the message), which keeps it.
//!
//! # The kept body
//! In an outage every failure carries the same Status body, and copying its text across the
//! boundary cost more than the decision (~250 ns of ~700). So the addon keeps the last body it
//! was sent, by token: a failure whose body is short enough ([`KEEP_BODY_MAX_CHARS`]) is sent with
//! [`KEEP_BODY`] and a new token in the scratch array, and the addon keeps that body under the
//! token; a later failure with the same body text sends no body, [`SAME_BODY`] and that token. A
//! token that is not the kept one is an internal error (never a wrong body). JavaScript takes a
//! body as kept only after the step that sent it returned.
//!
//! # The answer
//! `action + 8 * payload`: `action` indexes [`ACTIONS`]; `payload` is the delay in whole
//! microseconds for `retry`, `read_back` and `wait`, the index into `GiveUpReason::ALL` for `give_up`,
//! and 0 otherwise. Every value is an integer below 2^53, so JavaScript decodes it exactly.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use k8sretry::{Decision, GiveUpReason};
use napi::bindgen_prelude::Float64Array;
use napi_derive::napi;

use crate::failure::Parts;
use crate::{Code, error};
use napi::Result;

/// How many numbers the scratch array holds.
pub const SCRATCH_LEN: usize = 4;

/// Flag bits of the scratch array's second number.
pub const TIMEOUT: u32 = 1;
pub const CANCELLED: u32 = 2;
pub const USER_RETRYABLE: u32 = 4;
/// Keep this failure's body under the scratch array's token (module docs, "The kept body").
pub const KEEP_BODY: u32 = 8;
/// This failure's body is the one kept under the scratch array's token.
pub const SAME_BODY: u32 = 16;

/// The longest body (in UTF-16 units, as JavaScript counts) that is kept.
pub const KEEP_BODY_MAX_CHARS: u32 = 4096;

/// The separator of the packed string's fields.
pub const SEPARATOR: char = '\0';

/// The actions of the answer, by index.
pub const ACTIONS: [&str; 6] = ["retry", "read_back", "done", "recovered", "give_up", "wait"];

/// What a read-back found, as `readBack` takes it.
pub const READ_OUTCOMES: [&str; 4] = ["ours", "not_ours", "missing", "failed"];

thread_local! {
    static SCRATCH: Cell<*const f64> = const { Cell::new(std::ptr::null()) };
    /// The kept body and its token (module docs).
    static KEPT: RefCell<(f64, String)> = const { RefCell::new((0.0, String::new())) };
}

/// Binds `array` (at least [`SCRATCH_LEN`] elements, over its own `ArrayBuffer`) as this
/// thread's scratch array. `lib/wire.ts` calls it once when it loads.
#[napi]
pub fn bind_scratch(array: Float64Array) -> Result<(), Code> {
    if array.len() < SCRATCH_LEN {
        return Err(error(
            Code::InvalidArgument,
            format!(
                "the scratch array needs {SCRATCH_LEN} elements, got {}",
                array.len()
            ),
        ));
    }
    SCRATCH.set(array.as_ptr());
    // Keeps the strong reference napi-rs took: the array lives as long as the JS environment.
    std::mem::forget(array);
    Ok(())
}

/// The failure in the scratch array and `fields` (the packed string).
pub fn read_failure(fields: &str) -> Result<k8sretry::Failure, Code> {
    let ptr = SCRATCH.get();
    if ptr.is_null() {
        return Err(error(
            Code::Internal,
            "bindScratch was not called on this thread",
        ));
    }
    // SAFETY: ptr points at SCRATCH_LEN f64s of an array kept alive and never detached (module
    // docs), written only by JavaScript on this thread, which is not running while we are.
    let [status, flags, seconds, token] = unsafe { ptr.cast::<[f64; SCRATCH_LEN]>().read() };
    // `as` saturates: NaN and negatives become 0 (no status, no flags).
    let (status, flags) = (status as u32, flags as u32);
    let parts = unpack(status, flags, seconds, fields);
    KEPT.with(|kept| {
        if flags & SAME_BODY != 0 {
            let kept = kept.borrow();
            if kept.0 != token || token == 0.0 {
                return Err(error(
                    Code::Internal,
                    format!("no body is kept under token {token}"),
                ));
            }
            return Ok(Parts {
                body: Some(kept.1.as_str()),
                ..parts
            }
            .failure());
        }
        if flags & KEEP_BODY != 0 {
            let mut kept = kept.borrow_mut();
            kept.0 = token;
            kept.1.clear();
            kept.1.push_str(parts.body.unwrap_or_default());
        }
        Ok(parts.failure())
    })
}

/// The parts of a failure from the scratch numbers and the packed string (module docs).
pub fn unpack(status: u32, flags: u32, retry_after_seconds: f64, fields: &str) -> Parts<'_> {
    let numbers = Parts {
        status: Some(status).filter(|&s| s != 0),
        // Saturating: any finite number of seconds is a hint (the engine caps it).
        retry_after_seconds: Some(retry_after_seconds)
            .filter(|s| s.is_finite())
            .map(|s| s as i64),
        timeout: flags & TIMEOUT != 0,
        cancelled: flags & CANCELLED != 0,
        user_retryable: flags & USER_RETRYABLE != 0,
        ..Parts::default()
    };
    if fields.is_empty() {
        return numbers;
    }
    let mut it = fields
        .splitn(7, SEPARATOR)
        .map(|s| Some(s).filter(|s| !s.is_empty()));
    let mut next = || it.next().flatten();
    Parts {
        reason: next(),
        body: next(),
        retry_after: next(),
        codes: next()
            .map(|c| c.split('\n').filter(|c| !c.is_empty()).collect())
            .unwrap_or_default(),
        verb: next(),
        error_type: next(),
        message: next(),
        ..numbers
    }
}

/// A decision as one number (module docs).
pub fn encode(decision: Decision) -> f64 {
    let micros = |delay: Duration| (delay.as_secs_f64() * 1e6).round().min(2f64.powi(49));
    let (action, payload) = match decision {
        Decision::Retry { delay } => (0.0, micros(delay)),
        Decision::ReadBack { delay } => (1.0, micros(delay)),
        Decision::Done => (2.0, 0.0),
        Decision::Recovered => (3.0, 0.0),
        Decision::GiveUp(reason) => (4.0, f64::from(reason as u32)),
        Decision::Wait { delay } => (5.0, micros(delay)),
    };
    action + 8.0 * payload
}

/// The flag bits of the scratch array.
#[napi(object)]
pub struct Flags {
    pub timeout: u32,
    pub cancelled: u32,
    pub user_retryable: u32,
    pub keep_body: u32,
    pub same_body: u32,
}

/// What `lib/wire.ts` needs to know of the format: everything it does not define itself.
#[napi(object)]
pub struct WireFormat {
    /// Length of the scratch array.
    pub scratch_length: u32,
    pub flags: Flags,
    /// The longest body that is kept (module docs, "The kept body").
    pub keep_body_max_chars: u32,
    /// The separator of the packed string.
    pub separator: String,
    /// Answer actions, by index.
    pub actions: Vec<String>,
    /// Give-up reasons, by index.
    pub give_up_reasons: Vec<String>,
    /// The outcomes `readBack` takes.
    pub read_outcomes: Vec<String>,
}

/// The wire format's constants (module docs).
#[napi]
pub fn wire_format() -> WireFormat {
    WireFormat {
        scratch_length: SCRATCH_LEN as u32,
        flags: Flags {
            timeout: TIMEOUT,
            cancelled: CANCELLED,
            user_retryable: USER_RETRYABLE,
            keep_body: KEEP_BODY,
            same_body: SAME_BODY,
        },
        keep_body_max_chars: KEEP_BODY_MAX_CHARS,
        separator: SEPARATOR.to_string(),
        actions: ACTIONS.map(str::to_owned).to_vec(),
        give_up_reasons: GiveUpReason::ALL.map(|r| r.as_str().to_owned()).to_vec(),
        read_outcomes: READ_OUTCOMES.map(str::to_owned).to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(code: f64) -> (&'static str, f64) {
        let action = code % 8.0;
        (ACTIONS[action as usize], (code - action) / 8.0)
    }

    #[test]
    fn answers_decode_as_documented() {
        let retry = Decision::Retry {
            delay: Duration::from_micros(1_500_250),
        };
        assert_eq!(decode(encode(retry)), ("retry", 1_500_250.0));
        let read = Decision::ReadBack {
            delay: Duration::from_millis(3),
        };
        assert_eq!(decode(encode(read)), ("read_back", 3000.0));
        assert_eq!(decode(encode(Decision::Done)), ("done", 0.0));
        assert_eq!(decode(encode(Decision::Recovered)), ("recovered", 0.0));
        let wait = Decision::Wait {
            delay: Duration::from_millis(7),
        };
        assert_eq!(decode(encode(wait)), ("wait", 7000.0));
        assert_eq!(GiveUpReason::ALL.len(), 10);
        for reason in GiveUpReason::ALL {
            let (action, payload) = decode(encode(Decision::GiveUp(reason)));
            assert_eq!(action, "give_up");
            assert_eq!(GiveUpReason::ALL[payload as usize], reason);
        }
        let format = wire_format();
        assert_eq!(format.give_up_reasons[7], "OutcomeUnknown");
        assert_eq!(format.actions, ACTIONS);
    }

    #[test]
    fn packed_fields_land_where_named() {
        let fields = "TooManyRequests\0\x005\0ECONNRESET\nEPIPE\0POST\0FetchError\0a\0message";
        let f = unpack(429, TIMEOUT | USER_RETRYABLE, 7.0, fields).failure();
        assert_eq!(f.status, Some(429));
        assert_eq!(f.reason.as_deref(), Some("TooManyRequests"));
        assert_eq!(f.retry_after.as_deref(), Some("5"));
        assert_eq!(f.retry_after_seconds, Some(7));
        assert_eq!(f.codes, ["ECONNRESET", "EPIPE"]);
        assert!(f.timeout && !f.cancelled && f.user_retryable);
        assert_eq!(f.verb, k8sretry::Verb::Post);
        assert_eq!(f.error_type.as_deref(), Some("FetchError"));
        assert_eq!(
            f.message.as_deref(),
            Some("a\0message"),
            "the last field keeps separators"
        );
    }

    /// `read_failure` with this thread's scratch array set to `numbers`.
    fn read(numbers: [f64; SCRATCH_LEN], fields: &str) -> Option<k8sretry::Failure> {
        SCRATCH.set(numbers.as_ptr());
        // A napi error is dropped only where Node runs: not here.
        let out = match read_failure(fields) {
            Ok(f) => Some(f),
            Err(e) => {
                std::mem::forget(e);
                None
            }
        };
        SCRATCH.set(std::ptr::null());
        out
    }

    #[test]
    fn a_kept_body_is_used_only_under_its_token() {
        let body = "\0{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"code\":429}";
        let kept = read([0.0, f64::from(KEEP_BODY), f64::NAN, 7.0], body).expect("kept");
        assert_eq!(kept.reason.as_deref(), Some("TooManyRequests"));
        let same = read([0.0, f64::from(SAME_BODY), f64::NAN, 7.0], "").expect("same");
        assert_eq!((same.status, same.reason), (Some(429), kept.reason));
        // Another token (a body the addon never kept) is an error, never another body.
        assert!(read([0.0, f64::from(SAME_BODY), f64::NAN, 6.0], "").is_none());
        assert!(read([0.0, f64::from(SAME_BODY), f64::NAN, 0.0], "").is_none());
        // A body sent without KEEP_BODY leaves the kept one as it was.
        let other = "\0{\"reason\":\"InternalError\",\"code\":500}";
        let sent = read([0.0, 0.0, f64::NAN, 8.0], other).expect("sent");
        assert_eq!(sent.status, Some(500));
        let still = read([0.0, f64::from(SAME_BODY), f64::NAN, 7.0], "").expect("still kept");
        assert_eq!(still.status, Some(429));
    }

    #[test]
    fn packed_empty_means_absent() {
        let f = unpack(0, 0, f64::NAN, "").failure();
        assert_eq!(
            (f.status, f.reason, f.message, f.retry_after_seconds),
            (None, None, None, None)
        );
        assert!(f.codes.is_empty());
    }
}
