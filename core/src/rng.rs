//! The per-policy random source for jitter.
//!
//! SplitMix64 over one atomic word: a policy is shared by every thread of a process, and this
//! generator advances with a single `fetch_add`, so drawing a jitter takes no lock. Seeded, it
//! gives the same sequence on every platform and through every binding. (A `rand` generator
//! would need a mutex around it to be shared; jitter needs uniformity, not cryptography.)

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A caller's own random source: uniform draws from `[0, 1)` (a test's fixed value, a language's
/// `random.random`). Values outside `[0, 1)` (or NaN) are brought into it.
pub type RandomSource = Arc<dyn Fn() -> f64 + Send + Sync>;

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// A lock-free SplitMix64 generator, or a caller's own source.
pub struct JitterRng {
    state: AtomicU64,
    source: Option<RandomSource>,
}

impl fmt::Debug for JitterRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JitterRng")
            .field("injected", &self.source.is_some())
            .finish_non_exhaustive()
    }
}

impl JitterRng {
    /// A generator with a fixed seed: the same seed gives the same draws.
    pub fn seeded(seed: u64) -> JitterRng {
        JitterRng {
            state: AtomicU64::new(seed),
            source: None,
        }
    }

    /// Draws from `source` instead (`next_unit`; `next_u64` stays SplitMix64 from seed 0).
    pub fn injected(source: RandomSource) -> JitterRng {
        JitterRng {
            state: AtomicU64::new(0),
            source: Some(source),
        }
    }

    /// A generator seeded by the operating system (`rand`'s `OsRng`), different per process and
    /// policy, so that processes started together do not draw the same jitter. If the OS source
    /// fails (it practically never does), the clock and an address seed it instead.
    pub fn from_entropy() -> JitterRng {
        use rand::TryRngCore;
        let seed = rand::rngs::OsRng.try_next_u64().unwrap_or_else(|_| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            let local = 0u8;
            nanos ^ (&local as *const u8 as u64).rotate_left(32)
        });
        JitterRng::seeded(mix(seed))
    }

    /// The next 64 random bits.
    pub fn next_u64(&self) -> u64 {
        let z = self
            .state
            .fetch_add(GOLDEN_GAMMA, Ordering::Relaxed)
            .wrapping_add(GOLDEN_GAMMA);
        mix(z)
    }

    /// A uniform draw from `[0, 1)` with 53 bits of precision (or the injected source's draw,
    /// brought into `[0, 1)`: NaN is 0, values at or above 1 are the largest value below 1).
    pub fn next_unit(&self) -> f64 {
        if let Some(source) = &self.source {
            let v = source();
            return if v.is_nan() || v <= 0.0 {
                0.0
            } else {
                v.min(1.0 - f64::EPSILON / 2.0)
            };
        }
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_splitmix64_sequence() {
        // Reference outputs of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
        let rng = JitterRng::seeded(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn unit_draws_stay_in_range() {
        let rng = JitterRng::seeded(42);
        for _ in 0..10_000 {
            let u = rng.next_unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
    #[test]
    fn an_injected_source_is_drawn_and_kept_in_range() {
        for (given, drawn) in [(0.25, 0.25), (0.0, 0.0), (-1.0, 0.0), (f64::NAN, 0.0)] {
            let rng = JitterRng::injected(Arc::new(move || given));
            assert_eq!(rng.next_unit(), drawn);
        }
        let rng = JitterRng::injected(Arc::new(|| 7.0));
        assert!(rng.next_unit() < 1.0);
    }
}
