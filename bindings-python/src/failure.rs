//! `Failure`: one failed attempt (or read-back), as the Python layer extracted it from an exception.

use k8sretry::Failure;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

/// One failed attempt, as extracted from an exception.
#[pyclass(name = "Failure", module = "k8sretry._native", frozen)]
pub(crate) struct PyFailure {
    pub(crate) inner: Failure,
}

#[pymethods]
impl PyFailure {
    #[new]
    #[pyo3(signature = (*, status=None, reason=None, body=None, retry_after=None, retry_after_seconds=None,
                        codes=Vec::new(), timeout=false, cancelled=false, user_retryable=false, user_fatal=false, verb=None,
                        error_type=None, message=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        status: Option<i64>,
        reason: Option<&str>,
        body: Option<&Bound<'_, PyAny>>,
        retry_after: Option<&str>,
        retry_after_seconds: Option<i64>,
        codes: Vec<String>,
        timeout: bool,
        cancelled: bool,
        user_retryable: bool,
        user_fatal: bool,
        verb: Option<&str>,
        error_type: Option<String>,
        message: Option<String>,
    ) -> PyResult<Self> {
        let mut f = Failure::new();
        if let Some(status) = status.and_then(|s| u16::try_from(s).ok()) {
            f = f.with_status(status);
        }
        if let Some(reason) = reason {
            f = f.with_reason(reason);
        }
        if let Some(body) = body {
            // Clients keep the body as bytes (kubernetes) or str (newer generators).
            if let Ok(text) = body.downcast::<PyString>() {
                f = f.with_status_body(&text.to_cow()?);
            } else if let Ok(bytes) = body.downcast::<PyBytes>() {
                f = f.with_status_body(&String::from_utf8_lossy(bytes.as_bytes()));
            }
        }
        if let Some(value) = retry_after {
            f = f.with_retry_after(value);
        }
        if let Some(seconds) = retry_after_seconds {
            f = f.with_retry_after_seconds(seconds);
        }
        for code in codes {
            f = f.with_code(code);
        }
        f = f
            .with_timeout(timeout)
            .with_cancelled(cancelled)
            .with_user_fatal(user_fatal)
            .with_user_retryable(user_retryable);
        if let Some(verb) = verb {
            f = f.with_verb(crate::verb(verb)?);
        }
        f.error_type = error_type;
        f.message = message;
        Ok(PyFailure { inner: f })
    }

    #[getter]
    fn status(&self) -> Option<u16> {
        self.inner.status
    }

    #[getter]
    fn reason(&self) -> Option<&str> {
        self.inner.reason.as_deref()
    }

    #[getter]
    fn codes(&self) -> Vec<String> {
        self.inner.codes.clone()
    }

    #[getter]
    fn timeout(&self) -> bool {
        self.inner.timeout
    }

    #[getter]
    fn cancelled(&self) -> bool {
        self.inner.cancelled
    }

    fn __repr__(&self) -> String {
        format!("{:?}", self.inner)
    }
}
