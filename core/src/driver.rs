//! The one driver of the Rust entry points (`retry`, `retry_blocking`, the kube helpers, the kube
//! layer, C's `k8sretry_run`): a small loop that performs the effects a [`Call`] asks for
//! (attempt, sleep then attempt, wait then resume, read back, return, raise) and reports what
//! happened. It decides nothing. Sync callers run it with [`crate::nesting::block_on`] over
//! futures that are ready at once. [`first_then_drive`] is its front for `retry` and
//! `retry_blocking`: the call is begun only when the first attempt fails, as the Python and Node
//! bindings do (a success is recorded without one).

use std::future::Future;
use std::time::Duration;

use crate::call::Call;
use crate::decision::{Decision, GiveUpReason, ReadOutcome};
use crate::error::{RetryError, ToFailure};
use crate::failure::Verb;
use crate::metrics;
use crate::nesting::{self, Scoped};
use crate::policy::Policy;
use crate::success;

/// What a read-back found: the object and whether it carries this call's request id (`None`:
/// no such object).
pub(crate) type Found<T> = Option<(T, bool)>;

/// The read-back of callers that have none.
pub(crate) type NoReadBack<T, E> = fn() -> std::future::Ready<Result<Found<T>, E>>;

/// A call that is cancelled if the driver stops before the call ends: its future was dropped
/// (a timeout, a `select!`, an aborted task) during an attempt, a sleep, a wait or a read-back.
/// The engine then records one outcome, one event and one metric, as for any cancel.
struct Live(Call);

impl Drop for Live {
    fn drop(&mut self) {
        if !self.0.is_finished() && !std::thread::panicking() {
            let _ = self.0.on_cancelled();
        }
    }
}

/// The first attempt of a call not begun yet ([`first_then_drive`]): when the driver stops during
/// it (its future dropped), the call is begun then and cancelled, as [`Live`] cancels a begun one.
struct Unbegun<'a> {
    policy: &'a Policy,
    name: &'a str,
    verb: Verb,
    nested: bool,
    running: bool,
}

impl Unbegun<'_> {
    fn call(&self) -> Call {
        Call::start(self.policy, self.name, self.nested).with_verb(self.verb)
    }
}

impl Drop for Unbegun<'_> {
    fn drop(&mut self) {
        if self.running && !std::thread::panicking() {
            let _ = self.call().on_cancelled();
        }
    }
}

/// Runs the first attempt of a call of `name` (one request of `verb`) before any [`Call`] is
/// made: a success costs a budget deposit, a breaker success and a counter, the same record as
/// `Call::new(..).on_success()` (none for a nested call); a failure begins the call, with the first
/// attempt's time counted toward the policy's deadline, and [`drive`]s it from there.
pub(crate) async fn first_then_drive<T, E, A, AF, S, SF>(
    policy: &Policy,
    name: &str,
    verb: Verb,
    mut attempt: A,
    sleep: S,
) -> Result<T, RetryError<E>>
where
    E: ToFailure,
    A: FnMut() -> AF,
    AF: Future<Output = Result<T, E>>,
    S: FnMut(Duration) -> SF,
    SF: Future<Output = ()>,
{
    let mut first = Unbegun {
        policy,
        name,
        verb,
        nested: nesting::active(),
        running: true,
    };
    // Only a deadline reads when the first attempt started.
    let started = policy.deadline().map(|_| policy.clock().monotonic());
    let outcome = inside(&mut attempt).await;
    first.running = false;
    let error = match outcome {
        Ok(value) => {
            if !first.nested {
                success::record(policy, &metrics::function(name));
            }
            return Ok(value);
        }
        Err(error) => error,
    };
    let elapsed = started.map_or(Duration::ZERO, |t| {
        policy.clock().monotonic().saturating_sub(t)
    });
    let call = first.call().with_elapsed(elapsed);
    let no_read_back: Option<NoReadBack<T, E>> = None;
    drive(call, Some(error), attempt, sleep, no_read_back, None).await
}

/// Starts an attempt (or a read) inside the nesting mark, and polls it inside the mark: a
/// blocking caller's work runs when the closure is called, an async one's when it is polled.
fn inside<F: Future>(start: &mut impl FnMut() -> F) -> Scoped<F> {
    let _inside = nesting::enter();
    Scoped(start())
}

/// How a driver sleeps; a zero delay is not slept.
async fn pause<S, SF>(sleep: &mut S, delay: Duration)
where
    S: FnMut(Duration) -> SF,
    SF: Future<Output = ()>,
{
    if !delay.is_zero() {
        sleep(delay).await;
    }
}

/// Carries out `call`: runs `attempt` (unless `first` is the first attempt's error already),
/// sleeps with `sleep`, reads back with `read_back` when the call asks (the call is told whether
/// there is a reader), and returns the value, `done` for [`Decision::Done`], the object read back
/// for [`Decision::Recovered`], or the last attempt's error with why the call gave up. Attempts
/// and reads run inside the nesting mark ([`crate::nesting`]).
pub(crate) async fn drive<T, E, A, AF, S, SF, R, RF>(
    call: Call,
    first: Option<E>,
    mut attempt: A,
    mut sleep: S,
    mut read_back: Option<R>,
    mut done: Option<T>,
) -> Result<T, RetryError<E>>
where
    E: ToFailure,
    A: FnMut() -> AF,
    AF: Future<Output = Result<T, E>>,
    S: FnMut(Duration) -> SF,
    SF: Future<Output = ()>,
    R: FnMut() -> RF,
    RF: Future<Output = Result<Found<T>, E>>,
{
    let mut live = Live(call.with_reader(read_back.is_some()));
    let call = &mut live.0;
    let mut error = match first {
        Some(error) => error,
        None => match inside(&mut attempt).await {
            Ok(value) => {
                call.on_success();
                return Ok(value);
            }
            Err(error) => error,
        },
    };
    let mut earlier = Vec::new();
    let mut found: Option<T> = None;
    let mut decision = call.on_failure(&error.to_failure());
    loop {
        let step = match decision {
            Decision::Retry { delay } => {
                pause(&mut sleep, delay).await;
                match inside(&mut attempt).await {
                    Ok(value) => {
                        call.on_success();
                        return Ok(value);
                    }
                    Err(next) => {
                        earlier.push(std::mem::replace(&mut error, next));
                        Ok(call.on_failure(&error.to_failure()))
                    }
                }
            }
            Decision::Wait { delay } => {
                sleep(delay).await;
                call.resume()
            }
            Decision::ReadBack { delay } => {
                // The call knows whether there is a reader and asks only then.
                let Some(read) = read_back.as_mut() else {
                    debug_assert!(false, "a read-back was asked for without a reader");
                    let _ = call.on_cancelled();
                    return Err(stop(call, error, GiveUpReason::OutcomeUnknown, earlier));
                };
                pause(&mut sleep, delay).await;
                match inside(read).await {
                    Ok(Some((object, ours))) => {
                        found = Some(object);
                        let outcome = if ours {
                            ReadOutcome::Ours
                        } else {
                            ReadOutcome::NotOurs
                        };
                        call.on_read_back(outcome)
                    }
                    Ok(None) => call.on_read_back(ReadOutcome::Missing),
                    Err(read_error) => {
                        call.on_read_back(ReadOutcome::Failed(&read_error.to_failure()))
                    }
                }
            }
            Decision::Done => match done.take() {
                Some(value) => return Ok(value),
                None => return Err(stop(call, error, GiveUpReason::NonRetryable, earlier)),
            },
            Decision::Recovered => match found.take() {
                Some(value) => return Ok(value),
                None => return Err(stop(call, error, GiveUpReason::NonRetryable, earlier)),
            },
            Decision::GiveUp(reason) => return Err(stop(call, error, reason, earlier)),
        };
        // Every step above is one the call asked for: an out-of-order answer cannot come.
        decision = step.unwrap_or(Decision::GiveUp(GiveUpReason::NonRetryable));
    }
}

fn stop<E>(call: &Call, error: E, reason: GiveUpReason, earlier: Vec<E>) -> RetryError<E> {
    RetryError {
        error,
        attempts: call.attempts(),
        reason,
        earlier,
        retry_after: call.retry_after(),
    }
}
