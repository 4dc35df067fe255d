//! The presets' names and the defaults every preset shares (DESIGN §6).

/// Names of the presets of DESIGN §2.8.
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
