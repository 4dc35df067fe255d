//! `ManualClock`: a clock that moves only when advanced (tests, conformance vectors).

use std::sync::Arc;

use k8sretry::ManualClock;
use pyo3::prelude::*;

use crate::value_error;

/// A clock that moves only when advanced (tests, conformance vectors).
#[pyclass(name = "ManualClock", module = "k8sretry._native", frozen)]
pub(crate) struct PyManualClock {
    pub(crate) inner: Arc<ManualClock>,
}

#[pymethods]
impl PyManualClock {
    #[new]
    fn new(start_unix: f64) -> Self {
        PyManualClock {
            inner: Arc::new(ManualClock::new(start_unix)),
        }
    }

    fn advance(&self, seconds: f64) -> PyResult<()> {
        if !(seconds.is_finite() && seconds >= 0.0) {
            return Err(value_error(format!("cannot advance by {seconds}")));
        }
        self.inner.advance_seconds(seconds);
        Ok(())
    }
}
