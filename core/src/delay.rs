//! Backoff and jitter (DESIGN §3).

use std::time::Duration;

use crate::rng::JitterRng;

/// How the backoff is randomised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Jitter {
    /// Exactly the exponential backoff.
    None,
    /// Uniform in `[0, d]`.
    Full,
    /// `d/2` plus uniform in `[0, d/2]`.
    Equal,
    /// `d` times uniform in `[1-s, 1+s]`, `s` in `[0, 1]`; never above `max_delay`.
    Proportional(f64),
    /// `min(max_delay, U[initial_delay, 3 * previous])`.
    Decorrelated,
    /// `d` times uniform in `[1, 1+s]`, `s >= 0`: client-go's `wait.Jitter(d, s)`, never below
    /// the backoff (the official Python client's `kubernetes.utils.retry` uses it).
    Upward(f64),
}

/// The backoff parameters of a policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay before the first retry, before jitter.
    pub initial_delay: Duration,
    /// Cap on every backoff delay (a server hint may exceed it, up to `retry_after_cap`).
    pub max_delay: Duration,
    /// Growth factor per retry (`>= 1`).
    pub exponential_base: f64,
    /// Randomisation.
    pub jitter: Jitter,
}

impl Backoff {
    /// The un-jittered delay before retry `n` (`n = 1` for the first retry):
    /// `min(max_delay, initial_delay * base^(n-1))`.
    pub fn base_delay(&self, retry: u32) -> f64 {
        let max = self.max_delay.as_secs_f64();
        let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let d = self.initial_delay.as_secs_f64() * self.exponential_base.powi(exponent);
        if d.is_nan() { max } else { d.min(max) }
    }

    /// The jittered delay before retry `retry`, in seconds; `previous` is the previous backoff
    /// (for decorrelated jitter; the first retry passes `None`). Draws at most one number.
    pub fn delay(&self, retry: u32, previous: Option<f64>, rng: &JitterRng) -> f64 {
        let max = self.max_delay.as_secs_f64();
        let d = self.base_delay(retry);
        let jittered = match self.jitter {
            Jitter::None => d,
            Jitter::Full => d * rng.next_unit(),
            Jitter::Equal => d / 2.0 + d / 2.0 * rng.next_unit(),
            Jitter::Proportional(s) => d * (1.0 - s + 2.0 * s * rng.next_unit()),
            Jitter::Upward(s) => d * (1.0 + s * rng.next_unit()),
            Jitter::Decorrelated => {
                let low = self.initial_delay.as_secs_f64();
                let high = (3.0 * previous.unwrap_or(low)).max(low);
                low + (high - low) * rng.next_unit()
            }
        };
        // Guards for the invariants: never NaN, never negative, never above max_delay.
        if jittered.is_nan() {
            0.0
        } else {
            jittered.clamp(0.0, max)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff(jitter: Jitter) -> Backoff {
        Backoff {
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            exponential_base: 2.0,
            jitter,
        }
    }

    #[test]
    fn exponential_then_capped() {
        let b = backoff(Jitter::None);
        let rng = JitterRng::seeded(1);
        let delays: Vec<f64> = (1..=7).map(|n| b.delay(n, None, &rng)).collect();
        assert_eq!(delays, [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]);
        assert_eq!(b.base_delay(u32::MAX), 30.0);
    }

    #[test]
    fn proportional_stays_within_its_band_and_the_cap() {
        let b = backoff(Jitter::Proportional(0.5));
        let rng = JitterRng::seeded(9);
        for _ in 0..1000 {
            let d = b.delay(1, None, &rng);
            assert!((0.5..=1.5).contains(&d), "{d}");
            assert!(b.delay(6, None, &rng) <= 30.0);
        }
    }

    #[test]
    fn decorrelated_grows_from_the_previous_delay() {
        let b = backoff(Jitter::Decorrelated);
        let rng = JitterRng::seeded(3);
        for _ in 0..1000 {
            let d = b.delay(2, Some(4.0), &rng);
            assert!((1.0..=12.0).contains(&d), "{d}");
        }
    }
}
