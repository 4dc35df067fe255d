//! The native half of the `k8sretry` npm package: thin napi-rs wrappers over the core.
//! The TypeScript layer in `lib/` extracts failures, sleeps and calls; decisions are made here.
//! Policies here; one call's steps in `call.rs`; the recovery plan in `plan.rs`; events in
//! `events.rs`; the wire format of the hot path (scratch array, flags, packed text, the
//! one-number answer) in `wire.rs`.

use std::sync::Arc;

use k8sretry::PolicyBuilder;
use napi::{Error, Result, Status};
use napi_derive::napi;

// Public so that the napi functions in them count as used in a test build too (napi-rs
// registers them only in the addon build).
pub mod call;
pub mod events;
pub mod failure;
pub mod plan;
pub mod wire;

use failure::{FailureInit, failure};

fn invalid(e: impl std::fmt::Display) -> Error {
    Error::new(Status::InvalidArg, e.to_string())
}

/// The `code` of the errors the call and plan functions throw (a JS `Error` with this `code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// An argument is not one of the names or shapes the function takes.
    InvalidArgument,
    /// A step the call did not ask for (a read-back result nobody asked for, a failure while a
    /// read-back result is expected).
    OutOfOrder,
    /// A step after the call ended.
    CallFinished,
    /// The binding misused itself (the scratch array was never bound).
    Internal,
}

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        match self {
            Code::InvalidArgument => "K8SRETRY_INVALID_ARGUMENT",
            Code::OutOfOrder => "K8SRETRY_OUT_OF_ORDER",
            Code::CallFinished => "K8SRETRY_CALL_FINISHED",
            Code::Internal => "K8SRETRY_INTERNAL",
        }
    }
}

/// An error with `code` and `message`.
pub fn error(code: Code, message: impl Into<String>) -> Error<Code> {
    Error::new(code, message.into())
}

/// A clock that moves only when advanced (tests, conformance vectors).
#[napi]
pub struct ManualClock {
    inner: Arc<k8sretry::ManualClock>,
}

#[napi]
impl ManualClock {
    #[napi(constructor)]
    pub fn new(start_unix: f64) -> Self {
        ManualClock {
            inner: Arc::new(k8sretry::ManualClock::new(start_unix)),
        }
    }

    #[napi]
    pub fn advance(&self, seconds: f64) -> Result<()> {
        if !(seconds.is_finite() && seconds >= 0.0) {
            return Err(invalid(format!("cannot advance by {seconds}")));
        }
        self.inner.advance_seconds(seconds);
        Ok(())
    }
}

/// An immutable policy.
#[napi]
pub struct NativePolicy {
    pub(crate) inner: k8sretry::Policy,
}

#[napi]
impl NativePolicy {
    /// A preset by name.
    #[napi(factory)]
    pub fn preset(name: String) -> Result<Self> {
        let builder = PolicyBuilder::preset(&name).map_err(invalid)?;
        Self::build(builder)
    }

    /// A policy from the JSON every binding reads.
    #[napi(factory)]
    pub fn from_json(text: String, clock: Option<&ManualClock>) -> Result<Self> {
        let mut builder = PolicyBuilder::from_json(&text).map_err(invalid)?;
        if let Some(clock) = clock {
            builder = builder.clock(clock.inner.clone());
        }
        Self::build(builder)
    }

    fn build(builder: PolicyBuilder) -> Result<Self> {
        let inner = builder
            .on_event(Some(events::collector()))
            .build()
            .map_err(invalid)?;
        Ok(NativePolicy { inner })
    }

    #[napi(getter)]
    pub fn max_retries(&self) -> u32 {
        self.inner.max_retries()
    }

    #[napi(getter)]
    pub fn name(&self) -> String {
        self.inner.name().to_owned()
    }

    #[napi]
    pub fn classify(&self, failure_init: FailureInit) -> String {
        self.inner
            .classify(&failure(&failure_init))
            .as_str()
            .to_owned()
    }

    #[napi]
    pub fn is_retryable(&self, failure_init: FailureInit) -> bool {
        self.inner.is_retryable(&failure(&failure_init))
    }

    /// Milliseconds to wait after 0-based `attempt`: max(capped server hint, backoff).
    #[napi]
    pub fn retry_delay_ms(&self, failure_init: FailureInit, attempt: u32) -> f64 {
        self.inner
            .retry_delay(&failure(&failure_init), attempt)
            .as_secs_f64()
            * 1000.0
    }

    /// The success path of `function_name`, prepared once (the metrics lookup is done here).
    #[napi]
    pub fn recorder(&self, function_name: String) -> NativeRecorder {
        NativeRecorder {
            inner: k8sretry::SuccessRecorder::new(&self.inner, &function_name),
        }
    }
}

/// Records first-attempt successes of one function: the whole success path in one native call
/// without arguments.
#[napi]
pub struct NativeRecorder {
    inner: k8sretry::SuccessRecorder,
}

#[napi]
impl NativeRecorder {
    #[napi]
    pub fn record(&self) {
        self.inner.record();
    }

    /// `n` successes at once (the TypeScript layer batches them).
    #[napi]
    pub fn record_many(&self, n: u32) {
        self.inner.record_many(n);
    }
}

/// Milliseconds a Retry-After value asks to wait at `now_ms` (Unix ms), or null.
#[napi]
pub fn parse_retry_after_ms(value: String, now_ms: f64) -> Option<f64> {
    k8sretry::parse_retry_after(&value, now_ms / 1000.0).map(|s| s * 1000.0)
}

/// All metrics of this process in Prometheus text format.
#[napi]
pub fn metrics_text() -> String {
    k8sretry::metrics_text()
}

/// The preset names.
#[napi]
pub fn preset_names() -> Vec<String> {
    k8sretry::PRESETS.iter().map(|s| s.to_string()).collect()
}

/// The engine version.
#[napi]
pub fn version() -> String {
    k8sretry::VERSION.to_owned()
}
