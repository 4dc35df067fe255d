//! The step API (`k8sretry_call_*`) and the blocking loop `k8sretry_run`.

use std::ffi::{c_char, c_void};

use k8sretry::{Call, Decision, ReadOutcome, StepError};

use crate::failure::k8sretry_failure;
use crate::guard::*;
use crate::policy::k8sretry_policy;
use crate::status::*;
use crate::types::*;

/// One logical call and its attempts; one thread at a time.
pub struct k8sretry_call {
    inner: Call,
}

/// What to do after a failed attempt or a read-back. Numbers are never reused.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum k8sretry_action {
    /// Sleep `delay_nanos`, then send the request again.
    K8SRETRY_ACTION_RETRY = 1,
    /// Sleep `delay_nanos` (often 0), then read the object back (by name, or by the request-id
    /// label for a generateName create) and report what you found with
    /// `k8sretry_call_on_read_back`.
    K8SRETRY_ACTION_READ_BACK = 2,
    /// The call succeeded with nothing to return (a delete found its object gone).
    K8SRETRY_ACTION_DONE = 3,
    /// Fail with the request's last error (never a read-back's); `give_up_reason` says why.
    K8SRETRY_ACTION_GIVE_UP = 4,
    /// The call succeeded: return the object the last read-back found. (5 was the retired
    /// CHECK_THEN_RETRY, now a READ_BACK with a delay.)
    K8SRETRY_ACTION_RECOVERED = 6,
    /// The retry budget deferred the retry: sleep `delay_nanos`, send NOTHING, then call
    /// `k8sretry_call_resume` for the next decision.
    K8SRETRY_ACTION_WAIT = 7,
}

/// What a read-back asked for by `K8SRETRY_ACTION_READ_BACK` found.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum k8sretry_read_outcome {
    /// An object carrying this call's request id.
    K8SRETRY_READ_OURS = 1,
    /// An object without this call's request id (for a create that adopts existing objects: any object).
    K8SRETRY_READ_NOT_OURS = 2,
    /// No such object.
    K8SRETRY_READ_MISSING = 3,
    /// The read failed; pass its failure.
    K8SRETRY_READ_FAILED = 4,
}

/// A decision of `k8sretry_call_on_failure`, `k8sretry_call_on_read_back` or
/// `k8sretry_call_resume`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct k8sretry_decision {
    /// What to do.
    pub action: k8sretry_action,
    /// With `K8SRETRY_ACTION_RETRY`, `K8SRETRY_ACTION_READ_BACK` and `K8SRETRY_ACTION_WAIT`:
    /// how long to sleep first, in nanoseconds.
    pub delay_nanos: u64,
    /// With `K8SRETRY_ACTION_GIVE_UP`: why; otherwise `K8SRETRY_GIVE_UP_NONE`.
    pub give_up_reason: k8sretry_give_up_reason,
}

fn nanos(delay: std::time::Duration) -> u64 {
    u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX)
}

impl From<Decision> for k8sretry_decision {
    fn from(decision: Decision) -> k8sretry_decision {
        use k8sretry_action::*;
        let (action, delay_nanos, reason) = match decision {
            Decision::Retry { delay } => (K8SRETRY_ACTION_RETRY, nanos(delay), None),
            Decision::ReadBack { delay } => (K8SRETRY_ACTION_READ_BACK, nanos(delay), None),
            Decision::Done => (K8SRETRY_ACTION_DONE, 0, None),
            Decision::Recovered => (K8SRETRY_ACTION_RECOVERED, 0, None),
            Decision::GiveUp(reason) => (K8SRETRY_ACTION_GIVE_UP, 0, Some(reason)),
            Decision::Wait { delay } => (K8SRETRY_ACTION_WAIT, nanos(delay), None),
        };
        k8sretry_decision {
            action,
            delay_nanos,
            give_up_reason: reason.into(),
        }
    }
}

/// One step of the protocol behind the panic guard: checks `out`, then `call`, runs `decide`
/// on the call and writes its decision to `out`.
///
/// # Safety
/// `call` is a live handle or NULL; `out` is writable or NULL; `decide` may borrow other
/// handles the caller vouches for the same way.
unsafe fn step(
    call: *mut k8sretry_call,
    out: *mut k8sretry_decision,
    decide: impl FnOnce(&mut Call) -> Result<Decision, k8sretry_status>,
) -> k8sretry_status {
    guard(|| {
        let out = out_arg(out)?;
        let call = unsafe { borrow_mut(call) }?;
        let decision = decide(&mut call.inner)?;
        unsafe { *out = decision.into() };
        Ok(())
    })
}

fn step_status(error: StepError) -> k8sretry_status {
    match error {
        StepError::Finished => K8SRETRY_STATUS_CALL_FINISHED,
        StepError::NoReadBackPending
        | StepError::ReadBackPending
        | StepError::NoWaitPending
        | StepError::WaitPending => K8SRETRY_STATUS_OUT_OF_ORDER,
    }
}

/// Starts a call before its first attempt. `function` names it in events and metrics;
/// `verb` is a `k8sretry_verb`, `recovery` a `k8sretry_recovery`. The caller can read back and
/// the call is not nested; `k8sretry_call_begin_with` says otherwise.
///
/// # Safety
/// `policy` is a live policy handle or NULL; `function` points to `function_len` readable
/// bytes; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_call_begin(
    policy: *const k8sretry_policy,
    function: *const c_char,
    function_len: usize,
    verb: u32,
    recovery: u32,
    out: *mut *mut k8sretry_call,
) -> k8sretry_status {
    guard(|| {
        let out = out_arg(out)?;
        let policy = unsafe { borrow(policy) }?;
        let function = unsafe { text(function, function_len) }?;
        let (verb, recovery) = (verb_from(verb)?, recovery_from(recovery)?);
        let inner = Call::new(&policy.inner, function)
            .with_verb(verb)
            .with_recovery(recovery);
        hand_out(k8sretry_call { inner }, out);
        Ok(())
    })
}

/// How to begin a call (`k8sretry_call_begin_with`). A zeroed struct is the safe request: verb
/// unknown, no recovery, no reader (the call never answers `K8SRETRY_ACTION_READ_BACK`), not
/// nested.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct k8sretry_call_options {
    /// A `k8sretry_verb`.
    pub verb: u32,
    /// A `k8sretry_recovery`.
    pub recovery: u32,
    /// Whether the caller can read the object back when asked. Without a reader, where a
    /// read-back would tell whether an uncertain write landed the call gives up
    /// `K8SRETRY_GIVE_UP_OUTCOME_UNKNOWN` (or `NON_RETRYABLE` when no attempt may have written),
    /// and a generateName create that may have written gives up `NOT_IDEMPOTENT`.
    pub has_reader: bool,
    /// Whether the call is made inside an attempt of another k8sretry call on the same logical
    /// task (your language's task-local marker): it then makes one attempt, its first failure
    /// answers `K8SRETRY_GIVE_UP_NESTED`, and it records nothing (no budget, breaker, event or
    /// metric). `k8sretry_run` marks its own attempts (per thread) and needs no flag.
    pub nested: bool,
    /// Time already spent on the call (a first attempt made before the call was begun), in
    /// nanoseconds: it counts against the policy's deadline.
    pub elapsed_nanos: u64,
}

/// Starts a call as `options` says (NULL: a zeroed `k8sretry_call_options`). `function` names it
/// in events and metrics.
///
/// # Safety
/// `policy` is a live policy handle or NULL; `function` points to `function_len` readable
/// bytes; `options` is NULL or readable; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_call_begin_with(
    policy: *const k8sretry_policy,
    function: *const c_char,
    function_len: usize,
    options: *const k8sretry_call_options,
    out: *mut *mut k8sretry_call,
) -> k8sretry_status {
    guard(|| {
        let out = out_arg(out)?;
        let policy = unsafe { borrow(policy) }?;
        let function = unsafe { text(function, function_len) }?;
        let options = if options.is_null() {
            k8sretry_call_options::default()
        } else {
            unsafe { *options }
        };
        let (verb, recovery) = (verb_from(options.verb)?, recovery_from(options.recovery)?);
        let inner = Call::start(&policy.inner, function, options.nested)
            .with_verb(verb)
            .with_recovery(recovery)
            .with_reader(options.has_reader)
            .with_elapsed(std::time::Duration::from_nanos(options.elapsed_nanos));
        hand_out(k8sretry_call { inner }, out);
        Ok(())
    })
}

/// The caller cancelled the call, whatever it was doing (an attempt, a sleep before a retry or a
/// read-back, a wait, a read-back): writes `K8SRETRY_ACTION_GIVE_UP` with
/// `K8SRETRY_GIVE_UP_CANCELLED`; the call records one outcome, one event and one metric.
/// `K8SRETRY_STATUS_CALL_FINISHED` after the end.
///
/// # Safety
/// `call` is a live handle or NULL; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_call_on_cancelled(
    call: *mut k8sretry_call,
    out: *mut k8sretry_decision,
) -> k8sretry_status {
    unsafe { step(call, out, |call| call.on_cancelled().map_err(step_status)) }
}

/// Reports that the current attempt failed with `failure`; writes the decision.
/// `K8SRETRY_STATUS_OUT_OF_ORDER` while a read-back result is expected,
/// `K8SRETRY_STATUS_CALL_FINISHED` after the end.
///
/// # Safety
/// `call` and `failure` are live handles or NULL; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_call_on_failure(
    call: *mut k8sretry_call,
    failure: *const k8sretry_failure,
    out: *mut k8sretry_decision,
) -> k8sretry_status {
    unsafe {
        step(call, out, |call| {
            let failure = borrow(failure)?;
            call.try_on_failure(&failure.inner).map_err(step_status)
        })
    }
}

/// Reports what the read-back asked for by `K8SRETRY_ACTION_READ_BACK` found (`outcome` is a
/// `k8sretry_read_outcome`); writes the decision. `failure` is the read's own failure with
/// `K8SRETRY_READ_FAILED` (required then) and ignored otherwise (may be NULL).
/// `K8SRETRY_STATUS_OUT_OF_ORDER` when no read-back was asked for.
///
/// # Safety
/// `call` is a live handle or NULL; `failure` is a live handle or NULL; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_call_on_read_back(
    call: *mut k8sretry_call,
    outcome: u32,
    failure: *const k8sretry_failure,
    out: *mut k8sretry_decision,
) -> k8sretry_status {
    unsafe {
        step(call, out, |call| {
            let outcome = match outcome {
                1 => ReadOutcome::Ours,
                2 => ReadOutcome::NotOurs,
                3 => ReadOutcome::Missing,
                4 => ReadOutcome::Failed(&borrow(failure)?.inner),
                _ => return Err(K8SRETRY_STATUS_INVALID_ARGUMENT),
            };
            call.on_read_back(outcome).map_err(step_status)
        })
    }
}

/// After a `K8SRETRY_ACTION_WAIT` has been slept (nothing sent): writes the next decision,
/// `K8SRETRY_ACTION_RETRY` (with a zero delay: send now), `K8SRETRY_ACTION_WAIT` again,
/// `K8SRETRY_ACTION_READ_BACK` (a generateName create looks for its object first) or
/// `K8SRETRY_ACTION_GIVE_UP`. `K8SRETRY_STATUS_OUT_OF_ORDER` when the call is not waiting,
/// `K8SRETRY_STATUS_CALL_FINISHED` after the end. One thread at a time per call.
///
/// # Safety
/// `call` is a live handle or NULL; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_call_resume(
    call: *mut k8sretry_call,
    out: *mut k8sretry_decision,
) -> k8sretry_status {
    unsafe { step(call, out, |call| call.resume().map_err(step_status)) }
}

/// Reports that the current attempt succeeded. `K8SRETRY_STATUS_CALL_FINISHED` after the end,
/// `K8SRETRY_STATUS_OUT_OF_ORDER` while a read-back result is expected or the call waits to be
/// resumed.
///
/// # Safety
/// `call` is a live call handle or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_call_on_success(call: *mut k8sretry_call) -> k8sretry_status {
    guard(|| {
        let call = unsafe { borrow_mut(call) }?;
        if call.inner.is_finished() {
            return Err(K8SRETRY_STATUS_CALL_FINISHED);
        }
        if call.inner.awaiting_read_back() || call.inner.awaiting_resume() {
            return Err(K8SRETRY_STATUS_OUT_OF_ORDER);
        }
        call.inner.on_success();
        Ok(())
    })
}

/// Attempts started so far (1 before the first failure).
///
/// # Safety
/// `call` is a live call handle or NULL; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_call_attempts(
    call: *const k8sretry_call,
    out: *mut u32,
) -> k8sretry_status {
    guard(|| {
        let out = out_arg(out)?;
        let call = unsafe { borrow(call) }?;
        unsafe { *out = call.inner.attempts() };
        Ok(())
    })
}

/// After the call gave up on a retryable failure (retries, breaker, deadline or budget used up):
/// when to try the whole call again, for a reconciler's requeue (the server's hint or the next
/// backoff without jitter). `*out_found` is false after any other end or before the end.
///
/// # Safety
/// `call` is a live call handle or NULL; `out_found` and `out_nanos` are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_call_retry_after(
    call: *const k8sretry_call,
    out_found: *mut bool,
    out_nanos: *mut u64,
) -> k8sretry_status {
    guard(|| {
        let (found, out) = (out_arg(out_found)?, out_arg(out_nanos)?);
        let call = unsafe { borrow(call) }?;
        let after = call.inner.retry_after();
        unsafe {
            *found = after.is_some();
            *out = after.map_or(0, nanos);
        }
        Ok(())
    })
}

/// Frees a call. NULL is a no-op.
///
/// # Safety
/// `call` came from this library and is not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_call_free(call: *mut k8sretry_call) {
    let _ = guard(|| {
        unsafe { take_back(call) };
        Ok(())
    });
}

/// One attempt of `k8sretry_run`: return 0 on success; on failure describe it in `failure`
/// (reset before each attempt) and return non-zero. `attempt` is 1-based. `failure` is owned by
/// `k8sretry_run` and valid only during the callback: fill it with the `k8sretry_failure_set_*`
/// functions, never pass it to `k8sretry_failure_free` and never keep it.
pub type k8sretry_attempt_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        attempt: u32,
        failure: *mut k8sretry_failure,
    ) -> i32,
>;

/// How `k8sretry_run` ended.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct k8sretry_run_result {
    /// Whether the last attempt succeeded.
    pub succeeded: bool,
    /// Attempts made.
    pub attempts: u32,
    /// Why it gave up (`K8SRETRY_GIVE_UP_NONE` on success).
    pub give_up_reason: k8sretry_give_up_reason,
}

/// Calls `attempt` until it succeeds or the policy gives up, sleeping between attempts on this
/// thread. Returns `K8SRETRY_STATUS_OK` when the loop ran to its end, successful or not: read
/// `out->succeeded`. No recovery is declared; `verb` is a `k8sretry_verb`.
///
/// # Safety
/// `policy` is a live policy handle or NULL; `function` points to `function_len` readable
/// bytes; `attempt` may be called with `userdata` from this thread; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_run(
    policy: *const k8sretry_policy,
    function: *const c_char,
    function_len: usize,
    verb: u32,
    attempt: k8sretry_attempt_fn,
    userdata: *mut c_void,
    out: *mut k8sretry_run_result,
) -> k8sretry_status {
    guard(|| {
        let out = out_arg(out)?;
        let policy = unsafe { borrow(policy) }?;
        let function = unsafe { text(function, function_len) }?;
        let attempt = attempt.ok_or(K8SRETRY_STATUS_NULL_ARGUMENT)?;
        let verb = verb_from(verb)?;
        let mut failure = k8sretry_failure::default();
        let mut n = 0;
        // The shared driver (attempts marked as such on this thread: a k8sretry_run inside an
        // attempt makes one attempt).
        let ran = k8sretry::retry_blocking(&policy.inner, function, verb, || {
            n += 1;
            failure.inner = Default::default();
            if unsafe { attempt(userdata, n, &mut failure) } == 0 {
                Ok(n)
            } else {
                Err(Box::new(failure.inner.clone()))
            }
        });
        let result = match ran {
            Ok(attempts) => k8sretry_run_result {
                succeeded: true,
                attempts,
                give_up_reason: None.into(),
            },
            Err(gave_up) => k8sretry_run_result {
                succeeded: false,
                attempts: gave_up.attempts,
                give_up_reason: Some(gave_up.reason).into(),
            },
        };
        unsafe { *out = result };
        Ok(())
    })
}
