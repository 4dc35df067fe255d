//! `CircuitBreaker`: a circuit breaker that policies can share (DESIGN §5).

use std::sync::Arc;

use k8sretry::CircuitBreaker;
use pyo3::prelude::*;

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
        // One validator, in the core: the same limits as a policy's JSON.
        let inner = CircuitBreaker::try_new(failure_threshold, open_for).map_err(value_error)?;
        Ok(PyCircuitBreaker {
            inner: Arc::new(inner),
        })
    }

    #[getter]
    fn is_open(&self) -> bool {
        self.inner.is_open()
    }
}
