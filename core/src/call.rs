//! The per-call state machine (DESIGN §1, §4).
//!
//! A binding starts a [`Call`] before the first attempt, reports each failed attempt with
//! [`Call::on_failure`] and each read-back it was asked for with [`Call::on_read_back`], and
//! carries out the [`Decision`] it gets: sleep and resend, sleep and read back, return (nothing,
//! or the object read back), or raise the request's last error. A success is reported with
//! [`Call::on_success`]. The whole recovery sequence of DESIGN §4 is decided here; the success
//! path allocates nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::classify::Class;
use crate::decision::{Decision, GiveUpReason, ReadOutcome, Recovery, StepError};
use crate::events::{Event, EventKind, emit};
use crate::failure::{Failure, Verb};
use crate::metrics::{self, FunctionMetrics, Outcome};
use crate::policy::Policy;

/// Retries a read-back gets per retry of the call's own (DESIGN §4): `READ_BACK_RETRY_FACTOR *
/// max_retries`. A read-back confirms a write that may already have landed, and giving up turns
/// that success into an error; a read is safe to repeat. With a share `p` of reads failing, a
/// read-back then fails with `p^(4n+1)` where the call's own request fails with `p^(n+1)`.
const READ_BACK_RETRY_FACTOR: u32 = 4;

/// How long after a read-back found nothing of a `generateName` create that may have written the
/// engine reads again before it resends (DESIGN §4, "A missing object is read twice"). The
/// write may still be pending where the apiserver left it when it answered 504 (or when the
/// connection broke): a stopped etcd holds it and commits it the moment it goes on, and a list
/// waiting in the same etcd can be answered one revision before it. A read that answered proves
/// the store was serving again; what it held then lands within milliseconds, so a second read a
/// second later sees it.
pub const READ_BACK_CONFIRM_DELAY: Duration = Duration::from_secs(1);

/// Why a read-back was asked for: what its outcome means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// A named create got `AlreadyExists` after an attempt that may have written.
    AfterAlreadyExists,
    /// A stamped replace got `Conflict` after an attempt that may have written.
    AfterConflict,
    /// A `generateName` create may have written: look by label before resending.
    BeforeResend,
    /// The look before a resend found nothing after a failure that may have written: read
    /// again, [`READ_BACK_CONFIRM_DELAY`] later, before resending.
    ConfirmMissing,
}

/// One logical call: its attempts, its read-backs, delays and outcome.
#[derive(Debug)]
pub struct Call {
    policy: Policy,
    metrics: Arc<FunctionMetrics>,
    verb: Verb,
    recovery: Recovery,
    started: Duration,
    attempts: u32,
    previous_backoff: Option<f64>,
    /// When this call's last failure asked the budget for a retry.
    last_ask: Option<Duration>,
    may_have_applied: bool,
    finished: bool,
    /// Set while the engine waits for a read-back's outcome.
    reading: Option<Reading>,
    /// Retries of read-backs: their own count, up to `READ_BACK_RETRY_FACTOR` times the policy's
    /// `max_retries`.
    read_retries: u32,
    previous_read_backoff: Option<f64>,
    /// Metrics and events of the read-backs: `<function>/read_back`, made on the first one.
    read_metrics: Option<Arc<FunctionMetrics>>,
    /// After a give-up on a retryable failure: when the whole call may be tried again.
    retry_after: Option<Duration>,
    /// Retry slots used up by waits ([`Decision::Wait`]): `attempts + waits - 1` of the
    /// `max_retries` slots are gone.
    waits: u32,
    /// Set while the call waits to be resumed: the class and failure that the deferred retry
    /// answers (for events and the give-up's hint).
    deferred: Option<Box<(Class, Failure)>>,
    /// Set with `deferred` when the deferred retry is a read-back's: what it reads.
    deferred_read: Option<Reading>,
    /// A `generateName` create's failure that may have written and that no two reads have yet
    /// found absent (see [`READ_BACK_CONFIRM_DELAY`]): its class and failure, for a give-up.
    unconfirmed: Option<Box<(Class, Failure)>>,
    /// Whether the binding can read back ([`Call::with_reader`]); without a reader no
    /// [`Decision::ReadBack`] is ever answered.
    reader: bool,
    /// Made inside the attempt of another call ([`Call::new_nested`]): one attempt, nothing
    /// recorded.
    nested: bool,
    /// Whether the policy's event callback gets this call's events ([`Call::with_callback`]).
    callback: bool,
    /// This call's number for the budget ([`crate::RetryBudget::note_ask`]), given at its first
    /// ask (0: none yet).
    caller: u64,
}

/// The gates every retry passes (DESIGN §1) and what they let through.
struct Scheduled {
    delay: Duration,
    delay_seconds: f64,
    backoff: f64,
}

/// What the gates say about a retry.
enum Gate {
    /// Every gate let it through (the budget's token is taken).
    Go(Scheduled),
    /// Only the budget refused, and the policy has a deadline that the delay fits before, or
    /// the failure episode is young ([`crate::RetryBudget::DEFER_HORIZON`]): the call may wait and
    /// ask again.
    Defer(Scheduled),
    /// A gate refused.
    Stop(GiveUpReason),
}

/// Asks `budget` for a failure's retry: its tokens and episode minimum, or, for the only call that
/// has asked since the last success, [`crate::RetryBudget::try_withdraw_alone`]. `caller`: the
/// call's number, given here at its first ask.
fn withdraw(
    budget: &crate::RetryBudget,
    caller: &mut u64,
    failure: &Failure,
    now: Duration,
) -> bool {
    static NEXT_CALLER: AtomicU64 = AtomicU64::new(1);
    if *caller == 0 {
        *caller = NEXT_CALLER.fetch_add(1, Ordering::Relaxed);
    }
    budget.note_ask(*caller);
    let granted = if throttled(failure) {
        budget.try_withdraw_throttled(now)
    } else {
        budget.try_withdraw(now)
    };
    granted || budget.try_withdraw_alone(now, *caller)
}

/// Whole nanoseconds of `seconds`, rounded (`seconds` is never negative): `as u64` saturates and
/// maps NaN to 0, and is several times cheaper than `Duration::try_from_secs_f64` here.
fn duration(seconds: f64) -> Duration {
    Duration::from_nanos((seconds * 1e9 + 0.5) as u64)
}

impl Call {
    /// Starts a call named `function` (the name in events and metrics) before its first attempt.
    /// Deposits into the policy's retry budget.
    pub fn new(policy: &Policy, function: &str) -> Call {
        Call::with_metrics(policy, metrics::function(function))
    }

    /// [`Call::new`] with the function's counters already looked up ([`crate::CallSite`]).
    pub(crate) fn with_metrics(policy: &Policy, metrics: Arc<FunctionMetrics>) -> Call {
        let now = policy.clock().monotonic();
        if let Some(budget) = policy.budget() {
            budget.deposit(now);
        }
        Call::fresh(policy, metrics, now, false)
    }

    fn fresh(
        policy: &Policy,
        metrics: Arc<FunctionMetrics>,
        started: Duration,
        nested: bool,
    ) -> Call {
        Call {
            policy: policy.clone(),
            metrics,
            verb: Verb::Unknown,
            recovery: Recovery::None,
            started,
            attempts: 1,
            previous_backoff: None,
            last_ask: None,
            may_have_applied: false,
            finished: false,
            reading: None,
            read_retries: 0,
            previous_read_backoff: None,
            read_metrics: None,
            retry_after: None,
            waits: 0,
            deferred: None,
            deferred_read: None,
            unconfirmed: None,
            reader: true,
            nested,
            callback: true,
            caller: 0,
        }
    }

    /// Starts a call made inside the attempt of another call of this engine (a wrapper inside a
    /// wrapper, on the same logical task: see docs/design.md "Nesting"). It makes one attempt:
    /// its first failure of any kind answers [`GiveUpReason::Nested`] (raise the error unchanged;
    /// the enclosing call decides), and it records nothing (no budget deposit, breaker, metric or
    /// event), since the enclosing call counts the outcome. Bindings pass whether a call is nested
    /// from their task-local marker; the Rust drivers ask [`crate::nesting::active`].
    pub fn new_nested(policy: &Policy, function: &str) -> Call {
        Call::fresh(policy, metrics::detached(function), Duration::ZERO, true)
    }

    /// [`Call::new`] or [`Call::new_nested`].
    pub fn start(policy: &Policy, function: &str, nested: bool) -> Call {
        if nested {
            Call::new_nested(policy, function)
        } else {
            Call::new(policy, function)
        }
    }

    /// Declares whether the binding can read the object back (true by default). Without a reader
    /// the call never answers [`Decision::ReadBack`]: where a read-back would tell whether an
    /// uncertain write landed, it gives up `OutcomeUnknown` (or `NonRetryable` when no attempt
    /// may have written), and a `generateName` create that may have written is not resent
    /// (`NotIdempotent`). Those give-ups are counted and reported like any other.
    pub fn with_reader(mut self, reader: bool) -> Call {
        self.reader = reader;
        self
    }

    /// Declares whether the policy's event callback gets this call's events (true by default).
    /// A binding whose caller listens to no event says false: the events are then neither handed
    /// to the callback nor made at all, unless a `tracing` subscriber wants them (making one
    /// costs more than the rest of a decision: its text is cleaned of bodies and credentials).
    /// Decisions, metrics and the budget are the same either way.
    pub fn with_callback(mut self, callback: bool) -> Call {
        self.callback = callback;
        self
    }

    /// Whether this call was made nested ([`Call::new_nested`]).
    pub fn is_nested(&self) -> bool {
        self.nested
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

    /// Declares how an uncertain write is recovered (see [`crate::plan::choose`]).
    pub fn with_recovery(mut self, recovery: Recovery) -> Call {
        self.recovery = recovery;
        self
    }

    /// The function name of this call.
    pub fn function(&self) -> &str {
        &self.metrics.name
    }

    /// Attempts of the request started so far (1 before the first failure; read-backs are not
    /// attempts).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether an earlier attempt may have been carried out by the server.
    pub fn may_have_applied(&self) -> bool {
        self.may_have_applied
    }

    /// After the call gave up on a retryable failure (retries, breaker, deadline or budget used
    /// up): when to try the whole call again, for a reconciler's requeue. The server's hint
    /// (capped as the policy caps it) or the next backoff without jitter, whichever is longer;
    /// `None` after any other end.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Whether the engine waits for a read-back's outcome ([`Call::on_read_back`]).
    pub fn awaiting_read_back(&self) -> bool {
        self.reading.is_some()
    }

    /// Whether the call waits to be resumed ([`Decision::Wait`], [`Call::resume`]).
    pub fn awaiting_resume(&self) -> bool {
        self.deferred.is_some()
    }

    /// Whether the call has ended (success, give-up, done or recovered).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The policy this call runs under.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Decides what to do after the current attempt failed with `failure`. A step out of order
    /// (the call has ended, or waits for a read-back) gives up with `NonRetryable`; use
    /// [`Call::try_on_failure`] to get the error instead.
    pub fn on_failure(&mut self, failure: &Failure) -> Decision {
        self.try_on_failure(failure)
            .unwrap_or(Decision::GiveUp(GiveUpReason::NonRetryable))
    }

    /// [`Call::on_failure`], with steps out of order reported as errors.
    pub fn try_on_failure(&mut self, failure: &Failure) -> Result<Decision, StepError> {
        if self.finished {
            return Err(StepError::Finished);
        }
        if self.nested {
            // One attempt: the enclosing call retries (or gives up) with this error.
            self.finished = true;
            return Ok(Decision::GiveUp(GiveUpReason::Nested));
        }
        let class = self.policy.classify(failure);
        if class == Class::Cancelled {
            // A cancel is taken in any state: while an attempt runs, during a sleep, a wait or a
            // read-back.
            return Ok(self.give_up(GiveUpReason::Cancelled, class, failure));
        }
        if self.reading.is_some() {
            return Err(StepError::ReadBackPending);
        }
        if self.deferred.is_some() {
            // Nothing was sent during a wait, so no attempt can have failed.
            return Err(StepError::WaitPending);
        }
        let verb = if self.verb == Verb::Unknown {
            failure.verb
        } else {
            self.verb
        };
        let now = self.now();
        self.update_breaker(class, failure, now);

        // A watch is a stream: whoever holds it relists or resumes from a resourceVersion. The
        // engine never repeats one, so a wrapper that can't tell a stream from a read is safe too.
        if verb == Verb::Watch {
            return Ok(self.give_up(GiveUpReason::NonRetryable, class, failure));
        }
        if let Some(decision) = self.recovery_decision(class, failure) {
            return Ok(decision);
        }
        let conflict_retry = class == Class::Conflict && self.recovery == Recovery::RetryConflict;
        if !class.is_retryable() && !conflict_retry {
            return Ok(self.give_up(GiveUpReason::NonRetryable, class, failure));
        }
        if class.may_have_applied() {
            // A generateName create is resent only after a read-back by label found nothing.
            let unreadable = self.recovery == Recovery::CreateGenerated && !self.reader;
            if !self.recovery.allows_resend(verb) || unreadable {
                return Ok(self.give_up(GiveUpReason::NotIdempotent, class, failure));
            }
            self.may_have_applied = true;
            if self.recovery == Recovery::CreateGenerated {
                self.unconfirmed = Some(Box::new((class, failure.clone())));
            }
        }
        let retry = self.slot(); // retries and waits so far + 1: the backoff's index
        let previous = self.previous_backoff;
        // Waits send nothing: only the retries sent count against `max_retries`.
        let max_retries = self.policy.max_retries().saturating_add(self.waits);
        let gate = self.schedule(retry, max_retries, previous, failure, now);
        if matches!(gate, Gate::Go(_) | Gate::Defer(_)) {
            self.last_ask = Some(now); // the budget was asked (or there is none)
        }
        let scheduled = match gate {
            Gate::Go(scheduled) => scheduled,
            Gate::Defer(scheduled) => return Ok(self.defer(scheduled, class, failure)),
            Gate::Stop(reason) => return Ok(self.give_up(reason, class, failure)),
        };
        self.previous_backoff = Some(scheduled.backoff);
        self.metrics
            .count_retry(class, failure.status, scheduled.delay_seconds);
        self.emit(
            EventKind::FailedRetrying,
            Some(class),
            failure,
            Some(scheduled.delay_seconds),
            None,
        );
        Ok(self.resend(scheduled.delay))
    }

    /// The retry is on: count its attempt and send it after `delay` (or, for a `generateName`
    /// create that may have written, look for ours by label first).
    fn resend(&mut self, delay: Duration) -> Decision {
        self.attempts += 1;
        if self.recovery == Recovery::CreateGenerated && self.may_have_applied {
            // A resend would get a fresh name: look for ours by label first.
            self.reading = Some(Reading::BeforeResend);
            return Decision::ReadBack { delay };
        }
        Decision::Retry { delay }
    }

    /// The number of the next retry slot: retries and waits so far + 1.
    fn slot(&self) -> u32 {
        self.attempts.saturating_add(self.waits)
    }

    /// The budget refused the retry the gates scheduled: wait its delay, sending nothing.
    fn defer(&mut self, scheduled: Scheduled, class: Class, failure: &Failure) -> Decision {
        self.previous_backoff = Some(scheduled.backoff);
        self.emit(
            EventKind::RetryDeferred,
            Some(class),
            failure,
            Some(scheduled.delay_seconds),
            None,
        );
        self.deferred = Some(Box::new((class, failure.clone())));
        Decision::Wait {
            delay: scheduled.delay,
        }
    }

    /// After a [`Decision::Wait`] has been slept: the deferred retry is due. The breaker, the
    /// deadline and the budget are asked again; if they let it through the answer is `Retry`
    /// with a zero delay (the wait was the delay), else the slot is used up and the call waits
    /// the next slot's backoff, or gives up `BudgetExhausted` when no slot is left, the next
    /// wait would pass the deadline, or (without a deadline) the episode is no longer young. Out of order (no wait pending, or after the end) it is a
    /// [`StepError`].
    pub fn resume(&mut self) -> Result<Decision, StepError> {
        if self.finished {
            return Err(StepError::Finished);
        }
        let Some(deferred) = self.deferred.take() else {
            return Err(StepError::NoWaitPending);
        };
        let (class, failure) = *deferred;
        let read = self.deferred_read.take();
        let now = self.now();
        let policy = &self.policy;
        if let Some(breaker) = policy.breaker()
            && !breaker.allow_retry(now)
        {
            return Ok(self.give_up(GiveUpReason::CircuitOpen, class, &failure));
        }
        let elapsed = now.saturating_sub(self.started);
        if let Some(deadline) = policy.deadline()
            && elapsed > deadline
        {
            return Ok(self.give_up(GiveUpReason::Deadline, class, &failure));
        }
        if policy
            .budget()
            .is_none_or(|budget| budget.try_withdraw_deferred(now, throttled(&failure)))
        {
            if let Some(reading) = read {
                return Ok(self.read_again(reading, class, &failure));
            }
            self.metrics.count_retry(class, failure.status, 0.0);
            self.emit(
                EventKind::FailedRetrying,
                Some(class),
                &failure,
                Some(0.0),
                None,
            );
            return Ok(self.resend(Duration::ZERO));
        }
        // Refused again: wait the next slot's backoff. Waits send nothing, so they do not use
        // up the call's retries; the deadline, or without one the episode's youth, ends them,
        // and a call waits at most `max_retries` times (a binding whose sleep returns at once
        // must not spin for the episode's 10 s).
        self.waits += 1;
        if self.waits >= policy.max_retries() {
            return Ok(self.give_up(GiveUpReason::BudgetExhausted, class, &failure));
        }
        let retry = self.slot();
        let backoff = policy
            .backoff()
            .delay(retry, self.previous_backoff, policy.rng());
        let delay = duration(backoff);
        // Wait again while the deadline leaves time for it, or, without a deadline, while the
        // episode is young (a blip); an old episode is an outage: give up.
        let may_wait = match policy.deadline() {
            Some(deadline) => elapsed.saturating_add(delay) <= deadline,
            None => policy
                .budget()
                .is_some_and(|budget| budget.episode_is_young(now) || self.write_may_have_landed()),
        };
        if !may_wait {
            return Ok(self.give_up(GiveUpReason::BudgetExhausted, class, &failure));
        }
        let scheduled = Scheduled {
            delay,
            delay_seconds: backoff,
            backoff,
        };
        let decision = self.defer(scheduled, class, &failure);
        self.deferred_read = read;
        Ok(decision)
    }

    /// A write (not a read) whose request may have been applied: its refused retries wait
    /// whatever the episode's age.
    fn write_may_have_landed(&self) -> bool {
        self.may_have_applied
            && !matches!(
                self.verb,
                Verb::Get | Verb::List | Verb::Watch | Verb::Unknown
            )
    }

    /// A read-back's retry that waited is due and the budget let it through: read now.
    fn read_again(&mut self, reading: Reading, class: Class, failure: &Failure) -> Decision {
        let read_metrics = self.read_metrics();
        self.read_retries += 1;
        read_metrics.count_retry(class, failure.status, 0.0);
        self.emit_event(Event {
            function: &read_metrics.name,
            attempt: self.read_retries,
            max_retries: READ_BACK_RETRY_FACTOR.saturating_mul(self.policy.max_retries()),
            ..self.failure_event(
                EventKind::FailedRetrying,
                Some(class),
                failure,
                Some(0.0),
                None,
            )
        });
        self.reading = Some(reading);
        Decision::ReadBack {
            delay: Duration::ZERO,
        }
    }

    /// The caller cancelled the call, in any state: before or during an attempt, during a sleep
    /// before a retry or a read-back, during a [`Decision::Wait`], or while a read-back runs.
    /// The call ends with [`GiveUpReason::Cancelled`]: one outcome, one event, one metric (a
    /// nested call records nothing). After the end it is [`StepError::Finished`].
    pub fn on_cancelled(&mut self) -> Result<Decision, StepError> {
        if self.finished {
            return Err(StepError::Finished);
        }
        let failure = Failure::new().with_cancelled(true);
        if self.nested {
            self.finished = true;
            return Ok(Decision::GiveUp(GiveUpReason::Cancelled));
        }
        Ok(self.give_up(GiveUpReason::Cancelled, Class::Cancelled, &failure))
    }

    /// Decides what to do with what a read-back asked for by [`Decision::ReadBack`] found.
    pub fn on_read_back(&mut self, outcome: ReadOutcome<'_>) -> Result<Decision, StepError> {
        if self.finished {
            return Err(StepError::Finished);
        }
        if self.deferred.is_some() {
            return Err(StepError::WaitPending);
        }
        let Some(reading) = self.reading.take() else {
            return Err(StepError::NoReadBackPending);
        };
        let outcome = match outcome {
            // A read by name that answers NotFound found nothing.
            ReadOutcome::Failed(failure) if self.policy.classify(failure) == Class::NotFound => {
                ReadOutcome::Missing
            }
            other => other,
        };
        Ok(match (outcome, reading) {
            (ReadOutcome::Ours, _) => self.recovered(),
            (ReadOutcome::NotOurs, Reading::AfterAlreadyExists)
                if self.recovery == Recovery::CreateAdopt =>
            {
                self.recovered()
            }
            // Somebody else's object holds the name (or won the race): raise the 409 we got.
            (ReadOutcome::NotOurs, Reading::AfterAlreadyExists) => {
                self.not_ours(Class::AlreadyExists, "AlreadyExists")
            }
            (ReadOutcome::NotOurs | ReadOutcome::Missing, Reading::AfterConflict) => {
                self.not_ours(Class::Conflict, "Conflict")
            }
            // The label is ours alone; nothing of ours there, but the write that may have
            // happened may still be pending: read again before resending.
            (ReadOutcome::NotOurs | ReadOutcome::Missing, Reading::BeforeResend)
                if self.unconfirmed.is_some() =>
            {
                self.confirm_missing()
            }
            // Nothing of ours, twice (or the failures since the last confirmed look sent
            // nothing): send the create again now (the retry was counted and slept for when the
            // read-back was asked for).
            (
                ReadOutcome::NotOurs | ReadOutcome::Missing,
                Reading::BeforeResend | Reading::ConfirmMissing,
            ) => {
                self.unconfirmed = None;
                Decision::Retry {
                    delay: Duration::ZERO,
                }
            }
            // The object that answered AlreadyExists is gone: the name is free, and a create by
            // name can't make a second object. Resend, as a retry of the call.
            (ReadOutcome::Missing, Reading::AfterAlreadyExists) => {
                if self.attempts > self.policy.max_retries() {
                    // The 409 the request got is what the caller sees (and when to try again).
                    let exists = Failure::new().with_status(409).with_reason("AlreadyExists");
                    self.give_up(GiveUpReason::MaxRetries, Class::AlreadyExists, &exists)
                } else {
                    self.attempts += 1;
                    Decision::Retry {
                        delay: Duration::ZERO,
                    }
                }
            }
            (ReadOutcome::Failed(failure), _) => self.read_failed(reading, failure),
        })
    }

    /// The look before a resend found nothing after a failure that may have written: read again
    /// [`READ_BACK_CONFIRM_DELAY`] later (not a retry: no retry slot, no budget token), or give up
    /// `Deadline` when the policy's deadline comes first.
    fn confirm_missing(&mut self) -> Decision {
        let delay = READ_BACK_CONFIRM_DELAY;
        if let Some(deadline) = self.policy.deadline()
            && self
                .now()
                .saturating_sub(self.started)
                .saturating_add(delay)
                > deadline
            && let Some(unconfirmed) = self.unconfirmed.take()
        {
            let (class, failure) = *unconfirmed;
            return self.give_up(GiveUpReason::Deadline, class, &failure);
        }
        self.reading = Some(Reading::ConfirmMissing);
        Decision::ReadBack { delay }
    }

    /// A read-back failed: retried as a read, on its own count (`READ_BACK_RETRY_FACTOR` times the
    /// call's retries, within the same deadline, budget and breaker); past that, the write's
    /// outcome is unknown.
    fn read_failed(&mut self, reading: Reading, failure: &Failure) -> Decision {
        let class = self.policy.classify(failure);
        let now = self.now();
        if class == Class::Cancelled {
            return self.give_up(GiveUpReason::Cancelled, class, failure);
        }
        let read_metrics = self.read_metrics();
        if !class.is_retryable() {
            return self.give_up(GiveUpReason::OutcomeUnknown, class, failure);
        }
        let retry = self.read_retries + 1;
        let previous = self.previous_read_backoff;
        let max_retries = READ_BACK_RETRY_FACTOR.saturating_mul(self.policy.max_retries());
        let scheduled = match self.schedule(retry, max_retries, previous, failure, now) {
            Gate::Go(scheduled) => scheduled,
            Gate::Stop(GiveUpReason::MaxRetries) => {
                return self.give_up(GiveUpReason::OutcomeUnknown, class, failure);
            }
            // Refused by the budget: the write's own `max_retries` reads go anyway (a process
            // whose only call is this write has spent its episode minimum on it, and a read that
            // confirms a landed write turns an error into the success it was); past them the
            // read waits like a write's retry.
            Gate::Defer(scheduled) if retry <= self.policy.max_retries() => scheduled,
            Gate::Defer(scheduled) => {
                let decision = self.defer(scheduled, class, failure);
                self.deferred_read = Some(reading);
                return decision;
            }
            Gate::Stop(reason) => return self.give_up(reason, class, failure),
        };
        self.read_retries = retry;
        self.previous_read_backoff = Some(scheduled.backoff);
        read_metrics.count_retry(class, failure.status, scheduled.delay_seconds);
        self.emit_event(Event {
            function: &read_metrics.name,
            attempt: retry,
            max_retries,
            ..self.failure_event(
                EventKind::FailedRetrying,
                Some(class),
                failure,
                Some(scheduled.delay_seconds),
                None,
            )
        });
        self.reading = Some(reading);
        Decision::ReadBack {
            delay: scheduled.delay,
        }
    }

    /// The metrics (and event name) of this call's read-backs.
    fn read_metrics(&mut self) -> Arc<FunctionMetrics> {
        let name = &self.metrics.name;
        self.read_metrics
            .get_or_insert_with(|| metrics::function(&format!("{name}/read_back")))
            .clone()
    }

    /// Max retries (`max_retries`: the policy's, or a read-back's own), breaker, delay (backoff,
    /// or the server's hint spread), deadline, budget: the retry numbered `retry` either passes all
    /// of them (and withdraws from the budget), is refused by the budget alone with a deadline it
    /// fits before or in a young episode ([`Gate::Defer`]), or gives up with the first gate that
    /// refuses. RNG draws, in order: the backoff's jitter (as the jitter mode draws), then, when the
    /// hint decides the delay and the spread is not 0, one for the spread.
    fn schedule(
        &mut self,
        retry: u32,
        max_retries: u32,
        previous: Option<f64>,
        failure: &Failure,
        now: Duration,
    ) -> Gate {
        let policy = &self.policy;
        if retry > max_retries {
            return Gate::Stop(GiveUpReason::MaxRetries);
        }
        if let Some(breaker) = policy.breaker()
            && !breaker.allow_retry(now)
        {
            return Gate::Stop(GiveUpReason::CircuitOpen);
        }
        let backoff = policy.backoff().delay(retry, previous, policy.rng());
        let mut delay_seconds = backoff;
        if let Some(hint) = policy.uncapped_hint(failure) {
            // Never sooner than the server asked: a hint past the cap is a give-up, not a
            // shorter wait.
            if hint > policy.retry_after_cap().as_secs_f64() {
                return Gate::Stop(GiveUpReason::RetryAfterTooLong);
            }
            if hint >= backoff {
                let spread = policy.retry_after_spread();
                delay_seconds = if spread > 0.0 {
                    hint * (1.0 + spread * policy.rng().next_unit())
                } else {
                    hint
                };
            }
        }
        let delay = duration(delay_seconds);
        if let Some(deadline) = policy.deadline() {
            let elapsed = now.saturating_sub(self.started);
            if elapsed.saturating_add(delay) > deadline {
                return Gate::Stop(GiveUpReason::Deadline);
            }
        }
        let scheduled = Scheduled {
            delay,
            delay_seconds,
            backoff,
        };
        if let Some(budget) = policy.budget()
            && !withdraw(budget, &mut self.caller, failure, now)
        {
            // A write that may have landed waits whatever the episode's age (up to its waits):
            // giving it up would turn a likely success into an error, and a wait sends nothing.
            if policy.deadline().is_some()
                || budget.episode_is_young(now)
                || self.write_may_have_landed()
            {
                return Gate::Defer(scheduled);
            }
            return Gate::Stop(GiveUpReason::BudgetExhausted);
        }
        Gate::Go(scheduled)
    }

    /// The time, read only when the breaker, the deadline or the budget needs it (a clock read
    /// is a sizeable part of a decision).
    fn now(&self) -> Duration {
        let policy = &self.policy;
        if policy.breaker().is_some() || policy.deadline().is_some() || policy.budget().is_some() {
            policy.clock().monotonic()
        } else {
            Duration::ZERO
        }
    }

    /// The current attempt succeeded.
    pub fn on_success(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.reading = None;
        self.deferred = None;
        if self.nested {
            return;
        }
        if let Some(breaker) = self.policy.breaker() {
            breaker.record_success();
        }
        if let Some(budget) = self.policy.budget() {
            budget.record_success_after(self.policy.clock().monotonic(), self.last_ask);
        }
        if self.attempts == 1 {
            self.metrics.count_outcome(Outcome::Success);
        } else {
            self.metrics.count_outcome(Outcome::SuccessAfterRetry);
            self.emit_plain(EventKind::SucceededAfterRetry);
        }
    }

    /// A write whose response was lost turned out to have landed: the call succeeded.
    fn recovered(&mut self) -> Decision {
        self.finished = true;
        if let Some(budget) = self.policy.budget() {
            budget.record_success(self.policy.clock().monotonic());
        }
        self.metrics.count_outcome(Outcome::Recovered);
        self.emit_plain(EventKind::RecoveredLostResponse);
        Decision::Recovered
    }

    /// The object read back is somebody else's: give up with the 409 the request got.
    fn not_ours(&mut self, class: Class, reason: &'static str) -> Decision {
        self.finished = true;
        self.metrics.count_give_up(GiveUpReason::NonRetryable);
        self.emit_event(Event {
            give_up: Some(GiveUpReason::NonRetryable),
            class: Some(class),
            reason: Some(reason),
            status_code: Some(409),
            ..self.base_event(EventKind::FailedNonRetryable)
        });
        Decision::GiveUp(GiveUpReason::NonRetryable)
    }

    /// The recovery signals of DESIGN §4, checked before retryability.
    fn recovery_decision(&mut self, class: Class, failure: &Failure) -> Option<Decision> {
        let reading = match (class, self.recovery) {
            (Class::AlreadyExists, Recovery::Create) if self.may_have_applied => {
                Reading::AfterAlreadyExists
            }
            (Class::AlreadyExists, Recovery::CreateAdopt) => Reading::AfterAlreadyExists,
            (Class::Conflict, Recovery::ReplaceStamped) if self.may_have_applied => {
                Reading::AfterConflict
            }
            // A delete's precondition (UID / resourceVersion) failing after an attempt that may
            // have deleted: the object we meant is gone, a newer one took its name. Done, and the
            // newer object is left alone. (Against a real apiserver a retried delete with a UID
            // precondition answers 409 Conflict.)
            (Class::NotFound, Recovery::Delete { missing_ok })
                if missing_ok || self.may_have_applied =>
            {
                return Some(self.finish_delete(class, failure));
            }
            (Class::Conflict, Recovery::Delete { .. }) if self.may_have_applied => {
                return Some(self.finish_delete(class, failure));
            }
            _ => return None,
        };
        if !self.reader {
            // Nothing can tell whether the write landed.
            let reason = if self.may_have_applied {
                GiveUpReason::OutcomeUnknown
            } else {
                GiveUpReason::NonRetryable
            };
            return Some(self.give_up(reason, class, failure));
        }
        self.reading = Some(reading);
        Some(Decision::ReadBack {
            delay: Duration::ZERO,
        })
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
    /// shows it is up (and ends the budget's failure episode).
    fn update_breaker(&self, class: Class, failure: &Failure, now: Duration) {
        let up = !class.is_retryable() && failure.status.is_some();
        if up && let Some(budget) = self.policy.budget() {
            budget.record_success(now);
        }
        let Some(breaker) = self.policy.breaker() else {
            return;
        };
        if class.is_retryable() {
            breaker.record_failure(now);
        } else if up {
            breaker.record_success();
        }
    }

    fn give_up(&mut self, reason: GiveUpReason, class: Class, failure: &Failure) -> Decision {
        self.finished = true;
        self.reading = None;
        self.deferred = None;
        if matches!(
            reason,
            GiveUpReason::MaxRetries
                | GiveUpReason::CircuitOpen
                | GiveUpReason::Deadline
                | GiveUpReason::BudgetExhausted
                | GiveUpReason::RetryAfterTooLong
        ) {
            // No randomness here: a give-up must not move the policy's seeded jitter sequence.
            // The hint is uncapped: past the cap it is exactly what the server asked for.
            let backoff = self.policy.backoff().base_delay(self.slot());
            let seconds = backoff.max(self.policy.uncapped_hint(failure).unwrap_or(0.0));
            self.retry_after = Some(duration(seconds));
        }
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

    fn failure_event<'a>(
        &'a self,
        kind: EventKind,
        class: Option<Class>,
        failure: &'a Failure,
        delay_seconds: Option<f64>,
        give_up: Option<GiveUpReason>,
    ) -> Event<'a> {
        Event {
            delay_seconds,
            error_type: failure.error_type.as_deref(),
            error: failure.message.as_deref(),
            status_code: failure.status,
            reason: failure.reason.as_deref(),
            code: failure.first_code(),
            class,
            give_up,
            ..self.base_event(kind)
        }
    }

    fn emit(
        &self,
        kind: EventKind,
        class: Option<Class>,
        failure: &Failure,
        delay_seconds: Option<f64>,
        give_up: Option<GiveUpReason>,
    ) {
        self.emit_event(self.failure_event(kind, class, failure, delay_seconds, give_up));
    }

    fn emit_event(&self, event: Event<'_>) {
        let callback = self.policy.event_callback().filter(|_| self.callback);
        emit(&event, callback);
    }
}

/// Whether the server answered that it is overloaded (429): successes do not pay for its retry.
fn throttled(failure: &Failure) -> bool {
    failure.status == Some(429)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nested_call_takes_no_place_among_the_functions() {
        let policy = crate::PolicyBuilder::from_json(r#"{"budget": null}"#)
            .unwrap()
            .build()
            .unwrap();
        let mut nested = Call::new_nested(&policy, "nested_name_only");
        let failure = Failure::new().with_status(503);
        assert_eq!(
            nested.on_failure(&failure),
            Decision::GiveUp(GiveUpReason::Nested)
        );
        assert!(!metrics::registered("nested_name_only"));
        Call::new(&policy, "outer_name_registered").on_success();
        assert!(metrics::registered("outer_name_registered"));
    }

    #[test]
    fn a_call_without_callback_decides_the_same_and_tells_the_callback_nothing() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let seen = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&seen);
        let policy = crate::PolicyBuilder::from_json(r#"{"budget": null, "jitter": "none"}"#)
            .unwrap()
            .on_event(Some(Arc::new(move |_: &Event<'_>| {
                counter.fetch_add(1, Ordering::Relaxed);
            })))
            .build()
            .unwrap();
        let failure = Failure::new()
            .with_status(503)
            .with_reason("ServiceUnavailable");
        let mut quiet = Call::new(&policy, "quiet").with_callback(false);
        let mut told = Call::new(&policy, "told");
        let decisions = (quiet.on_failure(&failure), told.on_failure(&failure));
        assert_eq!(decisions.0, decisions.1);
        assert_eq!(
            seen.load(Ordering::Relaxed),
            1,
            "only the call with a callback"
        );
        quiet.on_success();
        told.on_success();
        assert_eq!(seen.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_give_up_on_a_retryable_failure_says_when_to_try_again() {
        let policy = Policy::from_json(
            r#"{"preset": "reconcile", "budget": null, "retry_after_spread": 0}"#,
        )
        .unwrap();
        let mut call = Call::new(&policy, "reconcile_test");
        let hinted = Failure::new().with_status(429).with_retry_after("30");
        assert_eq!(
            call.on_failure(&hinted),
            Decision::GiveUp(GiveUpReason::Deadline)
        );
        assert_eq!(call.retry_after(), Some(Duration::from_secs(30)));

        let mut call = Call::new(&policy, "reconcile_test");
        let unavailable = Failure::new().with_status(503);
        assert!(matches!(
            call.on_failure(&unavailable),
            Decision::Retry { .. }
        ));
        assert!(matches!(
            call.on_failure(&unavailable),
            Decision::Retry { .. }
        ));
        assert_eq!(
            call.on_failure(&unavailable),
            Decision::GiveUp(GiveUpReason::MaxRetries)
        );
        assert_eq!(call.retry_after(), Some(Duration::from_millis(800)));

        let mut call = Call::new(&policy, "reconcile_test");
        call.on_failure(&Failure::new().with_status(404));
        assert_eq!(call.retry_after(), None, "nothing to retry after a 404");
    }

    /// A budget that allows one retry per episode and nothing else.
    const ONE_RETRY_BUDGET: &str =
        r#"{"ratio": 0, "burst": 0, "min_per_second": 0, "min_per_episode": 1, "ttl": 10}"#;

    #[test]
    fn a_refused_retry_waits_with_a_deadline_or_in_a_young_episode_and_gives_up_in_an_old_one() {
        let clock = Arc::new(crate::clock::ManualClock::new(0.0));
        let json = format!(
            r#"{{"jitter": "none", "deadline": 30, "max_retries": 5, "budget": {ONE_RETRY_BUDGET}}}"#
        );
        let policy = crate::builder::PolicyBuilder::from_json(&json)
            .unwrap()
            .clock(clock.clone())
            .build()
            .unwrap();
        let unavailable = Failure::new().with_status(503);
        let mut call = Call::new(&policy, "wait_test");
        assert_eq!(
            call.on_failure(&unavailable),
            Decision::Retry {
                delay: Duration::from_secs(1)
            }
        );
        let two = Decision::Wait {
            delay: Duration::from_secs(2),
        };
        assert_eq!(call.on_failure(&unavailable), two);
        assert!(call.awaiting_resume());
        assert_eq!(call.attempts(), 2, "a wait sends nothing");
        assert_eq!(
            call.try_on_failure(&unavailable),
            Err(StepError::WaitPending)
        );
        clock.advance_seconds(2.0);
        // The server answers another call: the episode is over, the deferred retry goes now.
        Call::new(&policy, "other").on_success();
        assert_eq!(
            call.resume(),
            Ok(Decision::Retry {
                delay: Duration::ZERO
            })
        );
        assert_eq!(call.attempts(), 3);
        assert_eq!(call.resume(), Err(StepError::NoWaitPending));

        // No deadline: a refused retry waits while the episode is young (a blip), and gives up
        // once it is older than the horizon (an outage).
        let clock = Arc::new(crate::clock::ManualClock::new(0.0));
        let policy = crate::builder::PolicyBuilder::from_json(&format!(
            r#"{{"jitter": "none", "max_retries": 5, "budget": {ONE_RETRY_BUDGET}}}"#
        ))
        .unwrap()
        .clock(clock.clone())
        .build()
        .unwrap();
        let mut call = Call::new(&policy, "wait_test");
        assert!(matches!(
            call.on_failure(&unavailable),
            Decision::Retry { .. }
        ));
        assert_eq!(call.on_failure(&unavailable), two, "young episode: wait");
        clock.advance_seconds(2.0);
        assert_eq!(
            call.resume(),
            Ok(Decision::Wait {
                delay: Duration::from_secs(4)
            }),
            "refused again at 2 s: still young"
        );
        clock.advance_seconds(8.0);
        assert_eq!(
            call.resume(),
            Ok(Decision::GiveUp(GiveUpReason::BudgetExhausted)),
            "refused at 10 s: the episode is an outage now"
        );
        let mut late = Call::new(&policy, "wait_test");
        assert_eq!(
            late.on_failure(&unavailable),
            Decision::GiveUp(GiveUpReason::BudgetExhausted),
            "a call that fails in an old episode gives up at once"
        );
        assert!(!late.awaiting_resume());
    }

    #[test]
    fn a_cancel_while_waiting_gives_up_cancelled_and_any_other_failure_is_out_of_order() {
        let policy = Policy::from_json(&format!(
            r#"{{"jitter": "none", "deadline": 30, "max_retries": 5, "budget": {ONE_RETRY_BUDGET}}}"#
        ))
        .unwrap();
        let unavailable = Failure::new().with_status(503);
        let mut call = Call::new(&policy, "wait_cancel_test");
        assert!(matches!(
            call.on_failure(&unavailable),
            Decision::Retry { .. }
        ));
        assert!(matches!(
            call.on_failure(&unavailable),
            Decision::Wait { .. }
        ));
        assert_eq!(
            call.try_on_failure(&unavailable),
            Err(StepError::WaitPending),
            "nothing was sent: no attempt can have failed"
        );
        assert!(
            call.awaiting_resume(),
            "an out-of-order step changes nothing"
        );
        let cancelled = Failure::new().with_cancelled(true);
        assert_eq!(
            call.try_on_failure(&cancelled),
            Ok(Decision::GiveUp(GiveUpReason::Cancelled))
        );
        assert!(call.is_finished() && !call.awaiting_resume());
        assert_eq!(call.resume(), Err(StepError::Finished));
    }

    #[test]
    fn a_hint_above_the_cap_gives_up_with_the_hint_and_a_hint_below_is_spread_after_it() {
        let policy = Policy::from_json(r#"{"budget": null, "seed": 5}"#).unwrap();
        assert_eq!(policy.retry_after_cap(), Duration::from_secs(60));
        let mut call = Call::new(&policy, "cap_test");
        let too_long = Failure::new().with_status(429).with_retry_after("61");
        assert_eq!(
            call.on_failure(&too_long),
            Decision::GiveUp(GiveUpReason::RetryAfterTooLong)
        );
        assert_eq!(call.retry_after(), Some(Duration::from_secs(61)));
        let hinted = Failure::new().with_status(429).with_retry_after("32");
        let mut seen = Vec::new();
        for _ in 0..200 {
            let mut call = Call::new(&policy, "cap_test");
            let Decision::Retry { delay } = call.on_failure(&hinted) else {
                panic!("a 32 s hint is retried");
            };
            let d = delay.as_secs_f64();
            assert!((32.0..=32.0 * 1.2).contains(&d), "{d}");
            seen.push(d);
        }
        let spread = seen.iter().cloned().fold(0.0, f64::max)
            - seen.iter().cloned().fold(f64::MAX, f64::min);
        assert!(
            spread > 5.0,
            "a fleet handed 32 s comes back over ~6 s, not at once: {spread}"
        );
    }

    #[test]
    fn a_read_back_past_the_retries_gives_up_with_when_to_try_again() {
        let policy =
            Policy::from_json(r#"{"max_retries": 1, "jitter": "none", "budget": null}"#).unwrap();
        let mut call = Call::new(&policy, "create_test").with_recovery(Recovery::Create);
        let reset = Failure::new().with_code("ECONNRESET");
        assert!(matches!(call.on_failure(&reset), Decision::Retry { .. }));
        let exists = Failure::new().with_status(409).with_reason("AlreadyExists");
        assert!(matches!(
            call.on_failure(&exists),
            Decision::ReadBack { .. }
        ));
        assert_eq!(
            call.on_read_back(ReadOutcome::Missing),
            Ok(Decision::GiveUp(GiveUpReason::MaxRetries))
        );
        assert_eq!(call.retry_after(), Some(Duration::from_secs(2)));
    }

    /// The etcd-pause duplicate (tests/e2e/README.md): a generateName create got 504 while etcd
    /// was stopped; the list by label, itself waiting in the stopped etcd, was answered "none" the
    /// moment etcd went on, one revision before the pending create landed. A single "missing"
    /// must not resend: a second read, `READ_BACK_CONFIRM_DELAY` later, must say so too.
    #[test]
    fn a_generated_create_resends_only_after_two_missing_reads_spaced_by_the_confirm_delay() {
        let policy = Policy::from_json(r#"{"jitter": "none", "budget": null}"#).unwrap();
        let timeout = Failure::new().with_status(504).with_reason("Timeout");
        // The pending create lands between the two reads: the second finds it.
        let mut call =
            Call::new(&policy, "generated_test").with_recovery(Recovery::CreateGenerated);
        assert_eq!(
            call.on_failure(&timeout),
            Decision::ReadBack {
                delay: Duration::from_secs(1)
            }
        );
        assert_eq!(
            call.on_read_back(ReadOutcome::Missing),
            Ok(Decision::ReadBack {
                delay: READ_BACK_CONFIRM_DELAY
            }),
            "one missing read is no proof"
        );
        assert_eq!(
            call.on_read_back(ReadOutcome::Ours),
            Ok(Decision::Recovered)
        );
        // Nothing lands: missing twice (a failed read between), then resent; a 429 on the resend
        // sent nothing, so one missing read is enough before the next resend.
        let mut call =
            Call::new(&policy, "generated_test").with_recovery(Recovery::CreateGenerated);
        assert!(matches!(
            call.on_failure(&timeout),
            Decision::ReadBack { .. }
        ));
        assert_eq!(
            call.on_read_back(ReadOutcome::NotOurs),
            Ok(Decision::ReadBack {
                delay: READ_BACK_CONFIRM_DELAY
            })
        );
        let read_timeout = Failure::new().with_status(504).with_verb(Verb::Get);
        assert!(matches!(
            call.on_read_back(ReadOutcome::Failed(&read_timeout)),
            Ok(Decision::ReadBack { .. })
        ));
        assert_eq!(
            call.on_read_back(ReadOutcome::Missing),
            Ok(Decision::Retry {
                delay: Duration::ZERO
            })
        );
        let throttled = Failure::new().with_status(429);
        assert!(matches!(
            call.on_failure(&throttled),
            Decision::ReadBack { .. }
        ));
        assert_eq!(
            call.on_read_back(ReadOutcome::Missing),
            Ok(Decision::Retry {
                delay: Duration::ZERO
            })
        );
        // A resend that may have written again needs its own confirmation.
        assert!(matches!(
            call.on_failure(&timeout),
            Decision::ReadBack { .. }
        ));
        assert_eq!(
            call.on_read_back(ReadOutcome::Missing),
            Ok(Decision::ReadBack {
                delay: READ_BACK_CONFIRM_DELAY
            })
        );
    }

    #[test]
    fn a_confirming_read_that_would_pass_the_deadline_gives_up_deadline() {
        let clock = Arc::new(crate::clock::ManualClock::new(0.0));
        let policy = crate::builder::PolicyBuilder::from_json(
            r#"{"jitter": "none", "budget": null, "deadline": 3}"#,
        )
        .unwrap()
        .clock(clock.clone())
        .build()
        .unwrap();
        let mut call =
            Call::new(&policy, "generated_test").with_recovery(Recovery::CreateGenerated);
        let reset = Failure::new().with_code("ECONNRESET");
        assert!(matches!(call.on_failure(&reset), Decision::ReadBack { .. }));
        clock.advance(Duration::from_millis(2500));
        assert_eq!(
            call.on_read_back(ReadOutcome::Missing),
            Ok(Decision::GiveUp(GiveUpReason::Deadline))
        );
        assert!(call.retry_after().is_some());
    }
}
