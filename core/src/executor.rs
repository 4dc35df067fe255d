//! Rust executors: loops that call, classify, sleep and call again.

use std::error::Error as StdError;
use std::fmt;

use crate::call::Call;
use crate::decision::{Decision, GiveUpReason};
use crate::failure::{Failure, Verb};
use crate::policy::Policy;

/// Turns a caller's error into a [`Failure`]. Implement it for your error type, or use
/// the `kube` integration's implementation for `kube::Error`.
pub trait ToFailure {
    /// What the engine needs to know about this error.
    fn to_failure(&self) -> Failure;
}

impl ToFailure for std::io::Error {
    fn to_failure(&self) -> Failure {
        let failure = Failure::new().with_error("io::Error", self.to_string());
        match self.raw_os_error() {
            Some(errno) => failure.with_errno(errno),
            None => failure.with_io_kind(self.kind()),
        }
    }
}

impl ToFailure for Failure {
    fn to_failure(&self) -> Failure {
        self.clone()
    }
}

/// The original error of the last attempt, with how the call ended.
#[derive(Debug)]
pub struct RetryError<E> {
    /// The last attempt's error, unchanged.
    pub error: E,
    /// Attempts made (1 when the first attempt was not retried).
    pub attempts: u32,
    /// Why the call gave up.
    pub reason: GiveUpReason,
    /// Errors of the earlier attempts, oldest first.
    pub earlier: Vec<E>,
    /// After a give-up on a retryable failure: when to try the whole call again (the server's
    /// hint or the next backoff), e.g. a reconciler's `Action::requeue`. See
    /// [`Call::retry_after`].
    pub retry_after: Option<std::time::Duration>,
}

impl<E> RetryError<E> {
    /// The original error.
    pub fn into_inner(self) -> E {
        self.error
    }
}

/// The give-up alone: the original error is the [`source`](StdError::source), so a report that
/// walks the chain (anyhow's `{:#}`) prints it once.
impl<E> fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gave up after {} attempt(s): {}",
            self.attempts, self.reason
        )
    }
}

impl<E: StdError + 'static> StdError for RetryError<E> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.error)
    }
}

/// What one failed attempt leads to in a generic executor (no recovery declared).
enum Next<E> {
    /// Sleep, then send again.
    Sleep(std::time::Duration, E),
    /// Sleep, send nothing, then ask [`Call::resume`] (see [`after_resume`]).
    Wait(std::time::Duration, E),
    Stop(RetryError<E>),
}

fn after_failure<E: ToFailure>(call: &mut Call, error: E, earlier: &mut Vec<E>) -> Next<E> {
    let decision = call.on_failure(&error.to_failure());
    next(call, decision, error, earlier)
}

/// A wait has been slept: what the deferred retry leads to.
fn after_resume<E>(call: &mut Call, error: E, earlier: &mut Vec<E>) -> Next<E> {
    let decision = call
        .resume()
        .unwrap_or(Decision::GiveUp(GiveUpReason::NonRetryable));
    next(call, decision, error, earlier)
}

fn next<E>(call: &Call, decision: Decision, error: E, earlier: &mut Vec<E>) -> Next<E> {
    let attempts = call.attempts();
    match decision {
        Decision::Retry { delay } => Next::Sleep(delay, error),
        Decision::Wait { delay } => Next::Wait(delay, error),
        Decision::GiveUp(reason) => Next::Stop(RetryError {
            error,
            attempts,
            reason,
            earlier: std::mem::take(earlier),
            retry_after: call.retry_after(),
        }),
        // Generic executors declare no recovery, so the core never asks for these; treat them
        // as the end of the call with the error in hand.
        Decision::ReadBack { .. } | Decision::Done | Decision::Recovered => {
            Next::Stop(RetryError {
                error,
                attempts,
                reason: GiveUpReason::NonRetryable,
                earlier: std::mem::take(earlier),
                retry_after: None,
            })
        }
    }
}

/// Runs `op`, one request with HTTP verb `verb`, under `policy` on tokio, retrying as the core
/// decides; the sleep between attempts is a `tokio::time::sleep`, so dropping the returned future
/// cancels it. `name` names the call in events and metrics.
///
/// The verb decides what happens after an ambiguous failure (a reset connection, a timeout, a 5xx:
/// the server may have carried the request out): `GET`, `LIST`, `PUT` and `DELETE` are sent again,
/// `POST` and `PATCH` are not: the call gives up with [`GiveUpReason::NotIdempotent`] and the
/// original error (a second create would make a second object). For writes that can be made safe to
/// repeat, use the `kube` feature's helpers (`create_idempotent`, `patch_idempotent`, ...), which
/// stamp and read back. A 429 or a refused connection is retried for every verb: the server did
/// nothing.
///
/// ```
/// # async fn run() {
/// use k8sretry::{retry, Failure, Policy, Verb};
/// let policy = Policy::preset("read").unwrap();
/// let pod = retry(&policy, "read_pod", Verb::Get, || async { Ok::<_, Failure>("web-0") }).await;
/// # }
/// ```
#[cfg(feature = "tokio")]
pub async fn retry<T, E, F, Fut>(
    policy: &Policy,
    name: &str,
    verb: Verb,
    mut op: F,
) -> Result<T, RetryError<E>>
where
    E: ToFailure,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut call = Call::new(policy, name).with_verb(verb);
    let mut earlier = Vec::new();
    loop {
        match op().await {
            Ok(value) => {
                call.on_success();
                return Ok(value);
            }
            Err(error) => {
                let mut next = after_failure(&mut call, error, &mut earlier);
                loop {
                    match next {
                        Next::Sleep(delay, error) => {
                            earlier.push(error);
                            tokio::time::sleep(delay).await;
                            break;
                        }
                        Next::Wait(delay, error) => {
                            tokio::time::sleep(delay).await;
                            next = after_resume(&mut call, error, &mut earlier);
                        }
                        Next::Stop(stop) => return Err(stop),
                    }
                }
            }
        }
    }
}

/// [`retry`] for an operation that is not one request of a known verb, and that the caller
/// declares safe to run again after any failure, including one where it may already have taken
/// effect (a read, a whole read-modify-write that checks its own precondition, several calls that
/// each tolerate a repeat). Every retryable failure is retried: nothing protects a write here.
#[cfg(feature = "tokio")]
pub async fn retry_idempotent<T, E, F, Fut>(
    policy: &Policy,
    name: &str,
    op: F,
) -> Result<T, RetryError<E>>
where
    E: ToFailure,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    retry(policy, name, Verb::Unknown, op).await
}

/// [`retry`] on the current thread, sleeping with `std::thread::sleep`.
pub fn retry_blocking<T, E, F>(
    policy: &Policy,
    name: &str,
    verb: Verb,
    mut op: F,
) -> Result<T, RetryError<E>>
where
    E: ToFailure,
    F: FnMut() -> Result<T, E>,
{
    let mut call = Call::new(policy, name).with_verb(verb);
    let mut earlier = Vec::new();
    loop {
        match op() {
            Ok(value) => {
                call.on_success();
                return Ok(value);
            }
            Err(error) => {
                let mut next = after_failure(&mut call, error, &mut earlier);
                loop {
                    match next {
                        Next::Sleep(delay, error) => {
                            earlier.push(error);
                            std::thread::sleep(delay);
                            break;
                        }
                        Next::Wait(delay, error) => {
                            std::thread::sleep(delay);
                            next = after_resume(&mut call, error, &mut earlier);
                        }
                        Next::Stop(stop) => return Err(stop),
                    }
                }
            }
        }
    }
}

/// [`retry_idempotent`] on the current thread: the caller declares `op` safe to run again after
/// any failure.
pub fn retry_blocking_idempotent<T, E, F>(
    policy: &Policy,
    name: &str,
    op: F,
) -> Result<T, RetryError<E>>
where
    E: ToFailure,
    F: FnMut() -> Result<T, E>,
{
    retry_blocking(policy, name, Verb::Unknown, op)
}
