//! The fleet simulator (`make bench-fleet`, issue #22): fleets of N processes, each making λ
//! calls per second (Poisson arrivals), each with its own retry state, against a server model
//! on one virtual clock. k8sretry's default policy runs the real engine (`Call` / `Policy`, one
//! `RetryBudget` per process, a `ManualClock`); the other policies are modelled from their
//! published rules (src/clients.rs). Writes `fleet.json` and `fleet.md` to the output directory
//! and prints the acceptance checks; exits 1 when one fails.
//!
//! Usage: k8sretry-fleet [--out DIR] [--quick] [--threads N] [--policies k8sretry,client-go,...]
//! [--scenarios a_outage,b_restart,c_blip1,c_blip5,d_faults]
//! (seeds do not depend on the filters: a filtered run gives the same figures for what it runs).

mod clients;
mod report;
mod rng;
mod server;
mod sim;

use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde_json::json;

use clients::Kind;
use report::Metrics;
use server::Scenario;
use sim::Spec;

const FLEETS: [u32; 4] = [10, 100, 1_000, 10_000];
const RATES: [f64; 3] = [0.2, 2.0, 20.0];
/// Calls simulated per run, at most (where more processes than this needs are sampled).
const CALLS_PER_RUN: f64 = 150_000.0;
/// Fleets up to this size are always simulated process by process.
const EXACT_UP_TO: u32 = 100;
/// Simulated calls per second of a run, at least (small fleets are replicated up to it): a
/// 1-second rate of a fleet making 2 calls/s is mostly Poisson noise, and the checks are about
/// the policy, so the per-second counts are the mean of independent fleets.
const CALLS_PER_SECOND: f64 = 1_000.0;

/// Processes simulated for a fleet of `n` at `lambda`: all of them up to 100, else as many as
/// make ~150,000 calls (each stands for n / sample processes).
fn sample(scenario: Scenario, n: u32, lambda: f64) -> u32 {
    let wanted = (CALLS_PER_RUN / (lambda * scenario.horizon())).ceil() as u32;
    n.min(wanted.max(EXACT_UP_TO))
}

/// Independent fleets of `n` (each exact) simulated to average their per-second counts.
fn replicas(n: u32, lambda: f64, sample: u32) -> u32 {
    if sample < n {
        return 1;
    }
    (CALLS_PER_SECOND / (f64::from(n) * lambda)).ceil().max(1.0) as u32
}

struct Args {
    out: String,
    quick: bool,
    threads: usize,
    /// Only these policies / scenarios (all when empty): for tuning, a run of k8sretry alone.
    policies: Vec<Kind>,
    scenarios: Vec<Scenario>,
}

/// A comma-separated list of names, each one of `all`'s.
fn names<T: Copy>(
    list: &str,
    all: &[T],
    name: impl Fn(T) -> &'static str,
) -> Result<Vec<T>, String> {
    list.split(',')
        .map(|n| {
            all.iter().copied().find(|&x| name(x) == n).ok_or_else(|| {
                let known: Vec<&str> = all.iter().map(|&x| name(x)).collect();
                format!("unknown name {n:?} (expected one of: {})", known.join(", "))
            })
        })
        .collect()
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        out: "bench/results".into(),
        quick: false,
        threads: std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(2),
        policies: Vec::new(),
        scenarios: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => args.out = it.next().ok_or("--out needs a directory")?,
            "--quick" => args.quick = true,
            "--threads" => {
                args.threads = it
                    .next()
                    .and_then(|t| t.parse().ok())
                    .filter(|&t| t > 0)
                    .ok_or("--threads needs a positive number")?
            }
            "--policies" => {
                let list = it.next().ok_or("--policies needs a list")?;
                args.policies = names(&list, &Kind::ALL, Kind::name)?;
            }
            "--scenarios" => {
                let list = it.next().ok_or("--scenarios needs a list")?;
                args.scenarios = names(&list, &Scenario::ALL, Scenario::name)?;
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?} (expected --out DIR, --quick, --threads N, \
                     --policies k8sretry,..., --scenarios a_outage,...)"
                ));
            }
        }
    }
    Ok(args)
}

fn git_head() -> String {
    std::process::Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("k8sretry-fleet: {e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let (fleets, rates): (&[u32], &[f64]) = if args.quick {
        (&[10, 100], &[0.2, 2.0])
    } else {
        (&FLEETS, &RATES)
    };
    let mut specs = Vec::new();
    let mut seed = 1u64;
    let wanted_policy = |k: Kind| args.policies.is_empty() || args.policies.contains(&k);
    let wanted_scenario = |s: Scenario| args.scenarios.is_empty() || args.scenarios.contains(&s);
    for scenario in Scenario::ALL {
        for &n in fleets {
            for &lambda in rates {
                for kind in Kind::ALL {
                    seed += 1;
                    if !wanted_policy(kind) || !wanted_scenario(scenario) {
                        continue;
                    }
                    let sample = sample(scenario, n, lambda);
                    specs.push(Spec {
                        scenario,
                        kind,
                        n,
                        lambda,
                        sample,
                        replicas: replicas(n, lambda, sample),
                        seed,
                    });
                }
            }
        }
    }
    // A sampled fleet against the same fleet simulated exactly (N = 1,000, λ = 2), k8sretry.
    let mut comparisons = Vec::new();
    if !args.quick && wanted_policy(Kind::K8sretry) {
        for scenario in [Scenario::Outage, Scenario::Restart] {
            if !wanted_scenario(scenario) {
                continue;
            }
            seed += 1;
            comparisons.push(Spec {
                scenario,
                kind: Kind::K8sretry,
                n: 1_000,
                lambda: 2.0,
                sample: 1_000,
                replicas: 1,
                seed,
            });
        }
    }
    let main_runs = specs.len();
    specs.extend(comparisons);
    // The largest runs first, so the threads end together.
    let mut order: Vec<usize> = (0..specs.len()).collect();
    order.sort_by(|&a, &b| {
        let cost = |s: &Spec| f64::from(s.sample * s.replicas) * s.lambda * s.scenario.horizon();
        cost(&specs[b]).total_cmp(&cost(&specs[a]))
    });
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Metrics>>> = Mutex::new(vec![None; specs.len()]);
    std::thread::scope(|scope| {
        for _ in 0..args.threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&index) = order.get(i) else { break };
                    let metrics = report::measure(&sim::run(specs[index]));
                    results.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(metrics);
                }
            });
        }
    });
    let results: Vec<Metrics> = results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|m| m.expect("every run ran"))
        .collect();
    let (all, extra) = results.split_at(main_runs);
    let elapsed = started.elapsed().as_secs_f64();

    let checks = report::checks(all);
    let mut comparison_text = String::new();
    if !extra.is_empty() {
        comparison_text.push_str(
            "## Sampling against an exact fleet (k8sretry, N = 1,000, λ = 2)\n\n\
             | scenario | simulated | attempts / first attempt | peak after recovery / N·λ | back within 10% (s) | calls succeeded | worst 429 share after +60 s |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for x in extra {
            let sampled = all.iter().find(|m| {
                m.spec.kind == x.spec.kind
                    && m.spec.scenario == x.spec.scenario
                    && m.spec.n == x.spec.n
                    && m.spec.lambda == x.spec.lambda
            });
            for m in sampled.into_iter().chain(std::iter::once(x)) {
                comparison_text.push_str(&format!(
                    "| {} | {} of {} | {:.3} | {:.2} | {} | {:.3}% | {} |\n",
                    m.spec.scenario.name(),
                    m.spec.sample,
                    m.spec.n,
                    m.amplification,
                    m.peak.unwrap_or(0.0),
                    m.settle.map_or("-".into(), |s| if m.settled {
                        format!("{s:.0}")
                    } else {
                        "never".into()
                    }),
                    m.success * 100.0,
                    m.late_429
                        .map_or("-".into(), |s| format!("{:.2}%", s * 100.0)),
                ));
            }
        }
    }
    let header = format!(
        "# Fleet simulator results\n\n\
         Written by `make bench-fleet` (bench/fleet, {} runs in {:.0} s on {} threads; engine: k8sretry {} at {}).\n\
         How to read it: [bench/README.md](../README.md#fleet-simulator-make-bench-fleet). Plots: \
         [attempts over time in (a)](fleet-outage.svg), [in (b) with the 429 share](fleet-restart.svg), \
         [amplification against λ](fleet-amplification.svg).\n\n\
         Every fleet of N <= 100 is simulated process by process, as R independent fleets of N (each \
         with its own server) whose per-second counts are averaged, R making at least 1,000 calls/s \
         (column `simulated`: `all x R`). A larger fleet is a sample of its processes (`S sampled`), \
         each standing for N / S processes: in (a), (c) and (d) processes are independent and \
         identically distributed, and in (b) the server counts each sampled attempt with its \
         weight. The figures: mean per-second counts over the run's fleets.\n",
        specs.len(),
        elapsed,
        args.threads,
        k8sretry::VERSION,
        git_head()
    );
    let md = report::markdown(all, &checks, &header, &comparison_text);
    let doc = json!({
        "engine_version": k8sretry::VERSION,
        "git": git_head(),
        "seconds": elapsed,
        "model": {
            "warm_up_s": server::WARM_UP,
            "outage_s": server::OUTAGE,
            "ramp_s": server::RAMP,
            "capacity_over_demand": server::HEADROOM,
            "depth_s": server::DEPTH_SECONDS,
            "min_depth": server::MIN_DEPTH,
            "fault_rate": server::FAULT_RATE,
            "calls_per_run": CALLS_PER_RUN,
            "exact_up_to": EXACT_UP_TO,
        },
        "checks": checks.iter().map(|c| json!({"name": c.name, "pass": c.pass, "detail": c.detail})).collect::<Vec<_>>(),
        "runs": all.iter().map(Metrics::to_json).collect::<Vec<_>>(),
        "exact_comparison": extra.iter().map(Metrics::to_json).collect::<Vec<_>>(),
    });
    let write = |name: &str, text: &str| -> std::io::Result<()> {
        std::fs::create_dir_all(&args.out)?;
        std::fs::write(format!("{}/{name}", args.out), text)
    };
    if let Err(e) = write("fleet.md", &md).and_then(|()| write("fleet.json", &format!("{doc}\n"))) {
        eprintln!("k8sretry-fleet: cannot write to {}: {e}", args.out);
        return ExitCode::from(2);
    }
    println!(
        "[bench-fleet] {} runs in {elapsed:.0} s; {}/fleet.md and fleet.json written",
        specs.len(),
        args.out
    );
    if !comparison_text.is_empty() {
        print!("{comparison_text}");
    }
    let mut failed = 0;
    for c in &checks {
        println!(
            "{} {}: {}",
            if c.pass { "PASS" } else { "FAIL" },
            c.name,
            c.detail
        );
        failed += usize::from(!c.pass);
    }
    if failed > 0 {
        println!("[bench-fleet] {failed} of {} checks failed", checks.len());
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
