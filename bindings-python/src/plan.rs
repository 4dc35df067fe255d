//! `plan(...)`: the recovery and the stamp of a request, chosen by the core from what a wrapper
//! knows about it (DESIGN §4).

use k8sretry::plan::{PatchType, Request, choose};
use pyo3::prelude::*;

use crate::value_error;

/// `(recovery, stamp)` for a request: the recovery name to begin the `Call` with and how to stamp
/// the body (`none`, `annotation`, `annotation_and_label`). `patch_type` is the content type the
/// client sends (`application/merge-patch+json`, ...) or a short name (`merge`, `strategic`,
/// `apply`, `json`). `object_body`: the PATCH body is known to be a JSON object (not a list).
/// `adopt_existing` (opt-in): a create adopts any object already there instead of stamping the
/// body and checking the stamp.
#[pyfunction]
#[pyo3(signature = (verb, *, resource="", named=false, generate_name=false, resource_version=false,
                    patch_type=None, object_body=false, adopt_existing=false, can_get=false,
                    can_list=false, missing_ok=false))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn plan(
    verb: &str,
    resource: &str,
    named: bool,
    generate_name: bool,
    resource_version: bool,
    patch_type: Option<&str>,
    object_body: bool,
    adopt_existing: bool,
    can_get: bool,
    can_list: bool,
    missing_ok: bool,
) -> PyResult<(&'static str, &'static str)> {
    let patch = patch_type
        .map(|text| {
            PatchType::parse(text).ok_or_else(|| {
                value_error(format!(
                    "unknown patch type {text:?} (expected a patch content type or merge, strategic, apply, json)"
                ))
            })
        })
        .transpose()?;
    let chosen = choose(&Request {
        verb: crate::verb(verb)?,
        resource,
        named,
        generate_name,
        resource_version,
        patch,
        object_body,
        adopt_existing,
        can_get,
        can_list,
        missing_ok,
    });
    Ok((chosen.recovery.as_str(), chosen.stamp.as_str()))
}
