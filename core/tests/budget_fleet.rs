//! The retry budget driven through the real `Call` on a manual clock (nothing sleeps): the two
//! single-process checks of issue #22 that `bench/budget.py` measures through the Python
//! binding, here in Rust so `cargo test` keeps them true (the fleet-wide checks are
//! `make bench-fleet`'s).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use k8sretry::{Call, Decision, Failure, ManualClock, PolicyBuilder, Verb};

/// Runs calls starting at `starts` (seconds) under the default preset with `initial_delay`,
/// the default budget of its own; `fails(t, attempt)` says whether an attempt at `t` fails.
/// Returns (attempts sent before `until`, first attempts before `until`, calls that succeeded).
fn simulate(
    starts: &[f64],
    initial_delay: f64,
    fails: impl Fn(f64, u32) -> bool,
    until: f64,
) -> (u64, u64, u64) {
    let clock = Arc::new(ManualClock::new(1_700_000_000.0));
    let policy = PolicyBuilder::from_json(&format!(
        r#"{{"initial_delay": {initial_delay}, "seed": 7}}"#
    ))
    .unwrap()
    .budget(k8sretry::BudgetChoice::Own(Arc::new(
        k8sretry::RetryBudget::default_budget(),
    )))
    .clock(clock.clone())
    .build()
    .unwrap();
    // (time in ns, call index, attempt to send, whether a wait ends here instead)
    let mut timeline: BinaryHeap<Reverse<(u64, usize, u32, bool)>> = starts
        .iter()
        .enumerate()
        .map(|(i, t)| Reverse(((t * 1e9) as u64, i, 1, false)))
        .collect();
    let mut calls: Vec<Option<Call>> = starts.iter().map(|_| None).collect();
    let (mut now, mut attempts, mut first, mut succeeded) = (0u64, 0u64, 0u64, 0u64);
    while let Some(Reverse((t, i, attempt, resume))) = timeline.pop() {
        clock.advance_seconds((t - now) as f64 / 1e9);
        now = t;
        let seconds = t as f64 / 1e9;
        if resume {
            let call = calls[i].as_mut().unwrap();
            // A wait (Decision::Wait) is over: nothing was sent; ask again.
            match call.resume().unwrap() {
                Decision::Retry { delay } => {
                    timeline.push(Reverse((t + delay.as_nanos() as u64, i, attempt, false)))
                }
                Decision::Wait { delay } => {
                    timeline.push(Reverse((t + delay.as_nanos() as u64, i, attempt, true)))
                }
                Decision::GiveUp(_) => {}
                other => panic!("a GET: {other:?}"),
            }
            continue;
        }
        if seconds < until {
            attempts += 1;
            first += u64::from(attempt == 1);
        }
        if attempt == 1 {
            calls[i] = Some(Call::new(&policy, "budget_fleet").with_verb(Verb::Get));
        }
        let call = calls[i].as_mut().unwrap();
        if !fails(seconds, attempt) {
            call.on_success();
            succeeded += 1;
            continue;
        }
        match call.on_failure(&Failure::new().with_status(503)) {
            Decision::Retry { delay } => timeline.push(Reverse((
                t + delay.as_nanos() as u64,
                i,
                attempt + 1,
                false,
            ))),
            Decision::Wait { delay } => {
                timeline.push(Reverse((t + delay.as_nanos() as u64, i, attempt + 1, true)))
            }
            Decision::GiveUp(_) => {}
            other => panic!("a GET: {other:?}"),
        }
    }
    (attempts, first, succeeded)
}

#[test]
fn one_process_at_100_calls_per_second_in_a_10_s_outage_stays_within_1_3() {
    let starts: Vec<f64> = (0..1000).map(|i| f64::from(i) / 100.0).collect();
    let (attempts, first, _) = simulate(&starts, 0.2, |t, _| t < 10.0, 10.0);
    let amplification = attempts as f64 / first as f64;
    eprintln!(
        "10 s outage at 100 calls/s: {attempts} attempts / {first} first attempts = {amplification:.3}"
    );
    assert!(
        amplification <= 1.3,
        "{attempts} attempts / {first} first attempts = {amplification:.3}"
    );
}

#[test]
fn n_concurrent_calls_failing_twice_within_a_second_all_succeed() {
    for n in [60usize, 100, 300, 1000] {
        let starts = vec![0.0; n];
        let (_, _, succeeded) = simulate(&starts, 0.2, |_, attempt| attempt <= 2, f64::MAX);
        assert_eq!(succeeded, n as u64, "n = {n}");
    }
}
