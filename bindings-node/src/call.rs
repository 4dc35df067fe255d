//! One logical call, handed to JavaScript as an opaque `External` and driven by free functions:
//! reading an `External` argument costs about half of unwrapping a class instance's `this`, and
//! on the failure path every decision goes through here.

use std::time::Duration;

use k8sretry::{Decision, Recovery, Verb};
use napi::Result;
use napi::bindgen_prelude::External;
use napi_derive::napi;

use crate::events::{RetryEvent, collect};
use crate::failure::Parts;
use crate::{NativePolicy, invalid, scratch};

/// A core call, whether its events are wanted, and the events of its last step. (TypeScript
/// sees the handle as `ExternalObject<'Call'>`.)
pub struct CallState {
    inner: k8sretry::Call,
    listening: bool,
    events: Vec<RetryEvent>,
}

/// Begins a call of `function_name` (`elapsed_ms` since its first attempt started). With
/// `listening` false (default true) no events are kept: nobody would read them.
#[napi(ts_return_type = "ExternalObject<'Call'>")]
pub fn begin_call(
    policy: &NativePolicy,
    function_name: String,
    verb: String,
    recovery: String,
    elapsed_ms: f64,
    listening: Option<bool>,
) -> Result<External<CallState>> {
    let recovery = Recovery::parse(&recovery)
        .ok_or_else(|| invalid(format!("unknown recovery {recovery:?}")))?;
    let elapsed = Duration::try_from_secs_f64(elapsed_ms / 1000.0).unwrap_or_default();
    let inner = k8sretry::Call::new(&policy.inner, &function_name)
        .with_verb(Verb::parse(&verb))
        .with_recovery(recovery)
        .with_elapsed(elapsed);
    Ok(External::new(CallState {
        inner,
        listening: listening.unwrap_or(true),
        events: Vec::new(),
    }))
}

/// The engine's decision on a failed attempt whose failure is only numbers (status, flags,
/// Retry-After seconds), read from the scratch array (see `scratch.rs`); the answer is one
/// number (see `decision_code`), the events are kept for `takeEvents`. napi-rs reads each
/// argument, object property and array element through a separate engine call (tens of ns
/// each here, microseconds for an object), so the hot path passes nothing else.
#[napi(ts_args_type = "call: ExternalObject<'Call'>")]
pub fn decide(call: &mut External<CallState>) -> Result<f64> {
    decide_packed(call, "")
}

/// `decide` for a failure with text: the string fields packed as `Parts::packed` describes.
#[napi(ts_args_type = "call: ExternalObject<'Call'>, fields: string")]
pub fn decide_with(call: &mut External<CallState>, fields: String) -> Result<f64> {
    decide_packed(call, &fields)
}

fn decide_packed(call: &mut CallState, fields: &str) -> Result<f64> {
    let (status, flags, retry_after_seconds) = scratch::read()?;
    let failure = Parts::packed(status, flags, retry_after_seconds, fields).failure();
    let (decision, events) = collect(call.listening, || call.inner.on_failure(&failure));
    call.events = events;
    Ok(decision_code(decision))
}

/// The events of the last `decide`.
#[napi(ts_args_type = "call: ExternalObject<'Call'>")]
pub fn take_events(call: &mut External<CallState>) -> Vec<RetryEvent> {
    std::mem::take(&mut call.events)
}

/// The current attempt succeeded; its events.
#[napi(ts_args_type = "call: ExternalObject<'Call'>")]
pub fn on_success(call: &mut External<CallState>) -> Vec<RetryEvent> {
    step(call, k8sretry::Call::on_success)
}

/// After `read_back`: the object read back is ours; its events.
#[napi(ts_args_type = "call: ExternalObject<'Call'>")]
pub fn on_recovered(call: &mut External<CallState>) -> Vec<RetryEvent> {
    step(call, k8sretry::Call::on_recovered)
}

/// After `read_back`: the object is somebody else's; its events.
#[napi(ts_args_type = "call: ExternalObject<'Call'>")]
pub fn on_not_ours(call: &mut External<CallState>) -> Vec<RetryEvent> {
    step(call, k8sretry::Call::on_not_ours)
}

fn step(call: &mut CallState, f: fn(&mut k8sretry::Call)) -> Vec<RetryEvent> {
    collect(call.listening, || f(&mut call.inner)).1
}

/// Attempts started so far (1 before the first failure).
#[napi(ts_args_type = "call: ExternalObject<'Call'>")]
pub fn attempts(call: &External<CallState>) -> u32 {
    call.inner.attempts()
}

/// A decision as one number: `action + 8 * payload`, where action indexes `actionNames()` and
/// payload is the delay in whole microseconds for `retry` / `check_then_retry`, the index into
/// `giveUpReasonNames()` for `give_up`, and 0 otherwise. Every value is an integer below 2^53, so
/// JavaScript decodes it exactly with `%` and `/`.
fn decision_code(decision: Decision) -> f64 {
    let micros = |delay: Duration| (delay.as_secs_f64() * 1e6).round().min(2f64.powi(49));
    let (action, payload) = match decision {
        Decision::Retry { delay } => (0.0, micros(delay)),
        Decision::CheckThenRetry { delay } => (1.0, micros(delay)),
        Decision::ReadBack => (2.0, 0.0),
        Decision::Done => (3.0, 0.0),
        Decision::GiveUp(reason) => (4.0, f64::from(reason as u32)),
    };
    action + 8.0 * payload
}

/// The actions `decide` answers with, by index.
#[napi]
pub fn action_names() -> Vec<&'static str> {
    vec!["retry", "check_then_retry", "read_back", "done", "give_up"]
}

/// The give-up reasons `decide` answers with, by index.
#[napi]
pub fn give_up_reason_names() -> Vec<&'static str> {
    k8sretry::GiveUpReason::ALL
        .iter()
        .map(|r| r.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8sretry::GiveUpReason;

    #[test]
    fn decision_codes_decode_as_documented() {
        let code = decision_code(Decision::Retry {
            delay: Duration::from_micros(1_500_250),
        });
        assert_eq!((code % 8.0, (code - code % 8.0) / 8.0), (0.0, 1_500_250.0));
        let code = decision_code(Decision::CheckThenRetry {
            delay: Duration::from_millis(3),
        });
        assert_eq!((code % 8.0, (code - code % 8.0) / 8.0), (1.0, 3000.0));
        assert_eq!(action_names()[4], "give_up");
        for reason in GiveUpReason::ALL {
            let code = decision_code(Decision::GiveUp(reason));
            assert_eq!(code % 8.0, 4.0);
            assert_eq!(GiveUpReason::ALL[((code - 4.0) / 8.0) as usize], reason);
        }
        assert_eq!(decision_code(Decision::ReadBack), 2.0);
        assert_eq!(decision_code(Decision::Done), 3.0);
    }
}
