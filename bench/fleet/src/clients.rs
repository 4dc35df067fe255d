//! The retry policies of one simulated process: k8sretry's default policy (the real engine,
//! one `RetryBudget` per process) and the policies users would otherwise run, each from its
//! published rules (sources cited per policy). Every call is an idempotent GET.

use std::sync::Arc;
use std::time::Duration;

use k8sretry::{BudgetChoice, Call, Decision, Failure, ManualClock, Policy, RetryBudget, Verb};

use crate::rng::Rng;
use crate::server::Answer;

pub const NANOS: f64 = 1e9;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// k8sretry's `Policy::default()` (the real engine), with a budget of its own per process.
    K8sretry,
    /// No retries: the first attempt's answer is the call's.
    NoRetry,
    /// The Python seed decorator `retry_on_k8s_error` (/work/shared/seeds/002_*.txt, the
    /// "Kubernetes API Retry Logic Implementation" note): 3 retries on 408/429/500/502/503/504,
    /// delays `min(1 s * 2^(n-1), 30 s)` with no jitter, no budget, Retry-After not read
    /// (honouring 429's hint is listed under its future enhancements).
    Seed,
    /// actions/runner-container-hooks PR #338 ("Add retries to calls to the k8s api",
    /// /work/shared/seeds/000_*.txt): 4 attempts in all, exponential backoff from 1 s with jitter,
    /// Retry-After honoured on 429 and capped at 30 s. The PR text does not give the jitter's
    /// form: modelled as +-50% (k8sretry's `runner_hooks` preset, which copies that PR).
    Hooks,
    /// client-go's rest client (k8s.io/client-go/rest/request.go and with_retry.go, v0.34):
    /// `withRetry{maxRetries: 10}`; `checkWait` retries only a 429 or a 5xx that carries
    /// Retry-After, sleeping exactly its seconds; every attempt, retries included, first waits
    /// for the client's rate limiter (`flowcontrol.NewTokenBucketRateLimiter(QPS 5, Burst 10)`,
    /// rest.Config's defaults; x/time/rate reservations: callers queue behind it).
    ClientGo,
    /// gRPC retry throttling (gRFC A6, "gRPC Retry Design"): per channel, token_count starts at
    /// maxTokens 10; each failed attempt takes 1, each success gives tokenRatio 0.1 back; no
    /// retry while token_count <= maxTokens / 2. Its retryPolicy here: maxAttempts 4,
    /// initialBackoff 1 s, backoffMultiplier 2, maxBackoff 30 s, the n-th retry after
    /// `random(0, min(1 s * 2^(n-1), 30 s))` (A6's backoff); an HTTP client has no
    /// grpc-retry-pushback-ms, so Retry-After is not read.
    Grpc,
    /// The AWS SDKs' standard retry mode (AWS SDKs and Tools Reference Guide, "Retry behavior";
    /// botocore/retries/standard.py, quota.py): a retry quota of 500 tokens per client, a retry
    /// takes 5 (a timeout 10), an attempt that succeeds gives back what its retry took, or 1 if
    /// it was a first attempt; nothing refills with time. 3 attempts in all; delay
    /// `random(0, 1) * min(2^(n-1) s, 20 s)`; Retry-After not read.
    Aws,
    /// Finagle's `RetryBudget` (com.twitter.finagle.service.RetryBudget, the default
    /// `RetryBudget()`: ttl 10 s, minRetriesPerSec 10, percentCanRetry 0.2), as Linkerd's
    /// retryBudget (retryRatio 0.2, minRetriesPerSecond 10, ttl 10 s): each request deposits,
    /// each retry withdraws 1/0.2 of a deposit, over a 10 s window, on top of a reserve of
    /// 10 * 10 retries (additive, unlike k8sretry's floor). Paired with k8sretry's default
    /// backoff (3 retries, 1 s doubling, +-10%) so the budget alone differs; Retry-After not read.
    Finagle,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::K8sretry,
        Kind::NoRetry,
        Kind::Seed,
        Kind::Hooks,
        Kind::ClientGo,
        Kind::Grpc,
        Kind::Aws,
        Kind::Finagle,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::K8sretry => "k8sretry",
            Kind::NoRetry => "no-retry",
            Kind::Seed => "seed-decorator",
            Kind::Hooks => "runner-hooks-338",
            Kind::ClientGo => "client-go",
            Kind::Grpc => "grpc-a6",
            Kind::Aws => "aws-standard",
            Kind::Finagle => "finagle-budget",
        }
    }
}

/// What a process does after a failed attempt.
pub enum Next {
    /// Send again after this many nanoseconds.
    Retry(u64),
    /// Send nothing; after this many nanoseconds ask the engine again ([`Process::resume`]).
    Wait(u64),
    /// Return the failure.
    GiveUp,
}

/// One call in flight.
pub struct CallState {
    pub process: u32,
    /// Attempts sent so far.
    pub attempts: u32,
    /// Monotonic nanoseconds before which the last answer's Retry-After said not to send.
    pub not_before: Option<u64>,
    engine: Option<Call>,
    /// AWS: the tokens the last retry took (given back on success).
    aws_cost: u32,
}

/// x/time/rate's token bucket as client-go's limiter uses it: a reservation may take the
/// bucket below zero, and then waits until it refills.
struct Limiter {
    qps: f64,
    burst: f64,
    tokens: f64,
    last: f64,
}

impl Limiter {
    /// Reserves one token at `now` seconds; returns how long to wait for it, in seconds.
    fn reserve(&mut self, now: f64) -> f64 {
        self.tokens = (self.tokens + (now - self.last) * self.qps).min(self.burst);
        self.last = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            0.0
        } else {
            -self.tokens / self.qps
        }
    }
}

/// Finagle's window: deposits and withdrawals over the last `SLOTS` seconds.
struct Window {
    deposits: [(i64, u32); 10],
    withdrawals: [(i64, u32); 10],
}

impl Window {
    const TTL: i64 = 10;
    const MIN_PER_SECOND: f64 = 10.0;
    const PERCENT: f64 = 0.2;

    fn add(slots: &mut [(i64, u32); 10], second: i64) {
        let slot = &mut slots[second.rem_euclid(Self::TTL) as usize];
        if slot.0 != second {
            *slot = (second, 0);
        }
        slot.1 += 1;
    }

    fn sum(slots: &[(i64, u32); 10], second: i64) -> f64 {
        slots
            .iter()
            .filter(|(s, _)| second - s < Self::TTL)
            .map(|(_, n)| f64::from(*n))
            .sum()
    }

    fn try_withdraw(&mut self, second: i64) -> bool {
        let balance = Self::MIN_PER_SECOND * Self::TTL as f64
            + Self::PERCENT * Self::sum(&self.deposits, second)
            - Self::sum(&self.withdrawals, second);
        if balance >= 1.0 {
            Self::add(&mut self.withdrawals, second);
            true
        } else {
            false
        }
    }
}

enum State {
    Engine(Policy),
    Plain,
    ClientGo(Limiter),
    Grpc(f64),
    Aws(u32),
    Finagle(Box<Window>),
}

/// One simulated process: its policy's state (budget, limiter, tokens) and its jitter.
pub struct Process {
    kind: Kind,
    state: State,
    rng: Rng,
}

/// The answer as the engine sees it.
fn failure(answer: Answer) -> Failure {
    match answer {
        Answer::TooMany(ra) => Failure::new()
            .with_status(429)
            .with_reason("TooManyRequests")
            .with_retry_after(ra.to_string()),
        _ => Failure::new()
            .with_status(503)
            .with_reason("ServiceUnavailable"),
    }
}

fn secs(seconds: f64) -> u64 {
    (seconds * NANOS).round().max(0.0) as u64
}

/// `min(base * 2^(retry-1), cap)` in seconds.
fn exponential(base: f64, retry: u32, cap: f64) -> f64 {
    (base * 2f64.powi(retry as i32 - 1)).min(cap)
}

impl Process {
    pub fn new(kind: Kind, clock: &Arc<ManualClock>, seed: u64) -> Process {
        let state = match kind {
            Kind::K8sretry => State::Engine(
                Policy::builder()
                    .budget(BudgetChoice::Own(Arc::new(RetryBudget::default_budget())))
                    .clock(clock.clone())
                    .seed(Some(seed))
                    .build()
                    .expect("the default policy builds"),
            ),
            Kind::NoRetry | Kind::Seed | Kind::Hooks => State::Plain,
            Kind::ClientGo => State::ClientGo(Limiter {
                qps: 5.0,
                burst: 10.0,
                tokens: 10.0,
                last: 0.0,
            }),
            Kind::Grpc => State::Grpc(10.0),
            Kind::Aws => State::Aws(500),
            Kind::Finagle => State::Finagle(Box::new(Window {
                deposits: [(i64::MIN / 2, 0); 10],
                withdrawals: [(i64::MIN / 2, 0); 10],
            })),
        };
        Process {
            kind,
            state,
            rng: Rng::new(seed.wrapping_mul(31).wrapping_add(7)),
        }
    }

    /// A process running the engine with `policy` (tests: a deadline, a budget of no tokens).
    #[cfg(test)]
    pub fn with_policy(policy: Policy) -> Process {
        Process {
            kind: Kind::K8sretry,
            state: State::Engine(policy),
            rng: Rng::new(1),
        }
    }

    /// A call begins at `now` (the engine's clock reads `now` already).
    pub fn begin(&mut self, process: u32, now: u64) -> CallState {
        let engine = match &mut self.state {
            State::Engine(policy) => Some(Call::new(policy, "fleet").with_verb(Verb::Get)),
            State::Finagle(window) => {
                Window::add(&mut window.deposits, (now / 1_000_000_000) as i64);
                None
            }
            _ => None,
        };
        CallState {
            process,
            attempts: 0,
            not_before: None,
            engine,
            aws_cost: 0,
        }
    }

    /// How long an attempt about to be sent at `now` waits for the process's rate limiter.
    pub fn throttle(&mut self, now: u64) -> u64 {
        match &mut self.state {
            State::ClientGo(limiter) => secs(limiter.reserve(now as f64 / NANOS)),
            _ => 0,
        }
    }

    /// Whether every attempt passes the rate limiter (so a retry's sleep ends in a throttle).
    pub fn throttles(&self) -> bool {
        matches!(self.state, State::ClientGo(_))
    }

    pub fn on_success(&mut self, call: &mut CallState) {
        match &mut self.state {
            State::Engine(_) => {
                if let Some(engine) = call.engine.as_mut() {
                    engine.on_success();
                }
            }
            State::Grpc(tokens) => *tokens = (*tokens + 0.1).min(10.0),
            State::Aws(quota) => {
                let refund = if call.attempts > 1 { call.aws_cost } else { 1 };
                *quota = (*quota + refund).min(500);
            }
            _ => {}
        }
    }

    /// A wait the engine asked for ([`Next::Wait`]) has been slept: ask it again.
    pub fn resume(&mut self, call: &mut CallState) -> Next {
        let engine = call.engine.as_mut().expect("only the engine waits");
        match engine.resume() {
            Ok(decision) => decide(decision),
            Err(e) => panic!("resume out of order: {e}"),
        }
    }

    /// The attempt `call.attempts` got `answer` (not Ok) at `now`.
    pub fn on_failure(&mut self, call: &mut CallState, answer: Answer, now: u64) -> Next {
        let retry = call.attempts; // the retry this would be
        let hint = match answer {
            Answer::TooMany(ra) => Some(f64::from(ra)),
            _ => None,
        };
        match self.kind {
            Kind::K8sretry => {
                let engine = call.engine.as_mut().expect("an engine call");
                decide(engine.on_failure(&failure(answer)))
            }
            Kind::NoRetry => Next::GiveUp,
            Kind::Seed => {
                if retry > 3 {
                    return Next::GiveUp;
                }
                Next::Retry(secs(exponential(1.0, retry, 30.0)))
            }
            Kind::Hooks => {
                if retry > 3 {
                    return Next::GiveUp;
                }
                let delay = match hint {
                    Some(ra) => ra.min(30.0),
                    None => exponential(1.0, retry, 30.0) * (0.5 + self.rng.unit()),
                };
                Next::Retry(secs(delay))
            }
            Kind::ClientGo => match hint {
                Some(ra) if retry <= 10 => Next::Retry(secs(ra)),
                _ => Next::GiveUp,
            },
            Kind::Grpc => {
                let State::Grpc(tokens) = &mut self.state else {
                    unreachable!()
                };
                *tokens = (*tokens - 1.0).max(0.0);
                if retry > 3 || *tokens <= 5.0 {
                    return Next::GiveUp;
                }
                Next::Retry(secs(self.rng.unit() * exponential(1.0, retry, 30.0)))
            }
            Kind::Aws => {
                let State::Aws(quota) = &mut self.state else {
                    unreachable!()
                };
                const RETRY_COST: u32 = 5;
                if retry > 2 || *quota < RETRY_COST {
                    return Next::GiveUp;
                }
                *quota -= RETRY_COST;
                call.aws_cost = RETRY_COST;
                Next::Retry(secs(self.rng.unit() * exponential(1.0, retry, 20.0)))
            }
            Kind::Finagle => {
                let State::Finagle(window) = &mut self.state else {
                    unreachable!()
                };
                if retry > 3 || !window.try_withdraw((now / 1_000_000_000) as i64) {
                    return Next::GiveUp;
                }
                let jitter = 0.9 + 0.2 * self.rng.unit();
                Next::Retry(secs((exponential(1.0, retry, 30.0) * jitter).min(30.0)))
            }
        }
    }
}

/// The engine's decision, carried out.
fn decide(decision: Decision) -> Next {
    match decision {
        Decision::Retry { delay } => Next::Retry(nanos(delay)),
        Decision::Wait { delay } => Next::Wait(nanos(delay)),
        Decision::GiveUp(_) => Next::GiveUp,
        // A GET never asks for a read-back and never ends as Done or Recovered.
        other => panic!("unexpected decision for a GET: {other:?}"),
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn process(kind: Kind) -> (Process, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(0.0));
        (Process::new(kind, &clock, 1), clock)
    }

    /// The retry delays a call of `kind` gets for `answer` until it gives up, in seconds.
    fn delays(kind: Kind, answer: Answer) -> Vec<f64> {
        let (mut p, _clock) = process(kind);
        let mut call = p.begin(0, 0);
        let mut out = Vec::new();
        loop {
            call.attempts += 1;
            match p.on_failure(&mut call, answer, 0) {
                Next::Retry(d) => out.push(d as f64 / NANOS),
                Next::Wait(_) => panic!("no deadline, no wait"),
                Next::GiveUp => return out,
            }
        }
    }

    #[test]
    fn seed_decorator_doubles_from_one_second_three_times_and_ignores_retry_after() {
        assert_eq!(delays(Kind::Seed, Answer::Unavailable), [1.0, 2.0, 4.0]);
        assert_eq!(delays(Kind::Seed, Answer::TooMany(32)), [1.0, 2.0, 4.0]);
    }

    #[test]
    fn runner_hooks_take_retry_after_capped_at_30_s_and_jitter_the_backoff() {
        assert_eq!(delays(Kind::Hooks, Answer::TooMany(32)), [30.0, 30.0, 30.0]);
        let d = delays(Kind::Hooks, Answer::Unavailable);
        assert_eq!(d.len(), 3);
        for (i, x) in d.iter().enumerate() {
            let base = 2f64.powi(i as i32);
            assert!((0.5 * base..=1.5 * base).contains(x), "{d:?}");
        }
    }

    #[test]
    fn client_go_retries_only_with_retry_after_ten_times_sleeping_it() {
        assert!(delays(Kind::ClientGo, Answer::Unavailable).is_empty());
        assert_eq!(delays(Kind::ClientGo, Answer::TooMany(4)), vec![4.0; 10]);
    }

    #[test]
    fn client_go_limiter_lets_a_burst_of_ten_then_five_per_second() {
        let (mut p, _clock) = process(Kind::ClientGo);
        let waits: Vec<u64> = (0..12).map(|_| p.throttle(S)).collect();
        assert_eq!(&waits[..10], &[0; 10]);
        assert_eq!(waits[10], S / 5);
        assert_eq!(waits[11], 2 * S / 5);
    }

    #[test]
    fn grpc_throttles_retries_once_five_tokens_are_gone() {
        let (mut p, _clock) = process(Kind::Grpc);
        let mut retried = 0;
        for _ in 0..5 {
            let mut call = p.begin(0, 0);
            call.attempts = 1;
            if matches!(
                p.on_failure(&mut call, Answer::Unavailable, 0),
                Next::Retry(_)
            ) {
                retried += 1;
            }
        }
        // 10 -> 9, 8, 7, 6 retry; at 5 (<= maxTokens / 2) not.
        assert_eq!(retried, 4);
        // Successes give 0.1 each: 11 of them lift 5 above the threshold again.
        for _ in 0..11 {
            let mut call = p.begin(0, 0);
            call.attempts = 1;
            p.on_success(&mut call);
        }
        let mut call = p.begin(0, 0);
        call.attempts = 1;
        // 6.1 - 1 = 5.1 > 5: retried.
        assert!(matches!(
            p.on_failure(&mut call, Answer::Unavailable, 0),
            Next::Retry(_)
        ));
    }

    #[test]
    fn aws_quota_drains_by_five_and_never_refills_with_time() {
        let (mut p, _clock) = process(Kind::Aws);
        let mut retries = 0;
        for i in 0..300u64 {
            let mut call = p.begin(0, i * S);
            call.attempts = 1;
            if matches!(
                p.on_failure(&mut call, Answer::Unavailable, i * S),
                Next::Retry(_)
            ) {
                retries += 1;
            }
        }
        assert_eq!(retries, 100); // 500 / 5
        // A first attempt that succeeds gives 1 back; a retry that succeeds gives its 5.
        let mut ok = p.begin(0, 0);
        ok.attempts = 1;
        p.on_success(&mut ok);
        assert!(matches!(p.state, State::Aws(1)));
    }

    #[test]
    fn finagle_allows_its_reserve_plus_a_fifth_of_requests_per_ten_seconds() {
        let (mut p, _clock) = process(Kind::Finagle);
        let mut retries = 0;
        // 50 requests in one second, each failing and asking for retries until refused.
        for _ in 0..50 {
            let mut call = p.begin(0, 0);
            for _ in 0..3 {
                call.attempts += 1;
                if matches!(
                    p.on_failure(&mut call, Answer::Unavailable, 0),
                    Next::Retry(_)
                ) {
                    retries += 1;
                }
            }
        }
        assert_eq!(retries, 100 + 10); // 10/s * 10 s + 0.2 * 50
        // Ten seconds later the window has emptied.
        let mut call = p.begin(0, 10 * S);
        call.attempts = 1;
        assert!(matches!(
            p.on_failure(&mut call, Answer::Unavailable, 10 * S),
            Next::Retry(_)
        ));
    }

    #[test]
    fn a_budget_refused_retry_with_a_deadline_waits_then_resumes() {
        let clock = Arc::new(ManualClock::new(0.0));
        let empty = RetryBudget::new(0.0, 0, Duration::from_secs(10))
            .with_burst(0.0)
            .and_then(|b| b.with_min_per_episode(0))
            .expect("a budget");
        let policy = Policy::builder()
            .budget(BudgetChoice::Own(Arc::new(empty)))
            .deadline(Some(60.0))
            .clock(clock.clone())
            .seed(Some(1))
            .build()
            .expect("a policy");
        let mut p = Process::with_policy(policy);
        let mut call = p.begin(0, 0);
        call.attempts = 1;
        let Next::Wait(delay) = p.on_failure(&mut call, Answer::Unavailable, 0) else {
            panic!("expected a wait");
        };
        assert!(delay > 0);
        clock.advance(Duration::from_nanos(delay));
        // Still no token: another wait or a give-up, never a retry out of nothing.
        assert!(!matches!(p.resume(&mut call), Next::Retry(_)));
    }

    #[test]
    fn the_engine_honours_retry_after_up_to_its_cap() {
        let d = delays(Kind::K8sretry, Answer::TooMany(8));
        assert!(!d.is_empty());
        assert!(d.iter().all(|&x| x >= 8.0), "{d:?}");
    }
}
