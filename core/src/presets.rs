//! The presets: their names, each one's values, and the defaults they share (DESIGN §6).

/// Names of the presets of DESIGN §6.
/// `conflict` is client-go's `retry.DefaultRetry` for `retry_on_conflict` (5 attempts, 10 ms,
/// factor 1.0, jitter 0.1). `reconcile` is for controllers' reconcilers: a short total time (2
/// retries from 0.2 s, at most 2 s apart, a 5 s deadline), after which the reconciler requeues
/// with the delay the give-up carries instead of sleeping in a worker.
pub const PRESETS: [&str; 7] = [
    "default",
    "mutation",
    "read",
    "connection",
    "runner_hooks",
    "conflict",
    "reconcile",
];

/// The default `retry_after_cap` in seconds: above API Priority and Fairness's largest
/// `Retry-After` (32 s), so the engine never retries sooner than the apiserver asks.
pub const DEFAULT_RETRY_AFTER_CAP: f64 = 60.0;

/// The default `retry_after_spread`: a retry after a server hint comes 0-20% after it.
pub const DEFAULT_RETRY_AFTER_SPREAD: f64 = 0.2;

/// Statuses whose `Retry-After` is honoured by default.
pub const DEFAULT_RETRY_AFTER_STATUSES: &[u16] = &[429, 503];

/// A preset's own values; the rest are the defaults above and the default classification.
pub(crate) struct PresetValues {
    pub(crate) max_retries: u32,
    pub(crate) initial_delay: f64,
    pub(crate) max_delay: f64,
    pub(crate) exponential_base: f64,
    /// Proportional jitter.
    pub(crate) jitter: f64,
    pub(crate) deadline: Option<f64>,
    /// Whether HTTP statuses are retried (`connection`: only network failures, no status).
    pub(crate) retry_statuses: bool,
}

/// The values of the preset `name` (one of [`PRESETS`]), or `None`.
pub(crate) fn preset_values(name: &str) -> Option<PresetValues> {
    let (max_retries, initial_delay, max_delay, jitter) = match name {
        "conflict" => (4, 0.01, 0.01, 0.1),
        "default" => (3, 1.0, 30.0, 0.1),
        "mutation" => (5, 2.0, 30.0, 0.1),
        "read" => (3, 1.0, 10.0, 0.1),
        "connection" => (5, 0.5, 10.0, 0.1),
        "runner_hooks" => (3, 1.0, 30.0, 0.5),
        "reconcile" => (2, 0.2, 2.0, 0.1),
        _ => return None,
    };
    Some(PresetValues {
        max_retries,
        initial_delay,
        max_delay,
        exponential_base: if name == "conflict" { 1.0 } else { 2.0 },
        jitter,
        deadline: (name == "reconcile").then_some(5.0),
        retry_statuses: name != "connection",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_preset_has_values_and_no_other_name_does() {
        for name in PRESETS {
            assert!(preset_values(name).is_some(), "{name}");
        }
        for name in ["", "Default", "reads", "none"] {
            assert!(preset_values(name).is_none(), "{name}");
        }
    }
}
