//! `RetryBudget`: a retry budget that policies can share (DESIGN §2.6).

use std::sync::Arc;

use k8sretry::RetryBudget;
use pyo3::prelude::*;

use crate::value_error;

/// A retry budget that policies can share.
#[pyclass(name = "RetryBudget", module = "k8sretry._native", frozen)]
pub(crate) struct PyRetryBudget {
    pub(crate) inner: Arc<RetryBudget>,
}

#[pymethods]
impl PyRetryBudget {
    #[new]
    #[pyo3(signature = (ratio=0.2, min_per_second=None, ttl=10.0, *, burst=None, min_per_episode=None))]
    fn new(
        ratio: f64,
        min_per_second: Option<u32>,
        ttl: f64,
        burst: Option<f64>,
        min_per_episode: Option<u32>,
    ) -> PyResult<Self> {
        // One validator, in the core: the same limits as a policy's JSON; what is left out
        // is the core's default (no per-second floor: it would multiply with the processes).
        let min_per_second = min_per_second.unwrap_or(RetryBudget::DEFAULT_MIN_PER_SECOND);
        let budget = RetryBudget::try_new(ratio, min_per_second, ttl).map_err(value_error)?;
        let budget = match burst {
            Some(burst) => budget.with_burst(burst).map_err(value_error)?,
            None => budget,
        };
        let inner = match min_per_episode {
            Some(m) => budget.with_min_per_episode(m).map_err(value_error)?,
            None => budget,
        };
        Ok(PyRetryBudget {
            inner: Arc::new(inner),
        })
    }

    /// Tokens available now.
    fn balance(&self) -> f64 {
        self.inner
            .balance(k8sretry::Clock::monotonic(&k8sretry::SystemClock))
    }
}
