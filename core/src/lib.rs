//! # k8sretry
//!
//! The retry and idempotency engine for Kubernetes API calls. Every binding (C, Go, Python,
//! Node) makes its decisions here: a binding turns its language's error into a [`Failure`],
//! asks a [`Call`] for a [`Decision`], sleeps, and calls again.
//!
//! ```
//! use k8sretry::{Call, Decision, Failure, Policy, Verb};
//!
//! let policy = Policy::from_json(r#"{"jitter": "none", "budget": null, "retry_after_spread": 0}"#).unwrap();
//! let mut call = Call::new(&policy, "read_pod").with_verb(Verb::Get);
//! let failure = Failure::new().with_status(503).with_retry_after("2");
//! assert_eq!(call.on_failure(&failure), Decision::Retry { delay: std::time::Duration::from_secs(2) });
//! call.on_success();
//! ```
#![deny(missing_docs)]

mod breaker;
mod breaker_registry;
mod budget;
mod builder;
mod call;
mod call_site;
mod classify;
mod clock;
mod config;
mod decision;
mod delay;
mod driver;
mod error;
mod event_text;
mod events;
mod executor;
mod failure;
mod hook_delay;
#[cfg(feature = "kube")]
pub mod kube;
#[cfg(feature = "kube")]
mod kube_failure;
#[cfg(feature = "kube")]
pub mod kube_layer;
mod metrics;
mod metrics_text;
pub mod nesting;
pub mod plan;
mod policy;
mod presets;
#[cfg(feature = "prometheus-client")]
pub mod prometheus;
mod retry_after;
mod retry_counts;
mod rng;
mod status_body;
mod success;
mod validate;

pub use breaker::CircuitBreaker;
pub use budget::{RetryBudget, shared_budget};
pub use builder::{BudgetChoice, PolicyBuilder};
pub use call::{Call, READ_BACK_CONFIRM_DELAY};
pub use call_site::CallSite;
pub use classify::{
    Class, Classifier, DEFAULT_AMBIGUOUS_CODES, DEFAULT_NOT_SENT_CODES, DEFAULT_RETRY_STATUSES,
    classify,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use decision::{Decision, GiveUpReason, ReadOutcome, Recovery, StepError};
pub use delay::{Backoff, Jitter};
pub use error::{PolicyError, RetryError, ToFailure};
pub use event_text::{MAX_EVENT_TEXT, event_text};
pub use events::{EVENT_LEVELS, Event, EventCallback, EventKind, level_name};
#[cfg(feature = "tokio")]
pub use executor::{retry, retry_idempotent};
pub use executor::{retry_blocking, retry_blocking_idempotent};
pub use failure::{Failure, MAX_CODES, Verb, outside_text};
pub use metrics::{MAX_FUNCTIONS, OTHER_FUNCTIONS, Outcome};
pub use metrics_text::metrics_text;
pub use plan::{
    APPLY_PATCH_CONTENT_TYPE, PATCH_CONTENT_TYPES, PatchType, Plan, REQUEST_ID, Request, Stamp,
};
pub use policy::Policy;
pub use presets::{
    DEFAULT_RETRY_AFTER_CAP, DEFAULT_RETRY_AFTER_SPREAD, DEFAULT_RETRY_AFTER_STATUSES, PRESETS,
};
pub use retry_after::{parse_http_date, parse_retry_after};
pub use rng::{JitterRng, RandomSource};
pub use success::SuccessRecorder;

// The crate README's examples run as doctests, so they stay true as written (the top-level
// README's Rust examples are copies of them: tests/readme.rs checks).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

/// The crate version, as in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
