//! What the TypeScript layer extracted from a thrown error, in the two shapes it crosses the
//! boundary in, and the core `Failure` built from either.

use k8sretry::{Failure, Verb};
use napi_derive::napi;

/// What a binding extracted from an error (every field optional).
#[napi(object)]
#[derive(Default)]
pub struct FailureInit {
    pub status: Option<u32>,
    pub reason: Option<String>,
    pub body: Option<String>,
    pub retry_after: Option<String>,
    pub retry_after_seconds: Option<i64>,
    pub codes: Option<Vec<String>>,
    pub timeout: Option<bool>,
    pub cancelled: Option<bool>,
    pub user_retryable: Option<bool>,
    pub verb: Option<String>,
    pub error_type: Option<String>,
    pub message: Option<String>,
}

/// Bits of `NativeCall.decide`'s `flags`.
pub const TIMEOUT: u32 = 1;
pub const CANCELLED: u32 = 2;
pub const USER_RETRYABLE: u32 = 4;

/// The separator of `NativeCall.decide`'s packed string fields (the TypeScript layer replaces it
/// inside every field but the last, the message).
pub const SEPARATOR: char = '\0';

/// The extracted fields, borrowed from either shape.
#[derive(Default)]
pub struct Parts<'a> {
    status: Option<u32>,
    reason: Option<&'a str>,
    body: Option<&'a str>,
    retry_after: Option<&'a str>,
    retry_after_seconds: Option<i64>,
    codes: Vec<&'a str>,
    timeout: bool,
    cancelled: bool,
    user_retryable: bool,
    verb: Option<&'a str>,
    error_type: Option<&'a str>,
    message: Option<&'a str>,
}

impl<'a> From<&'a FailureInit> for Parts<'a> {
    fn from(init: &'a FailureInit) -> Self {
        Parts {
            status: init.status,
            reason: init.reason.as_deref(),
            body: init.body.as_deref(),
            retry_after: init.retry_after.as_deref(),
            retry_after_seconds: init.retry_after_seconds,
            codes: init.codes.iter().flatten().map(String::as_str).collect(),
            timeout: init.timeout.unwrap_or(false),
            cancelled: init.cancelled.unwrap_or(false),
            user_retryable: init.user_retryable.unwrap_or(false),
            verb: init.verb.as_deref(),
            error_type: init.error_type.as_deref(),
            message: init.message.as_deref(),
        }
    }
}

impl<'a> Parts<'a> {
    /// The packed shape `NativeCall.decide` receives: `status` 0 for none, `flags` of the bits
    /// above, `retry_after_seconds` NaN for none, and the string fields joined by `SEPARATOR` in
    /// the order reason, body, retry-after, codes (joined by newlines), verb, error type, message.
    /// An empty field is an absent one.
    pub fn packed(status: u32, flags: u32, retry_after_seconds: f64, fields: &'a str) -> Self {
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

    pub fn failure(&self) -> Failure {
        let mut f = Failure::new()
            .with_timeout(self.timeout)
            .with_cancelled(self.cancelled)
            .with_user_retryable(self.user_retryable);
        if let Some(status) = self.status.and_then(|s| u16::try_from(s).ok()) {
            f = f.with_status(status);
        }
        if let Some(reason) = self.reason {
            f = f.with_reason(reason);
        }
        if let Some(body) = self.body {
            f = f.with_status_body(body);
        }
        if let Some(value) = self.retry_after {
            f = f.with_retry_after(value);
        }
        if let Some(seconds) = self.retry_after_seconds {
            f = f.with_retry_after_seconds(seconds);
        }
        for code in &self.codes {
            f = f.with_code(code);
        }
        if let Some(verb) = self.verb {
            f = f.with_verb(Verb::parse(verb));
        }
        f.error_type = self.error_type.map(str::to_owned);
        f.message = self.message.map(str::to_owned);
        f
    }
}

/// The core failure for a `FailureInit`.
pub fn failure(init: &FailureInit) -> Failure {
    Parts::from(init).failure()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_fields_land_where_named() {
        let fields = "TooManyRequests\0\x005\0ECONNRESET\nEPIPE\0POST\0FetchError\0a\0message";
        let p = Parts::packed(429, TIMEOUT | USER_RETRYABLE, 7.0, fields);
        assert_eq!(p.status, Some(429));
        assert_eq!(p.reason, Some("TooManyRequests"));
        assert_eq!(p.body, None);
        assert_eq!(p.retry_after, Some("5"));
        assert_eq!(p.retry_after_seconds, Some(7));
        assert_eq!(p.codes, ["ECONNRESET", "EPIPE"]);
        assert!(p.timeout && !p.cancelled && p.user_retryable);
        assert_eq!(p.verb, Some("POST"));
        assert_eq!(p.error_type, Some("FetchError"));
        assert_eq!(
            p.message,
            Some("a\0message"),
            "the last field keeps separators"
        );
    }

    #[test]
    fn packed_empty_means_absent() {
        let p = Parts::packed(0, 0, f64::NAN, "");
        assert_eq!(
            (p.status, p.reason, p.message, p.retry_after_seconds),
            (None, None, None, None)
        );
        assert!(p.codes.is_empty());
    }
}
