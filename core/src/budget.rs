//! Retry budget (docs/design.md section 5): retries stay a fraction of first attempts during an
//! outage, for one process and for a fleet of them, but a blip is not failed.
//!
//! Every first attempt deposits and every retry withdraws; both count for `ttl` (a sliding window
//! of ten slots), so the budget refills as time passes. A retry is allowed while the current
//! failure episode has taken fewer than `min_per_episode` retries, or while
//!
//! `withdrawals < ratio * deposits + (burst - ratio) * D0 / (1 + (age / tau)^4)`
//!
//! (or below the fleet-unsafe `min_per_second * ttl`, 0 by default), where an episode begins with
//! the first retry asked for after the last success, `age` is its age, `D0` the deposits in the
//! window when it began (and in its first 0.5 s), and `tau` grows from 1 s to 5 s with `D0`. Early
//! in an episode every call the process was making may use the retries of the default policy, so
//! N concurrent calls that fail twice within a second all get their retries and a busy process
//! rides out a 5 s blip; as the episode goes on without a success, the allowance falls to `ratio`
//! (0.1) of the first attempts, and since the burst is a multiple of `D0` (not of the first
//! attempts that keep coming), an outage pays for it once. There is no per-second floor: a floor
//! per process multiplies with the number of processes. A success ends the episode only after a
//! second without a failed retry ask, so 429s among successes (partial overload) keep the budget
//! at its ratio. The one call that alone has asked for retries since the last success (a process
//! awaiting one call at a time) gets its own retries beyond the minimum: nothing else tells its
//! steady faults from an outage, and a second caller ends it. Envoy's and gRPC's idea (retries as a fraction of traffic) with AWS's observation
//! that successes tell a blip from an outage; the constants come from `make bench-fleet`.
//!
//! Lock-free: each slot is one `AtomicU64` packing the slot's epoch (high 32 bits) and its count
//! (low 32 bits), updated with compare-and-swap; deposits and withdrawals have their own slots.
//! Two threads racing for the last token may both get it: the budget bounds load, it is not an
//! allowance.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::error::{PolicyError, invalid};

/// The process-wide budget that policies share unless given their own.
pub fn shared_budget() -> &'static Arc<RetryBudget> {
    static SHARED: OnceLock<Arc<RetryBudget>> = OnceLock::new();
    SHARED.get_or_init(|| Arc::new(RetryBudget::default_budget()))
}

const SLOTS: usize = 10;

/// How long an episode's extra allowance lasts, `tau`: `r` is halfway between `burst` and
/// `ratio` after `tau`. A process with no first attempts in the window gets the shortest
/// (it rides out a blip on its episode minimum), one with [`FADE_FULL_DEPOSITS`] or more the
/// longest (a busy process's 5 s blip needs ~2 retries per first attempt of the blip).
const FADE_SHORTEST_SECONDS: f64 = 1.0;
/// See [`FADE_SHORTEST_SECONDS`].
const FADE_LONGEST_SECONDS: f64 = 5.0;
/// Deposits made this long after an episode began still count as the traffic it began with.
const EPISODE_ONSET_SECONDS: f64 = 0.5;
/// First attempts in the window at which `tau` is the longest.
const FADE_FULL_DEPOSITS: f64 = 20.0;
/// A success ends the failure episode only when no failed attempt asked for a retry in the
/// last second: under partial overload (429s among successes) the episode goes on and the
/// budget falls to `ratio`, instead of every success restarting the burst.
const QUIET_NANOS: u64 = 500_000_000;
/// The episode minimum's retries beyond the first two are paced this far apart: after a call's
/// first retries, the next one is a probe that comes after them, so a blip's waiting calls learn
/// that the server is back, and an outage pays for it once.
const PROBE_GAP_NANOS: u64 = 5_000_000_000;
/// [`RetryBudget::note_ask`]'s mark for "more than one call asked since the last success".
const SEVERAL_CALLERS: u64 = u64::MAX;
/// Retries of the episode minimum granted at once; the rest are paced by [`PROBE_GAP_NANOS`].
const MINIMUM_AT_ONCE: u32 = 2;
/// The share of 429s among the answers of the window (429s and successes) from which the server
/// is shedding this process's load: a sick apiserver's stray 429 (a few percent) is a fault like
/// a 503, API Priority and Fairness rejecting a tenth or more is overload.
const OVERLOAD_SHARE: f64 = 0.2;
/// 429s in the window below which they are never overload (a short process's two stray 429s are
/// a fifth of its answers by chance).
const MIN_OVERLOAD_THROTTLES: f64 = 2.0;

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
    /// Calls that succeeded (first attempt or after retries).
    successes: [AtomicU64; SLOTS],
    /// Retries asked for after a 429.
    throttles: [AtomicU64; SLOTS],
    /// The slot in which the current failure episode began: successes from then on earn.
    episode_slot: AtomicU32,
    /// Paced retries of the episode minimum taken in the current episode.
    episode_probes: AtomicU32,
    /// Monotonic nanoseconds + 1 of the last retry allowed (0: none).
    last_grant: AtomicU64,
    /// Monotonic nanoseconds + 1 of the last call that succeeded, whether or not it ended the
    /// episode (0: none yet).
    last_ok: AtomicU64,
    /// Monotonic nanoseconds + 1 of the last success (0: none yet).
    last_success: AtomicU64,
    /// Monotonic nanoseconds + 1 at which the current failure episode began (0: none).
    episode_start: AtomicU64,
    /// Retries taken since the current failure episode began.
    episode_retries: AtomicU32,
    /// Monotonic nanoseconds + 1 of the last retry asked for after a failure (0: none).
    last_ask: AtomicU64,
    /// First attempts in the window when the current episode began: the traffic the process
    /// had while the server answered, which the episode's extra allowance is a multiple of.
    episode_deposits: AtomicU64,
    /// The call that alone has asked for retries since the last success ([`RetryBudget::note_ask`]):
    /// 0 none, [`SEVERAL_CALLERS`] more than one.
    asker: AtomicU64,
}

impl RetryBudget {
    /// Default ratio of retries to first attempts in a sustained outage.
    pub const DEFAULT_RATIO: f64 = 0.1;
    /// Default ratio at the start of a failure episode.
    pub const DEFAULT_BURST: f64 = 3.0;
    /// Default floor of retries per second: none. A per-process floor multiplies with the
    /// number of processes, so it is unsafe for a fleet (kept for callers that set it).
    pub const DEFAULT_MIN_PER_SECOND: u32 = 0;
    /// Default retries every failure episode may use whatever the traffic: one call's retries
    /// under the default policy.
    pub const DEFAULT_MIN_PER_EPISODE: u32 = 3;
    /// A retry the budget refuses while the failure episode is younger than this waits (sends
    /// nothing, asks again at its next slot) instead of giving up: a blip this short ends
    /// before the call's slots do. Older episodes are outages; their refused retries give up,
    /// so no backlog of waiting calls comes back at recovery.
    pub const DEFER_HORIZON: Duration = Duration::from_secs(10);
    /// Tokens each call that succeeded in the window adds: a server that answers most calls
    /// (steady partial faults) lets their retries through, one that answers none (an outage)
    /// leaves the budget at `ratio` of first attempts. At 20% faults a call needs ~0.25 retries;
    /// a short process that also retries read-backs and 429s needs more early in its life.
    pub const SUCCESS_EARN: f64 = 0.5;
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
            successes: Default::default(),
            throttles: Default::default(),
            last_grant: AtomicU64::new(0),
            episode_probes: AtomicU32::new(0),
            episode_slot: AtomicU32::new(0),
            last_ok: AtomicU64::new(0),
            last_success: AtomicU64::new(0),
            episode_start: AtomicU64::new(0),
            episode_retries: AtomicU32::new(0),
            last_ask: AtomicU64::new(0),
            episode_deposits: AtomicU64::new(0),
            asker: AtomicU64::new(0),
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

    /// The default budget (docs/design.md section 5): ratio 0.1, burst 3, no floor per second,
    /// 3 retries per episode, 10 s.
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
    ///
    /// Only when no failed attempt asked for a retry in the last second: a success among
    /// failures (partial overload) does not end it.
    pub fn record_success(&self, now: Duration) {
        self.record_success_after(now, None);
    }

    /// [`Self::record_success`] for a call whose own last failure asked for a retry at
    /// `own_ask`: when no other failure has asked since, the success ends the episode without
    /// waiting for a quiet second (the call's own retry came back after its backoff).
    pub fn record_success_after(&self, now: Duration, own_ask: Option<Duration>) {
        self.record_successes(now, own_ask, 1);
    }

    /// `n` calls succeeded at once at `now` (bindings that batch first-attempt successes): each
    /// earns its tokens; the episode ends as after one [`Self::record_success`].
    pub fn record_success_many(&self, now: Duration, n: u32) {
        if n > 0 {
            self.record_successes(now, None, n);
        }
    }

    fn record_successes(&self, now: Duration, own_ask: Option<Duration>, n: u32) {
        self.add(&self.successes, self.slot_id(now), i64::from(n));
        self.asker.store(0, Ordering::Release);
        let t = stamp(now);
        self.last_ok.fetch_max(t, Ordering::AcqRel);
        let last_ask = self.last_ask.load(Ordering::Acquire);
        let alone = own_ask.is_some_and(|own| last_ask <= stamp(own));
        let quiet = (alone || t >= last_ask.saturating_add(QUIET_NANOS))
            && !self.overloaded(self.slot_id(now));
        if quiet {
            self.last_success.fetch_max(t, Ordering::AcqRel);
        }
    }

    /// Takes one token for a retry; `false` when the budget is empty.
    pub fn try_withdraw(&self, now: Duration) -> bool {
        self.withdraw(now, true, false)
    }

    /// [`Self::try_withdraw`] for the retry of an answer that says the server is overloaded
    /// (429, Too Many Requests): the tokens that successes earn do not pay for it, so under
    /// partial overload retries stay within `ratio` of first attempts and the overload drains.
    pub fn try_withdraw_throttled(&self, now: Duration) -> bool {
        self.withdraw(now, true, true)
    }

    /// [`Self::try_withdraw`] (or, `throttled`, [`Self::try_withdraw_throttled`]) for a retry
    /// that was deferred ([`crate::Decision::Wait`]) and is due now: no new failure was seen, so
    /// it does not keep the episode going.
    pub fn try_withdraw_deferred(&self, now: Duration, throttled: bool) -> bool {
        self.withdraw(now, false, throttled)
    }

    fn withdraw(&self, now: Duration, failed: bool, throttled: bool) -> bool {
        let t = stamp(now);
        let previous_ask = if failed {
            if throttled {
                self.add(&self.throttles, self.slot_id(now), 1);
            }
            self.last_ask.fetch_max(t, Ordering::AcqRel)
        } else {
            self.last_ask.load(Ordering::Acquire)
        };
        // A success that no failure has followed for a quiet interval ended the episode, even
        // if it came too soon after a failure to end it then (a quiet process learns of the
        // server's return from its last answer, not only from a success after a quiet second).
        let id = self.slot_id(now);
        let ok = self.last_ok.load(Ordering::Acquire);
        if ok > previous_ask && t >= ok.saturating_add(QUIET_NANOS) && !self.overloaded(id) {
            self.last_success.fetch_max(ok, Ordering::AcqRel);
        }
        let age = self.episode_age(now, true);
        if age.is_some_and(|a| a < EPISODE_ONSET_SECONDS) {
            // Calls that fail together with the first belong to the traffic the episode began
            // with (N concurrent calls hitting the same blip).
            let deposits = self.sum(&self.deposits, id);
            self.episode_deposits
                .fetch_max(u64::try_from(deposits).unwrap_or(0), Ordering::AcqRel);
        }
        let earned = !(throttled && self.overloaded(id));
        if self.balance_at(id, age, earned) < 1.0 {
            // Beyond the tokens, the episode minimum: `MINIMUM_AT_ONCE` retries at once (counting
            // every retry of the episode), the rest paced, each a probe `PROBE_GAP` after the last
            // retry allowed, so calls that wait learn that the server is back.
            let taken = self.episode_retries.load(Ordering::Acquire);
            let at_once = MINIMUM_AT_ONCE.min(self.min_per_episode);
            if taken >= at_once {
                let paced = self.min_per_episode - at_once;
                let due = t
                    >= self
                        .last_grant
                        .load(Ordering::Acquire)
                        .saturating_add(PROBE_GAP_NANOS);
                if !due || self.episode_probes.load(Ordering::Acquire) >= paced {
                    return false;
                }
                self.episode_probes.fetch_add(1, Ordering::AcqRel);
            }
        }
        self.last_grant.fetch_max(t, Ordering::AcqRel);
        self.episode_retries.fetch_add(1, Ordering::AcqRel);
        self.add(&self.withdrawals, id, 1);
        true
    }

    /// A call (`caller`, a number of its own, not 0) asked for a retry: while no other call has
    /// asked since the last success, it is the only one ([`Self::try_withdraw_alone`]).
    pub fn note_ask(&self, caller: u64) {
        let _ = self
            .asker
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |asker| match asker {
                0 => Some(caller),
                a if a == caller || a == SEVERAL_CALLERS => None,
                _ => Some(SEVERAL_CALLERS),
            });
    }

    /// A retry that the tokens and the episode minimum refused, for the call `caller` that alone
    /// has asked for retries since the last success ([`Self::note_ask`]) in a running episode:
    /// allowed (and counted as a retry of the episode) when the minimum has paced probes (the
    /// default's has). A quiet process's one call in flight is its own only evidence: when it
    /// meets several steady faults in a row, its backoff alone makes the episode outlive
    /// [`Self::DEFER_HORIZON`] and its later retries outrun the minimum, although nothing else
    /// failed. Its retries are then the probes the minimum paces, paced by its own backoff and
    /// bounded by its `max_retries`. In an outage the process's other calls fail too (or, one
    /// call after another, the next one asks before any success): from the second caller on,
    /// the episode's allowance is the budget's alone.
    pub fn try_withdraw_alone(&self, now: Duration, caller: u64) -> bool {
        let probes = self.min_per_episode > MINIMUM_AT_ONCE.min(self.min_per_episode);
        if !probes
            || caller == 0
            || self.asker.load(Ordering::Acquire) != caller
            || self.episode_age(now, false).is_none()
        {
            return false;
        }
        // It takes the place of the minimum's paced probes while they last: a call alone is
        // the probe.
        self.episode_probes.fetch_add(1, Ordering::AcqRel);
        self.last_grant.fetch_max(stamp(now), Ordering::AcqRel);
        self.episode_retries.fetch_add(1, Ordering::AcqRel);
        self.add(&self.withdrawals, self.slot_id(now), 1);
        true
    }

    /// Whether a failure episode is running at `now` and began less than [`Self::DEFER_HORIZON`]
    /// ago: a refused retry may wait for its next slot. Lock-free (two atomic loads).
    pub fn episode_is_young(&self, now: Duration) -> bool {
        self.episode_age(now, false)
            .is_some_and(|age| age < Self::DEFER_HORIZON.as_secs_f64())
    }

    /// Tokens available at `now`.
    pub fn balance(&self, now: Duration) -> f64 {
        self.balance_at(self.slot_id(now), self.episode_age(now, false), true)
    }

    /// Seconds since the current failure episode began (`None`: no episode); `begin` starts
    /// one when none is running.
    fn episode_age(&self, now: Duration, begin: bool) -> Option<f64> {
        let t = stamp(now);
        let mut start = self.episode_start.load(Ordering::Acquire);
        // An episode that began at the instant of the last success began after it.
        if start == 0 || start < self.last_success.load(Ordering::Acquire) {
            if !begin {
                return None;
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
                    self.episode_probes.store(0, Ordering::Release);
                    self.episode_slot
                        .store(self.slot_id(now), Ordering::Release);
                    let before = self.sum(&self.deposits, self.slot_id(now));
                    self.episode_deposits
                        .store(u64::try_from(before).unwrap_or(0), Ordering::Release);
                    t
                }
                Err(current) => current,
            };
        }
        Some(t.saturating_sub(start) as f64 / 1e9)
    }

    /// `r(age)` of the module comment for `deposits` first attempts in the window.
    fn tokens(&self, age: Option<f64>, deposits: f64) -> f64 {
        let Some(age) = age else {
            return self.burst * deposits;
        };
        let before = self.episode_deposits.load(Ordering::Acquire) as f64;
        let tau = FADE_SHORTEST_SECONDS
            + (FADE_LONGEST_SECONDS - FADE_SHORTEST_SECONDS)
                * (before / FADE_FULL_DEPOSITS).min(1.0);
        let x = age / tau;
        self.ratio * deposits + (self.burst - self.ratio) * before / (1.0 + (x * x) * (x * x))
    }

    /// Whether 429s are at least [`OVERLOAD_SHARE`] of the window's 429s and successes: the
    /// server sheds load, so successes do not pay for a 429's retry and do not end the episode
    /// (the window is `ttl`, so this also says a 429 came within `ttl`).
    fn overloaded(&self, current: u32) -> bool {
        let throttles = self.sum(&self.throttles, current) as f64;
        let successes = self.sum(&self.successes, current) as f64;
        throttles >= MIN_OVERLOAD_THROTTLES && throttles >= OVERLOAD_SHARE * (throttles + successes)
    }

    fn slot_id(&self, now: Duration) -> u32 {
        // u64 nanoseconds (584 years of uptime): a u128 division costs more than the rest of a
        // decision. Epochs wrap after 2^32 slots; only equality and short distances are compared.
        (u64::try_from(now.as_nanos()).unwrap_or(u64::MAX) / self.slot_nanos) as u32
    }

    /// Tokens at slot `current` in an episode of `age`; `earned`: with what successes earn.
    fn balance_at(&self, current: u32, age: Option<f64>, earned: bool) -> f64 {
        let d = self.sum(&self.deposits, current) as f64;
        // Successes earn from the slot the episode began in: the traffic before it is the
        // burst's (`D0`), and successes before an outage must not pay for retries during it.
        let earned = match age {
            Some(_) if earned => {
                let since = self.episode_slot.load(Ordering::Acquire);
                Self::SUCCESS_EARN * self.sum_since(&self.successes, current, since) as f64
            }
            _ => 0.0,
        };
        let deposited = self.tokens(age, d) + earned;
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

    /// The counts in `slots` within the window ending at slot `current`, from slot `since` on.
    fn sum_since(&self, slots: &[AtomicU64; SLOTS], current: u32, since: u32) -> i64 {
        let span = current.wrapping_sub(since);
        slots
            .iter()
            .map(|slot| unpack(slot.load(Ordering::Acquire)))
            .filter(|(epoch, _)| {
                let back = current.wrapping_sub(*epoch);
                back < SLOTS as u32 && back <= span
            })
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

    /// Greedy callers (every failure asks until refused), no success: the retries of a sustained
    /// outage stay a fraction of its first attempts, at any call rate, with no floor that
    /// multiplies with the number of processes.
    #[test]
    fn in_an_outage_retries_stay_a_fraction_of_first_attempts_at_any_rate() {
        for (per_second, seconds, most) in [(100u64, 10u64, 0.30), (20, 60, 0.30), (2, 60, 0.30)] {
            let b = RetryBudget::default_budget();
            let mut retries = 0u64;
            let n = per_second * seconds;
            for i in 0..n {
                let now = Duration::from_nanos(i * 1_000_000_000 / per_second);
                b.deposit(now);
                while b.try_withdraw(now) {
                    retries += 1;
                }
            }
            let share = retries as f64 / n as f64;
            assert!(
                share <= most,
                "{per_second}/s for {seconds} s: {retries} retries for {n} first attempts"
            );
            assert!(
                share >= 0.1,
                "{per_second}/s: {retries} retries: the ratio still holds"
            );
        }
    }

    /// A quiet process (one call now and then): its episode gets `min_per_episode` retries,
    /// never more as time passes, and never a floor per second.
    #[test]
    fn a_quiet_process_gets_its_episode_minimum_and_no_more() {
        let b = RetryBudget::default_budget();
        assert_eq!(b.min_per_second(), 0);
        let t0 = Duration::from_secs(100);
        b.deposit(t0);
        let mut taken = 0;
        for s in 0..60 {
            let now = t0 + Duration::from_secs(s);
            if s % 5 == 0 {
                b.deposit(now); // 0.2 calls/s
            }
            if b.try_withdraw(now) {
                taken += 1;
            }
        }
        // 3 (the minimum) plus what 1-3 deposits earn while the episode is young.
        assert!(
            (3..=5).contains(&taken),
            "{taken} retries in a 60 s outage at 0.2 calls/s"
        );
    }

    /// N concurrent calls fail, retry, fail again 0.25 s later and then succeed: every retry is
    /// allowed, for bursts from a few calls to thousands.
    #[test]
    fn a_blip_of_concurrent_calls_failing_twice_gets_every_retry() {
        for n in [1u32, 2, 10, 60, 100, 300, 1000, 3000] {
            let b = RetryBudget::default_budget();
            let t0 = Duration::from_secs(50);
            b.deposit_many(t0, n);
            for wave in [Duration::ZERO, Duration::from_millis(250)] {
                for _ in 0..n {
                    assert!(b.try_withdraw(t0 + wave), "n={n}, wave at {wave:?}");
                }
            }
            b.record_success(t0 + Duration::from_millis(1300));
        }
    }

    #[test]
    fn a_success_ends_the_episode_only_after_a_quiet_interval() {
        let b = RetryBudget::default_budget();
        let t0 = Duration::from_secs(10);
        b.deposit_many(t0, 100);
        assert!(b.try_withdraw(t0)); // the episode begins
        let late = t0 + Duration::from_secs(8);
        // 100 deposits: tau = 5 s; 8 s in, x = 1.6: r = 0.1 + 2.9 / (1 + 1.6^4) = 0.484 -> 48.4
        // tokens: 48 retries in all.
        let mut taken = 1;
        while b.try_withdraw(late) {
            taken += 1;
        }
        assert_eq!(taken, 48, "{taken}");
        // A success among failures (partial overload) does not end the episode (and the 0.3
        // tokens it earns do not make a retry)...
        b.record_success(late + Duration::from_millis(300));
        assert!(!b.try_withdraw(late + Duration::from_millis(400)));
        // ... one after half a second without a failed retry ask does.
        let quiet = late + Duration::from_millis(1700);
        b.record_success(quiet);
        let next = quiet + Duration::from_millis(1);
        assert!(b.try_withdraw(next), "a new episode: r at burst again");
        assert!(b.balance(next) > 200.0, "{}", b.balance(next));
    }

    /// Steady partial faults (20% of attempts fail, no outage): the successes pay for the
    /// retries, beyond `ratio` of first attempts, at any call rate.
    #[test]
    fn successes_pay_for_the_retries_of_steady_partial_faults() {
        let b = RetryBudget::default_budget();
        let t0 = Duration::from_secs(100);
        let (mut asked, mut refused) = (0, 0);
        // 20 calls/s for 30 s; every fifth fails once, asks for a retry, and then succeeds.
        for i in 0..600u64 {
            let now = t0 + Duration::from_millis(i * 50);
            b.deposit(now);
            if i % 5 == 0 {
                asked += 1;
                if !b.try_withdraw(now) {
                    refused += 1;
                }
            }
            b.record_success(now + Duration::from_millis(10));
        }
        assert_eq!(
            refused, 0,
            "{refused} of {asked} retries refused at 20% faults"
        );
        // Without successes (an outage) the same asks get ratio + the fading burst only.
        let outage = RetryBudget::default_budget();
        let taken = (0..600u64)
            .filter(|i| {
                let now = t0 + Duration::from_millis(i * 50);
                outage.deposit(now);
                i % 5 == 0 && outage.try_withdraw(now)
            })
            .count();
        assert!(taken < 80, "{taken} of 120 in an outage");
    }

    /// 429s that are a fifth or more of the answers say the server sheds load: successes do
    /// not pay for their retries. A stray 429 among successes (a sick server's fault like a
    /// 503) is paid for like any other retry.
    #[test]
    fn overload_retries_stay_at_the_ratio_and_a_stray_429_is_a_fault() {
        let t0 = Duration::from_secs(100);
        let run = |every: u64| {
            let b = RetryBudget::default_budget();
            let (mut asked, mut taken) = (0, 0);
            for i in 0..600u64 {
                let now = t0 + Duration::from_millis(i * 50);
                b.deposit(now);
                if i % every == 0 {
                    asked += 1;
                    if b.try_withdraw_throttled(now) {
                        taken += 1;
                    }
                } else {
                    b.record_success(now + Duration::from_millis(10));
                }
            }
            (asked, taken)
        };
        // Half the calls get 429 over 30 s at 20 calls/s: the burst of the episode's onset, then
        // 0.1 of the first attempts.
        let (asked, taken) = run(2);
        assert!((30..=100).contains(&taken), "{taken} of {asked}");
        // One call in twenty gets 429 (5% of the answers): every retry is allowed.
        let (asked, taken) = run(20);
        assert_eq!(taken, asked, "{taken} of {asked}");
    }

    /// After the first two retries of the minimum, the third is a probe: only 5 s after the last
    /// retry allowed, however many calls ask before.
    #[test]
    fn the_minimum_keeps_a_probe_for_later() {
        let b = RetryBudget::default_budget()
            .with_burst(RetryBudget::DEFAULT_RATIO)
            .unwrap();
        let t0 = Duration::from_secs(100);
        assert!(b.try_withdraw(t0));
        assert!(b.try_withdraw(t0 + Duration::from_secs(1)));
        assert!(!b.try_withdraw(t0 + Duration::from_secs(3)), "not yet");
        assert!(!b.try_withdraw_deferred(t0 + Duration::from_secs(5), false));
        assert!(
            b.try_withdraw_deferred(t0 + Duration::from_secs(6), false),
            "the probe"
        );
        assert!(
            !b.try_withdraw(t0 + Duration::from_secs(12)),
            "one probe per episode"
        );
    }

    /// A quiet process: its success came too soon after a failure to end the episode then, but
    /// with no failure since, the next ask finds the episode over (a fresh minimum).
    #[test]
    fn a_success_no_failure_followed_ends_the_episode_at_the_next_ask() {
        let b = RetryBudget::default_budget()
            .with_burst(RetryBudget::DEFAULT_RATIO)
            .unwrap();
        let t0 = Duration::from_secs(100);
        assert!(b.try_withdraw(t0));
        assert!(b.try_withdraw(t0 + Duration::from_millis(100)));
        b.record_success(t0 + Duration::from_millis(200)); // not quiet: 0.1 s after an ask
        assert!(!b.episode_is_young(t0 + Duration::from_secs(20)) || b.balance(t0) < 1.0);
        let later = t0 + Duration::from_secs(4);
        assert!(b.try_withdraw(later), "a new episode");
        assert!(b.try_withdraw(later), "with its own minimum");
    }

    /// Batched successes (Node flushes first-attempt successes in batches) earn as many tokens
    /// as the same successes one by one.
    #[test]
    fn batched_successes_earn_like_single_ones() {
        let t0 = Duration::from_secs(100);
        let one = RetryBudget::default_budget().with_burst(0.1).unwrap();
        let many = RetryBudget::default_budget().with_burst(0.1).unwrap();
        for b in [&one, &many] {
            b.deposit_many(t0, 10);
            assert!(b.try_withdraw(t0)); // the episode begins
        }
        let later = t0 + Duration::from_millis(100);
        for _ in 0..10 {
            one.record_success(later);
        }
        many.record_success_many(later, 10);
        assert_eq!(one.balance(later), many.balance(later));
        assert!(many.balance(later) >= 4.0, "{}", many.balance(later));
    }

    #[test]
    fn packing_round_trips_negative_values() {
        assert_eq!(unpack(pack(7, -3000)), (7, -3000));
        assert_eq!(unpack(pack(u32::MAX, i32::MIN)), (u32::MAX, i32::MIN));
    }
}
