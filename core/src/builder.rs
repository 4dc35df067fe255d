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
use crate::error::PolicyError;
use crate::events::EventCallback;
use crate::policy::{Inner, Policy};
use crate::presets::{
    DEFAULT_RETRY_AFTER_CAP, DEFAULT_RETRY_AFTER_SPREAD, DEFAULT_RETRY_AFTER_STATUSES,
    preset_values,
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

/// A builder's time values, checked and converted (by `check`, in validate.rs).
pub(crate) struct Checked {
    pub(crate) initial_delay: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) retry_after_cap: Duration,
    pub(crate) deadline: Option<Duration>,
}

/// Builds a [`Policy`]; `build` validates every value.
#[derive(Clone)]
pub struct PolicyBuilder {
    pub(crate) name: String,
    pub(crate) max_retries: u32,
    pub(crate) initial_delay: f64,
    pub(crate) max_delay: f64,
    pub(crate) exponential_base: f64,
    pub(crate) jitter: Jitter,
    pub(crate) retry_after_cap: f64,
    pub(crate) retry_after_spread: f64,
    pub(crate) retry_after_statuses: Vec<u16>,
    pub(crate) classifier: Classifier,
    pub(crate) deadline: Option<f64>,
    pub(crate) budget: BudgetChoice,
    pub(crate) breaker: Option<Arc<CircuitBreaker>>,
    pub(crate) seed: Option<u64>,
    pub(crate) random: Option<RandomSource>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) on_event: Option<EventCallback>,
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
        let Some(values) = preset_values(name) else {
            return Err(PolicyError::UnknownPreset(name.to_owned()));
        };
        let mut classifier = Classifier::default();
        if !values.retry_statuses {
            classifier.retry_statuses.clear();
        }
        Ok(PolicyBuilder {
            name: name.to_owned(),
            max_retries: values.max_retries,
            initial_delay: values.initial_delay,
            max_delay: values.max_delay,
            exponential_base: values.exponential_base,
            jitter: Jitter::Proportional(values.jitter),
            retry_after_cap: DEFAULT_RETRY_AFTER_CAP,
            retry_after_spread: DEFAULT_RETRY_AFTER_SPREAD,
            retry_after_statuses: DEFAULT_RETRY_AFTER_STATUSES.to_vec(),
            classifier,
            deadline: values.deadline,
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
        let Checked {
            initial_delay,
            max_delay,
            retry_after_cap,
            deadline,
        } = self.check()?;
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
