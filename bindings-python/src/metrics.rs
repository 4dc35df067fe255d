//! Process-wide text: the metrics exposition, the Retry-After parser and the error text of events.

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

/// Error text as events and log lines carry it (DESIGN §7): first line, no bodies, no
/// credentials, at most 256 bytes.
#[pyfunction]
pub(crate) fn event_text(text: &str) -> String {
    k8sretry::event_text(text).into_owned()
}
