//! `CircuitBreaker`: a circuit breaker that policies can share (DESIGN §2.6).

use std::sync::Arc;

use k8sretry::{CircuitBreaker, PolicyBuilder};
use pyo3::prelude::*;

use crate::budget::json_number;
use crate::value_error;

/// A circuit breaker that policies can share.
#[pyclass(name = "CircuitBreaker", module = "k8sretry._native", frozen)]
pub(crate) struct PyCircuitBreaker {
    pub(crate) inner: Arc<CircuitBreaker>,
}

#[pymethods]
impl PyCircuitBreaker {
    #[new]
    #[pyo3(signature = (failure_threshold=5, open_for=30.0))]
    fn new(failure_threshold: u32, open_for: f64) -> PyResult<Self> {
        // The limits are the core's, checked as for a breaker a policy's JSON declares (the core
        // has no validating constructor). The breaker that check makes is left to go: a policy
        // registers its breaker under its own name for the `k8sretry_circuit_open` gauge, so this
        // one is made afresh and registered by the policies that use it.
        let text = format!(
            r#"{{"breaker": {{"failure_threshold": {failure_threshold}, "open_for": {}}}}}"#,
            json_number("open_for", open_for)?,
        );
        let checked = PolicyBuilder::from_json(&text)
            .and_then(PolicyBuilder::build)
            .map_err(value_error)?;
        let breaker = checked
            .breaker()
            .ok_or_else(|| value_error("the core made no breaker"))?;
        let inner = CircuitBreaker::new(breaker.failure_threshold(), breaker.open_for());
        Ok(PyCircuitBreaker {
            inner: Arc::new(inner),
        })
    }

    #[getter]
    fn is_open(&self) -> bool {
        self.inner.is_open()
    }
}
