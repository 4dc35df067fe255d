//! Policies: immutable, cheap to clone, shared across threads (DESIGN §3, §5, §6).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::breaker::CircuitBreaker;
use crate::budget::RetryBudget;
use crate::classify::{Class, Classifier};
use crate::clock::Clock;
use crate::delay::Backoff;
use crate::events::EventCallback;
use crate::failure::Failure;
use crate::retry_after::parse_retry_after;
use crate::rng::JitterRng;

pub(crate) struct Inner {
    pub(crate) name: String,
    pub(crate) max_retries: u32,
    pub(crate) backoff: Backoff,
    pub(crate) retry_after_cap: Duration,
    pub(crate) retry_after_spread: f64,
    pub(crate) retry_after_statuses: Vec<u16>,
    pub(crate) classifier: Classifier,
    pub(crate) deadline: Option<Duration>,
    pub(crate) budget: Option<Arc<RetryBudget>>,
    pub(crate) breaker: Option<Arc<CircuitBreaker>>,
    pub(crate) rng: JitterRng,
    pub(crate) seed: Option<u64>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) on_event: Option<EventCallback>,
}

/// A retry policy. Immutable once built; `clone` shares it (and its budget, breaker and RNG).
#[derive(Clone)]
pub struct Policy {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Policy")
            .field("name", &i.name)
            .field("max_retries", &i.max_retries)
            .field("backoff", &i.backoff)
            .field("retry_after_cap", &i.retry_after_cap)
            .field("retry_after_spread", &i.retry_after_spread)
            .field("retry_after_statuses", &i.retry_after_statuses)
            .field("classifier", &i.classifier)
            .field("deadline", &i.deadline)
            .field("budget", &i.budget.is_some())
            .field("breaker", &i.breaker.is_some())
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// The preset this policy was built from.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Retries allowed after the first attempt.
    pub fn max_retries(&self) -> u32 {
        self.inner.max_retries
    }

    /// Backoff parameters.
    pub fn backoff(&self) -> &Backoff {
        &self.inner.backoff
    }

    /// The longest server hint the engine waits for: a longer one gives up
    /// ([`crate::GiveUpReason::RetryAfterTooLong`]).
    pub fn retry_after_cap(&self) -> Duration {
        self.inner.retry_after_cap
    }

    /// When a server hint decides the delay, the delay is `hint * (1 + U * spread)`, `U`
    /// uniform in `[0, 1)` from the policy's RNG: never sooner than the hint, and a fleet
    /// handed the same `Retry-After` does not come back in the same instant.
    pub fn retry_after_spread(&self) -> f64 {
        self.inner.retry_after_spread
    }

    /// Time allowed for a whole call, if any.
    pub fn deadline(&self) -> Option<Duration> {
        self.inner.deadline
    }

    /// The retry budget, if any.
    pub fn budget(&self) -> Option<&Arc<RetryBudget>> {
        self.inner.budget.as_ref()
    }

    /// The circuit breaker, if any.
    pub fn breaker(&self) -> Option<&Arc<CircuitBreaker>> {
        self.inner.breaker.as_ref()
    }

    /// The clock this policy reads.
    pub fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    /// Statuses whose Retry-After is honoured.
    pub fn retry_after_statuses_set(&self) -> &[u16] {
        &self.inner.retry_after_statuses
    }

    /// The classification sets.
    pub fn classifier(&self) -> &Classifier {
        &self.inner.classifier
    }

    /// The seed of the jitter generator, when the policy was given one (and no random source).
    pub fn seed(&self) -> Option<u64> {
        self.inner.seed
    }

    pub(crate) fn rng(&self) -> &JitterRng {
        &self.inner.rng
    }

    pub(crate) fn event_callback(&self) -> Option<&EventCallback> {
        self.inner.on_event.as_ref()
    }

    /// Classifies `failure` with this policy's status and code sets.
    pub fn classify(&self, failure: &Failure) -> Class {
        self.inner.classifier.classify(failure)
    }

    /// Whether `failure` would be retried for an idempotent request (ignores budget and count).
    pub fn is_retryable(&self, failure: &Failure) -> bool {
        self.classify(failure).is_retryable()
    }

    /// The server's hint in seconds, capped at `retry_after_cap`, if this failure's status or
    /// reason is one whose hint is honoured: `Retry-After` first, then `retryAfterSeconds`.
    /// (A call gives up on a hint above the cap; this capped value is for callers that only
    /// need a bounded delay.)
    pub fn server_hint(&self, failure: &Failure) -> Option<f64> {
        let hint = self.uncapped_hint(failure)?;
        Some(hint.min(self.inner.retry_after_cap.as_secs_f64()))
    }

    /// [`Policy::server_hint`] before the cap.
    pub(crate) fn uncapped_hint(&self, failure: &Failure) -> Option<f64> {
        let by_status = failure
            .status
            .is_some_and(|s| self.inner.retry_after_statuses.contains(&s));
        let by_reason = matches!(
            failure.reason.as_deref(),
            Some("TooManyRequests" | "ServerTimeout")
        );
        if !by_status && !by_reason {
            return None;
        }
        let header = failure
            .retry_after
            .as_deref()
            .and_then(|v| parse_retry_after(v, self.inner.clock.unix_seconds()));
        let body = failure
            .retry_after_seconds
            .filter(|s| *s > 0)
            .map(|s| s as f64);
        header.or(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delay::Jitter;
    use crate::error::PolicyError;

    #[test]
    fn presets_match_the_design_table() {
        let p = Policy::preset("mutation").unwrap();
        assert_eq!(p.max_retries(), 5);
        assert_eq!(p.backoff().initial_delay, Duration::from_secs(2));
        let p = Policy::preset("connection").unwrap();
        assert!(p.classifier().retry_statuses.is_empty());
        assert_eq!(p.backoff().jitter, Jitter::Proportional(0.1));
        let p = Policy::preset("runner_hooks").unwrap();
        assert_eq!(p.backoff().jitter, Jitter::Proportional(0.5));
        assert!(matches!(
            Policy::preset("nope"),
            Err(PolicyError::UnknownPreset(_))
        ));
    }
}
