//! The per-call state machine (DESIGN §2.4, §2.5).
//!
//! A binding starts a [`Call`] before the first attempt, reports each failure with
//! [`Call::on_failure`] and obeys the [`Decision`], and reports the end with
//! [`Call::on_success`] / [`Call::on_recovered`]. The success path allocates nothing.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::classify::Class;
use crate::events::{Event, EventKind, emit};
use crate::failure::{Failure, Verb};
use crate::metrics::{self, FunctionMetrics, Outcome};
use crate::policy::Policy;

/// What the binding does when an earlier attempt may have written already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Recovery {
    /// No recovery: ambiguous failures of non-idempotent verbs are not retried.
    #[default]
    None,
    /// A create stamped with a request id: `AlreadyExists` after an ambiguous attempt means
    /// "read it back and check the id" ([`Decision::ReadBack`]).
    Create,
    /// A create without ownership stamps: every `AlreadyExists` is read back and adopted
    /// (the runner hooks' old behaviour; opt-in only).
    CreateAdopt,
    /// A `generateName` create stamped with a request id (annotation and label). A retry would
    /// get a fresh name instead of `AlreadyExists`, so after an attempt that may have written,
    /// the binding looks for its object by label before each retry ([`Decision::CheckThenRetry`]).
    CreateGenerated,
    /// A delete: `NotFound` after an ambiguous attempt means our delete happened.
    Delete {
        /// Also treat a `NotFound` on the first attempt as success.
        missing_ok: bool,
    },
    /// The caller vouches that repeating the request is safe (e.g. a merge patch).
    Idempotent,
    /// A read-modify-write (`retry_on_conflict`): a `Conflict` is retried too, because the
    /// caller re-reads before it writes again.
    RetryConflict,
}

impl Recovery {
    /// Parses `none`, `create`, `create_adopt`, `create_generated`, `delete`, `delete_missing_ok`,
    /// `idempotent`, `retry_conflict`.
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
            _ => return None,
        })
    }
}

/// Why a call gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GiveUpReason {
    /// The caller cancelled.
    Cancelled = 0,
    /// The failure is not retryable.
    NonRetryable = 1,
    /// The failure is ambiguous and the verb is not idempotent, with no recovery declared.
    NotIdempotent = 2,
    /// `max_retries` retries were made.
    MaxRetries = 3,
    /// The circuit breaker is open.
    CircuitOpen = 4,
    /// The next delay would pass the deadline.
    Deadline = 5,
    /// The retry budget is empty.
    BudgetExhausted = 6,
}

impl GiveUpReason {
    /// Every reason, in numeric order.
    pub const ALL: [GiveUpReason; 7] = [
        GiveUpReason::Cancelled,
        GiveUpReason::NonRetryable,
        GiveUpReason::NotIdempotent,
        GiveUpReason::MaxRetries,
        GiveUpReason::CircuitOpen,
        GiveUpReason::Deadline,
        GiveUpReason::BudgetExhausted,
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
        }
    }
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the binding does after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Sleep for `delay`, then make the next attempt.
    Retry {
        /// How long to wait.
        delay: Duration,
    },
    /// A `generateName` create may have written: list by the request-id label first. If the
    /// object is there, return it and call [`Call::on_recovered`]; if not, sleep for `delay` and
    /// make the next attempt (already counted as a retry).
    CheckThenRetry {
        /// How long to wait before the next attempt when nothing is found.
        delay: Duration,
    },
    /// A create got `AlreadyExists` after an attempt that may have written: read the object
    /// back; if it carries this call's request id (or the recovery is `CreateAdopt`), return it
    /// and call [`Call::on_recovered`]; otherwise raise the `AlreadyExists` error and call
    /// [`Call::on_not_ours`].
    ReadBack,
    /// A delete got `NotFound` after an attempt that may have deleted (or with `missing_ok`):
    /// the call succeeded. The call has recorded its outcome already.
    Done,
    /// Raise the last attempt's original error.
    GiveUp(GiveUpReason),
}

/// One logical call: its attempts, delays and outcome.
#[derive(Debug)]
pub struct Call {
    policy: Policy,
    metrics: Arc<FunctionMetrics>,
    verb: Verb,
    recovery: Recovery,
    started: Duration,
    attempts: u32,
    previous_backoff: Option<f64>,
    may_have_applied: bool,
    finished: bool,
}

impl Call {
    /// Starts a call named `function` (the name in events and metrics) before its first attempt.
    /// Deposits into the policy's retry budget.
    pub fn new(policy: &Policy, function: &str) -> Call {
        let now = policy.clock().monotonic();
        if let Some(budget) = policy.budget() {
            budget.deposit(now);
        }
        Call {
            policy: policy.clone(),
            metrics: metrics::function(function),
            verb: Verb::Unknown,
            recovery: Recovery::None,
            started: now,
            attempts: 1,
            previous_backoff: None,
            may_have_applied: false,
            finished: false,
        }
    }

    /// Declares the verb of the request (`Unknown` by default: the caller vouches).
    pub fn with_verb(mut self, verb: Verb) -> Call {
        self.verb = verb;
        self
    }

    /// Counts `elapsed` as already spent by this call (for the deadline): bindings that start
    /// the call only when the first attempt fails pass the first attempt's duration.
    pub fn with_elapsed(mut self, elapsed: Duration) -> Call {
        self.started = self.started.saturating_sub(elapsed);
        self
    }

    /// Declares how an uncertain write is recovered.
    pub fn with_recovery(mut self, recovery: Recovery) -> Call {
        self.recovery = recovery;
        self
    }

    /// The function name of this call.
    pub fn function(&self) -> &str {
        &self.metrics.name
    }

    /// Attempts started so far (1 before the first failure).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether an earlier attempt may have been carried out by the server.
    pub fn may_have_applied(&self) -> bool {
        self.may_have_applied
    }

    /// The policy this call runs under.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Decides what to do after the current attempt failed with `failure`.
    pub fn on_failure(&mut self, failure: &Failure) -> Decision {
        if self.finished {
            return Decision::GiveUp(GiveUpReason::NonRetryable);
        }
        let class = self.policy.classify(failure);
        let verb = if self.verb == Verb::Unknown {
            failure.verb
        } else {
            self.verb
        };
        // Only the breaker, the deadline and the budget need the time: a policy without them
        // skips the clock read (a sizeable part of a decision).
        let policy = &self.policy;
        let now = if policy.breaker().is_some()
            || policy.deadline().is_some()
            || policy.budget().is_some()
        {
            policy.clock().monotonic()
        } else {
            Duration::ZERO
        };
        self.update_breaker(class, failure, now);

        if class == Class::Cancelled {
            return self.give_up(GiveUpReason::Cancelled, class, failure);
        }
        // A watch is a stream: whoever holds it relists or resumes from a resourceVersion. The
        // engine never repeats one, so a wrapper that can't tell a stream from a read is safe too.
        if verb == Verb::Watch {
            return self.give_up(GiveUpReason::NonRetryable, class, failure);
        }
        if let Some(decision) = self.recovery_decision(class, failure) {
            return decision;
        }
        let conflict_retry = class == Class::Conflict && self.recovery == Recovery::RetryConflict;
        if !class.is_retryable() && !conflict_retry {
            return self.give_up(GiveUpReason::NonRetryable, class, failure);
        }
        let vouched = verb.is_idempotent() || self.recovery != Recovery::None;
        if class.may_have_applied() && !vouched {
            return self.give_up(GiveUpReason::NotIdempotent, class, failure);
        }
        if class.may_have_applied() {
            self.may_have_applied = true;
        }
        let retry = self.attempts; // retries made so far + 1
        if retry > self.policy.max_retries() {
            return self.give_up(GiveUpReason::MaxRetries, class, failure);
        }
        if let Some(breaker) = self.policy.breaker() {
            if !breaker.allow_retry(now) {
                return self.give_up(GiveUpReason::CircuitOpen, class, failure);
            }
        }
        let backoff = self
            .policy
            .backoff()
            .delay(retry, self.previous_backoff, self.policy.rng());
        let hint = self.policy.server_hint(failure).unwrap_or(0.0);
        let delay_seconds = backoff.max(hint);
        // Whole nanoseconds, rounded (delay_seconds is never negative): `as u64` saturates and
        // maps NaN to 0, and is several times cheaper than Duration::try_from_secs_f64 here.
        let delay = Duration::from_nanos((delay_seconds * 1e9 + 0.5) as u64);
        if let Some(deadline) = self.policy.deadline() {
            let elapsed = now.saturating_sub(self.started);
            if elapsed.saturating_add(delay) > deadline {
                return self.give_up(GiveUpReason::Deadline, class, failure);
            }
        }
        if let Some(budget) = self.policy.budget() {
            if !budget.try_withdraw(now) {
                return self.give_up(GiveUpReason::BudgetExhausted, class, failure);
            }
        }
        self.previous_backoff = Some(backoff);
        self.metrics
            .count_retry(class, failure.status, delay_seconds);
        self.emit(
            EventKind::FailedRetrying,
            Some(class),
            failure,
            Some(delay_seconds),
            None,
        );
        self.attempts += 1;
        if self.recovery == Recovery::CreateGenerated && self.may_have_applied {
            return Decision::CheckThenRetry { delay };
        }
        Decision::Retry { delay }
    }

    /// The current attempt succeeded.
    pub fn on_success(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        if let Some(breaker) = self.policy.breaker() {
            breaker.record_success();
        }
        if self.attempts == 1 {
            self.metrics.count_outcome(Outcome::Success);
        } else {
            self.metrics.count_outcome(Outcome::SuccessAfterRetry);
            self.emit_plain(EventKind::SucceededAfterRetry);
        }
    }

    /// After [`Decision::ReadBack`]: the object read back is ours; the call succeeded.
    pub fn on_recovered(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.metrics.count_outcome(Outcome::Recovered);
        self.emit_plain(EventKind::RecoveredLostResponse);
    }

    /// After [`Decision::ReadBack`]: the object belongs to somebody else; the call gives up
    /// with the `AlreadyExists` error.
    pub fn on_not_ours(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.metrics.count_give_up(GiveUpReason::NonRetryable);
        self.emit_event(Event {
            give_up: Some(GiveUpReason::NonRetryable),
            class: Some(Class::AlreadyExists),
            reason: Some("AlreadyExists"),
            status_code: Some(409),
            ..self.base_event(EventKind::FailedNonRetryable)
        });
    }

    /// The recovery signals of DESIGN §2.5, checked before retryability.
    fn recovery_decision(&mut self, class: Class, failure: &Failure) -> Option<Decision> {
        match (class, self.recovery) {
            (Class::AlreadyExists, Recovery::Create) if self.may_have_applied => {
                Some(Decision::ReadBack)
            }
            (Class::AlreadyExists, Recovery::CreateAdopt) => Some(Decision::ReadBack),
            // A delete's precondition (UID / resourceVersion) failing after an attempt that may
            // have deleted: the object we meant is gone, a newer one took its name. Done, and the
            // newer object is left alone. (DESIGN §2.5 names only NotFound; against a real
            // apiserver a retried delete with a UID precondition answers 409 Conflict.)
            (Class::NotFound, Recovery::Delete { missing_ok })
                if missing_ok || self.may_have_applied =>
            {
                Some(self.finish_delete(class, failure))
            }
            (Class::Conflict, Recovery::Delete { .. }) if self.may_have_applied => {
                Some(self.finish_delete(class, failure))
            }
            _ => None,
        }
    }

    /// A delete that ended with NotFound (or a failed precondition) counts as done.
    fn finish_delete(&mut self, class: Class, failure: &Failure) -> Decision {
        self.finished = true;
        if self.may_have_applied {
            self.metrics.count_outcome(Outcome::Recovered);
            self.emit(
                EventKind::RecoveredLostResponse,
                Some(class),
                failure,
                None,
                None,
            );
        } else {
            self.metrics.count_outcome(Outcome::Success);
        }
        Decision::Done
    }

    /// Retryable failures count toward opening the breaker; any other answer from the server
    /// shows it is up.
    fn update_breaker(&self, class: Class, failure: &Failure, now: Duration) {
        let Some(breaker) = self.policy.breaker() else {
            return;
        };
        if class.is_retryable() {
            breaker.record_failure(now);
        } else if failure.status.is_some() {
            breaker.record_success();
        }
    }

    fn give_up(&mut self, reason: GiveUpReason, class: Class, failure: &Failure) -> Decision {
        self.finished = true;
        self.metrics.count_give_up(reason);
        self.emit(
            EventKind::for_give_up(reason),
            Some(class),
            failure,
            None,
            Some(reason),
        );
        Decision::GiveUp(reason)
    }

    fn base_event(&self, kind: EventKind) -> Event<'_> {
        Event {
            kind,
            function: &self.metrics.name,
            attempt: self.attempts,
            max_retries: self.policy.max_retries(),
            delay_seconds: None,
            error_type: None,
            error: None,
            status_code: None,
            reason: None,
            code: None,
            class: None,
            give_up: None,
        }
    }

    fn emit_plain(&self, kind: EventKind) {
        self.emit_event(self.base_event(kind));
    }

    fn emit(
        &self,
        kind: EventKind,
        class: Option<Class>,
        failure: &Failure,
        delay_seconds: Option<f64>,
        give_up: Option<GiveUpReason>,
    ) {
        self.emit_event(Event {
            delay_seconds,
            error_type: failure.error_type.as_deref(),
            error: failure.message.as_deref(),
            status_code: failure.status,
            reason: failure.reason.as_deref(),
            code: failure.first_code(),
            class,
            give_up,
            ..self.base_event(kind)
        });
    }

    fn emit_event(&self, event: Event<'_>) {
        emit(&event, self.policy.event_callback());
    }
}
