//! Decision sequences (DESIGN §1, §4): a policy built from arbitrary values on a manual
//! clock, up to three calls of arbitrary verb and recovery sharing it (and its budget and
//! breaker), and an arbitrary sequence of steps: attempt failures (`Call::try_on_failure`),
//! read-back results (`Call::on_read_back`, with `ReadOutcome`), resumes after a `Wait`
//! (`Call::resume`), successes, new calls and the clock moving. Steps out of order are part of
//! the input.
//!
//! Checks, at every step:
//! - no panic (debug assertions and overflow checks on);
//! - a step out of order is an `Err` (`Finished`, `ReadBackPending`, `NoReadBackPending`,
//!   `WaitPending`, `NoWaitPending`), exactly when the call has ended, is (not) waiting for a
//!   read-back, or is (not) waiting to be resumed: while a `Wait` is pending a failure or a
//!   read-back result is an error, and only `resume` goes on;
//! - a `Retry` / `ReadBack` / `Wait` delay is never above max_delay unless the failure carried a
//!   server hint the policy honours, and then never above max(max_delay, retry_after_cap * (1 +
//!   retry_after_spread)), and never below the hint; with a deadline, the time spent plus the
//!   delay stays within it;
//! - a `Wait` comes only with a budget, sends nothing, and `resume` answers a `Retry` (or
//!   `ReadBack`) with no delay, another `Wait` of at most max_delay, or gives up `CircuitOpen`,
//!   `Deadline` or `BudgetExhausted`;
//! - `RetryAfterTooLong` only for a failure whose honoured hint reaches retry_after_cap;
//! - an ambiguous failure (Transient / NetworkAmbiguous) of a POST or PATCH without a recovery,
//!   or of any request under `not_idempotent` or `retry_conflict`, gives up `NotIdempotent`;
//!   a cancelled failure gives up `Cancelled`; a watch, a Fatal or a Gone failure is never
//!   retried; a read-back that found ours is `Recovered`;
//! - attempts never exceed max_retries + 1, resends never exceed the attempts made, read-back
//!   retries never exceed max_retries;
//! - with neither budget, breaker nor deadline, a failure that is safe to resend is resent while
//!   retries are left (no spurious give-up);
//! - an ended call says so; `retry_after` is set exactly after the give-ups that have one
//!   (`RetryAfterTooLong` too), is never below an honoured hint, and is within max(max_delay,
//!   retry_after_cap) unless the hint reached the cap (then it is the server's own, uncapped);
//! - every event's delay is finite, non-negative and within max(max_delay, retry_after_cap *
//!   (1 + retry_after_spread)).
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arbitrary::Arbitrary;
use k8sretry::{
    BudgetChoice, Call, CircuitBreaker, Class, Decision, Event, Failure, GiveUpReason, ManualClock,
    Policy, PolicyBuilder, ReadOutcome, Recovery, RetryBudget, StepError, Verb,
};
use k8sretry_fuzz::{FailureSpec, STATUSES, VERBS, within};
use libfuzzer_sys::fuzz_target;

/// Seconds: mostly whole milliseconds (valid), sometimes any float (NaN, negative, huge).
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Seconds {
    Millis(u32),
    Raw(f64),
}

impl Seconds {
    fn get(self) -> f64 {
        match self {
            Seconds::Millis(ms) => f64::from(ms) / 1000.0,
            Seconds::Raw(s) => s,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum JitterSpec {
    None,
    Full,
    Equal,
    Decorrelated,
    Proportional(u8),
    ProportionalRaw(f64),
}

/// A spread: mostly 0..=1 in 255ths (valid), sometimes any float (refused unless 0..=1).
#[derive(Arbitrary, Debug, Clone, Copy)]
enum JitterAmount {
    Steps(u8),
    Raw(f64),
}

impl JitterAmount {
    fn get(self) -> f64 {
        match self {
            JitterAmount::Steps(s) => f64::from(s) / 255.0,
            JitterAmount::Raw(s) => s,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum BudgetSpec {
    Disabled,
    Own {
        ratio: u8,
        min_per_second: u8,
        ttl: Seconds,
        burst: Option<u8>,
        min_per_episode: Option<u16>,
    },
    /// No share of the traffic and no floor: every retry past the episode's first
    /// `min_per_episode` is refused, so calls `Wait` (with a deadline or in a young episode).
    Tight {
        min_per_episode: u8,
    },
}

#[derive(Arbitrary, Debug)]
struct PolicySpec {
    preset: u8,
    max_retries: Option<u8>,
    initial_delay: Option<Seconds>,
    max_delay: Option<Seconds>,
    exponential_base: Option<u8>,
    jitter: Option<JitterSpec>,
    retry_after_cap: Option<Seconds>,
    retry_after_spread: Option<JitterAmount>,
    retry_after_statuses: Option<Vec<u8>>,
    retry_statuses: Option<Vec<u8>>,
    retry_timeouts: Option<bool>,
    deadline: Option<Seconds>,
    budget: BudgetSpec,
    breaker: Option<(u8, Seconds)>,
    seed: u64,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
struct CallSpec {
    verb: u8,
    recovery: u8,
}

#[derive(Arbitrary, Debug)]
enum OutcomeSpec {
    Ours,
    NotOurs,
    Missing,
    Failed(FailureSpec),
}

#[derive(Arbitrary, Debug)]
enum Step {
    Fail { call: u8, failure: FailureSpec },
    ReadBack { call: u8, outcome: OutcomeSpec },
    Success { call: u8 },
    Begin { call: u8, spec: CallSpec },
    Resume { call: u8 },
    Advance(Seconds),
}

#[derive(Arbitrary, Debug)]
struct Input {
    policy: PolicySpec,
    calls: [CallSpec; 3],
    start_unix: u32,
    steps: Vec<Step>,
}

const PRESETS: [&str; 7] = [
    "default",
    "mutation",
    "read",
    "connection",
    "runner_hooks",
    "conflict",
    "reconcile",
];

fn statuses(indexes: &[u8]) -> Vec<u16> {
    indexes
        .iter()
        .take(8)
        .map(|i| STATUSES[usize::from(*i) % STATUSES.len()])
        .collect()
}

fn build_policy(
    spec: &PolicySpec,
    clock: Arc<ManualClock>,
) -> Option<(Policy, Arc<OnceLock<Duration>>)> {
    let mut b = PolicyBuilder::preset(PRESETS[usize::from(spec.preset) % PRESETS.len()]).ok()?;
    if let Some(n) = spec.max_retries {
        b = b.max_retries(u32::from(n % 13));
    }
    if let Some(s) = spec.initial_delay {
        b = b.initial_delay(s.get());
    }
    if let Some(s) = spec.max_delay {
        b = b.max_delay(s.get());
    }
    if let Some(base) = spec.exponential_base {
        b = b.exponential_base(1.0 + f64::from(base) / 32.0);
    }
    if let Some(j) = &spec.jitter {
        b = b.jitter(match j {
            JitterSpec::None => k8sretry::Jitter::None,
            JitterSpec::Full => k8sretry::Jitter::Full,
            JitterSpec::Equal => k8sretry::Jitter::Equal,
            JitterSpec::Decorrelated => k8sretry::Jitter::Decorrelated,
            JitterSpec::Proportional(s) => k8sretry::Jitter::Proportional(f64::from(*s) / 255.0),
            JitterSpec::ProportionalRaw(s) => k8sretry::Jitter::Proportional(*s),
        });
    }
    if let Some(s) = spec.retry_after_cap {
        b = b.retry_after_cap(s.get());
    }
    if let Some(s) = spec.retry_after_spread {
        b = b.retry_after_spread(s.get());
    }
    if let Some(v) = &spec.retry_after_statuses {
        b = b.retry_after_statuses(statuses(v));
    }
    if let Some(v) = &spec.retry_statuses {
        b = b.retry_statuses(statuses(v));
    }
    if let Some(t) = spec.retry_timeouts {
        b = b.retry_timeouts(t);
    }
    if let Some(s) = spec.deadline {
        b = b.deadline(Some(s.get()));
    }
    b = b.budget(match spec.budget {
        BudgetSpec::Disabled => BudgetChoice::Disabled,
        BudgetSpec::Own {
            ratio,
            min_per_second,
            ttl,
            burst,
            min_per_episode,
        } => {
            let ratio = f64::from(ratio) / 64.0;
            let budget = RetryBudget::try_new(ratio, u32::from(min_per_second), ttl.get()).ok()?;
            let budget = match burst {
                Some(burst) => budget.with_burst(ratio + f64::from(burst) / 16.0).ok()?,
                None => budget,
            };
            let budget = match min_per_episode {
                Some(n) => budget.with_min_per_episode(u32::from(n)).ok()?,
                None => budget,
            };
            BudgetChoice::Own(Arc::new(budget))
        }
        BudgetSpec::Tight { min_per_episode } => {
            let budget = RetryBudget::try_new(0.0, 0, 10.0)
                .and_then(|b| b.with_burst(0.0))
                .and_then(|b| b.with_min_per_episode(u32::from(min_per_episode % 4)))
                .ok()?;
            BudgetChoice::Own(Arc::new(budget))
        }
    });
    if let Some((threshold, open_for)) = spec.breaker {
        let breaker = CircuitBreaker::try_new(u32::from(threshold % 8), open_for.get()).ok()?;
        b = b.breaker(Some(Arc::new(breaker)));
    }
    // Every event's delay is checked against the cap, known once the policy is built.
    let cap: Arc<OnceLock<Duration>> = Arc::new(OnceLock::new());
    let seen = Arc::clone(&cap);
    let on_event: k8sretry::EventCallback = Arc::new(move |event: &Event<'_>| {
        assert!(event.attempt >= 1, "{event:?}");
        if let Some(delay) = event.delay_seconds {
            assert!(delay.is_finite() && delay >= 0.0, "{event:?}");
            if let Some(cap) = seen.get() {
                let d = Duration::from_nanos((delay * 1e9 + 0.5) as u64);
                assert!(within(d, *cap), "{event:?} above {cap:?}");
            }
        }
    });
    let policy = b
        .seed(Some(spec.seed))
        .clock(clock)
        .on_event(Some(on_event))
        .build()
        .ok()?;
    let _ = cap.set(delay_cap(&policy));
    Some((policy, cap))
}

/// The longest delay a hint may decide: `retry_after_cap * (1 + retry_after_spread)` (a hint
/// above the cap gives up instead, and the spread only ever lengthens a hint).
fn hinted_cap(policy: &Policy) -> Duration {
    policy
        .retry_after_cap()
        .mul_f64(1.0 + policy.retry_after_spread())
}

/// The longest delay any decision or event may carry: max(max_delay, hinted_cap).
fn delay_cap(policy: &Policy) -> Duration {
    policy.backoff().max_delay.max(hinted_cap(policy))
}

fn recovery_of(n: u8) -> Recovery {
    [
        Recovery::None,
        Recovery::Create,
        Recovery::CreateAdopt,
        Recovery::Delete { missing_ok: false },
        Recovery::Delete { missing_ok: true },
        Recovery::Idempotent,
        Recovery::RetryConflict,
        Recovery::CreateGenerated,
        Recovery::ReplaceStamped,
        Recovery::NotIdempotent,
    ][usize::from(n) % 10]
}

/// Whether a request may be sent again after an attempt the server may have carried out
/// (DESIGN §4), written independently of the engine.
fn resend_allowed(recovery: Recovery, verb: Verb) -> bool {
    match recovery {
        Recovery::RetryConflict | Recovery::NotIdempotent => false,
        Recovery::None => !matches!(verb, Verb::Post | Verb::Patch),
        _ => true,
    }
}

struct Tracked {
    call: Call,
    verb: Verb,
    recovery: Recovery,
    started: Duration,
    /// `Retry` decisions (resends) so far.
    resends: u32,
    /// `ReadBack` decisions after a failed read-back.
    read_retries: u32,
    /// The failure whose retry the budget deferred (`Wait`), until `resume` answers.
    deferred: Option<Failure>,
    /// Whether that deferred retry is a read-back's (resumed as a `ReadBack`, nothing sent).
    deferred_read: bool,
}

impl Tracked {
    fn begin(policy: &Policy, clock: &ManualClock, spec: CallSpec) -> Tracked {
        let verb = VERBS[usize::from(spec.verb) % VERBS.len()];
        let recovery = recovery_of(spec.recovery);
        let started = k8sretry::Clock::monotonic(clock);
        Tracked {
            call: Call::new(policy, "fuzz_decisions")
                .with_verb(verb)
                .with_recovery(recovery),
            verb,
            recovery,
            started,
            resends: 0,
            read_retries: 0,
            deferred: None,
            deferred_read: false,
        }
    }
}

struct World<'a> {
    policy: &'a Policy,
    clock: &'a ManualClock,
}

impl World<'_> {
    fn max_retries(&self) -> u32 {
        self.policy.max_retries()
    }

    /// The bound on a delay decided for `failure`: max_delay, or with an honoured server hint
    /// max(max_delay, retry_after_cap * (1 + retry_after_spread)). A failure without any hint
    /// gets max_delay whatever the engine's own hint logic says.
    fn delay_bound(&self, failure: &Failure) -> Duration {
        let max_delay = self.policy.backoff().max_delay;
        let has_hint = failure.retry_after.is_some() || failure.retry_after_seconds.is_some();
        if has_hint && self.policy.server_hint(failure).is_some() {
            delay_cap(self.policy)
        } else {
            max_delay
        }
    }

    /// Whether `failure` carries an honoured hint at or above retry_after_cap (`server_hint` is
    /// capped, so it then equals the cap): such a hint gives up `RetryAfterTooLong` (or with a
    /// gate that comes first) unless it is exactly the cap.
    fn hint_reaches_cap(&self, failure: &Failure) -> bool {
        let cap = self.policy.retry_after_cap().as_secs_f64();
        self.policy.server_hint(failure).is_some_and(|h| h >= cap)
    }

    /// A delay scheduled for `failure` (a `Retry`, the first `Wait`, a read-back retry): within
    /// [`World::delay_bound`], never sooner than an honoured hint, and within the deadline.
    fn check_delay(&self, t: &Tracked, delay: Duration, failure: &Failure, what: &str) {
        let bound = self.delay_bound(failure);
        assert!(
            within(delay, bound),
            "{what}: delay {delay:?} above {bound:?} for {failure:?}"
        );
        if let Some(hint) = self.policy.server_hint(failure) {
            // The hint decides the delay when it is at least the backoff; else the backoff,
            // longer, does. Either way never before the server asked.
            let floor = Duration::try_from_secs_f64(hint).unwrap_or(Duration::MAX);
            assert!(
                within(floor, delay),
                "{what}: delay {delay:?} before the hint {hint} s for {failure:?}"
            );
        }
        self.check_deadline(t, delay, what);
    }

    fn check_deadline(&self, t: &Tracked, delay: Duration, what: &str) {
        if let Some(deadline) = self.policy.deadline() {
            let now = k8sretry::Clock::monotonic(self.clock);
            let spent = now.saturating_sub(t.started);
            assert!(
                spent.saturating_add(delay) <= deadline,
                "{what}: {spent:?} spent + {delay:?} passes the deadline {deadline:?}"
            );
        }
    }

    /// Checks shared by every step once a decision was made; `failure` is the failure a give-up
    /// is about (`None` when the engine gives up on a failure of its own making).
    fn check_after(&self, t: &Tracked, decision: &Decision, failure: Option<&Failure>) {
        let call = &t.call;
        assert!(call.attempts() >= 1);
        assert!(
            call.attempts() <= self.max_retries().saturating_add(1),
            "{} attempts with max_retries {}",
            call.attempts(),
            self.max_retries()
        );
        assert!(
            t.resends < call.attempts(),
            "{} resends, {} attempts",
            t.resends,
            call.attempts()
        );
        assert!(
            t.read_retries <= 4 * self.max_retries(),
            "{} read-back retries",
            t.read_retries
        );
        match decision {
            Decision::Retry { .. } => {
                assert!(
                    !call.is_finished() && !call.awaiting_read_back() && !call.awaiting_resume(),
                    "{decision:?}"
                );
            }
            Decision::ReadBack { .. } => {
                assert!(
                    !call.is_finished() && call.awaiting_read_back() && !call.awaiting_resume(),
                    "{decision:?}"
                );
            }
            Decision::Wait { .. } => {
                // Only the budget defers, and the call then waits for `resume` alone.
                assert!(
                    self.policy.budget().is_some(),
                    "{decision:?} without a budget"
                );
                assert!(
                    !call.is_finished() && !call.awaiting_read_back() && call.awaiting_resume(),
                    "{decision:?}"
                );
            }
            Decision::Done | Decision::Recovered | Decision::GiveUp(_) => {
                assert!(
                    call.is_finished() && !call.awaiting_read_back() && !call.awaiting_resume(),
                    "{decision:?}"
                );
            }
        }
        if *decision == Decision::GiveUp(GiveUpReason::RetryAfterTooLong) {
            let f = failure.expect("RetryAfterTooLong is about a failure");
            assert!(
                self.hint_reaches_cap(f),
                "RetryAfterTooLong without a hint past the cap: {f:?}"
            );
        }
        let requeue = matches!(
            decision,
            Decision::GiveUp(
                GiveUpReason::MaxRetries
                    | GiveUpReason::CircuitOpen
                    | GiveUpReason::Deadline
                    | GiveUpReason::BudgetExhausted
                    | GiveUpReason::RetryAfterTooLong
            )
        );
        match call.retry_after() {
            Some(after) => {
                assert!(requeue, "retry_after {after:?} after {decision:?}");
                // The backoff, or the server's hint uncapped: past the cap it is exactly what the
                // server asked for, so only a hint below the cap bounds it.
                let cap = self
                    .policy
                    .backoff()
                    .max_delay
                    .max(self.policy.retry_after_cap());
                if !failure.is_some_and(|f| self.hint_reaches_cap(f)) {
                    assert!(within(after, cap), "retry_after {after:?} above {cap:?}");
                }
                if let Some(hint) = failure.and_then(|f| self.policy.server_hint(f)) {
                    let floor = Duration::try_from_secs_f64(hint).unwrap_or(Duration::MAX);
                    assert!(
                        within(floor, after),
                        "retry_after {after:?} before the hint {hint} s"
                    );
                }
            }
            None => assert!(!requeue, "no retry_after after {decision:?}"),
        }
    }

    fn on_failure(&self, t: &mut Tracked, failure: &Failure) {
        let was_finished = t.call.is_finished();
        let was_reading = t.call.awaiting_read_back();
        let was_waiting = t.call.awaiting_resume();
        assert!(!(was_reading && was_waiting));
        let attempts = t.call.attempts();
        let result = t.call.try_on_failure(failure);
        if was_finished {
            assert_eq!(result, Err(StepError::Finished));
            return;
        }
        if was_reading || was_waiting {
            // Nothing was sent: no attempt can have failed; but the caller may cancel the call
            // in any state (docs/design.md §1): it gives up Cancelled.
            if self.policy.classify(failure) == Class::Cancelled {
                assert_eq!(result, Ok(Decision::GiveUp(GiveUpReason::Cancelled)));
                assert!(t.call.is_finished() && !t.call.awaiting_resume());
                assert!(!t.call.awaiting_read_back());
            } else if was_reading {
                assert_eq!(result, Err(StepError::ReadBackPending));
            } else {
                assert_eq!(result, Err(StepError::WaitPending));
                assert!(t.call.awaiting_resume());
            }
            return;
        }
        let decision = result.expect("a failure in order is decided");
        let class = self.policy.classify(failure);
        let verb = if t.verb == Verb::Unknown {
            failure.verb
        } else {
            t.verb
        };

        if class == Class::Cancelled {
            assert_eq!(decision, Decision::GiveUp(GiveUpReason::Cancelled));
        } else if verb == Verb::Watch || matches!(class, Class::Fatal | Class::Gone) {
            assert_eq!(
                decision,
                Decision::GiveUp(GiveUpReason::NonRetryable),
                "{verb} {class}"
            );
        } else if class.may_have_applied() && !resend_allowed(t.recovery, verb) {
            // Never a POST resent after a reset without a recovery (DESIGN §4).
            assert_eq!(
                decision,
                Decision::GiveUp(GiveUpReason::NotIdempotent),
                "{verb} {:?} {class}",
                t.recovery
            );
        } else if class.is_retryable()
            && self.policy.budget().is_none()
            && self.policy.breaker().is_none()
            && self.policy.deadline().is_none()
            && attempts <= self.max_retries()
            && !self.hint_reaches_cap(failure)
        {
            assert!(
                decision.continues(),
                "{verb} {:?} {class}: {decision:?}",
                t.recovery
            );
        }
        match decision {
            Decision::Retry { delay } => {
                assert!(
                    class.is_retryable() || class == Class::Conflict,
                    "{class}: {decision:?}"
                );
                self.check_delay(t, delay, failure, "retry");
                t.resends += 1;
                assert_eq!(t.call.attempts(), attempts + 1);
            }
            Decision::ReadBack { delay } => {
                if delay > Duration::ZERO {
                    self.check_delay(t, delay, failure, "read-back before a resend");
                }
            }
            Decision::Wait { delay } => {
                assert!(
                    class.is_retryable() || class == Class::Conflict,
                    "{class}: {decision:?}"
                );
                // The delay the gates scheduled, hint and all; nothing is sent meanwhile.
                self.check_delay(t, delay, failure, "wait");
                assert_eq!(t.call.attempts(), attempts, "a wait sends nothing");
                t.deferred = Some(failure.clone());
            }
            Decision::Recovered => panic!("an attempt's failure is never a recovery"),
            Decision::Done | Decision::GiveUp(_) => {}
        }
        self.check_after(t, &decision, Some(failure));
    }

    fn on_read_back(&self, t: &mut Tracked, outcome: ReadOutcome<'_>) {
        let was_finished = t.call.is_finished();
        let was_reading = t.call.awaiting_read_back();
        let was_waiting = t.call.awaiting_resume();
        let result = t.call.on_read_back(outcome);
        if was_finished {
            assert_eq!(result, Err(StepError::Finished));
            return;
        }
        if was_waiting {
            assert_eq!(result, Err(StepError::WaitPending));
            assert!(t.call.awaiting_resume());
            return;
        }
        if !was_reading {
            assert_eq!(result, Err(StepError::NoReadBackPending));
            return;
        }
        let decision = result.expect("a read-back in order is decided");
        match outcome {
            ReadOutcome::Ours => assert_eq!(decision, Decision::Recovered),
            ReadOutcome::Failed(f) if self.policy.classify(f) == Class::Cancelled => {
                assert_eq!(decision, Decision::GiveUp(GiveUpReason::Cancelled));
            }
            _ => {}
        }
        match (decision, outcome) {
            (Decision::ReadBack { delay }, ReadOutcome::Failed(f)) => {
                self.check_delay(t, delay, f, "read-back retry");
                t.read_retries += 1;
            }
            // A generateName create's look that found nothing is confirmed by a second look.
            (Decision::ReadBack { delay }, ReadOutcome::Missing | ReadOutcome::NotOurs)
                if delay == k8sretry::READ_BACK_CONFIRM_DELAY => {}
            (Decision::ReadBack { .. }, _) => panic!("{outcome:?} was read back again"),
            // The budget refused a read-back's retry past the write's own retries: it waits.
            (Decision::Wait { .. }, ReadOutcome::Failed(f)) => {
                t.deferred = Some(f.clone());
                t.deferred_read = true;
            }
            (Decision::Wait { .. }, _) => panic!("only a failed read-back waits: {outcome:?}"),
            (Decision::Retry { delay }, _) => {
                assert_eq!(
                    delay,
                    Duration::ZERO,
                    "a resend after a read-back is not delayed again"
                );
                t.resends += 1;
            }
            _ => {}
        }
        // A give-up on a read that found nothing is about the write's own 409, not the read.
        let about = match outcome {
            ReadOutcome::Failed(f) if self.policy.classify(f) != Class::NotFound => Some(f),
            _ => None,
        };
        self.check_after(t, &decision, about);
    }

    /// `Call::resume`: an error unless the call waits; then a resend now (a `Retry` with no
    /// delay: the wait was the delay, or a `ReadBack` first for a `generateName` create),
    /// another `Wait` of at most max_delay (a backoff, never a hint again) within the deadline,
    /// or a give-up with a gate's reason.
    fn resume(&self, t: &mut Tracked) {
        let was_finished = t.call.is_finished();
        let was_waiting = t.call.awaiting_resume();
        let attempts = t.call.attempts();
        let result = t.call.resume();
        if was_finished {
            assert_eq!(result, Err(StepError::Finished));
            return;
        }
        if !was_waiting {
            assert_eq!(result, Err(StepError::NoWaitPending));
            return;
        }
        let decision = result.expect("a resume in order is decided");
        let failure = t.deferred.take().expect("the harness saw the Wait");
        let read = std::mem::take(&mut t.deferred_read);
        match decision {
            Decision::ReadBack { delay } if read => {
                assert_eq!(
                    delay,
                    Duration::ZERO,
                    "a read after a wait is not delayed again"
                );
                assert_eq!(t.call.attempts(), attempts, "a read-back sends no attempt");
                t.read_retries += 1;
            }
            Decision::Retry { delay } | Decision::ReadBack { delay } => {
                assert_eq!(
                    delay,
                    Duration::ZERO,
                    "a resend after a wait is not delayed again"
                );
                assert_eq!(t.call.attempts(), attempts + 1);
                t.resends += 1;
            }
            Decision::Wait { delay } => {
                let max_delay = self.policy.backoff().max_delay;
                assert!(
                    within(delay, max_delay),
                    "wait again {delay:?} above {max_delay:?}"
                );
                self.check_deadline(t, delay, "wait again");
                assert_eq!(t.call.attempts(), attempts, "a wait sends nothing");
                t.deferred = Some(failure.clone());
                t.deferred_read = read;
            }
            Decision::GiveUp(
                GiveUpReason::CircuitOpen | GiveUpReason::Deadline | GiveUpReason::BudgetExhausted,
            ) => {}
            other => panic!("resume answered {other:?}"),
        }
        self.check_after(t, &decision, Some(&failure));
    }
}

fuzz_target!(|input: Input| {
    let clock = Arc::new(ManualClock::new(f64::from(input.start_unix)));
    let Some((policy, _cap)) = build_policy(&input.policy, Arc::clone(&clock)) else {
        return;
    };
    let world = World {
        policy: &policy,
        clock: &clock,
    };
    let mut calls: Vec<Tracked> = input
        .calls
        .iter()
        .map(|spec| Tracked::begin(&policy, &clock, *spec))
        .collect();
    for step in input.steps.iter().take(64) {
        let now = k8sretry::Clock::unix_seconds(clock.as_ref());
        match step {
            Step::Fail { call, failure } => {
                let failure = failure.build(now);
                world.on_failure(&mut calls[usize::from(*call) % 3], &failure);
            }
            Step::ReadBack { call, outcome } => {
                let failure;
                let outcome = match outcome {
                    OutcomeSpec::Ours => ReadOutcome::Ours,
                    OutcomeSpec::NotOurs => ReadOutcome::NotOurs,
                    OutcomeSpec::Missing => ReadOutcome::Missing,
                    OutcomeSpec::Failed(spec) => {
                        failure = spec.build(now);
                        ReadOutcome::Failed(&failure)
                    }
                };
                world.on_read_back(&mut calls[usize::from(*call) % 3], outcome);
            }
            Step::Success { call } => {
                let t = &mut calls[usize::from(*call) % 3];
                t.call.on_success();
                t.deferred = None;
                t.deferred_read = false;
                assert!(
                    t.call.is_finished()
                        && !t.call.awaiting_read_back()
                        && !t.call.awaiting_resume()
                );
            }
            Step::Begin { call, spec } => {
                calls[usize::from(*call) % 3] = Tracked::begin(&policy, &clock, *spec);
            }
            Step::Resume { call } => world.resume(&mut calls[usize::from(*call) % 3]),
            Step::Advance(seconds) => clock.advance_seconds(seconds.get()),
        }
    }
});
