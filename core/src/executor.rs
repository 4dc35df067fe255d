//! Rust executors: loops that call, classify, sleep and call again.

use std::error::Error as StdError;
use std::fmt;

use crate::call::Call;
use crate::decision::GiveUpReason;
use crate::driver::{NoReadBack, drive};
use crate::failure::{Failure, Verb};
use crate::nesting;
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

impl<E: ToFailure + ?Sized> ToFailure for Box<E> {
    fn to_failure(&self) -> Failure {
        (**self).to_failure()
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

/// Runs `op`, one request with HTTP verb `verb`, under `policy` on tokio, retrying as the core
/// decides; the sleep between attempts is a `tokio::time::sleep`, so dropping the returned future
/// cancels it (the call then ends `Cancelled`: one outcome, one event, one metric). `name` names
/// the call in events and metrics. Called from inside the attempt of another k8sretry call (a
/// wrapper inside a wrapper), it makes one attempt and leaves the retries to the outer call
/// ([`GiveUpReason::Nested`]).
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
    op: F,
) -> Result<T, RetryError<E>>
where
    E: ToFailure,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let call = Call::start(policy, name, nesting::active()).with_verb(verb);
    let no_read_back: Option<NoReadBack<T, E>> = None;
    drive(call, None, op, tokio::time::sleep, no_read_back, None).await
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
    let call = Call::start(policy, name, nesting::active()).with_verb(verb);
    let no_read_back: Option<NoReadBack<T, E>> = None;
    let attempt = || std::future::ready(op());
    let sleep = |delay| {
        std::thread::sleep(delay);
        std::future::ready(())
    };
    nesting::block_on(drive(call, None, attempt, sleep, no_read_back, None))
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
