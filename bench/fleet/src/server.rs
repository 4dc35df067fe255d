//! The server model: what an attempt sent at time `t` gets back, per scenario.
//!
//! (a), (c) and (d) answer the same whatever the load, so the processes of a fleet are
//! independent there. (b) is a server with a capacity in requests per second that restarts with
//! a cold cache: its capacity ramps up over 30 s, and what exceeds it gets 429 with API Priority
//! and Fairness's Retry-After rule.

use crate::rng::Rng;

/// Seconds of normal traffic before the fault (the budgets fill, the fleet reaches its rate).
pub const WARM_UP: f64 = 20.0;
/// (a): how long every attempt gets 503.
pub const OUTAGE: f64 = 60.0;
/// (b): how long the capacity takes to ramp from 0 to full after the restart.
pub const RAMP: f64 = 30.0;
/// (b): full capacity relative to the fleet's demand N·λ. A server sized with 20% headroom: it
/// serves the whole fleet if nobody retried, so whatever it rejects past the ramp is retry
/// traffic that the policy added (and a fleet whose retries stay within 20% of its calls
/// recovers as soon as the ramp ends).
pub const HEADROOM: f64 = 1.2;
/// (b): how much of a burst the server absorbs, in seconds of capacity (at least
/// [`MIN_DEPTH`] requests): APF queues requests (up to 50 per queue by default) before it
/// rejects, so a short burst above the rate is served, not refused.
pub const DEPTH_SECONDS: f64 = 2.0;
/// (b): the smallest burst absorbed, in requests.
pub const MIN_DEPTH: f64 = 20.0;
/// (d): the share of attempts that fail.
pub const FAULT_RATE: f64 = 0.01;
/// (e): the share of attempts that fail, and how long each process lives before a fresh one (a
/// new budget) takes its place: runner hooks and CI jobs are short-lived processes that meet an
/// unhealthy apiserver (about 20% faults measured in tests/e2e) for their whole life.
pub const SUSTAINED_FAULT_RATE: f64 = 0.2;
/// See [`SUSTAINED_FAULT_RATE`].
pub const LIFETIME: f64 = 30.0;
/// (e): the share of its faults that are 429 with `Retry-After: 1` (the rest 503): a sick
/// apiserver's APF rejects some requests too (the runner hooks' fault mix has 429 as one of the
/// five kinds a POST gets).
pub const SUSTAINED_429_SHARE: f64 = 0.2;
/// APF's largest Retry-After.
pub const MAX_RETRY_AFTER: u32 = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// (a) every attempt gets 503 for 60 s, then all succeed.
    Outage,
    /// (b) restart with a cold cache: capacity ramps from 0 over 30 s, 429 + Retry-After beyond.
    Restart,
    /// (c) every attempt gets 503 for 1 s.
    Blip1,
    /// (c) every attempt gets 503 for 5 s.
    Blip5,
    /// (d) 1% of attempts get 503, at random, all the time.
    Faults,
    /// (e) 20% of attempts fail (a fifth of them 429 + Retry-After 1, the rest 503), at
    /// random, all the time; processes live 30 s.
    Sustained,
}

impl Scenario {
    pub const ALL: [Scenario; 6] = [
        Scenario::Outage,
        Scenario::Restart,
        Scenario::Blip1,
        Scenario::Blip5,
        Scenario::Faults,
        Scenario::Sustained,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Outage => "a_outage",
            Scenario::Restart => "b_restart",
            Scenario::Blip1 => "c_blip1",
            Scenario::Blip5 => "c_blip5",
            Scenario::Faults => "d_faults",
            Scenario::Sustained => "e_sustained",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Scenario::Outage => "(a) hard outage: every attempt gets 503 for 60 s, then recovery",
            Scenario::Restart => {
                "(b) restart with a cold cache: capacity ramps 0 to 1.2 N·λ over 30 s, 429 + APF Retry-After beyond"
            }
            Scenario::Blip1 => "(c) blip: every attempt gets 503 for 1 s",
            Scenario::Blip5 => "(c) blip: every attempt gets 503 for 5 s",
            Scenario::Faults => "(d) steady faults: 1% of attempts get 503, at random",
            Scenario::Sustained => {
                "(e) sustained faults: 20% of attempts fail (a fifth 429, the rest 503), at random; each process lives 30 s"
            }
        }
    }

    /// How long a process lives before a fresh one takes its place (`None`: the whole run).
    pub fn lifetime(self) -> Option<f64> {
        (self == Scenario::Sustained).then_some(LIFETIME)
    }

    /// When first attempts stop arriving, in seconds.
    pub fn horizon(self) -> f64 {
        match self {
            Scenario::Outage | Scenario::Restart => 200.0,
            Scenario::Blip1 | Scenario::Blip5 => 80.0,
            Scenario::Faults | Scenario::Sustained => 100.0,
        }
    }

    /// The fault's window `[start, end)` in seconds: where attempts per first attempt are counted.
    pub fn fault(self) -> (f64, f64) {
        match self {
            Scenario::Outage => (WARM_UP, WARM_UP + OUTAGE),
            // The 60 s after the restart: the ramp and what follows it.
            Scenario::Restart => (WARM_UP, WARM_UP + 60.0),
            Scenario::Blip1 => (WARM_UP, WARM_UP + 1.0),
            Scenario::Blip5 => (WARM_UP, WARM_UP + 5.0),
            Scenario::Faults | Scenario::Sustained => (0.0, self.horizon()),
        }
    }

    /// When the server is fully back (the peak and the settling time count from here).
    pub fn recovery(self) -> Option<f64> {
        match self {
            Scenario::Outage | Scenario::Blip1 | Scenario::Blip5 => Some(self.fault().1),
            Scenario::Restart => Some(WARM_UP + RAMP),
            Scenario::Faults | Scenario::Sustained => None,
        }
    }
}

/// What an attempt gets back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Ok,
    /// 503 without a hint.
    Unavailable,
    /// 429 with `Retry-After: n` seconds.
    TooMany(u32),
}

/// The server. In (b) it sees the fleet's load: each simulated attempt stands for `weight`
/// attempts of the real fleet (the sampled processes' weight).
pub struct Server {
    scenario: Scenario,
    rng: Rng,
    /// (b) full capacity, requests per second.
    full: f64,
    tokens: f64,
    last: f64,
    restarted: bool,
    /// APF: the current Retry-After, when it last doubled, the last whole second evaluated,
    /// rejections per whole second (a ring of 64 s).
    retry_after: u32,
    doubled_at: i64,
    evaluated: i64,
    rejected: [f64; 64],
}

impl Server {
    pub fn new(scenario: Scenario, demand: f64, seed: u64) -> Server {
        let full = HEADROOM * demand;
        Server {
            scenario,
            rng: Rng::new(seed),
            full,
            tokens: Self::depth(full, 1.0),
            last: 0.0,
            restarted: false,
            retry_after: 1,
            doubled_at: i64::MIN / 2,
            evaluated: 0,
            rejected: [0.0; 64],
        }
    }

    fn depth(capacity: f64, weight: f64) -> f64 {
        (DEPTH_SECONDS * capacity).max(MIN_DEPTH).max(weight)
    }

    /// (b) capacity at `t`.
    pub fn capacity(&self, t: f64) -> f64 {
        if t < WARM_UP {
            self.full
        } else {
            self.full * ((t - WARM_UP) / RAMP).clamp(0.0, 1.0)
        }
    }

    /// The answer to an attempt at `t` seconds standing for `weight` real attempts.
    pub fn answer(&mut self, t: f64, weight: f64) -> Answer {
        match self.scenario {
            Scenario::Outage | Scenario::Blip1 | Scenario::Blip5 => {
                let (start, end) = self.scenario.fault();
                if (start..end).contains(&t) {
                    Answer::Unavailable
                } else {
                    Answer::Ok
                }
            }
            Scenario::Faults | Scenario::Sustained => {
                let rate = if self.scenario == Scenario::Faults {
                    FAULT_RATE
                } else {
                    SUSTAINED_FAULT_RATE
                };
                let draw = self.rng.unit();
                if self.scenario == Scenario::Sustained && draw < rate * SUSTAINED_429_SHARE {
                    Answer::TooMany(1)
                } else if draw < rate {
                    Answer::Unavailable
                } else {
                    Answer::Ok
                }
            }
            Scenario::Restart => self.admit(t, weight),
        }
    }

    fn admit(&mut self, t: f64, weight: f64) -> Answer {
        if !self.restarted && t >= WARM_UP {
            // The restart: a cold server has nothing in hand.
            self.restarted = true;
            self.tokens = 0.0;
            self.last = WARM_UP;
        }
        self.evaluate_retry_after(t);
        let dt = (t - self.last).max(0.0);
        // The capacity is piecewise linear: its midpoint value integrates it exactly except
        // across the ramp's end, where the error is below one event's spacing.
        let rate = self.capacity(self.last + dt / 2.0);
        let depth = Self::depth(self.capacity(t), weight);
        self.tokens = (self.tokens + rate * dt).min(depth);
        self.last = t;
        if self.tokens >= weight {
            self.tokens -= weight;
            Answer::Ok
        } else {
            self.rejected[(t as i64).rem_euclid(64) as usize] += weight;
            Answer::TooMany(self.retry_after)
        }
    }

    /// APF's Retry-After, evaluated once a second (as in issue #22): it starts at 1, doubles
    /// while the rejections of the last RA seconds reach 3·RA (at most once per RA seconds, up to
    /// 32), and falls by 1 when they are below RA.
    fn evaluate_retry_after(&mut self, t: f64) {
        let now = t.floor() as i64;
        while self.evaluated < now {
            self.evaluated += 1;
            let second = self.evaluated;
            // The second that starts now begins empty.
            self.rejected[second.rem_euclid(64) as usize] = 0.0;
            let ra = i64::from(self.retry_after);
            let recent: f64 = (second - ra..second)
                .map(|s| self.rejected[s.rem_euclid(64) as usize])
                .sum();
            if recent >= 3.0 * ra as f64 {
                if second - self.doubled_at >= ra && self.retry_after < MAX_RETRY_AFTER {
                    self.retry_after = (self.retry_after * 2).min(MAX_RETRY_AFTER);
                    self.doubled_at = second;
                }
            } else if recent < ra as f64 && self.retry_after > 1 {
                self.retry_after -= 1;
            }
        }
    }

    /// (b) the Retry-After the server currently hands out.
    #[cfg(test)]
    pub fn retry_after(&self) -> u32 {
        self.retry_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outage_fails_only_inside_its_window() {
        let mut s = Server::new(Scenario::Outage, 10.0, 1);
        assert_eq!(s.answer(19.99, 1.0), Answer::Ok);
        assert_eq!(s.answer(20.0, 1.0), Answer::Unavailable);
        assert_eq!(s.answer(79.99, 1.0), Answer::Unavailable);
        assert_eq!(s.answer(80.0, 1.0), Answer::Ok);
    }

    #[test]
    fn restart_rejects_past_the_ramp_and_raises_retry_after() {
        // Demand 100/s: full capacity 120/s. A flood of 1,000/s from the restart on.
        let mut s = Server::new(Scenario::Restart, 100.0, 1);
        let mut t = WARM_UP;
        let mut rejected = 0;
        while t < WARM_UP + 10.0 {
            if matches!(s.answer(t, 1.0), Answer::TooMany(_)) {
                rejected += 1;
            }
            t += 0.001;
        }
        // 10 s of ramp serve at most 0.5 * 120 * 10 / 3 = 200 (plus the depth).
        assert!(rejected > 9_000, "{rejected}");
        assert!(s.retry_after() >= 8, "{}", s.retry_after());
        // Silence: Retry-After falls by 1 per second back to 1.
        let mut t = WARM_UP + 100.0;
        s.answer(t, 1.0);
        t += 40.0;
        s.answer(t, 1.0);
        assert_eq!(s.retry_after(), 1);
    }

    #[test]
    fn restart_serves_the_demand_at_full_capacity() {
        let mut s = Server::new(Scenario::Restart, 100.0, 1);
        let mut ok = 0;
        for i in 0..10_000 {
            // 100/s, evenly, long after the ramp.
            if s.answer(WARM_UP + RAMP + 5.0 + i as f64 * 0.01, 1.0) == Answer::Ok {
                ok += 1;
            }
        }
        assert_eq!(ok, 10_000);
    }
}
