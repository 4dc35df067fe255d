//! The prometheus-client collector (feature `prometheus-client`): a registry encodes the same
//! series as metrics_text().
#![cfg(feature = "prometheus-client")]
// A Failure stands in for a caller's own error type here; its size does not matter in a test.
#![allow(clippy::result_large_err)]

use k8sretry::{Failure, Policy, Verb, metrics_text, retry_blocking};
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;

#[test]
fn a_registry_encodes_the_metrics_of_metrics_text() {
    let policy = Policy::from_json(
        r#"{"initial_delay": 0.001, "max_delay": 0.002, "max_retries": 1, "budget": null}"#,
    )
    .unwrap();
    let mut calls = 0;
    retry_blocking(&policy, "prom \"quoted\"", Verb::Get, || {
        calls += 1;
        if calls < 2 {
            Err(Failure::new().with_status(503))
        } else {
            Ok(())
        }
    })
    .unwrap();
    let _ = retry_blocking(
        &policy,
        "prom_missing",
        Verb::Get,
        || -> Result<(), Failure> { Err(Failure::new().with_status(404)) },
    );
    let _ = retry_blocking(
        &policy,
        "prom_down",
        Verb::Get,
        || -> Result<(), Failure> { Err(Failure::new().with_status(503)) },
    );

    let mut registry = Registry::default();
    k8sretry::prometheus::register(&mut registry);
    let mut text = String::new();
    encode(&mut text, &registry).unwrap();

    for series in [
        r#"k8sretry_calls_total{function="prom \"quoted\"",outcome="success_after_retry"} 1"#,
        r#"k8sretry_retries_total{function="prom \"quoted\"",class="Transient",status="503"} 1"#,
        r#"k8sretry_calls_total{function="prom_missing",outcome="failed"} 1"#,
        r#"k8sretry_calls_total{function="prom_down",outcome="gave_up"} 1"#,
        r#"k8sretry_giveups_total{function="prom_down",reason="MaxRetries"} 1"#,
        "# TYPE k8sretry_retry_delay_seconds histogram",
        r#"k8sretry_retry_delay_seconds_bucket{le="+Inf"} "#,
        "k8sretry_retry_delay_seconds_count ",
        "# TYPE k8sretry_budget_tokens gauge",
        "# TYPE k8sretry_circuit_open gauge",
    ] {
        assert!(text.contains(series), "{series} missing:\n{text}");
    }
    // The same families and sample lines as metrics_text() (whose TYPE lines keep `_total`).
    let samples = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| {
                l.starts_with("k8sretry_calls_total") || l.starts_with("k8sretry_giveups_total")
            })
            .filter(|l| l.contains("function=\"prom"))
            .map(String::from)
            .collect()
    };
    let mut ours = samples(&metrics_text());
    let mut theirs = samples(&text);
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
    assert!(text.ends_with("# EOF\n"));
}
