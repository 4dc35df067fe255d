//! Events of the core, handed to a Python callable as dicts.

use std::sync::Arc;

use k8sretry::{Event, EventCallback};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Calls `callback(dict)` for every event; errors in it are reported as unraisable, never raised
/// into the retry loop.
pub(crate) fn python_events(callback: Py<PyAny>) -> EventCallback {
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
                fields.set_item("level", event.level_name())?;
                callback.call1(py, (fields,))?;
                Ok(())
            })();
            if let Err(err) = result {
                err.write_unraisable(py, None);
            }
        })
    })
}
