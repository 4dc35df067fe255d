//! `k8sretry_plan`: how a write is made safe to resend, chosen by the core from what the caller
//! knows about it (DESIGN §2.5); and the names of the enums, for bindings that print them.

use std::ffi::c_char;

use k8sretry::GiveUpReason;
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

/// What the caller knows about one request. Zeroed fields are the safe side.
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
    /// A `k8sretry_patch_type`.
    pub patch_type: u32,
    /// Stamp the body and check the stamp on read-back.
    pub ownership: bool,
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
        let patch = match r.patch_type {
            0 => None,
            1 => Some(PatchType::Merge),
            2 => Some(PatchType::Strategic),
            3 => Some(PatchType::Apply),
            4 => Some(PatchType::Json),
            _ => return Err(K8SRETRY_STATUS_INVALID_ARGUMENT),
        };
        let chosen = plan::choose(&Request {
            verb: verb_from(r.verb)?,
            resource,
            named: r.named,
            generate_name: r.generate_name,
            resource_version: r.resource_version,
            patch,
            ownership: r.ownership,
            can_get: r.can_get,
            can_list: r.can_list,
            missing_ok: r.missing_ok,
        });
        unsafe {
            *out = k8sretry_plan {
                recovery: recovery_number(chosen.recovery),
                stamp: match chosen.stamp {
                    Stamp::None => 0,
                    Stamp::Annotation => 1,
                    Stamp::AnnotationAndLabel => 2,
                },
            }
        };
        Ok(())
    })
}

/// A static, NUL-terminated name of a `k8sretry_give_up_reason` (`MaxRetries`, ...; `None` for
/// `K8SRETRY_GIVE_UP_NONE`, `Unknown` past the last).
#[unsafe(no_mangle)]
pub extern "C" fn k8sretry_give_up_reason_name(reason: u32) -> *const c_char {
    const NAMES: [&[u8]; 11] = [
        b"None\0",
        b"Cancelled\0",
        b"NonRetryable\0",
        b"NotIdempotent\0",
        b"MaxRetries\0",
        b"CircuitOpen\0",
        b"Deadline\0",
        b"BudgetExhausted\0",
        b"OutcomeUnknown\0",
        b"RetryAfterTooLong\0",
        b"Nested\0",
    ];
    debug_assert_eq!(NAMES.len(), GiveUpReason::ALL.len() + 1);
    NAMES
        .get(reason as usize)
        .copied()
        .unwrap_or(b"Unknown\0")
        .as_ptr()
        .cast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn give_up_names_are_the_core_names() {
        for reason in GiveUpReason::ALL {
            let n = k8sretry_give_up_reason::from(Some(reason)) as u32;
            let name = unsafe { CStr::from_ptr(k8sretry_give_up_reason_name(n)) };
            assert_eq!(name.to_str().unwrap(), reason.as_str());
        }
    }

    #[test]
    fn recovery_numbers_round_trip() {
        for n in 0..=9 {
            assert_eq!(recovery_number(recovery_from(n).unwrap()), n);
        }
    }
}
