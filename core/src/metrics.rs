//! Process-wide metrics in Prometheus text exposition format (DESIGN §7).
//!
//! Per-function counters live behind an `Arc` that a call looks up once when it starts (a read
//! lock and a binary search, no allocation after the function's first call); counting is atomic.
//! The registry is a name-sorted `Vec` rather than a `HashMap`: a hash table keeps a pointer into
//! the middle of its allocation, which leak checkers (valgrind) cannot follow.
//!
//! The label set is bounded: the first [`MAX_FUNCTIONS`] function names get series of their own;
//! calls of any later name are counted under `function="_other"` (their events still carry their
//! own name). A process that names calls by object (100k names kept 77 MB and rendered 11 MB of
//! text) stays small, and its metrics stay usable.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use crate::breaker_registry::open_circuits;
use crate::budget::shared_budget;
use crate::classify::Class;
use crate::clock::{Clock, SystemClock};
use crate::decision::GiveUpReason;
use crate::failure::HTTP_STATUSES;
use crate::retry_counts::RetryCounts;

/// Final outcome of a call, the `outcome` label of `k8sretry_calls_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Succeeded on the first attempt.
    Success,
    /// Succeeded after one or more retries.
    SuccessAfterRetry,
    /// A write whose response was lost was found to have happened.
    Recovered,
    /// Gave up: the engine stopped retrying a failure a retry might have fixed (retries, budget,
    /// breaker or deadline used up), refused to repeat a write whose outcome is unknown, or the
    /// caller cancelled. Counted by reason in `k8sretry_giveups_total`.
    GaveUp,
    /// Ended on an answer no retry changes (`NotFound`, `AlreadyExists`, `Conflict`, 400, 403,
    /// 422, ...: give-up reason `NonRetryable`), the caller's to handle. Not a give-up: such
    /// answers are part of ordinary work (`Api::get_opt` of a missing object), so they are not in
    /// `k8sretry_giveups_total`.
    Failed,
}

impl Outcome {
    /// Every outcome, in label order.
    pub const ALL: [Outcome; 5] = [
        Outcome::Success,
        Outcome::SuccessAfterRetry,
        Outcome::Recovered,
        Outcome::GaveUp,
        Outcome::Failed,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::SuccessAfterRetry => "success_after_retry",
            Outcome::Recovered => "recovered",
            Outcome::GaveUp => "gave_up",
            Outcome::Failed => "failed",
        }
    }
}

/// Upper bounds of the delay histogram's buckets, in seconds.
pub(crate) const DELAY_BUCKETS: [f64; 11] =
    [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// How many function names get series of their own; later ones count as `_other`.
pub const MAX_FUNCTIONS: usize = 1000;

/// The `function` label of the names past [`MAX_FUNCTIONS`].
pub const OTHER_FUNCTIONS: &str = "_other";

/// The counters of one label value.
#[derive(Debug, Default)]
struct Counters {
    calls: [AtomicU64; Outcome::ALL.len()],
    giveups: [AtomicU64; GiveUpReason::ALL.len()],
    retries: RetryCounts,
}

/// A function name (for events) and the counters it counts into: its own, or past the label
/// limit the shared `_other` ones.
#[derive(Debug)]
pub(crate) struct FunctionMetrics {
    pub(crate) name: Box<str>,
    counters: Arc<Counters>,
}

impl FunctionMetrics {
    pub(crate) fn count_outcome(&self, outcome: Outcome) {
        self.count_outcomes(outcome, 1);
    }

    pub(crate) fn count_outcomes(&self, outcome: Outcome, n: u64) {
        self.counters.calls[outcome as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// A call that ended with `reason`: `NonRetryable` is the server's answer (outcome `failed`),
    /// every other reason a give-up (outcome `gave_up`, and counted by reason).
    pub(crate) fn count_give_up(&self, reason: GiveUpReason) {
        if reason == GiveUpReason::NonRetryable {
            self.count_outcome(Outcome::Failed);
            return;
        }
        self.count_outcome(Outcome::GaveUp);
        self.counters.giveups[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_retry(&self, class: Class, status: Option<u16>, delay_seconds: f64) {
        // Only HTTP's statuses become labels: a caller's garbage number (any u16 through the C
        // ABI) would otherwise make a series of its own, up to 65535 per function and class.
        let status = status.filter(|s| HTTP_STATUSES.contains(s)).unwrap_or(0);
        self.counters.retries.add(class, status);
        registry().delays.observe(delay_seconds);
    }
}

#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; DELAY_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// One increment, in the first bucket that holds `seconds` (none past the last bound: the
    /// count has it); the cumulative `le` figures are summed when rendered.
    fn observe(&self, seconds: f64) {
        if let Some(i) = DELAY_BUCKETS.iter().position(|&bound| seconds <= bound) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }
}

#[derive(Default)]
struct Registry {
    /// Sorted by name; at most [`MAX_FUNCTIONS`].
    functions: RwLock<Vec<Arc<FunctionMetrics>>>,
    /// The counters of every name past the limit.
    other: Arc<Counters>,
    delays: Histogram,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

/// The counters of `name`, created on first use.
pub(crate) fn function(name: &str) -> Arc<FunctionMetrics> {
    let registry = registry();
    let find =
        |functions: &[Arc<FunctionMetrics>]| functions.binary_search_by(|m| (*m.name).cmp(name));
    {
        let functions = registry.functions.read().unwrap_or_else(|p| p.into_inner());
        if let Ok(i) = find(&functions) {
            return Arc::clone(&functions[i]);
        }
    }
    let mut functions = registry
        .functions
        .write()
        .unwrap_or_else(|p| p.into_inner());
    match find(&functions) {
        Ok(i) => Arc::clone(&functions[i]),
        // Past the limit: not kept; this call's events keep its name, its counts go to `_other`.
        Err(_) if functions.len() >= MAX_FUNCTIONS => Arc::new(FunctionMetrics {
            name: name.into(),
            counters: Arc::clone(&registry.other),
        }),
        Err(i) => {
            let created = Arc::new(FunctionMetrics {
                name: name.into(),
                counters: Arc::default(),
            });
            functions.insert(i, Arc::clone(&created));
            created
        }
    }
}

/// Counters for `name` that are never registered: a nested call records nothing (docs/design.md
/// "Nesting"), and its name must not take one of the [`MAX_FUNCTIONS`] places.
pub(crate) fn detached(name: &str) -> Arc<FunctionMetrics> {
    Arc::new(FunctionMetrics {
        name: name.into(),
        counters: Arc::default(),
    })
}

/// Whether `name` is registered (for tests).
#[cfg(test)]
pub(crate) fn registered(name: &str) -> bool {
    let functions = registry()
        .functions
        .read()
        .unwrap_or_else(|p| p.into_inner());
    functions.binary_search_by(|m| (*m.name).cmp(name)).is_ok()
}

/// Every metric of this process at one moment: what [`metrics_text`](crate::metrics_text) renders and the
/// prometheus-client collector encodes.
pub(crate) struct Snapshot {
    /// (function, outcome, count), counts above zero.
    pub(crate) calls: Vec<(Box<str>, Outcome, u64)>,
    /// (function, class, status or 0, count).
    pub(crate) retries: Vec<(Box<str>, &'static str, u16, u64)>,
    /// (function, reason, count), counts above zero.
    pub(crate) giveups: Vec<(Box<str>, GiveUpReason, u64)>,
    /// Per bucket of [`DELAY_BUCKETS`], not cumulative.
    pub(crate) delay_buckets: [u64; DELAY_BUCKETS.len()],
    pub(crate) delay_count: u64,
    pub(crate) delay_sum: f64,
    pub(crate) budget_tokens: f64,
    /// (breaker name, 1 while open), one line per name.
    pub(crate) circuits: Vec<(String, u8)>,
}

pub(crate) fn snapshot() -> Snapshot {
    let registry = registry();
    let functions: Vec<Arc<FunctionMetrics>> = registry
        .functions
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let mut calls = Vec::new();
    let mut retries = Vec::new();
    let mut giveups = Vec::new();
    let other = (Box::<str>::from(OTHER_FUNCTIONS), &*registry.other);
    let named = functions.iter().map(|m| (m.name.clone(), &*m.counters));
    for (name, m) in named.chain(std::iter::once(other)) {
        for outcome in Outcome::ALL {
            let n = m.calls[outcome as usize].load(Ordering::Relaxed);
            if n > 0 {
                calls.push((name.clone(), outcome, n));
            }
        }
        for ((class, status), n) in m.retries.snapshot() {
            retries.push((name.clone(), class, status, n));
        }
        for reason in GiveUpReason::ALL {
            let n = m.giveups[reason as usize].load(Ordering::Relaxed);
            if n > 0 {
                giveups.push((name.clone(), reason, n));
            }
        }
    }
    let h = &registry.delays;
    let delay_buckets = std::array::from_fn(|i| h.buckets[i].load(Ordering::Relaxed));
    Snapshot {
        calls,
        retries,
        giveups,
        delay_buckets,
        delay_count: h.count.load(Ordering::Relaxed),
        delay_sum: h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        budget_tokens: shared_budget().balance(SystemClock.monotonic()),
        circuits: open_circuits(),
    }
}
