//! [`metrics_text`]: the process's metrics in Prometheus text exposition format.

use std::fmt::Write as _;

use crate::metrics::{DELAY_BUCKETS, snapshot};

/// The status label: empty when the failure had none.
pub(crate) fn status_label(status: u16) -> String {
    if status == 0 {
        String::new()
    } else {
        status.to_string()
    }
}

/// All metrics of this process in Prometheus text exposition format (version 0.0.4).
///
/// `k8sretry_calls_total{function,outcome}` counts calls by how they ended: `success`,
/// `success_after_retry`, `recovered` (a write whose response was lost was found to have landed),
/// `failed` (an answer no retry changes, such as a 404: the caller's to handle) and `gave_up`
/// (counted by reason in `k8sretry_giveups_total`).
pub fn metrics_text() -> String {
    let snap = snapshot();
    let mut out = String::new();
    header(
        &mut out,
        "k8sretry_calls_total",
        "counter",
        "Calls by final outcome.",
    );
    for (name, outcome, n) in &snap.calls {
        let _ = writeln!(
            out,
            "k8sretry_calls_total{{function=\"{}\",outcome=\"{}\"}} {n}",
            escape(name),
            outcome.as_str()
        );
    }
    header(
        &mut out,
        "k8sretry_retries_total",
        "counter",
        "Retries by failure class and status.",
    );
    for (name, class, status, n) in &snap.retries {
        let _ = writeln!(
            out,
            "k8sretry_retries_total{{function=\"{}\",class=\"{class}\",status=\"{}\"}} {n}",
            escape(name),
            status_label(*status)
        );
    }
    header(
        &mut out,
        "k8sretry_giveups_total",
        "counter",
        "Calls that gave up, by reason.",
    );
    for (name, reason, n) in &snap.giveups {
        let _ = writeln!(
            out,
            "k8sretry_giveups_total{{function=\"{}\",reason=\"{}\"}} {n}",
            escape(name),
            reason.as_str()
        );
    }
    header(
        &mut out,
        "k8sretry_retry_delay_seconds",
        "histogram",
        "Delays chosen before retries.",
    );
    let mut cumulative = 0;
    for (n, bound) in snap.delay_buckets.iter().zip(DELAY_BUCKETS) {
        cumulative += n;
        let _ = writeln!(
            out,
            "k8sretry_retry_delay_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
        );
    }
    let count = snap.delay_count;
    let _ = writeln!(
        out,
        "k8sretry_retry_delay_seconds_bucket{{le=\"+Inf\"}} {count}"
    );
    let _ = writeln!(out, "k8sretry_retry_delay_seconds_sum {}", snap.delay_sum);
    let _ = writeln!(out, "k8sretry_retry_delay_seconds_count {count}");

    header(
        &mut out,
        "k8sretry_budget_tokens",
        "gauge",
        "Tokens in the shared retry budget.",
    );
    let _ = writeln!(out, "k8sretry_budget_tokens {}", snap.budget_tokens);

    header(
        &mut out,
        "k8sretry_circuit_open",
        "gauge",
        "1 while a circuit breaker is open.",
    );
    for (name, v) in &snap.circuits {
        let _ = writeln!(
            out,
            "k8sretry_circuit_open{{breaker=\"{}\"}} {v}",
            escape(name)
        );
    }
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
