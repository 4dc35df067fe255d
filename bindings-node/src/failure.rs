//! What the TypeScript layer extracted from a thrown error, in the two shapes it crosses the
//! boundary in (an object for the policy's helpers, the scratch array and packed string of
//! `wire.rs` for the retry loop), and the core `Failure` built from either.

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

/// The extracted fields, borrowed from either shape.
#[derive(Default)]
pub struct Parts<'a> {
    pub(crate) status: Option<u32>,
    pub(crate) reason: Option<&'a str>,
    pub(crate) body: Option<&'a str>,
    pub(crate) retry_after: Option<&'a str>,
    pub(crate) retry_after_seconds: Option<i64>,
    pub(crate) codes: Vec<&'a str>,
    pub(crate) timeout: bool,
    pub(crate) cancelled: bool,
    pub(crate) user_retryable: bool,
    pub(crate) verb: Option<&'a str>,
    pub(crate) error_type: Option<&'a str>,
    pub(crate) message: Option<&'a str>,
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
            // A failure's verb names the request's HTTP method; one outside the verbs is a write.
            f = f.with_verb(Verb::parse(verb).unwrap_or(Verb::Post));
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
