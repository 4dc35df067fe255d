//! `SuccessRecorder`: the success path of one decorated function, prepared once.

use pyo3::prelude::*;

/// Records first-attempt successes of one decorated function.
#[pyclass(name = "SuccessRecorder", module = "k8sretry._native", frozen)]
pub(crate) struct PySuccessRecorder {
    pub(crate) inner: k8sretry::SuccessRecorder,
}

#[pymethods]
impl PySuccessRecorder {
    fn record(&self) {
        self.inner.record();
    }
}
