//! Process-wide metrics in Prometheus text exposition format (DESIGN §2.7).
//!
//! Per-function counters live behind an `Arc` that a call looks up once when it starts (a read
//! lock and a binary search, no allocation after the function's first call); counting is atomic.
//! The registry is a name-sorted `Vec` rather than a `HashMap`: a hash table keeps a pointer into
//! the middle of its allocation, which leak checkers (valgrind) cannot follow.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

use crate::breaker::CircuitBreaker;
use crate::budget::shared_budget;
use crate::classify::Class;
use crate::clock::{Clock, SystemClock};
use crate::decision::GiveUpReason;
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
    /// Gave up.
    GaveUp,
}

impl Outcome {
    const ALL: [Outcome; 4] = [
        Outcome::Success,
        Outcome::SuccessAfterRetry,
        Outcome::Recovered,
        Outcome::GaveUp,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::SuccessAfterRetry => "success_after_retry",
            Outcome::Recovered => "recovered",
            Outcome::GaveUp => "gave_up",
        }
    }
}

/// Upper bounds of the delay histogram's buckets, in seconds.
const DELAY_BUCKETS: [f64; 11] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Counters of one function name.
#[derive(Debug)]
pub(crate) struct FunctionMetrics {
    pub(crate) name: Box<str>,
    calls: [AtomicU64; 4],
    giveups: [AtomicU64; GiveUpReason::ALL.len()],
    retries: RetryCounts,
}

impl FunctionMetrics {
    pub(crate) fn count_outcome(&self, outcome: Outcome) {
        self.count_outcomes(outcome, 1);
    }

    pub(crate) fn count_outcomes(&self, outcome: Outcome, n: u64) {
        self.calls[outcome as usize].fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn count_give_up(&self, reason: GiveUpReason) {
        self.count_outcome(Outcome::GaveUp);
        self.giveups[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_retry(&self, class: Class, status: Option<u16>, delay_seconds: f64) {
        self.retries.add(class, status.unwrap_or(0));
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
    /// Sorted by name.
    functions: RwLock<Vec<Arc<FunctionMetrics>>>,
    delays: Histogram,
    breakers: Mutex<Vec<(String, Weak<CircuitBreaker>)>>,
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
        Err(i) => {
            let created = Arc::new(FunctionMetrics {
                name: name.into(),
                calls: Default::default(),
                giveups: Default::default(),
                retries: RetryCounts::default(),
            });
            functions.insert(i, Arc::clone(&created));
            created
        }
    }
}

/// Registers a breaker for the `k8sretry_circuit_open` gauge under `name`.
pub(crate) fn register_breaker(name: &str, breaker: &Arc<CircuitBreaker>) {
    let mut breakers = registry()
        .breakers
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    breakers.retain(|(_, weak)| weak.strong_count() > 0);
    breakers.push((name.to_owned(), Arc::downgrade(breaker)));
}

/// All metrics of this process in Prometheus text exposition format (version 0.0.4).
pub fn metrics_text() -> String {
    let registry = registry();
    let mut out = String::new();
    let functions: Vec<(String, Arc<FunctionMetrics>)> = registry
        .functions
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|m| (m.name.to_string(), Arc::clone(m)))
        .collect();

    header(
        &mut out,
        "k8sretry_calls_total",
        "counter",
        "Calls by final outcome.",
    );
    for (name, m) in &functions {
        for outcome in Outcome::ALL {
            let n = m.calls[outcome as usize].load(Ordering::Relaxed);
            if n > 0 {
                let _ = writeln!(
                    out,
                    "k8sretry_calls_total{{function=\"{}\",outcome=\"{}\"}} {n}",
                    escape(name),
                    outcome.as_str()
                );
            }
        }
    }
    header(
        &mut out,
        "k8sretry_retries_total",
        "counter",
        "Retries by failure class and status.",
    );
    for (name, m) in &functions {
        let retries = m.retries.snapshot();
        for ((class, status), n) in retries {
            let status = if status == 0 {
                String::new()
            } else {
                status.to_string()
            };
            let _ = writeln!(
                out,
                "k8sretry_retries_total{{function=\"{}\",class=\"{class}\",status=\"{status}\"}} {n}",
                escape(name)
            );
        }
    }
    header(
        &mut out,
        "k8sretry_giveups_total",
        "counter",
        "Calls that gave up, by reason.",
    );
    for (name, m) in &functions {
        for reason in GiveUpReason::ALL {
            let n = m.giveups[reason as usize].load(Ordering::Relaxed);
            if n > 0 {
                let _ = writeln!(
                    out,
                    "k8sretry_giveups_total{{function=\"{}\",reason=\"{}\"}} {n}",
                    escape(name),
                    reason.as_str()
                );
            }
        }
    }
    header(
        &mut out,
        "k8sretry_retry_delay_seconds",
        "histogram",
        "Delays chosen before retries.",
    );
    let h = &registry.delays;
    let mut cumulative = 0;
    for (bucket, bound) in h.buckets.iter().zip(DELAY_BUCKETS) {
        cumulative += bucket.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "k8sretry_retry_delay_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
        );
    }
    let count = h.count.load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "k8sretry_retry_delay_seconds_bucket{{le=\"+Inf\"}} {count}"
    );
    let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
    let _ = writeln!(out, "k8sretry_retry_delay_seconds_sum {sum}");
    let _ = writeln!(out, "k8sretry_retry_delay_seconds_count {count}");

    header(
        &mut out,
        "k8sretry_budget_tokens",
        "gauge",
        "Tokens in the shared retry budget.",
    );
    let tokens = shared_budget().balance(SystemClock.monotonic());
    let _ = writeln!(out, "k8sretry_budget_tokens {tokens}");

    header(
        &mut out,
        "k8sretry_circuit_open",
        "gauge",
        "1 while a circuit breaker is open.",
    );
    let breakers = registry.breakers.lock().unwrap_or_else(|p| p.into_inner());
    let mut open: BTreeMap<&str, u8> = BTreeMap::new();
    for (name, weak) in breakers.iter() {
        if let Some(b) = weak.upgrade() {
            let v = open.entry(name).or_insert(0);
            *v = (*v).max(u8::from(b.is_open()));
        }
    }
    for (name, v) in open {
        let _ = writeln!(
            out,
            "k8sretry_circuit_open{{breaker=\"{}\"}} {v}",
            escape(name)
        );
    }
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
