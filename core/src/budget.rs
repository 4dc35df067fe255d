//! Retry budget (DESIGN §2.6): retries stay a fraction of first attempts during an outage.
//!
//! Every first attempt deposits `ratio` tokens and every retry withdraws one; deposits and
//! withdrawals count for `ttl` (a sliding window of ten slots), so the budget refills as time
//! passes. `min_per_second * ttl` is a floor, not an addition: the tokens available are
//! `max(deposits, floor) - withdrawals`, so under a full outage at a high rate retries stay at
//! `ratio` of first attempts, and a quiet caller can still make `min_per_second` retries.
//!
//! Lock-free: each slot is one `AtomicU64` packing the slot's epoch (high 32 bits) and its count
//! in milli-tokens (low 32 bits), updated with compare-and-swap; deposits and withdrawals have
//! their own slots. Two threads racing for the last token may both get it: the budget bounds
//! load, it is not an allowance.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::policy::{PolicyError, invalid};

/// The process-wide budget that policies share unless given their own.
pub fn shared_budget() -> &'static Arc<RetryBudget> {
    static SHARED: OnceLock<Arc<RetryBudget>> = OnceLock::new();
    SHARED.get_or_init(|| Arc::new(RetryBudget::default_budget()))
}

const SLOTS: usize = 10;
const MILLI: i64 = 1000;

/// A shared, thread-safe retry budget.
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    min_per_second: u32,
    ttl: Duration,
    slot_nanos: u64,
    deposit_milli: i64,
    floor_milli: i64,
    deposits: [AtomicU64; SLOTS],
    withdrawals: [AtomicU64; SLOTS],
}

impl RetryBudget {
    /// Default ratio of retries to first attempts.
    pub const DEFAULT_RATIO: f64 = 0.2;
    /// Default floor of retries per second.
    pub const DEFAULT_MIN_PER_SECOND: u32 = 10;
    /// Default window.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(10);

    /// A budget; callers validate the arguments (see `PolicyBuilder`): `ratio` finite and
    /// non-negative, `ttl` positive.
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
        let floor = f64::from(min_per_second) * ttl.as_secs_f64() * MILLI as f64;
        RetryBudget {
            ratio,
            min_per_second,
            ttl,
            slot_nanos,
            deposit_milli: (ratio * MILLI as f64).round().min(i32::MAX as f64) as i64,
            floor_milli: floor.min(i64::MAX as f64 / 2.0) as i64,
            deposits: Default::default(),
            withdrawals: Default::default(),
        }
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

    /// Tokens each first attempt deposits.
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    /// Retries per second allowed whatever the traffic.
    pub fn min_per_second(&self) -> u32 {
        self.min_per_second
    }

    /// The window over which deposits and withdrawals count.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Records a first attempt at monotonic time `now`.
    pub fn deposit(&self, now: Duration) {
        if self.deposit_milli > 0 {
            self.add(&self.deposits, now, self.deposit_milli);
        }
    }

    /// Records `n` first attempts at once (bindings that batch successes), as `n` deposits.
    pub fn deposit_many(&self, now: Duration, n: u32) {
        if self.deposit_milli > 0 && n > 0 {
            self.add(
                &self.deposits,
                now,
                self.deposit_milli.saturating_mul(i64::from(n)),
            );
        }
    }

    /// Takes one token for a retry; `false` when the budget is empty.
    pub fn try_withdraw(&self, now: Duration) -> bool {
        let id = self.slot_id(now);
        if self.balance_at(id) < MILLI {
            return false;
        }
        self.add_at(&self.withdrawals, id, MILLI);
        true
    }

    /// Tokens available at `now`.
    pub fn balance(&self, now: Duration) -> f64 {
        self.balance_milli(now) as f64 / MILLI as f64
    }

    fn slot_id(&self, now: Duration) -> u32 {
        // u64 nanoseconds (584 years of uptime): a u128 division costs more than the rest of a
        // decision. Epochs wrap after 2^32 slots; only equality and short distances are compared.
        (u64::try_from(now.as_nanos()).unwrap_or(u64::MAX) / self.slot_nanos) as u32
    }

    fn balance_milli(&self, now: Duration) -> i64 {
        self.balance_at(self.slot_id(now))
    }

    fn balance_at(&self, current: u32) -> i64 {
        let deposited = self.sum(&self.deposits, current);
        deposited.max(self.floor_milli) - self.sum(&self.withdrawals, current)
    }

    /// The milli-tokens counted in `slots` within the window ending at slot `current`.
    fn sum(&self, slots: &[AtomicU64; SLOTS], current: u32) -> i64 {
        slots
            .iter()
            .map(|slot| unpack(slot.load(Ordering::Acquire)))
            .filter(|(epoch, _)| current.wrapping_sub(*epoch) < SLOTS as u32)
            .map(|(_, value)| i64::from(value))
            .sum()
    }

    fn add(&self, slots: &[AtomicU64; SLOTS], now: Duration, amount: i64) {
        self.add_at(slots, self.slot_id(now), amount);
    }

    fn add_at(&self, slots: &[AtomicU64; SLOTS], id: u32, amount: i64) {
        let slot = &slots[id as usize % SLOTS];
        let _ = slot.fetch_update(Ordering::AcqRel, Ordering::Acquire, |packed| {
            let (epoch, value) = unpack(packed);
            let base = if epoch == id { i64::from(value) } else { 0 };
            let next = (base + amount).clamp(0, i64::from(i32::MAX)) as i32;
            Some(pack(id, next))
        });
    }
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
        let b = RetryBudget::new(0.5, 1, Duration::from_secs(2));
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
        assert!(
            (195..=205).contains(&retries),
            "{retries} retries for 1000 first attempts"
        );
    }

    #[test]
    fn packing_round_trips_negative_values() {
        assert_eq!(unpack(pack(7, -3000)), (7, -3000));
        assert_eq!(unpack(pack(u32::MAX, i32::MIN)), (u32::MAX, i32::MIN));
    }
}
