//! `k8sretry._native`: thin PyO3 wrappers over the k8sretry core. The pure-Python package
//! `k8sretry` builds on these; no retry decision is made here or there.
//!
//! One job per module: policies (`policy`), their shared budget and breaker (`budget`,
//! `breaker`), the manual clock (`clock`), events to a Python callable (`events`), failures
//! (`failure`), one call's steps (`call`), the recovery plan of a request (`plan`), the success
//! recorder (`success`), a wrapper's first attempt and success path (`first_attempt`), whether this thread is inside an attempt (`inside`), and process-wide text: metrics, Retry-After and the error text of events
//! (`metrics`).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

mod breaker;
mod budget;
mod call;
mod clock;
mod events;
mod failure;
mod first_attempt;
mod inside;
mod metrics;
mod plan;
mod policy;
mod success;

pub(crate) fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A verb name as the core reads it (`GET`, `LIST`, `WATCH`, `POST`, `PUT`, `PATCH`, `DELETE`,
/// or the Kubernetes names `CREATE`, `REPLACE`, `UPDATE`). Only an explicit `UNKNOWN` is unknown:
/// a typo must never switch off the POST rule (DESIGN §2).
pub(crate) fn verb(name: &str) -> PyResult<k8sretry::Verb> {
    k8sretry::Verb::parse(name).ok_or_else(|| value_error(k8sretry::Verb::parse_error(name)))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<policy::PyPolicy>()?;
    m.add_class::<failure::PyFailure>()?;
    m.add_class::<call::PyCall>()?;
    m.add_class::<success::PySuccessRecorder>()?;
    m.add_class::<first_attempt::PyFirstAttempt>()?;
    m.add_class::<budget::PyRetryBudget>()?;
    m.add_class::<breaker::PyCircuitBreaker>()?;
    m.add_class::<clock::PyManualClock>()?;
    m.add("StepError", m.py().get_type::<call::StepError>())?;
    m.add_function(wrap_pyfunction!(inside::thread_enter, m)?)?;
    m.add_function(wrap_pyfunction!(inside::thread_leave, m)?)?;
    m.add_function(wrap_pyfunction!(inside::thread_inside, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::parse_retry_after, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::metrics_text, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::event_text, m)?)?;
    m.add_function(wrap_pyfunction!(plan::plan, m)?)?;
    m.add("PRESETS", k8sretry::PRESETS.to_vec())?;
    m.add(
        "GAVE_UP_ON_RETRYABLE",
        k8sretry::GiveUpReason::ALL
            .into_iter()
            .filter(|r| r.after_retryable_failure())
            .map(k8sretry::GiveUpReason::as_str)
            .collect::<Vec<_>>(),
    )?;
    m.add("APPLY_PATCH", k8sretry::APPLY_PATCH_CONTENT_TYPE)?;
    m.add("VERSION", k8sretry::VERSION)?;
    m.add("REQUEST_ID", k8sretry::REQUEST_ID)?;
    Ok(())
}
