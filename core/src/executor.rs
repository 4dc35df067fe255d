//! Rust executors: loops that call, classify, sleep and call again.

use crate::driver::first_then_drive;
use crate::error::{RetryError, ToFailure};
use crate::failure::Verb;
use crate::nesting;
use crate::policy::Policy;

/// Runs `op`, one request with HTTP verb `verb`, under `policy` on tokio, retrying as the core
/// decides; the sleep between attempts is a `tokio::time::sleep`, so dropping the returned future
/// cancels it (the call then ends `Cancelled`: one outcome, one event, one metric). `name` names
/// the call in events and metrics. Called from inside the attempt of another k8sretry call (a
/// wrapper inside a wrapper), it makes one attempt and leaves the retries to the outer call
/// ([`GiveUpReason::Nested`](crate::GiveUpReason::Nested)).
///
/// The verb decides what happens after an ambiguous failure (a reset connection, a timeout, a 5xx:
/// the server may have carried the request out): `GET`, `LIST`, `PUT` and `DELETE` are sent again,
/// `POST` and `PATCH` are not: the call gives up with [`GiveUpReason::NotIdempotent`](crate::GiveUpReason::NotIdempotent) and the
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
    first_then_drive(policy, name, verb, op, tokio::time::sleep).await
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
    let attempt = || std::future::ready(op());
    let sleep = |delay| {
        std::thread::sleep(delay);
        std::future::ready(())
    };
    nesting::block_on(first_then_drive(policy, name, verb, attempt, sleep))
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
