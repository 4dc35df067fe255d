//! `k8sretry._native`: thin PyO3 wrappers over the k8sretry core. The pure-Python package
//! `k8sretry` builds on these; no retry decision is made here or there.

use std::sync::Arc;
use std::time::Duration;

use k8sretry::{
    BudgetChoice, Call, CircuitBreaker, Decision, Event, EventCallback, Failure, GiveUpReason,
    ManualClock, Policy, PolicyBuilder, Recovery, RetryBudget, Verb,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBytes, PyDict, PyString};

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A retry budget that policies can share.
#[pyclass(name = "RetryBudget", module = "k8sretry._native", frozen)]
struct PyRetryBudget {
    inner: Arc<RetryBudget>,
}

#[pymethods]
impl PyRetryBudget {
    #[new]
    #[pyo3(signature = (ratio=0.2, min_per_second=10, ttl=10.0))]
    fn new(ratio: f64, min_per_second: u32, ttl: f64) -> PyResult<Self> {
        if !(0.0..=1000.0).contains(&ratio) {
            return Err(value_error(format!(
                "ratio must be between 0 and 1000, got {ratio}"
            )));
        }
        if !(0.001..=86_400.0).contains(&ttl) {
            return Err(value_error(format!(
                "ttl must be between 0.001 and 86400 seconds, got {ttl}"
            )));
        }
        let inner = RetryBudget::new(ratio, min_per_second, Duration::from_secs_f64(ttl));
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

/// A circuit breaker that policies can share.
#[pyclass(name = "CircuitBreaker", module = "k8sretry._native", frozen)]
struct PyCircuitBreaker {
    inner: Arc<CircuitBreaker>,
}

#[pymethods]
impl PyCircuitBreaker {
    #[new]
    #[pyo3(signature = (failure_threshold=5, open_for=30.0))]
    fn new(failure_threshold: u32, open_for: f64) -> PyResult<Self> {
        if failure_threshold == 0 {
            return Err(value_error("failure_threshold must be at least 1"));
        }
        let open_for = Duration::try_from_secs_f64(open_for)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                value_error(format!(
                    "open_for must be a positive number of seconds, got {open_for}"
                ))
            })?;
        Ok(PyCircuitBreaker {
            inner: Arc::new(CircuitBreaker::new(failure_threshold, open_for)),
        })
    }

    #[getter]
    fn is_open(&self) -> bool {
        self.inner.is_open()
    }
}

/// A clock that moves only when advanced (tests, conformance vectors).
#[pyclass(name = "ManualClock", module = "k8sretry._native", frozen)]
struct PyManualClock {
    inner: Arc<ManualClock>,
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

/// An immutable policy.
#[pyclass(name = "Policy", module = "k8sretry._native", frozen)]
struct PyPolicy {
    inner: Policy,
}

/// Calls `callback(dict)` for every event; errors in it are reported as unraisable, never raised
/// into the retry loop.
fn python_events(callback: Py<PyAny>) -> EventCallback {
    Arc::new(move |event: &Event<'_>| {
        Python::with_gil(|py| {
            let fields = PyDict::new(py);
            let result = (|| -> PyResult<()> {
                fields.set_item("event", event.kind.name())?;
                fields.set_item("function", event.function)?;
                fields.set_item("attempt", event.attempt)?;
                fields.set_item("max_retries", event.max_retries)?;
                fields.set_item("delay_seconds", event.delay_seconds)?;
                fields.set_item("error_type", event.error_type)?;
                fields.set_item("error", event.error)?;
                fields.set_item("status_code", event.status_code)?;
                fields.set_item("reason", event.reason)?;
                fields.set_item("code", event.code)?;
                fields.set_item("class", event.class.map(|c| c.as_str()))?;
                fields.set_item("give_up", event.give_up.map(|g| g.as_str()))?;
                callback.call1(py, (fields,))?;
                Ok(())
            })();
            if let Err(err) = result {
                err.write_unraisable(py, None);
            }
        })
    })
}

#[pymethods]
impl PyPolicy {
    /// A preset by name.
    #[staticmethod]
    #[pyo3(signature = (name, *, on_event=None))]
    fn preset(name: &str, on_event: Option<Py<PyAny>>) -> PyResult<Self> {
        let builder = PolicyBuilder::preset(name).map_err(value_error)?;
        Self::finish(builder, on_event)
    }

    /// A policy from JSON. `budget` and `breaker`, when given, replace the JSON's: a
    /// `RetryBudget`, `None` (off) or `"shared"`; a `CircuitBreaker` or `None`.
    #[staticmethod]
    #[pyo3(signature = (text, *, budget=None, breaker=None, on_event=None, clock=None))]
    fn from_json(
        text: &str,
        budget: Option<&Bound<'_, PyAny>>,
        breaker: Option<&Bound<'_, PyAny>>,
        on_event: Option<Py<PyAny>>,
        clock: Option<PyRef<'_, PyManualClock>>,
    ) -> PyResult<Self> {
        let mut builder = PolicyBuilder::from_json(text).map_err(value_error)?;
        if let Some(budget) = budget {
            builder = builder.budget(budget_choice(budget)?);
        }
        if let Some(breaker) = breaker {
            let breaker = if breaker.is_none() {
                None
            } else {
                Some(breaker.downcast::<PyCircuitBreaker>()?.get().inner.clone())
            };
            builder = builder.breaker(breaker);
        }
        if let Some(clock) = clock {
            builder = builder.clock(clock.inner.clone());
        }
        Self::finish(builder, on_event)
    }

    #[getter]
    fn max_retries(&self) -> u32 {
        self.inner.max_retries()
    }

    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn classify(&self, failure: &PyFailure) -> &'static str {
        self.inner.classify(&failure.inner).as_str()
    }

    fn is_retryable(&self, failure: &PyFailure) -> bool {
        self.inner.is_retryable(&failure.inner)
    }

    /// Seconds to wait after 0-based `attempt`: max(capped server hint, backoff).
    fn retry_delay(&self, failure: &PyFailure, attempt: u32) -> f64 {
        self.inner
            .retry_delay(&failure.inner, attempt)
            .as_secs_f64()
    }

    /// Records a call whose first attempt succeeded: the whole success path in one call.
    fn succeeded(&self, function: &str) {
        Call::new(&self.inner, function).on_success();
    }

    /// The success path of `function`, prepared once: `record()` then does no lookup.
    fn recorder(&self, function: &str) -> PySuccessRecorder {
        PySuccessRecorder {
            inner: k8sretry::SuccessRecorder::new(&self.inner, function),
        }
    }
}

/// Records first-attempt successes of one decorated function.
#[pyclass(name = "SuccessRecorder", module = "k8sretry._native", frozen)]
struct PySuccessRecorder {
    inner: k8sretry::SuccessRecorder,
}

#[pymethods]
impl PySuccessRecorder {
    fn record(&self) {
        self.inner.record();
    }
}

impl PyPolicy {
    fn finish(builder: PolicyBuilder, on_event: Option<Py<PyAny>>) -> PyResult<Self> {
        let builder = builder.on_event(on_event.map(python_events));
        Ok(PyPolicy {
            inner: builder.build().map_err(value_error)?,
        })
    }
}

fn budget_choice(budget: &Bound<'_, PyAny>) -> PyResult<BudgetChoice> {
    if budget.is_none() {
        return Ok(BudgetChoice::Disabled);
    }
    if let Ok(own) = budget.downcast::<PyRetryBudget>() {
        return Ok(BudgetChoice::Own(own.get().inner.clone()));
    }
    match budget.extract::<String>().ok().as_deref() {
        Some("shared") => Ok(BudgetChoice::Shared),
        _ => Err(value_error(
            "budget must be a RetryBudget, None or \"shared\"",
        )),
    }
}

/// One failed attempt, as extracted from an exception.
#[pyclass(name = "Failure", module = "k8sretry._native", frozen)]
struct PyFailure {
    inner: Failure,
}

#[pymethods]
impl PyFailure {
    #[new]
    #[pyo3(signature = (*, status=None, reason=None, body=None, retry_after=None, retry_after_seconds=None,
                        codes=Vec::new(), timeout=false, cancelled=false, user_retryable=false, verb=None,
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
            .with_user_retryable(user_retryable);
        if let Some(verb) = verb {
            f = f.with_verb(Verb::parse(verb));
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

/// One logical call: report failures, obey the decisions.
#[pyclass(name = "Call", module = "k8sretry._native")]
struct PyCall {
    inner: Call,
}

#[pymethods]
impl PyCall {
    #[new]
    #[pyo3(signature = (policy, function, verb="UNKNOWN", recovery="none", elapsed=0.0))]
    fn new(
        policy: &PyPolicy,
        function: &str,
        verb: &str,
        recovery: &str,
        elapsed: f64,
    ) -> PyResult<Self> {
        let recovery = Recovery::parse(recovery)
            .ok_or_else(|| value_error(format!("unknown recovery {recovery:?}")))?;
        let elapsed = Duration::try_from_secs_f64(elapsed).unwrap_or_default();
        let inner = Call::new(&policy.inner, function)
            .with_verb(Verb::parse(verb))
            .with_recovery(recovery)
            .with_elapsed(elapsed);
        Ok(PyCall { inner })
    }

    /// `(action, delay_seconds, give_up_reason)`: action is `retry`, `check_then_retry`,
    /// `read_back`, `done` or `give_up`.
    fn on_failure<'py>(
        &mut self,
        py: Python<'py>,
        failure: &PyFailure,
    ) -> (Bound<'py, PyString>, f64, Option<Bound<'py, PyString>>) {
        // Names made once: a fresh (or freshly interned) str per decision costs more than the
        // decision itself.
        let named = |name: &Py<PyString>| name.bind(py).clone();
        let names = decision_names(py);
        match self.inner.on_failure(&failure.inner) {
            Decision::Retry { delay } => (named(&names.retry), delay.as_secs_f64(), None),
            Decision::CheckThenRetry { delay } => {
                (named(&names.check_then_retry), delay.as_secs_f64(), None)
            }
            Decision::ReadBack => (named(&names.read_back), 0.0, None),
            Decision::Done => (named(&names.done), 0.0, None),
            Decision::GiveUp(reason) => (
                named(&names.give_up),
                0.0,
                Some(named(&names.reasons[reason as usize])),
            ),
        }
    }

    fn on_success(&mut self) {
        self.inner.on_success();
    }

    fn on_recovered(&mut self) {
        self.inner.on_recovered();
    }

    fn on_not_ours(&mut self) {
        self.inner.on_not_ours();
    }

    #[getter]
    fn attempts(&self) -> u32 {
        self.inner.attempts()
    }
}

/// Seconds to wait that a Retry-After value asks for at `now` (Unix seconds), or None.
#[pyfunction]
fn parse_retry_after(value: &str, now: f64) -> Option<f64> {
    k8sretry::parse_retry_after(value, now)
}

/// All metrics of this process in Prometheus text format.
#[pyfunction]
fn metrics_text() -> String {
    k8sretry::metrics_text()
}

/// The strings `Call.on_failure` answers with, made once per interpreter.
struct DecisionNames {
    retry: Py<PyString>,
    check_then_retry: Py<PyString>,
    read_back: Py<PyString>,
    done: Py<PyString>,
    give_up: Py<PyString>,
    /// By `GiveUpReason as usize` (the order of `GiveUpReason::ALL`).
    reasons: Vec<Py<PyString>>,
}

fn decision_names(py: Python<'_>) -> &DecisionNames {
    static NAMES: GILOnceCell<DecisionNames> = GILOnceCell::new();
    NAMES.get_or_init(py, || {
        let name = |s: &str| PyString::intern(py, s).unbind();
        DecisionNames {
            retry: name("retry"),
            check_then_retry: name("check_then_retry"),
            read_back: name("read_back"),
            done: name("done"),
            give_up: name("give_up"),
            reasons: GiveUpReason::ALL.iter().map(|r| name(r.as_str())).collect(),
        }
    })
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPolicy>()?;
    m.add_class::<PyFailure>()?;
    m.add_class::<PyCall>()?;
    m.add_class::<PySuccessRecorder>()?;
    m.add_class::<PyRetryBudget>()?;
    m.add_class::<PyCircuitBreaker>()?;
    m.add_class::<PyManualClock>()?;
    m.add_function(wrap_pyfunction!(parse_retry_after, m)?)?;
    m.add_function(wrap_pyfunction!(metrics_text, m)?)?;
    m.add("PRESETS", k8sretry::PRESETS.to_vec())?;
    m.add("VERSION", k8sretry::VERSION)?;
    Ok(())
}
