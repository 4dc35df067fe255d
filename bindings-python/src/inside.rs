//! Whether this thread runs inside the attempt of a k8sretry sync retry loop: the sync half of the
//! nesting marker (docs/design.md "Nesting"; asyncio tasks are the Python package's
//! `_nesting.RUNNING`). A blocked thread runs nothing else, so a flag per thread is the whole
//! rule: a thread-local, ~3 ns, where a dict keyed by `threading.get_ident()` cost every call
//! ~70 ns (an int to build, a hash, an insert and a delete).
//!
//! Under gevent one OS thread runs many greenlets, and a greenlet blocked in an attempt lets the
//! others run: gevent's monkey-patch replaces `_thread.get_ident` with the greenlet's id, and
//! while it is replaced the marks are keyed by what it returns instead (checked at every call, so
//! a patch made after import is followed).

use std::cell::Cell;
use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::PyDict;

thread_local! {
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// Marks by patched `get_ident()` (gevent).
static PATCHED_INSIDE: Mutex<Option<HashSet<u64>>> = Mutex::new(None);

/// `_thread`'s namespace and its own `get_ident`, as at import.
static THREAD: GILOnceCell<(Py<PyDict>, Py<PyAny>)> = GILOnceCell::new();

/// Who asks: `None` for this OS thread (the flag), or the id a patched `get_ident` gives.
fn patched_ident(py: Python<'_>) -> PyResult<Option<u64>> {
    let (namespace, original) = THREAD.get_or_try_init(py, || -> PyResult<_> {
        let module = py.import("_thread")?;
        Ok((
            module.dict().unbind(),
            module.getattr("get_ident")?.unbind(),
        ))
    })?;
    match namespace.bind(py).get_item(intern!(py, "get_ident"))? {
        Some(now) if !now.is(original) => Ok(Some(now.call0()?.extract()?)),
        _ => Ok(None),
    }
}

fn patched_marks() -> std::sync::MutexGuard<'static, Option<HashSet<u64>>> {
    PATCHED_INSIDE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Who is asking (this OS thread, or a greenlet), found once per call.
#[derive(Clone, Copy)]
pub(crate) struct Asker(Option<u64>);

impl Asker {
    pub(crate) fn find(py: Python<'_>) -> PyResult<Asker> {
        patched_ident(py).map(Asker)
    }

    /// Marks the asker as inside an attempt. False, and nothing changes, when it already is
    /// (the caller is nested in another k8sretry call's attempt).
    pub(crate) fn enter(self) -> bool {
        match self.0 {
            None => INSIDE.with(|inside| !inside.replace(true)),
            Some(ident) => patched_marks()
                .get_or_insert_with(HashSet::new)
                .insert(ident),
        }
    }

    /// The asker left its attempt (the thread's flag goes in any case, should gevent have
    /// patched in between).
    pub(crate) fn leave(self) {
        INSIDE.with(|inside| inside.set(false));
        if let Some(ident) = self.0
            && let Some(marks) = patched_marks().as_mut()
        {
            marks.remove(&ident);
        }
    }

    fn inside(self) -> bool {
        match self.0 {
            None => INSIDE.with(Cell::get),
            Some(ident) => patched_marks()
                .as_ref()
                .is_some_and(|marks| marks.contains(&ident)),
        }
    }
}

/// Marks this thread as inside an attempt; false when it already is (see `Asker::enter`).
#[pyfunction]
pub(crate) fn thread_enter(py: Python<'_>) -> PyResult<bool> {
    Ok(Asker::find(py)?.enter())
}

/// This thread left its attempt.
#[pyfunction]
pub(crate) fn thread_leave(py: Python<'_>) -> PyResult<()> {
    Asker::find(py)?.leave();
    Ok(())
}

/// Whether this thread is inside an attempt.
#[pyfunction]
pub(crate) fn thread_inside(py: Python<'_>) -> PyResult<bool> {
    Ok(Asker::find(py)?.inside())
}
