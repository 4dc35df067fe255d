//! Process-wide text: the metrics exposition and the Retry-After parser.

use pyo3::prelude::*;

/// Seconds to wait that a Retry-After value asks for at `now` (Unix seconds), or None.
#[pyfunction]
pub(crate) fn parse_retry_after(value: &str, now: f64) -> Option<f64> {
    k8sretry::parse_retry_after(value, now)
}

/// All metrics of this process in Prometheus text format.
#[pyfunction]
pub(crate) fn metrics_text() -> String {
    k8sretry::metrics_text()
}
