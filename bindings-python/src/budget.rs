//! `RetryBudget`: a retry budget that policies can share (DESIGN §2.6).

use std::sync::Arc;

use k8sretry::{PolicyBuilder, RetryBudget};
use pyo3::prelude::*;

use crate::value_error;

/// A retry budget that policies can share.
#[pyclass(name = "RetryBudget", module = "k8sretry._native", frozen)]
pub(crate) struct PyRetryBudget {
    pub(crate) inner: Arc<RetryBudget>,
}

/// `value` as a JSON number; JSON has no NaN or infinity.
pub(crate) fn json_number(name: &str, value: f64) -> PyResult<String> {
    if value.is_finite() {
        Ok(format!("{value}"))
    } else {
        Err(value_error(format!(
            "{name} must be a finite number, got {value}"
        )))
    }
}

#[pymethods]
impl PyRetryBudget {
    #[new]
    #[pyo3(signature = (ratio=0.2, min_per_second=10, ttl=10.0))]
    fn new(ratio: f64, min_per_second: u32, ttl: f64) -> PyResult<Self> {
        // The core validates a budget where a policy's JSON declares one; this budget is made,
        // and its limits checked, exactly that way (the core has no validating constructor).
        let text = format!(
            r#"{{"budget": {{"ratio": {}, "min_per_second": {min_per_second}, "ttl": {}}}}}"#,
            json_number("ratio", ratio)?,
            json_number("ttl", ttl)?,
        );
        let policy = PolicyBuilder::from_json(&text)
            .and_then(PolicyBuilder::build)
            .map_err(value_error)?;
        let inner = policy
            .budget()
            .cloned()
            .ok_or_else(|| value_error("the core made no budget"))?;
        Ok(PyRetryBudget { inner })
    }

    /// Tokens available now.
    fn balance(&self) -> f64 {
        self.inner
            .balance(k8sretry::Clock::monotonic(&k8sretry::SystemClock))
    }
}
