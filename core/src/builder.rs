//! Building a policy: a preset's values, the setters, and `build`, which validates every value.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::breaker::CircuitBreaker;
use crate::breaker_registry::register_breaker;
use crate::budget::{RetryBudget, shared_budget};
use crate::classify::Classifier;
use crate::clock::{Clock, SystemClock};
use crate::delay::{Backoff, Jitter};
use crate::error::{PolicyError, invalid};
use crate::events::EventCallback;
use crate::failure::HTTP_STATUSES;
use crate::policy::{Inner, Policy};
use crate::presets::{
    DEFAULT_RETRY_AFTER_CAP, DEFAULT_RETRY_AFTER_SPREAD, DEFAULT_RETRY_AFTER_STATUSES,
};
use crate::rng::{JitterRng, RandomSource};

/// Which retry budget a policy uses.
#[derive(Debug, Clone, Default)]
pub enum BudgetChoice {
    /// The one process-wide budget (the default).
    #[default]
    Shared,
    /// No budget.
    Disabled,
    /// A budget of its own (shared by clones of this policy and policies given the same `Arc`).
    Own(Arc<RetryBudget>),
}

impl Default for Policy {
    fn default() -> Policy {
        Policy::builder()
            .build()
            .expect("the default preset is valid")
    }
}

impl Policy {
    /// A builder starting from the `default` preset.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::preset("default").expect("the default preset exists")
    }

    /// The preset named `name` (see [`PRESETS`](crate::PRESETS)).
    pub fn preset(name: &str) -> Result<Policy, PolicyError> {
        PolicyBuilder::preset(name)?.build()
    }
}

/// Builds a [`Policy`]; `build` validates every value.
#[derive(Clone)]
pub struct PolicyBuilder {
    name: String,
    max_retries: u32,
    initial_delay: f64,
    max_delay: f64,
    exponential_base: f64,
    jitter: Jitter,
    retry_after_cap: f64,
    retry_after_spread: f64,
    retry_after_statuses: Vec<u16>,
    classifier: Classifier,
    deadline: Option<f64>,
    budget: BudgetChoice,
    breaker: Option<Arc<CircuitBreaker>>,
    seed: Option<u64>,
    random: Option<RandomSource>,
    clock: Arc<dyn Clock>,
    on_event: Option<EventCallback>,
}

impl fmt::Debug for PolicyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyBuilder")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl PolicyBuilder {
    /// A builder holding the preset `name`'s values.
    pub fn preset(name: &str) -> Result<PolicyBuilder, PolicyError> {
        let (max_retries, initial, max, jitter) = match name {
            "conflict" => (4, 0.01, 0.01, 0.1),
            "default" => (3, 1.0, 30.0, 0.1),
            "mutation" => (5, 2.0, 30.0, 0.1),
            "read" => (3, 1.0, 10.0, 0.1),
            "connection" => (5, 0.5, 10.0, 0.1),
            "runner_hooks" => (3, 1.0, 30.0, 0.5),
            "reconcile" => (2, 0.2, 2.0, 0.1),
            other => return Err(PolicyError::UnknownPreset(other.to_owned())),
        };
        let mut classifier = Classifier::default();
        if name == "connection" {
            // Only network failures: no status is retried.
            classifier.retry_statuses.clear();
        }
        Ok(PolicyBuilder {
            name: name.to_owned(),
            max_retries,
            initial_delay: initial,
            max_delay: max,
            exponential_base: if name == "conflict" { 1.0 } else { 2.0 },
            jitter: Jitter::Proportional(jitter),
            retry_after_cap: DEFAULT_RETRY_AFTER_CAP,
            retry_after_spread: DEFAULT_RETRY_AFTER_SPREAD,
            retry_after_statuses: DEFAULT_RETRY_AFTER_STATUSES.to_vec(),
            classifier,
            deadline: (name == "reconcile").then_some(5.0),
            budget: BudgetChoice::Shared,
            breaker: None,
            seed: None,
            random: None,
            clock: Arc::new(SystemClock),
            on_event: None,
        })
    }

    /// Retries after the first attempt (`3` means at most 4 calls).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Delay before the first retry, in seconds.
    pub fn initial_delay(mut self, seconds: f64) -> Self {
        self.initial_delay = seconds;
        self
    }

    /// Cap on backoff delays, in seconds.
    pub fn max_delay(mut self, seconds: f64) -> Self {
        self.max_delay = seconds;
        self
    }

    /// Growth factor per retry.
    pub fn exponential_base(mut self, base: f64) -> Self {
        self.exponential_base = base;
        self
    }

    /// Jitter mode.
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The longest server hint waited for, in seconds (a longer one gives up).
    pub fn retry_after_cap(mut self, seconds: f64) -> Self {
        self.retry_after_cap = seconds;
        self
    }

    /// How far past a server hint a retry is spread (`0..=1`; see
    /// [`Policy::retry_after_spread`]).
    pub fn retry_after_spread(mut self, spread: f64) -> Self {
        self.retry_after_spread = spread;
        self
    }

    /// Statuses whose `Retry-After` / `retryAfterSeconds` is honoured.
    pub fn retry_after_statuses(mut self, statuses: impl Into<Vec<u16>>) -> Self {
        self.retry_after_statuses = statuses.into();
        self
    }

    /// HTTP statuses that are retried.
    pub fn retry_statuses(mut self, statuses: impl Into<Vec<u16>>) -> Self {
        self.classifier.retry_statuses = statuses.into();
        self
    }

    /// Network codes meaning "never reached the server".
    pub fn not_sent_codes<S: Into<String>>(mut self, codes: impl IntoIterator<Item = S>) -> Self {
        self.classifier.not_sent_codes = codes
            .into_iter()
            .map(|c| c.into().to_ascii_uppercase())
            .collect();
        self
    }

    /// Network codes meaning "may have reached the server".
    pub fn ambiguous_codes<S: Into<String>>(mut self, codes: impl IntoIterator<Item = S>) -> Self {
        self.classifier.ambiguous_codes = codes
            .into_iter()
            .map(|c| c.into().to_ascii_uppercase())
            .collect();
        self
    }

    /// Whether client-side timeouts are retried.
    pub fn retry_timeouts(mut self, retry: bool) -> Self {
        self.classifier.retry_timeouts = retry;
        self
    }

    /// Time allowed for a whole call, in seconds (`None`: no deadline).
    pub fn deadline(mut self, seconds: Option<f64>) -> Self {
        self.deadline = seconds;
        self
    }

    /// Which retry budget to use.
    pub fn budget(mut self, budget: BudgetChoice) -> Self {
        self.budget = budget;
        self
    }

    /// A circuit breaker (`None`: off).
    pub fn breaker(mut self, breaker: Option<Arc<CircuitBreaker>>) -> Self {
        self.breaker = breaker;
        self
    }

    /// Draws the jitter from `source` (uniform in `[0, 1)`) instead of the policy's own generator:
    /// a caller's random function, or a test's fixed value. Wins over `seed`.
    pub fn random(mut self, source: Option<RandomSource>) -> Self {
        self.random = source;
        self
    }

    /// Seeds the jitter RNG: the same seed gives the same delays in every language.
    pub fn seed(mut self, seed: Option<u64>) -> Self {
        self.seed = seed;
        self
    }

    /// Replaces the clock (tests, vectors).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Receives every event, in addition to `tracing`.
    pub fn on_event(mut self, callback: Option<EventCallback>) -> Self {
        self.on_event = callback;
        self
    }

    /// Validates and builds.
    pub fn build(self) -> Result<Policy, PolicyError> {
        const MAX_SECONDS: f64 = 86_400.0 * 365.0;
        let seconds = |field: &'static str, v: f64| -> Result<Duration, PolicyError> {
            if !(0.0..=MAX_SECONDS).contains(&v) {
                return Err(invalid(
                    field,
                    format!("must be between 0 and {MAX_SECONDS} seconds, got {v}"),
                ));
            }
            Ok(Duration::from_secs_f64(v))
        };
        if self.max_retries > 10_000 {
            return Err(invalid(
                "max_retries",
                format!("must be at most 10000, got {}", self.max_retries),
            ));
        }
        let initial_delay = seconds("initial_delay", self.initial_delay)?;
        let max_delay = seconds("max_delay", self.max_delay)?;
        if !(1.0..=1000.0).contains(&self.exponential_base) {
            return Err(invalid(
                "exponential_base",
                format!("must be between 1 and 1000, got {}", self.exponential_base),
            ));
        }
        if let Jitter::Proportional(s) = self.jitter
            && !(0.0..=1.0).contains(&s)
        {
            return Err(invalid(
                "jitter",
                format!("proportional jitter must be between 0 and 1, got {s}"),
            ));
        }
        if let Jitter::Upward(s) = self.jitter
            && !(0.0..=1000.0).contains(&s)
        {
            return Err(invalid(
                "jitter",
                format!("upward jitter must be between 0 and 1000, got {s}"),
            ));
        }
        let retry_after_cap = seconds("retry_after_cap", self.retry_after_cap)?;
        if !(0.0..=1.0).contains(&self.retry_after_spread) {
            return Err(invalid(
                "retry_after_spread",
                format!("must be between 0 and 1, got {}", self.retry_after_spread),
            ));
        }
        let deadline = match self.deadline {
            // Below a millisecond a deadline rounds away to nothing (1e-300 was a 0 ns deadline).
            Some(d) if d >= 0.001 => Some(seconds("deadline", d)?),
            Some(d) => {
                return Err(invalid(
                    "deadline",
                    format!("must be at least 0.001 seconds, got {d}"),
                ));
            }
            None => None,
        };
        let classifier = &self.classifier;
        if let Some(both) = classifier
            .not_sent_codes
            .iter()
            .find(|c| classifier.ambiguous_codes.contains(c))
        {
            // A code in both sets would make an ambiguous failure look unsent, and a POST
            // would be resent after it.
            return Err(invalid(
                "not_sent_codes",
                format!("{both} is also in ambiguous_codes: a code is one or the other"),
            ));
        }
        for (field, statuses) in [
            ("retry_statuses", &self.classifier.retry_statuses),
            ("retry_after_statuses", &self.retry_after_statuses),
        ] {
            if let Some(bad) = statuses.iter().find(|s| !HTTP_STATUSES.contains(*s)) {
                return Err(invalid(
                    field,
                    format!("HTTP statuses are 100..=599, got {bad}"),
                ));
            }
        }
        let budget = match self.budget {
            BudgetChoice::Shared => Some(Arc::clone(shared_budget())),
            BudgetChoice::Disabled => None,
            BudgetChoice::Own(b) => Some(b),
        };
        if let Some(breaker) = &self.breaker {
            register_breaker(&self.name, breaker);
        }
        let seed = if self.random.is_some() {
            None
        } else {
            self.seed
        };
        let rng = match (self.random, self.seed) {
            (Some(source), _) => JitterRng::injected(source),
            (None, Some(seed)) => JitterRng::seeded(seed),
            (None, None) => JitterRng::from_entropy(),
        };
        Ok(Policy {
            inner: Arc::new(Inner {
                name: self.name,
                max_retries: self.max_retries,
                backoff: Backoff {
                    initial_delay,
                    max_delay,
                    exponential_base: self.exponential_base,
                    jitter: self.jitter,
                },
                retry_after_cap,
                retry_after_spread: self.retry_after_spread,
                retry_after_statuses: self.retry_after_statuses,
                classifier: self.classifier,
                deadline,
                budget,
                breaker: self.breaker,
                rng,
                seed,
                clock: self.clock,
                on_event: self.on_event,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_values_name_the_field() {
        let err = Policy::builder().max_delay(-1.0).build().unwrap_err();
        assert!(err.to_string().contains("max_delay"), "{err}");
        let err = Policy::builder()
            .exponential_base(f64::NAN)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("exponential_base"), "{err}");
        let err = Policy::builder()
            .retry_statuses(vec![99])
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("retry_statuses"), "{err}");
        let err = Policy::builder()
            .deadline(Some(1e-300))
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("deadline"), "{err}");
        let err = Policy::builder()
            .not_sent_codes(["ECONNREFUSED", "econnreset"])
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("ECONNRESET"), "{err}");
    }
}
