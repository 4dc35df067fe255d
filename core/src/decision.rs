//! The words of the per-call protocol (DESIGN §1, §4): what a binding declares
//! ([`Recovery`]), what it reports after a read-back ([`ReadOutcome`]), what the engine answers
//! ([`Decision`]) and why a call ended unsuccessfully ([`GiveUpReason`]). A leaf module: the
//! call state machine, events and metrics all import it, it imports nothing of theirs.

use std::fmt;
use std::time::Duration;

use crate::failure::Failure;

/// How a write whose outcome is unknown is recovered. Bindings normally get it from
/// [`crate::plan`], which chooses it from what they know about the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Recovery {
    /// No recovery: ambiguous failures of non-idempotent verbs are not retried.
    #[default]
    None,
    /// A named create stamped with a request id: `AlreadyExists` after an ambiguous attempt
    /// means "read it back and check the id" ([`Decision::ReadBack`]).
    Create,
    /// A create that adopts existing objects (`adopt_existing`), unstamped: every `AlreadyExists` is read back and adopted
    /// (the runner hooks' old behaviour; opt-in only).
    CreateAdopt,
    /// A `generateName` create stamped with a request id (annotation and label). A resend would
    /// get a fresh name instead of `AlreadyExists`, so after an attempt that may have written,
    /// the binding lists by label before each resend ([`Decision::ReadBack`] with a delay).
    CreateGenerated,
    /// A delete: `NotFound` after an ambiguous attempt means our delete happened.
    Delete {
        /// Also treat a `NotFound` on the first attempt as success.
        missing_ok: bool,
    },
    /// Repeating the request is safe (a merge patch, server-side apply, a review create).
    Idempotent,
    /// A read-modify-write (`retry_on_conflict`): a `Conflict` is retried, because the caller
    /// re-reads before it writes again. After an ambiguous failure it is NOT re-run: the change
    /// may have landed, and running it again would apply it twice.
    RetryConflict,
    /// A replace (PUT) carrying `metadata.resourceVersion`, stamped with a request id: resent
    /// after an ambiguous failure; a `Conflict` after that is read back (ours: done).
    ReplaceStamped,
    /// Never resent after an ambiguous failure, whatever the verb: a PUT with a
    /// `resourceVersion` that cannot be read back (a resend would meet its own write as a
    /// `Conflict` and could not tell).
    NotIdempotent,
}

impl Recovery {
    /// Every recovery, by name (the names of [`Recovery::parse`]).
    pub const NAMES: [&'static str; 10] = [
        "none",
        "create",
        "create_adopt",
        "create_generated",
        "delete",
        "delete_missing_ok",
        "idempotent",
        "retry_conflict",
        "replace_stamped",
        "not_idempotent",
    ];

    /// Parses one of [`Recovery::NAMES`].
    pub fn parse(name: &str) -> Option<Recovery> {
        Some(match name {
            "none" => Recovery::None,
            "create" => Recovery::Create,
            "create_adopt" => Recovery::CreateAdopt,
            "create_generated" => Recovery::CreateGenerated,
            "delete" => Recovery::Delete { missing_ok: false },
            "delete_missing_ok" => Recovery::Delete { missing_ok: true },
            "idempotent" => Recovery::Idempotent,
            "retry_conflict" => Recovery::RetryConflict,
            "replace_stamped" => Recovery::ReplaceStamped,
            "not_idempotent" => Recovery::NotIdempotent,
            _ => return None,
        })
    }

    /// The name [`Recovery::parse`] reads.
    pub fn as_str(self) -> &'static str {
        match self {
            Recovery::None => "none",
            Recovery::Create => "create",
            Recovery::CreateAdopt => "create_adopt",
            Recovery::CreateGenerated => "create_generated",
            Recovery::Delete { missing_ok: false } => "delete",
            Recovery::Delete { missing_ok: true } => "delete_missing_ok",
            Recovery::Idempotent => "idempotent",
            Recovery::RetryConflict => "retry_conflict",
            Recovery::ReplaceStamped => "replace_stamped",
            Recovery::NotIdempotent => "not_idempotent",
        }
    }

    /// Whether a request of `verb` may be sent again after an attempt that may have been carried
    /// out: it is idempotent, or a read-back can tell whether it landed. A read-modify-write is
    /// never re-run then: the change may be there, and running it again applies it twice.
    pub(crate) fn allows_resend(self, verb: crate::failure::Verb) -> bool {
        match self {
            Recovery::RetryConflict | Recovery::NotIdempotent => false,
            Recovery::None => verb.is_idempotent(),
            _ => true,
        }
    }
}

/// Why a call gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GiveUpReason {
    /// The caller cancelled.
    Cancelled = 0,
    /// The failure is not retryable.
    NonRetryable = 1,
    /// The request may have been carried out (its response was lost) and sending it again is
    /// not safe (a JSON patch, a create that cannot be read back): its outcome is unknown.
    NotIdempotent = 2,
    /// `max_retries` retries were made.
    MaxRetries = 3,
    /// The circuit breaker is open.
    CircuitOpen = 4,
    /// The next delay would pass the deadline.
    Deadline = 5,
    /// The retry budget is empty.
    BudgetExhausted = 6,
    /// A read-back that would have told whether the write landed could not be done (it failed
    /// past its own retries): the write's outcome is unknown.
    OutcomeUnknown = 7,
    /// The server asked for a wait (`Retry-After`, `retryAfterSeconds`) longer than the policy's
    /// `retry_after_cap`: the engine never retries sooner than asked, so it gives up at once;
    /// [`crate::Call::retry_after`] is the server's hint.
    RetryAfterTooLong = 8,
    /// The call was made inside the attempt of another call of this engine (a wrapper inside a
    /// wrapper): it makes one attempt and leaves the retries to the enclosing call, so attempts
    /// never multiply. Raise the error unchanged; the call records nothing (the enclosing call
    /// counts the outcome).
    Nested = 9,
}

impl GiveUpReason {
    /// Every reason, in numeric order.
    pub const ALL: [GiveUpReason; 10] = [
        GiveUpReason::Cancelled,
        GiveUpReason::NonRetryable,
        GiveUpReason::NotIdempotent,
        GiveUpReason::MaxRetries,
        GiveUpReason::CircuitOpen,
        GiveUpReason::Deadline,
        GiveUpReason::BudgetExhausted,
        GiveUpReason::OutcomeUnknown,
        GiveUpReason::RetryAfterTooLong,
        GiveUpReason::Nested,
    ];

    /// The name used in vectors, events and metrics (`MaxRetries`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            GiveUpReason::Cancelled => "Cancelled",
            GiveUpReason::NonRetryable => "NonRetryable",
            GiveUpReason::NotIdempotent => "NotIdempotent",
            GiveUpReason::MaxRetries => "MaxRetries",
            GiveUpReason::CircuitOpen => "CircuitOpen",
            GiveUpReason::Deadline => "Deadline",
            GiveUpReason::BudgetExhausted => "BudgetExhausted",
            GiveUpReason::OutcomeUnknown => "OutcomeUnknown",
            GiveUpReason::RetryAfterTooLong => "RetryAfterTooLong",
            GiveUpReason::Nested => "Nested",
        }
    }

    /// Whether the call gave up on a failure a retry could have fixed (retries, budget, breaker
    /// or deadline used up, a hint too long, a write whose outcome stayed unknown), as opposed
    /// to a final answer (`NonRetryable`) or the caller's cancel. The deployed Python decorator
    /// logged these as `k8s_api_call_failed_max_retries`, and its users alert on that name.
    pub fn after_retryable_failure(self) -> bool {
        // A list of the reasons that are, so that a reason added later is not one by accident.
        matches!(
            self,
            GiveUpReason::MaxRetries
                | GiveUpReason::BudgetExhausted
                | GiveUpReason::CircuitOpen
                | GiveUpReason::Deadline
                | GiveUpReason::RetryAfterTooLong
                | GiveUpReason::NotIdempotent
                | GiveUpReason::OutcomeUnknown
        )
    }
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the binding does next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Sleep for `delay`, then send the request again.
    Retry {
        /// How long to wait.
        delay: Duration,
    },
    /// Sleep for `delay` (often zero), then read the object back (by name, or by the request-id
    /// label for a `generateName` create) and report what was found with
    /// [`crate::Call::on_read_back`].
    ReadBack {
        /// How long to wait before the read.
        delay: Duration,
    },
    /// The call succeeded without a result to return (a delete that found its object gone).
    Done,
    /// The call succeeded: return the object the last read-back found.
    Recovered,
    /// Raise the last error of the request itself (never a read-back's error), unchanged.
    GiveUp(GiveUpReason),
    /// The retry budget refused a retry, but the call has a deadline that a later retry still
    /// fits before: sleep for `delay`, send NOTHING, then ask again with [`crate::Call::resume`]
    /// (which answers `Retry` with a zero delay, `Wait` again, or `GiveUp`). Each wait uses up
    /// one of the call's `max_retries` slots, so a call never waits longer than its retries
    /// would have slept.
    Wait {
        /// How long to wait before [`crate::Call::resume`].
        delay: Duration,
    },
}

impl Decision {
    /// Whether the call goes on (the binding has more to do than raise or return).
    pub fn continues(&self) -> bool {
        matches!(
            self,
            Decision::Retry { .. } | Decision::ReadBack { .. } | Decision::Wait { .. }
        )
    }
}

/// What a read-back asked for by [`Decision::ReadBack`] found.
#[derive(Debug, Clone, Copy)]
pub enum ReadOutcome<'a> {
    /// An object carrying this call's request id.
    Ours,
    /// An object that does not carry this call's request id (or, for a create that adopts existing objects, any object).
    NotOurs,
    /// No such object (a `NotFound` on a read by name may be reported as [`ReadOutcome::Failed`]
    /// too: the engine counts it as missing).
    Missing,
    /// The read itself failed.
    Failed(&'a Failure),
}

/// A step reported out of order: the call did not ask for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepError {
    /// A read-back result arrived although no read-back was asked for.
    NoReadBackPending,
    /// An attempt's failure arrived while the engine waits for a read-back result.
    ReadBackPending,
    /// The call has ended already.
    Finished,
    /// [`crate::Call::resume`] was called but the call did not answer [`Decision::Wait`].
    NoWaitPending,
    /// A failure, read-back or success was reported while the call waits to be resumed after
    /// [`Decision::Wait`] (nothing was to be sent).
    WaitPending,
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StepError::NoReadBackPending => {
                "a read-back result was reported but none was asked for"
            }
            StepError::ReadBackPending => {
                "an attempt failure was reported while a read-back result is expected"
            }
            StepError::Finished => "the call has ended already",
            StepError::NoWaitPending => "resume was called but the call is not waiting",
            StepError::WaitPending => {
                "a step was reported while the call waits to be resumed (nothing was to be sent)"
            }
        })
    }
}

impl std::error::Error for StepError {}
