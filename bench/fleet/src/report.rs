//! What a run reports, the acceptance checks for k8sretry's default policy, and the table.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::clients::Kind;
use crate::server::Scenario;
use crate::sim::{Bin, Outcome, Spec};

/// The 5-second window in which the attempt rate must be within 10% of the calls made.
const SETTLE_WINDOW: usize = 5;

#[derive(Debug, Clone)]
pub struct Metrics {
    pub spec: Spec,
    /// Attempts per first attempt in the fault's window.
    pub amplification: f64,
    /// The fleet's attempt rate in the fault's window / N·λ.
    pub attempt_rate: f64,
    /// Retries per second in the fault's window / N·λ.
    pub retry_rate: f64,
    /// The highest 1 s attempt rate in the 60 s after recovery / N·λ.
    pub peak: Option<f64>,
    /// Seconds after recovery until the attempt rate stays within 10% of the calls made
    /// (`None`: not within the run, or no recovery in this scenario).
    pub settle: Option<f64>,
    pub settled: bool,
    /// Calls that succeeded / calls made.
    pub success: f64,
    pub calls: u64,
    pub unfinished: u64,
    /// (b) 429s / attempts at the server in the worst 5 s window from 60 s after the restart on.
    pub late_429: Option<f64>,
    /// Attempts sent before the Retry-After their previous answer carried / attempts after one.
    pub early: u64,
    pub hinted: u64,
    /// Waits the engine asked for (`Decision::Wait`).
    pub waits: u64,
    /// Per second from 0: attempts / N·λ; (b) 429 share.
    pub attempts_series: Vec<f64>,
    pub share_429_series: Vec<f64>,
}

fn sum(bins: &[Bin], from: f64, to: f64, f: impl Fn(&Bin) -> f64) -> f64 {
    bins[from as usize..(to as usize).min(bins.len())]
        .iter()
        .map(f)
        .sum()
}

pub fn measure(o: &Outcome) -> Metrics {
    let spec = o.spec;
    let scenario = spec.scenario;
    let demand = spec.demand();
    let bins = &o.bins;
    let (from, to) = scenario.fault();
    let attempts = sum(bins, from, to, |b| b.attempts);
    let first = sum(bins, from, to, |b| b.first);
    let seconds = to - from;
    let horizon = scenario.horizon() as usize;
    let (peak, settle, settled) = match scenario.recovery() {
        Some(r) => {
            let r = r as usize;
            let peak = bins[r..r + 60]
                .iter()
                .map(|b| b.attempts)
                .fold(0.0, f64::max)
                / demand;
            // The first second s after which every 5 s window up to the horizon has attempts
            // within 10% of the calls that began in it.
            let within = |s: usize| {
                let a: f64 = bins[s..s + SETTLE_WINDOW].iter().map(|b| b.attempts).sum();
                let c: f64 = bins[s..s + SETTLE_WINDOW].iter().map(|b| b.arrivals).sum();
                (a - c).abs() <= 0.1 * c
            };
            let last = horizon - SETTLE_WINDOW;
            let mut start = last + 1;
            while start > r && within(start - 1) {
                start -= 1;
            }
            let settled = start <= last;
            (Some(peak), Some((start - r) as f64), settled)
        }
        None => (None, None, true),
    };
    // (b): the 429 share at the server in its worst 5 s window from 60 s after the restart on.
    let late_429 = (scenario == Scenario::Restart).then(|| {
        let start = (from + 60.0) as usize;
        (start..=horizon - SETTLE_WINDOW)
            .map(|s| {
                let w = &bins[s..s + SETTLE_WINDOW];
                let rejected: f64 = w.iter().map(|b| b.too_many).sum();
                let attempts: f64 = w.iter().map(|b| b.attempts).sum();
                rejected / attempts.max(1e-9)
            })
            .fold(0.0, f64::max)
    });
    let series = scenario == Scenario::Outage || scenario == Scenario::Restart;
    Metrics {
        spec,
        amplification: attempts / first.max(1e-9),
        attempt_rate: attempts / seconds / demand,
        retry_rate: (attempts - first) / seconds / demand,
        peak,
        settle,
        settled,
        success: o.succeeded as f64 / (o.calls as f64).max(1.0),
        calls: o.calls,
        unfinished: o.unfinished,
        late_429,
        early: o.early,
        hinted: o.hinted,
        waits: o.waits,
        attempts_series: if series {
            bins[..horizon]
                .iter()
                .map(|b| b.attempts / demand)
                .collect()
        } else {
            Vec::new()
        },
        share_429_series: if scenario == Scenario::Restart {
            bins[..horizon]
                .iter()
                .map(|b| {
                    if b.attempts > 0.0 {
                        b.too_many / b.attempts
                    } else {
                        0.0
                    }
                })
                .collect()
        } else {
            Vec::new()
        },
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

impl Metrics {
    pub fn to_json(&self) -> Value {
        json!({
            "scenario": self.spec.scenario.name(),
            "policy": self.spec.kind.name(),
            "n": self.spec.n,
            "lambda": self.spec.lambda,
            "sample": self.spec.sample,
            "replicas": self.spec.replicas,
            "attempts_per_first_attempt": round(self.amplification, 4),
            "attempt_rate_over_demand": round(self.attempt_rate, 4),
            "retry_rate_over_demand": round(self.retry_rate, 4),
            "peak_after_recovery_over_demand": self.peak.map(|p| round(p, 4)),
            "seconds_back_within_10pct": if self.settled { self.settle } else { None },
            "success_share": self.success,
            "calls_simulated": self.calls,
            "calls_unfinished": self.unfinished,
            "worst_5s_share_429_after_60s": self.late_429.map(|s| round(s, 5)),
            "attempts_before_retry_after": self.early,
            "attempts_after_a_retry_after": self.hinted,
            "engine_waits": self.waits,
            "attempts_per_second_over_demand": self.attempts_series.iter().map(|x| round(*x, 3)).collect::<Vec<_>>(),
            "share_429_per_second": self.share_429_series.iter().map(|x| round(*x, 4)).collect::<Vec<_>>(),
        })
    }

    fn settle_text(&self) -> String {
        match (self.settle, self.settled) {
            (Some(s), true) => format!("{s:.0}"),
            (Some(_), false) => "never".into(),
            (None, _) => "-".into(),
        }
    }
}

/// One acceptance check's verdict.
pub struct Check {
    pub name: String,
    pub pass: bool,
    pub detail: String,
}

fn cell(m: &Metrics) -> String {
    format!("N={} λ={}", m.spec.n, m.spec.lambda)
}

/// The checks of issue #22 for k8sretry's default policy.
pub fn checks(all: &[Metrics]) -> Vec<Check> {
    let ours = |s: Scenario| -> Vec<&Metrics> {
        all.iter()
            .filter(|m| m.spec.kind == Kind::K8sretry && m.spec.scenario == s)
            .collect()
    };
    let mut out = Vec::new();
    let mut worst = |name: &str,
                     cells: &[&Metrics],
                     value: &dyn Fn(&Metrics) -> f64,
                     ok: &dyn Fn(f64) -> bool,
                     higher_is_worse: bool,
                     fmt: &dyn Fn(f64) -> String| {
        let Some(w) = cells.iter().max_by(|a, b| {
            let (x, y) = (value(a), value(b));
            let o = x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal);
            if higher_is_worse { o } else { o.reverse() }
        }) else {
            return;
        };
        let failing = cells.iter().filter(|m| !ok(value(m))).count();
        out.push(Check {
            name: name.into(),
            pass: failing == 0,
            detail: format!(
                "worst {} at {} ({failing} of {} cells fail)",
                fmt(value(w)),
                cell(w),
                cells.len()
            ),
        });
    };
    let a = ours(Scenario::Outage);
    worst(
        "(a) attempts per first attempt <= 1.3",
        &a,
        &|m| m.amplification,
        &|v| v <= 1.3,
        true,
        &|v| format!("{v:.3}"),
    );
    worst(
        "(a) peak 1 s attempt rate in the 60 s after recovery <= 1.5 N·λ",
        &a,
        &|m| m.peak.unwrap_or(0.0),
        &|v| v <= 1.5,
        true,
        &|v| format!("{v:.2} N·λ"),
    );
    worst(
        "(a) back within 10% of N·λ <= 35 s after recovery",
        &a,
        &|m| {
            if m.settled {
                m.settle.unwrap_or(0.0)
            } else {
                f64::INFINITY
            }
        },
        &|v| v <= 35.0,
        true,
        &|v| {
            if v.is_finite() {
                format!("{v:.0} s")
            } else {
                "never".into()
            }
        },
    );
    let b = ours(Scenario::Restart);
    worst(
        "(b) no attempt earlier than its Retry-After",
        &b,
        &|m| m.early as f64,
        &|v| v == 0.0,
        true,
        &|v| format!("{v:.0} early attempts"),
    );
    worst(
        "(b) 429 share below 5% from 60 s after the restart on (worst 5 s window)",
        &b,
        &|m| m.late_429.unwrap_or(0.0),
        &|v| v < 0.05,
        true,
        &|v| format!("{:.2}%", v * 100.0),
    );
    let c: Vec<&Metrics> = ours(Scenario::Blip1)
        .into_iter()
        .chain(ours(Scenario::Blip5))
        .collect();
    worst(
        "(c) 100% of calls succeed through 1 s and 5 s blips",
        &c,
        &|m| m.success,
        &|v| v >= 1.0,
        false,
        &|v| pct(v),
    );
    let d = ours(Scenario::Faults);
    worst(
        "(d) >= 99.99% of calls succeed with 1% faults",
        &d,
        &|m| m.success,
        &|v| v >= 0.9999,
        false,
        &|v| pct(v),
    );
    // (e): what the default policy's 3 retries allow at 20% independent faults, 1 - 0.2^4
    // (99.84%), less 0.15 points: the budget refuses next to nothing to a process that is not
    // in an outage, however short its life (a process at λ = 0.2 makes 6 calls in its 30 s).
    let e = ours(Scenario::Sustained);
    let physics = 1.0 - crate::server::SUSTAINED_FAULT_RATE.powi(4);
    worst(
        "(e) >= 99.7% of calls succeed with 20% faults and 30 s processes (3 retries allow 99.84%)",
        &e,
        &|m| m.success,
        &|v| v >= physics - 0.0015,
        false,
        &|v| pct(v),
    );
    worst(
        "(e) attempts per first attempt <= 1.3 with 20% faults (1.25 without a budget)",
        &e,
        &|m| m.amplification,
        &|v| v <= 1.3,
        true,
        &|v| format!("{v:.3}"),
    );
    // The fleet's retry rate grows with N·λ, never with N alone: cells with the same N·λ and
    // more processes retry no more (within 25%, or 5% of N·λ for noise).
    let mut worst_ratio: Option<(f64, String)> = None;
    let mut failing = 0;
    let mut pairs = 0;
    for x in &a {
        for y in &a {
            let same = (x.spec.demand() - y.spec.demand()).abs() < 1e-6 * x.spec.demand();
            if same && x.spec.n > y.spec.n {
                pairs += 1;
                let allowed = (1.25 * y.retry_rate).max(y.retry_rate + 0.05);
                let ratio = x.retry_rate / y.retry_rate.max(1e-9);
                if x.retry_rate > allowed {
                    failing += 1;
                }
                if worst_ratio.as_ref().is_none_or(|(r, _)| ratio > *r) {
                    worst_ratio = Some((
                        ratio,
                        format!(
                            "retries {:.3} N·λ at {} vs {:.3} N·λ at {}",
                            x.retry_rate,
                            cell(x),
                            y.retry_rate,
                            cell(y)
                        ),
                    ));
                }
            }
        }
    }
    if let Some((_, detail)) = worst_ratio {
        out.push(Check {
            name:
                "(a) retry rate grows with N·λ, never N alone (same N·λ, more processes: <= 1.25x)"
                    .into(),
            pass: failing == 0,
            detail: format!("worst {detail} ({failing} of {pairs} pairs fail)"),
        });
    }
    out
}

/// A share as a percentage; below 100% never rounds up to it.
fn pct(x: f64) -> String {
    if x >= 1.0 {
        "100%".into()
    } else if x >= 0.999 {
        format!("{:.4}%", (x * 1e6).floor() / 1e4)
    } else {
        format!("{:.1}%", (x * 1e3).floor() / 10.0)
    }
}

/// One row per policy, the worst cell over every N (and λ where not split): the table at a
/// glance that docs/fleet.md copies.
pub fn summary(all: &[Metrics]) -> String {
    let mut s = String::from(
        "## Summary: each policy's worst cell over N = 10 to 10,000\n\n\
         | policy | (a) attempts / first attempt, λ = 0.2 / 2 / 20 | (a) peak after recovery / N·λ | \
         (a) back within 10% | (b) worst 429 share after +60 s | (b) attempts before Retry-After | \
         (c) calls succeeded, blips | (d) calls succeeded, 1% faults | \
         (e) calls succeeded / attempts per first attempt, 20% faults, 30 s processes |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    let worst = |kind: Kind, scenario: Scenario, f: &dyn Fn(&Metrics) -> f64, max: bool| {
        let values = all
            .iter()
            .filter(|m| m.spec.kind == kind && m.spec.scenario == scenario)
            .map(f);
        if max {
            values.fold(f64::NEG_INFINITY, f64::max)
        } else {
            values.fold(f64::INFINITY, f64::min)
        }
    };
    for kind in Kind::ALL {
        if !all.iter().any(|m| m.spec.kind == kind) {
            continue;
        }
        let amplification: Vec<String> = [0.2, 2.0, 20.0]
            .iter()
            .map(|&lambda| {
                let v = all
                    .iter()
                    .filter(|m| {
                        m.spec.kind == kind
                            && m.spec.scenario == Scenario::Outage
                            && m.spec.lambda == lambda
                    })
                    .map(|m| m.amplification)
                    .fold(f64::NEG_INFINITY, f64::max);
                format!("{v:.2}")
            })
            .collect();
        let settle = worst(
            kind,
            Scenario::Outage,
            &|m| {
                if m.settled {
                    m.settle.unwrap_or(0.0)
                } else {
                    f64::INFINITY
                }
            },
            true,
        );
        let (early, hinted) = all
            .iter()
            .filter(|m| m.spec.kind == kind && m.spec.scenario == Scenario::Restart)
            .fold((0, 0), |(e, h), m| (e + m.early, h + m.hinted));
        let blips = worst(kind, Scenario::Blip1, &|m| m.success, false).min(worst(
            kind,
            Scenario::Blip5,
            &|m| m.success,
            false,
        ));
        let name = if kind == Kind::K8sretry {
            format!("**{}**", kind.name())
        } else {
            kind.name().to_string()
        };
        let _ = writeln!(
            s,
            "| {name} | {} | {:.2} | {} | {} | {} | {} | {} | {} / {:.2} |",
            amplification.join(" / "),
            worst(kind, Scenario::Outage, &|m| m.peak.unwrap_or(0.0), true),
            if settle.is_finite() {
                format!("{settle:.0} s")
            } else {
                "never".into()
            },
            pct(worst(
                kind,
                Scenario::Restart,
                &|m| m.late_429.unwrap_or(0.0),
                true
            )),
            if hinted == 0 {
                "-".to_string()
            } else {
                pct(early as f64 / hinted as f64)
            },
            pct(blips),
            pct(worst(kind, Scenario::Faults, &|m| m.success, false)),
            pct(worst(kind, Scenario::Sustained, &|m| m.success, false)),
            worst(kind, Scenario::Sustained, &|m| m.amplification, true),
        );
    }
    s
}

/// The table of every run, a section per scenario, k8sretry first in each cell.
pub fn markdown(all: &[Metrics], checks: &[Check], header: &str, extra: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{header}");
    let _ = writeln!(s, "## Acceptance checks (k8sretry's default policy)\n");
    for c in checks {
        let _ = writeln!(
            s,
            "- **{}** {}: {}",
            if c.pass { "PASS" } else { "FAIL" },
            c.name,
            c.detail
        );
    }
    let _ = writeln!(s, "\n{}", summary(all));
    let _ = writeln!(s, "{extra}");
    for scenario in Scenario::ALL {
        let _ = writeln!(s, "\n## {}\n", scenario.title());
        let restart = scenario == Scenario::Restart;
        let recovery = scenario.recovery().is_some();
        let _ = write!(
            s,
            "| N | λ | policy | simulated | attempts / first attempt | attempt rate / N·λ |"
        );
        if recovery {
            let _ = write!(s, " peak after recovery / N·λ | back within 10% (s) |");
        }
        let _ = write!(s, " calls succeeded |");
        if restart {
            let _ = write!(
                s,
                " worst 429 share after +60 s | attempts before Retry-After |"
            );
        }
        let _ = writeln!(s);
        let columns = 7 + 2 * usize::from(recovery) + 2 * usize::from(restart);
        let _ = writeln!(s, "|{}", "---|".repeat(columns));
        for m in all.iter().filter(|m| m.spec.scenario == scenario) {
            let sampled = if m.spec.sample < m.spec.n {
                format!("{} sampled", m.spec.sample)
            } else if m.spec.replicas > 1 {
                format!("all x {}", m.spec.replicas)
            } else {
                "all".into()
            };
            let name = if m.spec.kind == Kind::K8sretry {
                format!("**{}**", m.spec.kind.name())
            } else {
                m.spec.kind.name().to_string()
            };
            let _ = write!(
                s,
                "| {} | {} | {} | {} | {:.2} | {:.2} |",
                m.spec.n, m.spec.lambda, name, sampled, m.amplification, m.attempt_rate
            );
            if recovery {
                let _ = write!(s, " {:.2} | {} |", m.peak.unwrap_or(0.0), m.settle_text());
            }
            let _ = write!(s, " {} |", pct(m.success));
            if restart {
                let _ = write!(
                    s,
                    " {} | {} of {} |",
                    pct(m.late_429.unwrap_or(0.0)),
                    m.early,
                    m.hinted
                );
            }
            let _ = writeln!(s);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim;

    #[test]
    fn every_table_row_has_its_header_s_columns() {
        let mut all = Vec::new();
        for scenario in Scenario::ALL {
            for kind in [Kind::K8sretry, Kind::NoRetry] {
                let spec = Spec {
                    scenario,
                    kind,
                    n: 10,
                    lambda: 2.0,
                    sample: 10,
                    replicas: 1,
                    seed: 3,
                };
                all.push(measure(&sim::run(spec)));
            }
        }
        let md = markdown(&all, &checks(&all), "# t", "");
        let mut columns = None;
        for line in md.lines() {
            if !line.starts_with('|') {
                columns = None;
                continue;
            }
            let n = line.matches('|').count();
            assert_eq!(*columns.get_or_insert(n), n, "{line}");
        }
        assert_eq!(md.matches("| 10 | 2 | **k8sretry** |").count(), 5);
    }

    #[test]
    fn without_retries_nothing_is_amplified_and_the_outage_settles_at_once() {
        let spec = Spec {
            scenario: Scenario::Outage,
            kind: Kind::NoRetry,
            n: 100,
            lambda: 2.0,
            sample: 100,
            replicas: 1,
            seed: 5,
        };
        let m = measure(&sim::run(spec));
        assert_eq!(m.amplification, 1.0);
        assert_eq!(m.settle, Some(0.0));
        assert!(m.settled);
        assert!(m.peak.unwrap() < 1.5, "{:?}", m.peak);
    }
}
