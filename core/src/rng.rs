//! The per-policy random source for jitter.
//!
//! SplitMix64 over one atomic word: a policy is shared by every thread of a process, and this
//! generator advances with a single `fetch_add`, so drawing a jitter takes no lock. Seeded, it
//! gives the same sequence on every platform and through every binding. (A `rand` generator
//! would need a mutex around it to be shared; jitter needs uniformity, not cryptography.)

use std::sync::atomic::{AtomicU64, Ordering};

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// A lock-free SplitMix64 generator.
#[derive(Debug)]
pub struct JitterRng {
    state: AtomicU64,
}

impl JitterRng {
    /// A generator with a fixed seed: the same seed gives the same draws.
    pub fn seeded(seed: u64) -> JitterRng {
        JitterRng {
            state: AtomicU64::new(seed),
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

    /// A uniform draw from `[0, 1)` with 53 bits of precision.
    pub fn next_unit(&self) -> f64 {
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
}
