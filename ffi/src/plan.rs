//! `k8sretry_plan`: how a write is made safe to resend, chosen by the core from what the caller
//! knows about it (DESIGN §4).

use std::ffi::c_char;

use k8sretry::plan::{self, PatchType, Request, Stamp};

use crate::guard::*;
use crate::status::*;
use crate::types::*;

/// The patch type of a PATCH, as the client sends it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum k8sretry_patch_type {
    /// Not a PATCH, or not known (a PATCH of unknown type is not resent after a lost response).
    K8SRETRY_PATCH_NONE = 0,
    /// `application/merge-patch+json`.
    K8SRETRY_PATCH_MERGE = 1,
    /// `application/strategic-merge-patch+json`.
    K8SRETRY_PATCH_STRATEGIC = 2,
    /// `application/apply-patch+yaml` (server-side apply).
    K8SRETRY_PATCH_APPLY = 3,
    /// `application/json-patch+json` (RFC 6902).
    K8SRETRY_PATCH_JSON = 4,
}

/// What to stamp on a body before the first attempt.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum k8sretry_stamp {
    /// Send the body as given.
    K8SRETRY_STAMP_NONE = 0,
    /// Add annotation `k8sretry.dev/request-id` with a fresh request id.
    K8SRETRY_STAMP_ANNOTATION = 1,
    /// Add annotation and label `k8sretry.dev/request-id` (a generateName create).
    K8SRETRY_STAMP_ANNOTATION_AND_LABEL = 2,
}

impl From<Option<PatchType>> for k8sretry_patch_type {
    fn from(patch: Option<PatchType>) -> k8sretry_patch_type {
        use k8sretry_patch_type::*;
        match patch {
            None => K8SRETRY_PATCH_NONE,
            Some(PatchType::Merge) => K8SRETRY_PATCH_MERGE,
            Some(PatchType::Strategic) => K8SRETRY_PATCH_STRATEGIC,
            Some(PatchType::Apply) => K8SRETRY_PATCH_APPLY,
            Some(PatchType::Json) => K8SRETRY_PATCH_JSON,
        }
    }
}

fn patch_from(n: u32) -> Result<Option<PatchType>, k8sretry_status> {
    [None]
        .into_iter()
        .chain(PatchType::ALL.map(Some))
        .find(|p| k8sretry_patch_type::from(*p) as u32 == n)
        .ok_or(K8SRETRY_STATUS_INVALID_ARGUMENT)
}

impl From<Stamp> for k8sretry_stamp {
    fn from(stamp: Stamp) -> k8sretry_stamp {
        use k8sretry_stamp::*;
        match stamp {
            Stamp::None => K8SRETRY_STAMP_NONE,
            Stamp::Annotation => K8SRETRY_STAMP_ANNOTATION,
            Stamp::AnnotationAndLabel => K8SRETRY_STAMP_ANNOTATION_AND_LABEL,
        }
    }
}

/// What the caller knows about one request. A zeroed struct is the safe request: every fact
/// unknown, nothing adopted (a zeroed POST or PATCH is not resent after a lost response).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct k8sretry_request {
    /// A `k8sretry_verb`.
    pub verb: u32,
    /// The resource as a kind, a resource name or a client method name (may be NULL with
    /// length 0): tells creates that persist nothing (reviews, token requests).
    pub resource: *const c_char,
    /// Length of `resource` in bytes.
    pub resource_len: usize,
    /// The body has `metadata.name`.
    pub named: bool,
    /// The body has `metadata.generateName` and no name.
    pub generate_name: bool,
    /// The body has `metadata.resourceVersion`.
    pub resource_version: bool,
    /// A `k8sretry_patch_type` (`k8sretry_patch_type_of` maps a Content-Type header).
    pub patch_type: u32,
    /// The body of a PATCH is known to be a JSON object (not a list): safe to resend whatever
    /// its content type (a JSON patch must be a list, so the apiserver refuses an object
    /// labelled as one without applying it).
    pub object_body: bool,
    /// Opt-in: a create adopts an object that already exists under its name (unstamped, any
    /// `AlreadyExists` after a lost response returns whatever is there). False (zero), the
    /// default: the body is stamped with the call's request id and only an object carrying it
    /// is taken as this call's write.
    pub adopt_existing: bool,
    /// The object can be read back by name.
    pub can_get: bool,
    /// The collection can be listed by label.
    pub can_list: bool,
    /// A delete that also accepts a first-attempt NotFound.
    pub missing_ok: bool,
}

/// The recovery to begin the call with and the stamp to put on the body.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct k8sretry_plan {
    /// A `k8sretry_recovery` for `k8sretry_call_begin`.
    pub recovery: u32,
    /// A `k8sretry_stamp`.
    pub stamp: u32,
}

/// Chooses the recovery and the stamp for `request`.
///
/// # Safety
/// `request` is readable (its `resource` points to `resource_len` readable bytes or is NULL
/// with length 0); `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_plan_choose(
    request: *const k8sretry_request,
    out: *mut k8sretry_plan,
) -> k8sretry_status {
    guard(|| {
        let out = out_arg(out)?;
        let r = unsafe { borrow(request) }?;
        let resource = unsafe { text(r.resource, r.resource_len) }?;
        let chosen = plan::choose(&Request {
            verb: verb_from(r.verb)?,
            resource,
            named: r.named,
            generate_name: r.generate_name,
            resource_version: r.resource_version,
            patch: patch_from(r.patch_type)?,
            object_body: r.object_body,
            adopt_existing: r.adopt_existing,
            can_get: r.can_get,
            can_list: r.can_list,
            missing_ok: r.missing_ok,
        });
        unsafe {
            *out = k8sretry_plan {
                recovery: recovery_number(chosen.recovery),
                stamp: k8sretry_stamp::from(chosen.stamp) as u32,
            }
        };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_numbers_round_trip() {
        for p in [None].into_iter().chain(PatchType::ALL.map(Some)) {
            assert_eq!(patch_from(k8sretry_patch_type::from(p) as u32), Ok(p));
        }
        assert_eq!(patch_from(5), Err(K8SRETRY_STATUS_INVALID_ARGUMENT));
    }

    /// A zeroed request never adopts: a named create that can be read back is stamped.
    #[test]
    fn a_zeroed_request_is_the_safe_one() {
        let mut r: k8sretry_request = unsafe { std::mem::zeroed() };
        let mut out = k8sretry_plan {
            recovery: 99,
            stamp: 99,
        };
        r.verb = k8sretry_verb::K8SRETRY_VERB_POST as u32;
        assert_eq!(
            unsafe { k8sretry_plan_choose(&r, &mut out) },
            K8SRETRY_STATUS_OK
        );
        assert_eq!(
            out.recovery,
            k8sretry_recovery::K8SRETRY_RECOVERY_NONE as u32
        );
        r.named = true;
        r.can_get = true;
        assert_eq!(
            unsafe { k8sretry_plan_choose(&r, &mut out) },
            K8SRETRY_STATUS_OK
        );
        assert_eq!(
            out.recovery,
            k8sretry_recovery::K8SRETRY_RECOVERY_CREATE as u32
        );
        assert_eq!(out.stamp, k8sretry_stamp::K8SRETRY_STAMP_ANNOTATION as u32);
    }

    #[test]
    fn recovery_numbers_round_trip() {
        for n in 0..=9 {
            assert_eq!(recovery_number(recovery_from(n).unwrap()), n);
        }
    }
}
