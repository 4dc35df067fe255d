//! `FirstAttempt`: the first attempt of one wrapped function or client method and its success
//! path, in one native call. That is all most calls ever run, and in Python each of its steps
//! (the nesting check, the mark, the call, the success record) cost a bytecode dispatch and a
//! call; here they are C calls. Everything else goes back to the Python package's hooks: a
//! nested call, a failure, an awaitable to await, a keyword that makes the call special.
//!
//! The nesting markers (docs/design.md "Nesting"): this thread inside a sync attempt (`inside`),
//! the asyncio task inside an async one (the Python package's `_nesting.RUNNING`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PySet, PyString, PyTuple, PyType};

use crate::inside::Asker;
use crate::success::PySuccessRecorder;

/// See the module documentation.
#[pyclass(name = "FirstAttempt", module = "k8sretry._native", frozen)]
pub(crate) struct PyFirstAttempt {
    /// The function, or the client whose method `method` is looked up at every attempt (a test
    /// may patch it after wrapping).
    target: Py<PyAny>,
    method: Option<Py<PyString>>,
    /// The Python side: `nested(args, kwargs)`, `failed(args, kwargs, exc, started)`,
    /// `awaitable(args, kwargs, result, started)`, `special(args, kwargs)` (returns `plain` to go
    /// on as a plain call).
    hooks: Py<PyAny>,
    plain: Py<PyAny>,
    /// The hooks' `special_keywords` (none when they have none): a call with one of them goes to
    /// `special`.
    special: Vec<Py<PyString>>,
    /// Any awaitable result is awaited (client methods); else only a coroutine (a `def` that
    /// returns one), as `inspect.isawaitable` would be too broad for a decorated function.
    any_awaitable: bool,
    recorder: RwLock<k8sretry::SuccessRecorder>,
    /// Whether the first attempt's start is taken: only a deadline needs it.
    timed: AtomicBool,
    markers: Markers,
}

/// What the nesting check and the mark use, looked up once.
struct Markers {
    /// The asyncio tasks inside an async attempt (`_nesting.RUNNING`).
    running: Py<PySet>,
    running_loop: Py<PyAny>,
    current_task: Py<PyAny>,
    monotonic: Py<PyAny>,
    coroutine: Py<PyType>,
    generator: Py<PyType>,
}

impl Markers {
    fn load(py: Python<'_>) -> PyResult<Markers> {
        let nesting = py.import("k8sretry._nesting")?;
        let types = py.import("types")?;
        let asyncio = py.import("asyncio")?;
        Ok(Markers {
            running: nesting
                .getattr("RUNNING")?
                .downcast_into::<PySet>()?
                .unbind(),
            running_loop: asyncio.getattr("_get_running_loop")?.unbind(),
            current_task: asyncio.getattr("current_task")?.unbind(),
            monotonic: py.import("time")?.getattr("monotonic")?.unbind(),
            coroutine: types
                .getattr("CoroutineType")?
                .downcast_into::<PyType>()?
                .unbind(),
            generator: types
                .getattr("GeneratorType")?
                .downcast_into::<PyType>()?
                .unbind(),
        })
    }
}

#[pymethods]
impl PyFirstAttempt {
    #[new]
    #[pyo3(signature = (target, hooks, recorder, timed, *, method = None, any_awaitable = false))]
    fn new(
        py: Python<'_>,
        target: Py<PyAny>,
        hooks: Py<PyAny>,
        recorder: &PySuccessRecorder,
        timed: bool,
        method: Option<Py<PyString>>,
        any_awaitable: bool,
    ) -> PyResult<Self> {
        let plain = hooks.getattr(py, "plain")?;
        let special = match hooks.bind(py).getattr_opt("special_keywords")? {
            Some(keys) => keys
                .try_iter()?
                .map(|key| Ok(key?.downcast_into::<PyString>()?.unbind()))
                .collect::<PyResult<_>>()?,
            None => Vec::new(),
        };
        Ok(PyFirstAttempt {
            target,
            method,
            hooks,
            plain,
            special,
            any_awaitable,
            recorder: RwLock::new(recorder.inner.clone()),
            timed: AtomicBool::new(timed),
            markers: Markers::load(py)?,
        })
    }

    /// Another policy from now on (`configure(policy=...)`).
    fn rebind(&self, recorder: &PySuccessRecorder, timed: bool) {
        *self
            .recorder
            .write()
            .unwrap_or_else(PoisonError::into_inner) = recorder.inner.clone();
        self.timed.store(timed, Ordering::Relaxed);
    }

    /// One call: `args` and `kwargs` as the wrapper got them.
    #[pyo3(signature = (args, kwargs))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let hooks = self.hooks.bind(py);
        // The hooks get the wrapper's own dict; the call gets none for no keywords.
        let given = kwargs;
        let kwargs = kwargs.filter(|k| !k.is_empty());
        if let Some(kw) = kwargs
            && self.is_special(kw)?
        {
            let answer = hooks.call_method1(intern!(py, "special"), (args, kw))?;
            if !answer.is(&self.plain) {
                return Ok(answer);
            }
        }
        let started = if self.timed.load(Ordering::Relaxed) {
            self.markers.monotonic.bind(py).call0()?
        } else {
            py.None().into_bound(py)
        };
        let asker = Asker::find(py)?;
        if self.task_inside(py)? || !asker.enter() {
            return hooks.call_method1(intern!(py, "nested"), (args, given));
        }
        let outcome = self.attempt(py, args, kwargs);
        asker.leave();
        let result = match outcome {
            Ok(result) => result,
            Err(err) => {
                let exc = err.into_value(py);
                return hooks.call_method1(intern!(py, "failed"), (args, given, exc, started));
            }
        };
        if self.awaitable(py, &result)? {
            return hooks.call_method1(intern!(py, "awaitable"), (args, given, result, started));
        }
        self.recorder
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .record();
        Ok(result)
    }
}

impl PyFirstAttempt {
    fn attempt<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let target = self.target.bind(py);
        match &self.method {
            Some(name) => target.getattr(name.bind(py))?.call(args, kwargs),
            None => target.call(args, kwargs),
        }
    }

    /// Whether `kwargs` holds one of the hooks' special keywords.
    fn is_special(&self, kwargs: &Bound<'_, PyDict>) -> PyResult<bool> {
        for key in &self.special {
            if kwargs.contains(key)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether this code runs in an asyncio task inside an async retry loop's attempt
    /// (`_nesting.nested`).
    fn task_inside(&self, py: Python<'_>) -> PyResult<bool> {
        if self.markers.running.bind(py).is_empty() {
            return Ok(false); // no task is inside an attempt (always so in sync programs)
        }
        let loop_ = self.markers.running_loop.bind(py).call0()?;
        if loop_.is_none() {
            return Ok(false);
        }
        let task = self.markers.current_task.bind(py).call1((loop_,))?;
        Ok(!task.is_none() && self.markers.running.bind(py).contains(task)?)
    }

    /// Whether `result` is to be awaited: a coroutine; for client methods also any object whose
    /// type has `__await__`, or a generator the Python side says is one (`types.coroutine`).
    fn awaitable(&self, py: Python<'_>, result: &Bound<'_, PyAny>) -> PyResult<bool> {
        let kind = result.get_type();
        if kind.is(self.markers.coroutine.bind(py)) {
            return Ok(true);
        }
        if !self.any_awaitable {
            return Ok(false);
        }
        // SAFETY: `kind` is a live type object; PyType_GetSlot accepts any type since 3.10
        // (the abi3 floor) and only reads the slot.
        let has_await =
            !unsafe { pyo3::ffi::PyType_GetSlot(kind.as_type_ptr(), pyo3::ffi::Py_am_await) }
                .is_null();
        if has_await {
            return Ok(true);
        }
        if kind.is(self.markers.generator.bind(py)) {
            return py
                .import("inspect")?
                .call_method1(intern!(py, "isawaitable"), (result,))?
                .is_truthy();
        }
        Ok(false)
    }
}
