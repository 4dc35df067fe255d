//! `Call`: one logical call's steps. The Python loop reports each failed attempt
//! (`on_failure`), each read-back it was asked for (`on_read_back`), each wait it slept
//! (`resume`) and the success, and carries out the answer `(action, delay, reason)`.

use std::time::Duration;

use k8sretry::{Call, Decision, GiveUpReason, ReadOutcome, Recovery};
use pyo3::create_exception;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::PyString;

use crate::failure::PyFailure;
use crate::policy::PyPolicy;
use crate::value_error;

create_exception!(
    k8sretry._native,
    StepError,
    PyRuntimeError,
    "A step reported out of order: a read-back result nobody asked for, an attempt's failure while a \
     read-back result is expected, or any step after the call ended."
);

/// One logical call: report failures and read-backs, obey the decisions.
#[pyclass(name = "Call", module = "k8sretry._native")]
pub(crate) struct PyCall {
    inner: Call,
}

/// What `on_failure` and `on_read_back` answer: `(action, delay_seconds, give_up_reason)`.
type Answer<'py> = (Bound<'py, PyString>, f64, Option<Bound<'py, PyString>>);

#[pymethods]
impl PyCall {
    /// `reader`: whether the caller can read back when asked (without one the call never answers
    /// `read_back`); `nested`: the call runs inside an attempt of another k8sretry call on the
    /// same logical task (one attempt, `give_up` `Nested`, nothing recorded).
    #[new]
    #[pyo3(signature = (policy, function, verb="UNKNOWN", recovery="none", elapsed=0.0, *, reader=true, nested=false))]
    fn new(
        policy: &PyPolicy,
        function: &str,
        verb: &str,
        recovery: &str,
        elapsed: f64,
        reader: bool,
        nested: bool,
    ) -> PyResult<Self> {
        let recovery = Recovery::parse(recovery).ok_or_else(|| {
            value_error(format!(
                "unknown recovery {recovery:?} (expected one of: {})",
                Recovery::NAMES.join(", ")
            ))
        })?;
        let elapsed = Duration::try_from_secs_f64(elapsed).unwrap_or_default();
        let inner = Call::start(&policy.inner, function, nested)
            .with_verb(crate::verb(verb)?)
            .with_recovery(recovery)
            .with_reader(reader)
            .with_elapsed(elapsed);
        Ok(PyCall { inner })
    }

    /// The decision after the current attempt failed with `failure`: `(action, delay_seconds,
    /// give_up_reason)`, action one of `retry`, `read_back`, `wait`, `done`, `recovered`,
    /// `give_up`. Raises `StepError` when the call waits for a read-back result or has ended,
    /// or waits to be resumed (except for a cancelled failure: a cancel during a wait).
    fn on_failure<'py>(&mut self, py: Python<'py>, failure: &PyFailure) -> PyResult<Answer<'py>> {
        let decision = self
            .inner
            .try_on_failure(&failure.inner)
            .map_err(step_error)?;
        Ok(answer(py, decision))
    }

    /// The decision after a read-back asked for by `read_back`: `outcome` is `ours` (an object
    /// carrying this call's request id), `not_ours`, `missing`, or `failed` with the read's own
    /// `failure`. Raises `StepError` when no read-back was asked for, `ValueError` on a bad
    /// outcome.
    #[pyo3(signature = (outcome, failure=None))]
    fn on_read_back<'py>(
        &mut self,
        py: Python<'py>,
        outcome: &str,
        failure: Option<&PyFailure>,
    ) -> PyResult<Answer<'py>> {
        let outcome = match (outcome, failure) {
            ("ours", None) => ReadOutcome::Ours,
            ("not_ours", None) => ReadOutcome::NotOurs,
            ("missing", None) => ReadOutcome::Missing,
            ("failed", Some(failure)) => ReadOutcome::Failed(&failure.inner),
            ("failed", None) => {
                return Err(value_error("outcome \"failed\" needs the read's failure"));
            }
            ("ours" | "not_ours" | "missing", Some(_)) => {
                return Err(value_error(format!(
                    "outcome {outcome:?} takes no failure (only \"failed\" does)"
                )));
            }
            (other, _) => {
                return Err(value_error(format!(
                    "unknown read-back outcome {other:?} (expected ours, not_ours, missing or failed)"
                )));
            }
        };
        let decision = self.inner.on_read_back(outcome).map_err(step_error)?;
        Ok(answer(py, decision))
    }

    /// After a `wait` has been slept (the budget deferred the retry; nothing was sent): the next
    /// decision, `retry` with no delay (send now), `wait` again, `read_back` or `give_up`.
    /// Raises `StepError` when the call is not waiting or has ended.
    fn resume<'py>(&mut self, py: Python<'py>) -> PyResult<Answer<'py>> {
        let decision = self.inner.resume().map_err(step_error)?;
        Ok(answer(py, decision))
    }

    /// The caller cancelled the call, whatever it was doing (an attempt, a sleep, a wait, a
    /// read-back): `give_up` `Cancelled`, with one event and one metric. Raises `StepError`
    /// after the end.
    fn on_cancelled<'py>(&mut self, py: Python<'py>) -> PyResult<Answer<'py>> {
        let decision = self.inner.on_cancelled().map_err(step_error)?;
        Ok(answer(py, decision))
    }

    fn on_success(&mut self) {
        self.inner.on_success();
    }

    #[getter]
    fn attempts(&self) -> u32 {
        self.inner.attempts()
    }

    /// After a give-up on a retryable failure (retries, breaker, deadline or budget used up):
    /// seconds until the whole call may be tried again (the server's hint or the next backoff),
    /// for a reconciler's requeue; None after any other end or while the call goes on.
    #[getter]
    fn retry_after(&self) -> Option<f64> {
        self.inner.retry_after().map(|d| d.as_secs_f64())
    }

    #[getter]
    fn awaiting_read_back(&self) -> bool {
        self.inner.awaiting_read_back()
    }

    #[getter]
    fn awaiting_resume(&self) -> bool {
        self.inner.awaiting_resume()
    }

    #[getter]
    fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

fn step_error(error: k8sretry::StepError) -> PyErr {
    StepError::new_err(error.to_string())
}

fn answer(py: Python<'_>, decision: Decision) -> Answer<'_> {
    // Names made once: a fresh (or freshly interned) str per decision costs more than the
    // decision itself.
    let named = |name: &Py<PyString>| name.bind(py).clone();
    let names = decision_names(py);
    match decision {
        Decision::Retry { delay } => (named(&names.retry), delay.as_secs_f64(), None),
        Decision::ReadBack { delay } => (named(&names.read_back), delay.as_secs_f64(), None),
        Decision::Wait { delay } => (named(&names.wait), delay.as_secs_f64(), None),
        Decision::Done => (named(&names.done), 0.0, None),
        Decision::Recovered => (named(&names.recovered), 0.0, None),
        Decision::GiveUp(reason) => (
            named(&names.give_up),
            0.0,
            Some(named(&names.reasons[reason as usize])),
        ),
    }
}

/// The strings `Call.on_failure` and `Call.on_read_back` answer with, made once per interpreter.
struct DecisionNames {
    retry: Py<PyString>,
    read_back: Py<PyString>,
    wait: Py<PyString>,
    done: Py<PyString>,
    recovered: Py<PyString>,
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
            read_back: name("read_back"),
            wait: name("wait"),
            done: name("done"),
            recovered: name("recovered"),
            give_up: name("give_up"),
            reasons: GiveUpReason::ALL.iter().map(|r| name(r.as_str())).collect(),
        }
    })
}
