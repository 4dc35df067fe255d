//! One logical call, handed to JavaScript as an opaque `External` and driven by free functions:
//! reading an `External` argument costs about half of unwrapping a class instance's `this`, and
//! on the failure path every decision goes through here. Each step answers with one number
//! (`wire.rs`); a step the call did not ask for throws an Error with code
//! `K8SRETRY_OUT_OF_ORDER` (or `K8SRETRY_CALL_FINISHED` after the end).

use std::time::Duration;

use k8sretry::{Decision, ReadOutcome, Recovery, StepError, Verb};
use napi::bindgen_prelude::External;
use napi_derive::napi;

use crate::events::{RetryEvent, collect};
use crate::{Code, NativePolicy, error, wire};
use napi::Result;

/// A core call, whether its events are wanted, and the events of its last step. (TypeScript
/// sees the handle as `ExternalObject<'Call'>`.)
pub struct CallState {
    inner: k8sretry::Call,
    listening: bool,
    events: Vec<RetryEvent>,
}

/// A verb name, strictly: only `UNKNOWN` means unknown (a typo must never switch off the rules
/// for writes).
pub fn parse_verb(name: &str) -> Result<Verb, Code> {
    Verb::parse(name).ok_or_else(|| error(Code::InvalidArgument, Verb::parse_error(name)))
}

/// Begins a call of `function_name` (`elapsed_ms` since its first attempt started). With
/// `listening` false (default true) no events are kept: nobody would read them. `reader`
/// (default true): whether the caller can read back when asked (without one the call never
/// answers `read_back`); `nested` (default false): the call runs inside an attempt of another
/// k8sretry call (one attempt, `give_up` `Nested`, nothing recorded).
#[napi(ts_return_type = "ExternalObject<'Call'>")]
#[allow(clippy::too_many_arguments)]
pub fn begin_call(
    policy: &NativePolicy,
    function_name: String,
    verb: String,
    recovery: String,
    elapsed_ms: f64,
    listening: Option<bool>,
    reader: Option<bool>,
    nested: Option<bool>,
) -> Result<External<CallState>, Code> {
    let recovery = Recovery::parse(&recovery).ok_or_else(|| {
        error(
            Code::InvalidArgument,
            format!(
                "unknown recovery {recovery:?} (one of {})",
                Recovery::NAMES.join(", ")
            ),
        )
    })?;
    let verb = parse_verb(&verb)?;
    let elapsed = Duration::try_from_secs_f64(elapsed_ms / 1000.0).unwrap_or_default();
    let inner = k8sretry::Call::start(&policy.inner, &function_name, nested.unwrap_or(false))
        .with_verb(verb)
        .with_recovery(recovery)
        .with_reader(reader.unwrap_or(true))
        .with_elapsed(elapsed);
    Ok(External::new(CallState {
        inner,
        listening: listening.unwrap_or(true),
        events: Vec::new(),
    }))
}

fn step_code(e: StepError) -> Code {
    match e {
        StepError::Finished => Code::CallFinished,
        StepError::NoReadBackPending
        | StepError::ReadBackPending
        | StepError::NoWaitPending
        | StepError::WaitPending => Code::OutOfOrder,
    }
}

fn step_error(e: StepError) -> napi::Error<Code> {
    error(step_code(e), e.to_string())
}

/// Runs one step with events collected as the call wants them; the answer as one number.
fn answer(
    call: &mut CallState,
    f: impl FnOnce(&mut k8sretry::Call) -> std::result::Result<Decision, StepError>,
) -> Result<f64, Code> {
    let (decision, events) = collect(call.listening, || f(&mut call.inner));
    call.events = events;
    decision.map(wire::encode).map_err(step_error)
}

/// The engine's decision on a failed attempt whose failure is only numbers, read from the
/// scratch array; the answer is one number (`wire.rs`), the events are kept for `takeEvents`.
/// napi-rs reads each argument, object property and array element through a separate engine
/// call (tens of ns each here, microseconds for an object), so the hot path passes nothing else.
#[napi(ts_args_type = "call: ExternalObject<'Call'>")]
pub fn decide(call: &mut External<CallState>) -> Result<f64, Code> {
    decide_packed(call, "")
}

/// `decide` for a failure with text: the string fields packed as `wire.rs` describes.
#[napi(ts_args_type = "call: ExternalObject<'Call'>, fields: string")]
pub fn decide_with(call: &mut External<CallState>, fields: String) -> Result<f64, Code> {
    decide_packed(call, &fields)
}

fn decide_packed(call: &mut CallState, fields: &str) -> Result<f64, Code> {
    let failure = wire::read_failure(fields)?;
    answer(call, |c| c.try_on_failure(&failure))
}

/// What the read-back a `read_back` answer asked for found: `ours`, `not_ours`, `missing`, or
/// `failed` with the read's own failure given as `decide` takes one (the scratch array and
/// `fields`, read only for `failed`). The answer is one number, like `decide`'s.
#[napi(ts_args_type = "call: ExternalObject<'Call'>, outcome: string, fields?: string")]
pub fn read_back(
    call: &mut External<CallState>,
    outcome: String,
    fields: Option<String>,
) -> Result<f64, Code> {
    let failure;
    let outcome = match outcome.as_str() {
        "ours" => ReadOutcome::Ours,
        "not_ours" => ReadOutcome::NotOurs,
        "missing" => ReadOutcome::Missing,
        "failed" => {
            failure = wire::read_failure(fields.as_deref().unwrap_or(""))?;
            ReadOutcome::Failed(&failure)
        }
        other => {
            return Err(error(
                Code::InvalidArgument,
                format!(
                    "unknown read-back outcome {other:?} (one of {})",
                    wire::READ_OUTCOMES.join(", ")
                ),
            ));
        }
    };
    answer(call, |c| c.on_read_back(outcome))
}

/// After a `wait` answer has been slept (the budget deferred the retry; nothing was sent): the
/// next decision, one number like `decide`'s (`retry` with no delay, `wait` again, `read_back` or
/// `give_up`). A cancel during the wait is reported with `onCancelled`.
#[napi(ts_args_type = "call: ExternalObject<'Call'>")]
pub fn resume(call: &mut External<CallState>) -> Result<f64, Code> {
    answer(call, |c| c.resume())
}

/// The caller cancelled the call, whatever it was doing (an attempt, a sleep, a wait, a
/// read-back): `give_up` `Cancelled`, one number like `decide`'s; its event is kept for
/// `takeEvents`. After the end it throws `K8SRETRY_CALL_FINISHED`.
#[napi(ts_args_type = "call: ExternalObject<'Call'>")]
pub fn on_cancelled(call: &mut External<CallState>) -> Result<f64, Code> {
    answer(call, |c| c.on_cancelled())
}

/// The events of the last `decide` / `readBack` / `resume` / `onCancelled`.
#[napi(ts_args_type = "call: ExternalObject<'Call'>")]
pub fn take_events(call: &mut External<CallState>) -> Vec<RetryEvent> {
    std::mem::take(&mut call.events)
}

/// The current attempt succeeded; its events. (After the end it changes nothing.)
#[napi(ts_args_type = "call: ExternalObject<'Call'>")]
pub fn on_success(call: &mut External<CallState>) -> Vec<RetryEvent> {
    let call: &mut CallState = call;
    collect(call.listening, || call.inner.on_success()).1
}

/// Attempts of the request started so far (1 before the first failure; read-backs are not
/// attempts).
#[napi(ts_args_type = "call: ExternalObject<'Call'>")]
pub fn attempts(call: &External<CallState>) -> u32 {
    call.inner.attempts()
}

#[cfg(test)]
mod tests {
    // napi errors need the Node runtime to be dropped: the tests stay before them.
    use super::*;

    #[test]
    fn step_errors_have_codes() {
        assert_eq!(
            step_code(StepError::Finished).as_ref(),
            "K8SRETRY_CALL_FINISHED"
        );
        assert_eq!(
            step_code(StepError::ReadBackPending).as_ref(),
            "K8SRETRY_OUT_OF_ORDER"
        );
        assert_eq!(
            step_code(StepError::NoReadBackPending).as_ref(),
            "K8SRETRY_OUT_OF_ORDER"
        );
    }
}
