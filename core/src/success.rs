//! The success path prepared once per function: what `Call::new(..).on_success()` records for a
//! first attempt that succeeded, without the per-call metrics lookup. Bindings keep one per
//! wrapped function so that a success costs one cheap native call.

use std::sync::Arc;

use crate::metrics::{self, FunctionMetrics, Outcome};
use crate::policy::Policy;

/// Records first-attempt successes of one function under one policy.
#[derive(Clone)]
pub struct SuccessRecorder {
    policy: Policy,
    metrics: Arc<FunctionMetrics>,
}

impl SuccessRecorder {
    /// Looks up (or creates) the counters of `function` once.
    pub fn new(policy: &Policy, function: &str) -> SuccessRecorder {
        SuccessRecorder {
            policy: policy.clone(),
            metrics: metrics::function(function),
        }
    }

    /// The same effects as `Call::new(policy, function).on_success()`: a budget deposit, a
    /// breaker success, and one `success` outcome. Allocation-free and lock-free.
    pub fn record(&self) {
        record(&self.policy, &self.metrics);
    }

    /// `n` first-attempt successes at once, for bindings where one native call per success
    /// costs more than the rest of their success path (Node): `n` deposits at the current time,
    /// one breaker success, `n` outcomes. The caller flushes often enough (before any failure is
    /// decided, and at least once per budget slot) that the budget sees them in time.
    pub fn record_many(&self, n: u32) {
        if n == 0 {
            return;
        }
        if let Some(budget) = self.policy.budget() {
            let now = self.policy.clock().monotonic();
            budget.deposit_many(now, n);
            budget.record_success_many(now, n);
        }
        if let Some(breaker) = self.policy.breaker() {
            breaker.record_success();
        }
        self.metrics.count_outcomes(Outcome::Success, u64::from(n));
    }
}

/// A first attempt of the function counted by `metrics` succeeded under `policy` (what
/// [`SuccessRecorder::record`] and the Rust executors' first attempt record).
pub(crate) fn record(policy: &Policy, metrics: &FunctionMetrics) {
    if let Some(budget) = policy.budget() {
        let now = policy.clock().monotonic();
        budget.deposit(now);
        budget.record_success(now);
    }
    if let Some(breaker) = policy.breaker() {
        breaker.record_success();
    }
    metrics.count_outcome(Outcome::Success);
}

impl std::fmt::Debug for SuccessRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SuccessRecorder")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Call, Clock, ManualClock, RetryBudget, metrics_text};
    use std::time::Duration;

    fn count(function: &str) -> String {
        metrics_text()
            .lines()
            .find(|l| l.contains(&format!("function=\"{function}\",outcome=\"success\"")))
            .unwrap_or_default()
            .rsplit(' ')
            .next()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn records_what_a_successful_call_records() {
        let clock = Arc::new(ManualClock::new(1_700_000_000.0));
        let make = |budget: &Arc<RetryBudget>| {
            Policy::builder()
                .clock(clock.clone())
                .budget(crate::BudgetChoice::Own(budget.clone()))
                .build()
                .unwrap()
        };
        let (via_call, via_recorder) = (
            Arc::new(RetryBudget::new(0.2, 0, Duration::from_secs(10))),
            Arc::new(RetryBudget::new(0.2, 0, Duration::from_secs(10))),
        );
        let (p1, p2) = (make(&via_call), make(&via_recorder));
        let recorder = SuccessRecorder::new(&p2, "success_recorder_b");
        for _ in 0..7 {
            Call::new(&p1, "success_recorder_a").on_success();
            recorder.record();
        }
        let now = clock.monotonic();
        assert_eq!(via_call.balance(now), via_recorder.balance(now));
        assert!(via_recorder.balance(now) > 1.0, "deposits were made");
        assert_eq!(count("success_recorder_a"), "7");
        assert_eq!(count("success_recorder_b"), "7");
        // A batch of 5 is five single records.
        recorder.record_many(5);
        for _ in 0..5 {
            Call::new(&p1, "success_recorder_a").on_success();
        }
        recorder.record_many(0);
        assert_eq!(via_call.balance(now), via_recorder.balance(now));
        assert_eq!(count("success_recorder_b"), "12");
    }
}
