//! One run: a fleet of processes with one policy against one scenario, on one virtual clock
//! (a `ManualClock` the engine reads; nothing sleeps) driven by an event queue.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use k8sretry::ManualClock;

use crate::clients::{CallState, Kind, NANOS, Next, Process};
use crate::rng::Rng;
use crate::server::{Answer, Scenario, Server};

/// Seconds simulated after the last arrival, so calls in flight end (client-go's 10 retries of
/// 32 s fit; a call still unfinished then counts as not succeeded).
pub const DRAIN: f64 = 400.0;

#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub scenario: Scenario,
    pub kind: Kind,
    /// Processes in the fleet.
    pub n: u32,
    /// Calls per second per process.
    pub lambda: f64,
    /// Processes simulated (each stands for n / sample processes).
    pub sample: u32,
    /// Independent fleets simulated (each with its own server); the counts are their mean.
    pub replicas: u32,
    pub seed: u64,
}

impl Spec {
    pub fn weight(&self) -> f64 {
        f64::from(self.n) / f64::from(self.sample)
    }

    pub fn demand(&self) -> f64 {
        f64::from(self.n) * self.lambda
    }
}

/// Counts in one second of virtual time, weighted (standing for the whole fleet).
#[derive(Debug, Default, Clone, Copy)]
pub struct Bin {
    /// Calls that began.
    pub arrivals: f64,
    /// First attempts sent.
    pub first: f64,
    /// Attempts sent (first attempts and retries).
    pub attempts: f64,
    pub ok: f64,
    pub unavailable: f64,
    pub too_many: f64,
}

#[derive(Debug)]
pub struct Outcome {
    pub spec: Spec,
    pub bins: Vec<Bin>,
    /// Simulated calls (unweighted) and how they ended.
    pub calls: u64,
    pub succeeded: u64,
    pub gave_up: u64,
    pub unfinished: u64,
    /// Attempts sent before the Retry-After the call's previous answer carried, and attempts
    /// that followed an answer with a Retry-After (unweighted).
    pub early: u64,
    pub hinted: u64,
    /// Waits the engine asked for (`Decision::Wait`: a budget-refused retry that fits the
    /// call's deadline).
    pub waits: u64,
}

#[derive(Clone, Copy)]
enum Event {
    Arrival(u32),
    /// Send the call's next attempt; `throttle`: pass the process's rate limiter first.
    Send {
        call: u32,
        throttle: bool,
    },
    /// The engine's wait is over: ask it again (`Call::resume`).
    Resume(u32),
}

struct Queue {
    heap: BinaryHeap<Reverse<(u64, u64, u32, u32)>>,
    seq: u64,
}

impl Queue {
    fn push(&mut self, at: u64, event: Event) {
        self.seq += 1;
        let (tag, value) = match event {
            Event::Arrival(p) => (0, p),
            Event::Send { call, throttle } => (1 + u32::from(throttle), call),
            Event::Resume(call) => (3, call),
        };
        // (tag, value) packed: 0 arrival, 1 send, 2 send after the limiter, 3 resume.
        self.heap.push(Reverse((at, self.seq, tag, value)));
    }

    fn pop(&mut self) -> Option<(u64, Event)> {
        let Reverse((at, _, tag, value)) = self.heap.pop()?;
        Some((
            at,
            match tag {
                0 => Event::Arrival(value),
                3 => Event::Resume(value),
                t => Event::Send {
                    call: value,
                    throttle: t == 2,
                },
            },
        ))
    }
}

/// The spec's replicas, one after the other: their counts added, the bins averaged.
/// Carries out what the process decided after a failure or a wait; `true` when the call ends.
fn schedule(next: Next, call: u32, now: u64, process: &Process, queue: &mut Queue) -> bool {
    match next {
        Next::Retry(delay) => {
            let throttle = process.throttles();
            queue.push(now + delay, Event::Send { call, throttle });
            false
        }
        Next::Wait(delay) => {
            queue.push(now + delay, Event::Resume(call));
            false
        }
        Next::GiveUp => true,
    }
}

pub fn run(spec: Spec) -> Outcome {
    let mut total = run_one(spec, 0);
    for r in 1..spec.replicas {
        let o = run_one(spec, r);
        for (a, b) in total.bins.iter_mut().zip(&o.bins) {
            a.arrivals += b.arrivals;
            a.first += b.first;
            a.attempts += b.attempts;
            a.ok += b.ok;
            a.unavailable += b.unavailable;
            a.too_many += b.too_many;
        }
        total.calls += o.calls;
        total.succeeded += o.succeeded;
        total.gave_up += o.gave_up;
        total.unfinished += o.unfinished;
        total.early += o.early;
        total.hinted += o.hinted;
        total.waits += o.waits;
    }
    total
}

fn run_one(spec: Spec, replica: u32) -> Outcome {
    let seed = spec
        .seed
        .wrapping_mul(7_919)
        .wrapping_add(u64::from(replica));
    // What the server sees per simulated attempt, and what one adds to the replicas' mean.
    let server_weight = spec.weight();
    let weight = server_weight / f64::from(spec.replicas.max(1));
    let horizon = spec.scenario.horizon();
    let horizon_ns = (horizon * NANOS) as u64;
    let end_ns = ((horizon + DRAIN) * NANOS) as u64;
    let clock = Arc::new(ManualClock::new(1.7e9));
    let mut clock_ns = 0u64;
    let mut rng = Rng::new(seed);
    let mut server = Server::new(spec.scenario, spec.demand(), seed ^ 0x5e5e);
    let mut processes: Vec<Process> = (0..spec.sample)
        .map(|i| {
            Process::new(
                spec.kind,
                &clock,
                seed.wrapping_mul(1_000_003) + u64::from(i),
            )
        })
        .collect();
    // (e): when each process began, and how many processes have begun (a fresh one's seed).
    let lifetime_ns = spec.scenario.lifetime().map(|l| (l * NANOS) as u64);
    let mut born = vec![0u64; spec.sample as usize];
    let mut in_flight = vec![0u32; spec.sample as usize];
    let mut generation = u64::from(spec.sample);
    let mut calls: Vec<Option<CallState>> = Vec::new();
    let mut free: Vec<u32> = Vec::new();
    let mut bins = vec![Bin::default(); (horizon + DRAIN) as usize + 2];
    let mut out = Outcome {
        spec,
        bins: Vec::new(),
        calls: 0,
        succeeded: 0,
        gave_up: 0,
        unfinished: 0,
        early: 0,
        hinted: 0,
        waits: 0,
    };
    let mut queue = Queue {
        heap: BinaryHeap::with_capacity(spec.sample as usize * 2),
        seq: 0,
    };
    for p in 0..spec.sample {
        let at = (rng.exp(spec.lambda) * NANOS) as u64;
        queue.push(at, Event::Arrival(p));
    }

    while let Some((now, event)) = queue.pop() {
        if now > end_ns {
            break;
        }
        if now > clock_ns {
            clock.advance(std::time::Duration::from_nanos(now - clock_ns));
            clock_ns = now;
        }
        let bin = (now / 1_000_000_000) as usize;
        let id = match event {
            Event::Arrival(p) => {
                if now >= horizon_ns {
                    continue;
                }
                let next = now + (rng.exp(spec.lambda) * NANOS) as u64;
                queue.push(next, Event::Arrival(p));
                out.calls += 1;
                bins[bin].arrivals += weight;
                if in_flight[p as usize] == 0
                    && lifetime_ns.is_some_and(|l| now - born[p as usize] >= l)
                {
                    // The process ended (it lives until its calls are done); a fresh one (a
                    // new budget) takes its place.
                    generation += 1;
                    processes[p as usize] =
                        Process::new(spec.kind, &clock, seed.wrapping_mul(1_000_003) + generation);
                    born[p as usize] = now;
                }
                in_flight[p as usize] += 1;
                let state = processes[p as usize].begin(p, now);
                let id = match free.pop() {
                    Some(id) => {
                        calls[id as usize] = Some(state);
                        id
                    }
                    None => {
                        calls.push(Some(state));
                        (calls.len() - 1) as u32
                    }
                };
                let wait = processes[p as usize].throttle(now);
                if wait > 0 {
                    queue.push(
                        now + wait,
                        Event::Send {
                            call: id,
                            throttle: false,
                        },
                    );
                    continue;
                }
                id
            }
            Event::Resume(call) => {
                let state = calls[call as usize].as_mut().expect("a waiting call");
                let process = &mut processes[state.process as usize];
                out.waits += 1;
                if schedule(process.resume(state), call, now, process, &mut queue) {
                    out.gave_up += 1;
                    in_flight[state.process as usize] -= 1;
                    calls[call as usize] = None;
                    free.push(call);
                }
                continue;
            }
            Event::Send { call, throttle } => {
                if throttle {
                    let p = calls[call as usize].as_ref().expect("a call").process;
                    let wait = processes[p as usize].throttle(now);
                    if wait > 0 {
                        queue.push(
                            now + wait,
                            Event::Send {
                                call,
                                throttle: false,
                            },
                        );
                        continue;
                    }
                }
                call
            }
        };

        // Send the attempt.
        let state = calls[id as usize].as_mut().expect("a call in flight");
        let process = &mut processes[state.process as usize];
        if let Some(not_before) = state.not_before {
            out.hinted += 1;
            if now < not_before {
                out.early += 1;
            }
        }
        state.attempts += 1;
        bins[bin].attempts += weight;
        if state.attempts == 1 {
            bins[bin].first += weight;
        }
        let answer = server.answer(now as f64 / NANOS, server_weight);
        let ended = match answer {
            Answer::Ok => {
                bins[bin].ok += weight;
                process.on_success(state);
                out.succeeded += 1;
                true
            }
            failed => {
                if let Answer::TooMany(ra) = failed {
                    bins[bin].too_many += weight;
                    state.not_before = Some(now + u64::from(ra) * 1_000_000_000);
                } else {
                    bins[bin].unavailable += weight;
                    state.not_before = None;
                }
                let next = process.on_failure(state, failed, now);
                let gave_up = schedule(next, id, now, process, &mut queue);
                out.gave_up += u64::from(gave_up);
                gave_up
            }
        };
        if ended {
            in_flight[state.process as usize] -= 1;
            calls[id as usize] = None;
            free.push(id);
        }
    }
    out.unfinished = calls.iter().filter(|c| c.is_some()).count() as u64;
    out.bins = bins;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(scenario: Scenario, kind: Kind, n: u32, sample: u32) -> Spec {
        Spec {
            scenario,
            kind,
            n,
            lambda: 2.0,
            sample,
            replicas: 1,
            seed: 7,
        }
    }

    #[test]
    fn without_retries_every_attempt_is_a_first_attempt_and_the_outage_fails_its_calls() {
        let o = run(spec(Scenario::Outage, Kind::NoRetry, 50, 50));
        let attempts: f64 = o.bins.iter().map(|b| b.attempts).sum();
        let first: f64 = o.bins.iter().map(|b| b.first).sum();
        let arrivals: f64 = o.bins.iter().map(|b| b.arrivals).sum();
        assert_eq!(attempts, first);
        assert_eq!(arrivals, o.calls as f64);
        // 60 s of 200 fail: about 30% of the calls.
        let failed = o.gave_up as f64 / o.calls as f64;
        assert!((0.27..0.33).contains(&failed), "{failed}");
        assert_eq!(o.unfinished, 0);
    }

    #[test]
    fn a_sampled_process_counts_for_its_weight() {
        let o = run(spec(Scenario::Faults, Kind::NoRetry, 1_000, 100));
        let arrivals: f64 = o.bins.iter().map(|b| b.arrivals).sum();
        assert_eq!(arrivals, 10.0 * o.calls as f64);
        // ~1,000 processes x 2 calls/s x 100 s.
        assert!((190_000.0..210_000.0).contains(&arrivals), "{arrivals}");
    }

    #[test]
    fn retry_after_is_checked_against_the_previous_answer() {
        // client-go sleeps exactly the Retry-After: never early.
        let o = run(spec(Scenario::Restart, Kind::ClientGo, 100, 100));
        assert!(o.hinted > 100, "{}", o.hinted);
        assert_eq!(o.early, 0);
        // The seed decorator never reads it: early whenever its backoff is shorter.
        let o = run(spec(Scenario::Restart, Kind::Seed, 100, 100));
        assert!(o.early > o.hinted / 2, "{} of {}", o.early, o.hinted);
    }

    #[test]
    fn every_call_ends_once() {
        for kind in Kind::ALL {
            let o = run(spec(Scenario::Restart, kind, 100, 100));
            assert_eq!(o.succeeded + o.gave_up + o.unfinished, o.calls, "{kind:?}");
            assert!(o.succeeded > 0, "{kind:?}");
        }
    }
}
