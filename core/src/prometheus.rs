//! A [`prometheus-client`](https://docs.rs/prometheus-client) collector with the metrics of
//! [`metrics_text`](crate::metrics_text) (feature `prometheus-client`), for an application that already serves a
//! `prometheus_client::registry::Registry`:
//!
//! ```
//! use prometheus_client::registry::Registry;
//!
//! let mut registry = Registry::default();
//! k8sretry::prometheus::register(&mut registry);
//! let mut text = String::new();
//! prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
//! assert!(text.contains("# TYPE k8sretry_calls counter"));
//! ```
//!
//! The families and labels are those of [`metrics_text`](crate::metrics_text); prometheus-client writes OpenMetrics
//! text, so a counter's `# TYPE` line names it without `_total` while its samples keep it
//! (`k8sretry_calls_total{function="...",outcome="..."}`). Register it in a registry without a
//! prefix to keep the names.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::metrics::{DELAY_BUCKETS, snapshot};
use crate::metrics_text::status_label;

/// Reads k8sretry's process-wide metrics on every scrape.
#[derive(Debug, Default, Clone, Copy)]
pub struct K8sRetryCollector;

/// Registers a [`K8sRetryCollector`] in `registry`.
pub fn register(registry: &mut Registry) {
    registry.register_collector(Box::new(K8sRetryCollector));
}

impl Collector for K8sRetryCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snap = snapshot();
        {
            let mut family = encoder.encode_descriptor(
                "k8sretry_calls",
                "Calls by final outcome.",
                None,
                MetricType::Counter,
            )?;
            for (name, outcome, n) in &snap.calls {
                let labels = [("function", &**name), ("outcome", outcome.as_str())];
                ConstCounter::new(*n).encode(family.encode_family(&labels)?)?;
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "k8sretry_retries",
                "Retries by failure class and status.",
                None,
                MetricType::Counter,
            )?;
            for (name, class, status, n) in &snap.retries {
                let status = status_label(*status);
                let labels = [
                    ("function", &**name),
                    ("class", *class),
                    ("status", status.as_str()),
                ];
                ConstCounter::new(*n).encode(family.encode_family(&labels)?)?;
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "k8sretry_giveups",
                "Calls that gave up, by reason.",
                None,
                MetricType::Counter,
            )?;
            for (name, reason, n) in &snap.giveups {
                let labels = [("function", &**name), ("reason", reason.as_str())];
                ConstCounter::new(*n).encode(family.encode_family(&labels)?)?;
            }
        }
        {
            let mut buckets: Vec<(f64, u64)> =
                DELAY_BUCKETS.into_iter().zip(snap.delay_buckets).collect();
            let counted: u64 = snap.delay_buckets.iter().sum();
            buckets.push((f64::INFINITY, snap.delay_count.saturating_sub(counted)));
            encoder
                .encode_descriptor(
                    "k8sretry_retry_delay_seconds",
                    "Delays chosen before retries.",
                    None,
                    MetricType::Histogram,
                )?
                .encode_histogram::<NoLabelSet>(snap.delay_sum, snap.delay_count, &buckets, None)?;
        }
        ConstGauge::new(snap.budget_tokens).encode(encoder.encode_descriptor(
            "k8sretry_budget_tokens",
            "Tokens in the shared retry budget.",
            None,
            MetricType::Gauge,
        )?)?;
        let mut family = encoder.encode_descriptor(
            "k8sretry_circuit_open",
            "1 while a circuit breaker is open.",
            None,
            MetricType::Gauge,
        )?;
        for (name, open) in &snap.circuits {
            let labels = [("breaker", name.as_str())];
            ConstGauge::new(i64::from(*open)).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
