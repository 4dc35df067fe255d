//! `Policy`: an immutable policy from a preset or JSON, with its budget, breaker, events and clock.

use k8sretry::{BudgetChoice, Policy, PolicyBuilder};
use pyo3::prelude::*;

use crate::breaker::PyCircuitBreaker;
use crate::budget::PyRetryBudget;
use crate::clock::PyManualClock;
use crate::events::python_events;
use crate::failure::PyFailure;
use crate::success::PySuccessRecorder;
use crate::value_error;

/// An immutable policy.
#[pyclass(name = "Policy", module = "k8sretry._native", frozen)]
pub(crate) struct PyPolicy {
    pub(crate) inner: Policy,
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
    #[pyo3(signature = (text, *, budget=None, breaker=None, on_event=None, clock=None, random=None))]
    fn from_json(
        text: &str,
        budget: Option<&Bound<'_, PyAny>>,
        breaker: Option<&Bound<'_, PyAny>>,
        on_event: Option<Py<PyAny>>,
        clock: Option<PyRef<'_, PyManualClock>>,
        random: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let mut builder = PolicyBuilder::from_json(text).map_err(value_error)?;
        if let Some(random) = random {
            builder = builder.random(Some(python_random(random)));
        }
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

    /// Every setting as the JSON `from_json` reads (the engine writes it).
    fn to_json(&self) -> String {
        self.inner.to_json()
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

    /// The success path of `function`, prepared once: `record()` then does no lookup.
    fn recorder(&self, function: &str) -> PySuccessRecorder {
        PySuccessRecorder {
            inner: k8sretry::SuccessRecorder::new(&self.inner, function),
        }
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

/// A Python callable as the engine's random source. What it raises, or a value that is not a
/// number, never crosses into the engine: it is reported as unraisable and the draw is 0.
fn python_random(random: Py<PyAny>) -> k8sretry::RandomSource {
    std::sync::Arc::new(move || {
        Python::with_gil(
            |py| match random.call0(py).and_then(|v| v.extract::<f64>(py)) {
                Ok(v) => v,
                Err(err) => {
                    err.write_unraisable(py, Some(random.bind(py)));
                    0.0
                }
            },
        )
    })
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
