//! Circuit breaker (DESIGN §5), off by default.
//!
//! Opens after `failure_threshold` consecutive retryable failures; while open, no retry is
//! allowed; after `open_for` one probe retry goes through (half-open); a success closes it, a
//! failure opens it again. The success path touches two atomics and no lock.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use crate::error::{PolicyError, invalid};

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Closed,
    Open { until: Duration },
    HalfOpen { probe_since: Duration },
}

/// A thread-safe circuit breaker shared by the calls of one or more policies.
#[derive(Debug)]
pub struct CircuitBreaker {
    failure_threshold: u32,
    open_for: Duration,
    consecutive: AtomicU32,
    not_closed: AtomicBool,
    state: Mutex<State>,
}

impl CircuitBreaker {
    /// A closed breaker. `failure_threshold` is at least 1.
    pub fn new(failure_threshold: u32, open_for: Duration) -> CircuitBreaker {
        CircuitBreaker {
            failure_threshold: failure_threshold.max(1),
            open_for,
            consecutive: AtomicU32::new(0),
            not_closed: AtomicBool::new(false),
            state: Mutex::new(State::Closed),
        }
    }

    /// A breaker with its limits checked (the one validator: JSON policies and every binding's
    /// constructor use it): `failure_threshold` at least 1, `open_for` above 0 and at most
    /// 86400 s.
    pub fn try_new(failure_threshold: u32, open_for: f64) -> Result<CircuitBreaker, PolicyError> {
        if failure_threshold == 0 {
            return Err(invalid(
                "breaker",
                "failure_threshold must be at least 1".to_owned(),
            ));
        }
        if !(open_for > 0.0 && open_for <= 86_400.0) {
            return Err(invalid(
                "breaker",
                format!("open_for must be above 0 and at most 86400 seconds, got {open_for}"),
            ));
        }
        Ok(CircuitBreaker::new(
            failure_threshold,
            Duration::from_secs_f64(open_for),
        ))
    }

    /// Consecutive retryable failures that open the breaker.
    pub fn failure_threshold(&self) -> u32 {
        self.failure_threshold
    }

    /// How long the breaker stays open before a probe.
    pub fn open_for(&self) -> Duration {
        self.open_for
    }

    /// Whether the breaker is open or half-open (for the `k8sretry_circuit_open` gauge).
    pub fn is_open(&self) -> bool {
        self.not_closed.load(Ordering::Acquire)
    }

    /// The server answered in a way that shows it is up.
    pub fn record_success(&self) {
        self.consecutive.store(0, Ordering::Release);
        if self.not_closed.load(Ordering::Acquire) {
            *self.lock() = State::Closed;
            self.not_closed.store(false, Ordering::Release);
        }
    }

    /// A retryable failure at monotonic time `now`.
    pub fn record_failure(&self, now: Duration) {
        let count = self
            .consecutive
            .fetch_add(1, Ordering::AcqRel)
            .saturating_add(1);
        let mut state = self.lock();
        let reopen = match *state {
            State::Closed => count >= self.failure_threshold,
            State::HalfOpen { .. } => true,
            State::Open { .. } => false,
        };
        if reopen {
            *state = State::Open {
                until: now.saturating_add(self.open_for),
            };
            self.not_closed.store(true, Ordering::Release);
        }
    }

    /// Whether a retry may go ahead at `now`; in half-open state, grants one probe per `open_for`.
    pub fn allow_retry(&self, now: Duration) -> bool {
        if !self.not_closed.load(Ordering::Acquire) {
            return true;
        }
        let mut state = self.lock();
        match *state {
            State::Closed => true,
            State::Open { until } if now >= until => {
                *state = State::HalfOpen { probe_since: now };
                true
            }
            State::Open { .. } => false,
            State::HalfOpen { probe_since } if now >= probe_since.saturating_add(self.open_for) => {
                // The previous probe never reported back: let another through.
                *state = State::HalfOpen { probe_since: now };
                true
            }
            State::HalfOpen { .. } => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state half-written: recover it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_probes_and_closes() {
        let b = CircuitBreaker::new(2, Duration::from_secs(5));
        let t = |s| Duration::from_secs(s);
        b.record_failure(t(0));
        assert!(b.allow_retry(t(0)));
        b.record_failure(t(1));
        assert!(b.is_open());
        assert!(!b.allow_retry(t(2)));
        assert!(b.allow_retry(t(6)), "probe after open_for");
        assert!(!b.allow_retry(t(6)), "only one probe");
        b.record_success();
        assert!(!b.is_open());
        assert!(b.allow_retry(t(6)));
    }

    #[test]
    fn failed_probe_reopens() {
        let b = CircuitBreaker::new(1, Duration::from_secs(5));
        b.record_failure(Duration::ZERO);
        assert!(b.allow_retry(Duration::from_secs(5)));
        b.record_failure(Duration::from_secs(6));
        assert!(!b.allow_retry(Duration::from_secs(7)));
        assert!(b.allow_retry(Duration::from_secs(11)));
    }

    #[test]
    fn a_huge_open_for_saturates_instead_of_panicking() {
        let b = CircuitBreaker::new(1, Duration::MAX);
        b.record_failure(Duration::from_secs(1));
        assert!(!b.allow_retry(Duration::from_secs(2)));
        assert!(CircuitBreaker::try_new(1, 1.8e19).is_err());
        assert!(CircuitBreaker::try_new(1, f64::NAN).is_err());
        assert!(CircuitBreaker::try_new(0, 1.0).is_err());
        assert_eq!(
            CircuitBreaker::try_new(3, 86_400.0)
                .unwrap()
                .failure_threshold(),
            3
        );
    }
}
