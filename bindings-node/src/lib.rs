//! The native half of the `k8sretry` npm package: thin napi-rs wrappers over the core.
//! The TypeScript layer in `lib/` extracts failures, sleeps and calls; decisions are made here.
//!
//! Events: the core emits them synchronously inside `onFailure` / `onSuccess` on the calling
//! (JS) thread, so they are collected in a thread-local buffer and returned with the result,
//! and the TypeScript layer hands them to `onEvent` and the logger.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use k8sretry::{Decision, Event, EventCallback, Failure, PolicyBuilder, Recovery, Verb};
use napi::{Error, Result, Status};
use napi_derive::napi;

fn invalid(e: impl std::fmt::Display) -> Error {
    Error::new(Status::InvalidArg, e.to_string())
}

/// One event with the fields of DESIGN §2.7 (snake_case, as in every other language).
#[napi(object)]
pub struct RetryEvent {
    pub event: String,
    pub function: String,
    pub attempt: u32,
    #[napi(js_name = "max_retries")]
    pub max_retries: u32,
    #[napi(js_name = "delay_seconds")]
    pub delay_seconds: Option<f64>,
    #[napi(js_name = "error_type")]
    pub error_type: Option<String>,
    pub error: Option<String>,
    #[napi(js_name = "status_code")]
    pub status_code: Option<u32>,
    pub reason: Option<String>,
    pub code: Option<String>,
    pub class: Option<String>,
    #[napi(js_name = "give_up")]
    pub give_up: Option<String>,
}

thread_local! {
    static EVENTS: RefCell<Vec<RetryEvent>> = const { RefCell::new(Vec::new()) };
}

fn collect_events() -> EventCallback {
    Arc::new(|e: &Event<'_>| {
        let owned = RetryEvent {
            event: e.kind.name().to_owned(),
            function: e.function.to_owned(),
            attempt: e.attempt,
            max_retries: e.max_retries,
            delay_seconds: e.delay_seconds,
            error_type: e.error_type.map(str::to_owned),
            error: e.error.map(str::to_owned),
            status_code: e.status_code.map(u32::from),
            reason: e.reason.map(str::to_owned),
            code: e.code.map(str::to_owned),
            class: e.class.map(|c| c.as_str().to_owned()),
            give_up: e.give_up.map(|g| g.as_str().to_owned()),
        };
        EVENTS.with(|events| events.borrow_mut().push(owned));
    })
}

fn take_events() -> Vec<RetryEvent> {
    EVENTS.with(|events| std::mem::take(&mut *events.borrow_mut()))
}

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

fn failure(init: &FailureInit) -> Failure {
    let mut f = Failure::new();
    if let Some(status) = init.status.and_then(|s| u16::try_from(s).ok()) {
        f = f.with_status(status);
    }
    if let Some(reason) = &init.reason {
        f = f.with_reason(reason);
    }
    if let Some(body) = &init.body {
        f = f.with_status_body(body);
    }
    if let Some(value) = &init.retry_after {
        f = f.with_retry_after(value.clone());
    }
    if let Some(seconds) = init.retry_after_seconds {
        f = f.with_retry_after_seconds(seconds);
    }
    for code in init.codes.iter().flatten() {
        f = f.with_code(code);
    }
    f = f
        .with_timeout(init.timeout.unwrap_or(false))
        .with_cancelled(init.cancelled.unwrap_or(false))
        .with_user_retryable(init.user_retryable.unwrap_or(false));
    if let Some(verb) = &init.verb {
        f = f.with_verb(Verb::parse(verb));
    }
    f.error_type.clone_from(&init.error_type);
    f.message.clone_from(&init.message);
    f
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
    inner: k8sretry::Policy,
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
            .on_event(Some(collect_events()))
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

/// The engine's answer to a failed attempt.
#[napi(object)]
pub struct NativeDecision {
    /// `retry`, `check_then_retry`, `read_back`, `done` or `give_up`.
    pub action: String,
    pub delay_ms: f64,
    pub reason: Option<String>,
    pub events: Vec<RetryEvent>,
}

/// One logical call.
#[napi]
pub struct NativeCall {
    inner: k8sretry::Call,
    /// The events of the last `decide`, until `takeEvents` (or the next `decide`).
    events: Vec<RetryEvent>,
}

#[napi]
impl NativeCall {
    #[napi(constructor)]
    pub fn new(
        policy: &NativePolicy,
        function_name: String,
        verb: String,
        recovery: String,
        elapsed_ms: f64,
    ) -> Result<Self> {
        let recovery = Recovery::parse(&recovery)
            .ok_or_else(|| invalid(format!("unknown recovery {recovery:?}")))?;
        let elapsed = Duration::try_from_secs_f64(elapsed_ms / 1000.0).unwrap_or_default();
        let inner = k8sretry::Call::new(&policy.inner, &function_name)
            .with_verb(Verb::parse(&verb))
            .with_recovery(recovery)
            .with_elapsed(elapsed);
        Ok(NativeCall {
            inner,
            events: Vec::new(),
        })
    }

    /// `onFailure` for the retry loop's hot path: the failure's fields as arguments, the answer
    /// as `[action, delayMs, giveUpReason]` (indexes into `actionNames()` /
    /// `giveUpReasonNames()`, -1 for none) and the events kept for `takeEvents()`. napi-rs
    /// reads and writes objects property by property (about half a microsecond each here):
    /// through `onFailure` a decision cost 15 µs, this way it costs a few hundred ns.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn decide(
        &mut self,
        status: Option<u32>,
        reason: Option<String>,
        body: Option<String>,
        retry_after: Option<String>,
        retry_after_seconds: Option<i64>,
        codes: Option<Vec<String>>,
        timeout: Option<bool>,
        cancelled: Option<bool>,
        user_retryable: Option<bool>,
        verb: Option<String>,
        error_type: Option<String>,
        message: Option<String>,
    ) -> Vec<f64> {
        let init = FailureInit {
            status,
            reason,
            body,
            retry_after,
            retry_after_seconds,
            codes,
            timeout,
            cancelled,
            user_retryable,
            verb,
            error_type,
            message,
        };
        let decision = self.inner.on_failure(&failure(&init));
        self.events = take_events();
        let (action, delay, reason) = match decision {
            Decision::Retry { delay } => (0.0, delay.as_secs_f64() * 1000.0, -1.0),
            Decision::CheckThenRetry { delay } => (1.0, delay.as_secs_f64() * 1000.0, -1.0),
            Decision::ReadBack => (2.0, 0.0, -1.0),
            Decision::Done => (3.0, 0.0, -1.0),
            Decision::GiveUp(reason) => (4.0, 0.0, f64::from(reason as u32)),
        };
        vec![action, delay, reason]
    }

    /// The events of the last `decide`.
    #[napi]
    pub fn take_events(&mut self) -> Vec<RetryEvent> {
        std::mem::take(&mut self.events)
    }

    #[napi]
    pub fn on_failure(&mut self, failure_init: FailureInit) -> NativeDecision {
        let (action, delay_ms, reason) = match self.inner.on_failure(&failure(&failure_init)) {
            Decision::Retry { delay } => ("retry", delay.as_secs_f64() * 1000.0, None),
            Decision::CheckThenRetry { delay } => {
                ("check_then_retry", delay.as_secs_f64() * 1000.0, None)
            }
            Decision::ReadBack => ("read_back", 0.0, None),
            Decision::Done => ("done", 0.0, None),
            Decision::GiveUp(reason) => ("give_up", 0.0, Some(reason.as_str().to_owned())),
        };
        NativeDecision {
            action: action.to_owned(),
            delay_ms,
            reason,
            events: take_events(),
        }
    }

    #[napi]
    pub fn on_success(&mut self) -> Vec<RetryEvent> {
        self.inner.on_success();
        take_events()
    }

    #[napi]
    pub fn on_recovered(&mut self) -> Vec<RetryEvent> {
        self.inner.on_recovered();
        take_events()
    }

    #[napi]
    pub fn on_not_ours(&mut self) -> Vec<RetryEvent> {
        self.inner.on_not_ours();
        take_events()
    }

    #[napi(getter)]
    pub fn attempts(&self) -> u32 {
        self.inner.attempts()
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

/// The actions `NativeCall.decide` answers with, by index.
#[napi]
pub fn action_names() -> Vec<&'static str> {
    vec!["retry", "check_then_retry", "read_back", "done", "give_up"]
}

/// The give-up reasons `NativeCall.decide` answers with, by index.
#[napi]
pub fn give_up_reason_names() -> Vec<&'static str> {
    k8sretry::GiveUpReason::ALL
        .iter()
        .map(|r| r.as_str())
        .collect()
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
