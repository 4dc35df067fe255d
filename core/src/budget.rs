//! Retry budget (DESIGN §2.6): retries stay a fraction of first attempts during an outage, but a
//! blip that the servers ride out in a second is not failed.
//!
//! Every first attempt deposits and every retry withdraws; both count for `ttl` (a sliding window
//! of ten slots), so the budget refills as time passes. A retry is allowed while
//! `withdrawals < max(r(age) * deposits, floor)`, with `floor = min_per_second * ttl` (a
//! minimum, not a bonus) and a ratio that depends on how long the current failure episode has
//! lasted:
//!
//! `r(age) = ratio + (burst - ratio) / (1 + (age / 1 s)^2)`
//!
//! where an episode begins with the first retry asked for after the last success. Early in an
//! episode `r` is near `burst` (3: every call may use the retries of the default policy), so N
//! concurrent calls that fail twice within a second all get their retries; as the episode goes on
//! without a single success, `r` falls toward `ratio` (0.2), and because earlier retries stay in
//! the window, the whole of a sustained outage stays near `ratio` of its first attempts (a 10 s
//! outage at 100 calls/s: at most ~1.23 attempts per first attempt, measured by `make bench`).
//! This is Envoy's and gRPC's idea (retries as a fraction of traffic) with AWS's observation that
//! successes are what tell a blip from an outage: any success ends the episode.
//!
//! Lock-free: each slot is one `AtomicU64` packing the slot's epoch (high 32 bits) and its count
//! (low 32 bits), updated with compare-and-swap; deposits and withdrawals have their own slots.
//! Two threads racing for the last token may both get it: the budget bounds load, it is not an
//! allowance.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::policy::{PolicyError, invalid};

/// The process-wide budget that policies share unless given their own.
pub fn shared_budget() -> &'static Arc<RetryBudget> {
    static SHARED: OnceLock<Arc<RetryBudget>> = OnceLock::new();
    SHARED.get_or_init(|| Arc::new(RetryBudget::default_budget()))
}

const SLOTS: usize = 10;

/// How fast an episode's extra allowance fades: `r` is halfway between `burst` and `ratio` after
/// one such period.
const EPISODE_DECAY_NANOS: f64 = 1e9;

/// A shared, thread-safe retry budget.
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    burst: f64,
    min_per_second: u32,
    min_per_episode: u32,
    ttl: Duration,
    slot_nanos: u64,
    floor: f64,
    deposits: [AtomicU64; SLOTS],
    withdrawals: [AtomicU64; SLOTS],
    /// Monotonic nanoseconds + 1 of the last success (0: none yet).
    last_success: AtomicU64,
    /// Monotonic nanoseconds + 1 at which the current failure episode began (0: none).
    episode_start: AtomicU64,
    /// Retries taken since the current failure episode began.
    episode_retries: AtomicU32,
}

impl RetryBudget {
    /// Default ratio of retries to first attempts in a sustained outage.
    pub const DEFAULT_RATIO: f64 = 0.2;
    /// Default ratio at the start of a failure episode.
    pub const DEFAULT_BURST: f64 = 3.0;
    /// Default floor of retries per second: none. A per-process floor multiplies with the
    /// number of processes, so it is unsafe for a fleet (kept for callers that set it).
    pub const DEFAULT_MIN_PER_SECOND: u32 = 0;
    /// Default retries every failure episode may use whatever the traffic: one call's retries
    /// under the default policy.
    pub const DEFAULT_MIN_PER_EPISODE: u32 = 3;
    /// Default window.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(10);

    /// A budget with the default burst; callers validate the arguments (see [`Self::try_new`]):
    /// `ratio` finite and non-negative, `ttl` positive.
    pub fn new(ratio: f64, min_per_second: u32, ttl: Duration) -> RetryBudget {
        let ratio = if ratio.is_finite() && ratio >= 0.0 {
            ratio
        } else {
            Self::DEFAULT_RATIO
        };
        let ttl = if ttl.is_zero() {
            Self::DEFAULT_TTL
        } else {
            ttl
        };
        let slot_nanos = (ttl.as_nanos() / SLOTS as u128).clamp(1, u64::MAX as u128) as u64;
        RetryBudget {
            ratio,
            burst: Self::DEFAULT_BURST.max(ratio),
            min_per_second,
            min_per_episode: Self::DEFAULT_MIN_PER_EPISODE,
            ttl,
            slot_nanos,
            floor: f64::from(min_per_second) * ttl.as_secs_f64(),
            deposits: Default::default(),
            withdrawals: Default::default(),
            last_success: AtomicU64::new(0),
            episode_start: AtomicU64::new(0),
            episode_retries: AtomicU32::new(0),
        }
    }

    /// The same budget with another episode minimum (0..=10000): every failure episode may
    /// take this many retries whatever the traffic.
    pub fn with_min_per_episode(
        mut self,
        min_per_episode: u32,
    ) -> Result<RetryBudget, PolicyError> {
        if min_per_episode > 10_000 {
            return Err(invalid(
                "budget",
                format!("min_per_episode must be at most 10000, got {min_per_episode}"),
            ));
        }
        self.min_per_episode = min_per_episode;
        Ok(self)
    }

    /// The same budget with another burst ratio (at least `ratio`, at most 1000); `burst ==
    /// ratio` gives a budget that is the same fraction of traffic at every moment.
    pub fn with_burst(mut self, burst: f64) -> Result<RetryBudget, PolicyError> {
        if !(self.ratio..=1000.0).contains(&burst) {
            return Err(invalid(
                "budget",
                format!(
                    "burst must be between ratio ({}) and 1000, got {burst}",
                    self.ratio
                ),
            ));
        }
        self.burst = burst;
        Ok(self)
    }

    /// A budget with every limit checked (the one validator: JSON policies and every binding's
    /// constructor use it): `ratio` 0..=1000 tokens per first attempt, `ttl` 0.001..=86400 s.
    pub fn try_new(ratio: f64, min_per_second: u32, ttl: f64) -> Result<RetryBudget, PolicyError> {
        if !(0.0..=1000.0).contains(&ratio) {
            return Err(invalid(
                "budget",
                format!("ratio must be between 0 and 1000, got {ratio}"),
            ));
        }
        if !(0.001..=86_400.0).contains(&ttl) {
            return Err(invalid(
                "budget",
                format!("ttl must be between 0.001 and 86400 seconds, got {ttl}"),
            ));
        }
        Ok(RetryBudget::new(
            ratio,
            min_per_second,
            Duration::from_secs_f64(ttl),
        ))
    }

    /// The budget of DESIGN §2.6 (ratio 0.2, 10 per second, 10 s).
    pub fn default_budget() -> RetryBudget {
        RetryBudget::new(
            Self::DEFAULT_RATIO,
            Self::DEFAULT_MIN_PER_SECOND,
            Self::DEFAULT_TTL,
        )
    }

    /// Tokens each first attempt deposits in a sustained outage.
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    /// Tokens each first attempt deposits at the start of a failure episode.
    pub fn burst(&self) -> f64 {
        self.burst
    }

    /// Retries per second allowed whatever the traffic (fleet-unsafe; 0 by default).
    pub fn min_per_second(&self) -> u32 {
        self.min_per_second
    }

    /// Retries every failure episode may take whatever the traffic.
    pub fn min_per_episode(&self) -> u32 {
        self.min_per_episode
    }

    /// The window over which deposits and withdrawals count.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Records a first attempt at monotonic time `now`.
    pub fn deposit(&self, now: Duration) {
        self.add(&self.deposits, self.slot_id(now), 1);
    }

    /// Records `n` first attempts at once (bindings that batch successes), as `n` deposits.
    pub fn deposit_many(&self, now: Duration, n: u32) {
        if n > 0 {
            self.add(&self.deposits, self.slot_id(now), i64::from(n));
        }
    }

    /// A call succeeded at `now`: the current failure episode, if any, is over.
    pub fn record_success(&self, now: Duration) {
        self.last_success.fetch_max(stamp(now), Ordering::AcqRel);
    }

    /// Takes one token for a retry; `false` when the budget is empty.
    pub fn try_withdraw(&self, now: Duration) -> bool {
        let id = self.slot_id(now);
        let ratio = self.episode_ratio(now, true);
        let within_minimum = self.episode_retries.load(Ordering::Acquire) < self.min_per_episode;
        if !within_minimum && self.balance_at(id, ratio) < 1.0 {
            return false;
        }
        self.episode_retries.fetch_add(1, Ordering::AcqRel);
        self.add(&self.withdrawals, id, 1);
        true
    }

    /// Tokens available at `now`.
    pub fn balance(&self, now: Duration) -> f64 {
        self.balance_at(self.slot_id(now), self.episode_ratio(now, false))
    }

    /// `r(age)` of the module comment; `begin` starts an episode when none is running.
    fn episode_ratio(&self, now: Duration, begin: bool) -> f64 {
        let t = stamp(now);
        let mut start = self.episode_start.load(Ordering::Acquire);
        // An episode that began at the instant of the last success began after it.
        if start == 0 || start < self.last_success.load(Ordering::Acquire) {
            if !begin {
                return self.burst;
            }
            // The first retry asked for since the last success: an episode begins now (one
            // thread wins; the others read its start).
            start = match self.episode_start.compare_exchange(
                start,
                t,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    self.episode_retries.store(0, Ordering::Release);
                    t
                }
                Err(current) => current,
            };
        }
        let age = t.saturating_sub(start) as f64 / EPISODE_DECAY_NANOS;
        self.ratio + (self.burst - self.ratio) / (1.0 + age * age)
    }

    fn slot_id(&self, now: Duration) -> u32 {
        // u64 nanoseconds (584 years of uptime): a u128 division costs more than the rest of a
        // decision. Epochs wrap after 2^32 slots; only equality and short distances are compared.
        (u64::try_from(now.as_nanos()).unwrap_or(u64::MAX) / self.slot_nanos) as u32
    }

    fn balance_at(&self, current: u32, ratio: f64) -> f64 {
        let deposited = self.sum(&self.deposits, current) as f64 * ratio;
        deposited.max(self.floor) - self.sum(&self.withdrawals, current) as f64
    }

    /// The counts in `slots` within the window ending at slot `current`.
    fn sum(&self, slots: &[AtomicU64; SLOTS], current: u32) -> i64 {
        slots
            .iter()
            .map(|slot| unpack(slot.load(Ordering::Acquire)))
            .filter(|(epoch, _)| current.wrapping_sub(*epoch) < SLOTS as u32)
            .map(|(_, value)| i64::from(value))
            .sum()
    }

    fn add(&self, slots: &[AtomicU64; SLOTS], id: u32, amount: i64) {
        let slot = &slots[id as usize % SLOTS];
        let _ = slot.fetch_update(Ordering::AcqRel, Ordering::Acquire, |packed| {
            let (epoch, value) = unpack(packed);
            let base = if epoch == id { i64::from(value) } else { 0 };
            let next = (base + amount).clamp(0, i64::from(i32::MAX)) as i32;
            Some(pack(id, next))
        });
    }
}

/// Monotonic nanoseconds + 1 (0 means "never").
fn stamp(now: Duration) -> u64 {
    u64::try_from(now.as_nanos())
        .unwrap_or(u64::MAX - 1)
        .saturating_add(1)
}

fn pack(epoch: u32, value: i32) -> u64 {
    (u64::from(epoch) << 32) | u64::from(value as u32)
}

fn unpack(packed: u64) -> (u32, i32) {
    ((packed >> 32) as u32, packed as u32 as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_then_the_ratio_then_refill() {
        // burst == ratio: the same fraction at every moment.
        let b = RetryBudget::new(0.5, 1, Duration::from_secs(2))
            .with_burst(0.5)
            .unwrap()
            .with_min_per_episode(0)
            .unwrap();
        let t0 = Duration::from_secs(100);
        assert_eq!(b.balance(t0), 2.0, "the floor");
        assert!(b.try_withdraw(t0));
        assert!(b.try_withdraw(t0));
        assert!(!b.try_withdraw(t0));
        // Deposits below the floor add nothing: the floor is a minimum, not a bonus.
        b.deposit(t0);
        b.deposit(t0);
        assert!(!b.try_withdraw(t0));
        for _ in 0..4 {
            b.deposit(t0);
        }
        assert_eq!(b.balance(t0), 1.0, "6 deposits of 0.5 = 3 tokens, 2 taken");
        // After the window, old withdrawals no longer count.
        assert_eq!(b.balance(t0 + Duration::from_secs(2)), 2.0);
    }

    #[test]
    fn at_a_high_rate_retries_are_the_ratio_of_first_attempts() {
        let b = RetryBudget::new(0.2, 10, Duration::from_secs(10));
        let mut retries = 0;
        for i in 0..1000u64 {
            let now = Duration::from_millis(i * 10); // 100 first attempts per second for 10 s
            b.deposit(now);
            while b.try_withdraw(now) {
                retries += 1;
            }
        }
        // Greedy callers, no success for 10 s: the early episode's extra allowance is paid back.
        assert!(
            (200..=235).contains(&retries),
            "{retries} retries for 1000 first attempts"
        );
    }

    /// N concurrent calls fail, retry, fail again 0.25 s later and then succeed: every retry is
    /// allowed, for bursts from below the floor to far above it.
    #[test]
    fn a_blip_of_concurrent_calls_failing_twice_gets_every_retry() {
        for n in [60u32, 100, 300, 1000, 3000] {
            let b = RetryBudget::new(0.2, 10, Duration::from_secs(10));
            let t0 = Duration::from_secs(50);
            b.deposit_many(t0, n);
            for wave in [Duration::ZERO, Duration::from_millis(250)] {
                for _ in 0..n {
                    assert!(b.try_withdraw(t0 + wave), "n={n}, wave at {wave:?}");
                }
            }
            b.record_success(t0 + Duration::from_millis(700));
        }
    }

    #[test]
    fn a_success_ends_the_episode_and_the_next_one_starts_generous() {
        let b = RetryBudget::new(0.2, 0, Duration::from_secs(10));
        let t0 = Duration::from_secs(10);
        b.deposit_many(t0, 100);
        assert!(b.try_withdraw(t0)); // the episode begins
        let late = t0 + Duration::from_secs(8);
        // 8 s into the episode: r = 0.2 + 2.8 / 65 = 0.243 -> 24.3 tokens: 24 retries in all.
        let mut taken = 1;
        while b.try_withdraw(late) {
            taken += 1;
        }
        assert_eq!(taken, 24, "{taken}");
        b.record_success(late);
        let next = late + Duration::from_millis(1);
        assert!(b.try_withdraw(next), "a new episode: r near burst again");
        assert!(b.balance(next) > 200.0);
    }

    #[test]
    fn packing_round_trips_negative_values() {
        assert_eq!(unpack(pack(7, -3000)), (7, -3000));
        assert_eq!(unpack(pack(u32::MAX, i32::MIN)), (u32::MAX, i32::MIN));
    }
}
