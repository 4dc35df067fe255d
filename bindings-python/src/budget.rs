//! `RetryBudget`: a retry budget that policies can share (DESIGN §5).

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
    #[pyo3(signature = (ratio=0.1, min_per_second=0, ttl=10.0, *, burst=None, min_per_episode=None))]
    fn new(
        ratio: f64,
        min_per_second: u32,
        ttl: f64,
        burst: Option<f64>,
        min_per_episode: Option<u32>,
    ) -> PyResult<Self> {
        // One validator, in the core: the same limits as a policy's JSON; `burst` and
        // `min_per_episode` default to the core's (as do ratio and min_per_second: see the test).
        let mut budget = RetryBudget::try_new(ratio, min_per_second, ttl).map_err(value_error)?;
        if let Some(burst) = burst {
            budget = budget.with_burst(burst).map_err(value_error)?;
        }
        if let Some(m) = min_per_episode {
            budget = budget.with_min_per_episode(m).map_err(value_error)?;
        }
        Ok(PyRetryBudget {
            inner: Arc::new(budget),
        })
    }

    /// Tokens available now.
    fn balance(&self) -> f64 {
        self.inner
            .balance(k8sretry::Clock::monotonic(&k8sretry::SystemClock))
    }
}

#[cfg(test)]
mod tests {
    use k8sretry::RetryBudget;

    /// The signature's literal defaults are the core's.
    #[test]
    fn defaults_are_the_cores() {
        assert_eq!(RetryBudget::DEFAULT_RATIO, 0.1);
        assert_eq!(RetryBudget::DEFAULT_MIN_PER_SECOND, 0);
        assert_eq!(RetryBudget::DEFAULT_TTL.as_secs_f64(), 10.0);
    }
}
