//! The crate's error types: an invalid policy ([`PolicyError`]), a call that gave up
//! ([`RetryError`]), and how a caller's error becomes a [`Failure`] ([`ToFailure`]).

use std::error::Error as StdError;
use std::fmt;

use crate::decision::GiveUpReason;
use crate::failure::Failure;
use crate::presets::PRESETS;

/// An invalid policy: an unknown preset, an out-of-range value, or bad JSON.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    /// No preset has this name.
    #[error("unknown preset {0:?} (expected one of: {list})", list = PRESETS.join(", "))]
    UnknownPreset(String),
    /// A field is out of range.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The snake_case field name.
        field: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The JSON text is malformed or has unknown keys or wrong types.
    #[error("invalid policy JSON: {0}")]
    Json(String),
}

pub(crate) fn invalid(field: &'static str, message: String) -> PolicyError {
    PolicyError::Invalid { field, message }
}

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
    /// [`Call::retry_after`](crate::Call::retry_after).
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
