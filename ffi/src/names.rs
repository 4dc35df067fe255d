//! The core's names, handed out as static NUL-terminated strings: presets, classes, give-up
//! reasons, event names, patch types by content type. Bindings ask here instead of keeping
//! copies (one source for every name).

use std::ffi::{CString, c_char};
use std::sync::OnceLock;

use k8sretry::plan::PatchType;
use k8sretry::{Class, GiveUpReason, PRESETS};

use crate::guard::*;
use crate::plan::k8sretry_patch_type;
use crate::status::*;

/// NUL-terminated copies of `names`, made once and kept for the life of the process.
fn c_names(
    cell: &'static OnceLock<Vec<CString>>,
    names: fn() -> Vec<&'static str>,
) -> &'static [CString] {
    cell.get_or_init(|| {
        names()
            .into_iter()
            .map(|n| CString::new(n).expect("core names hold no NUL"))
            .collect()
    })
}

/// The `index`th entry of `names` as a static C string, or `fallback` past the end.
fn nth(
    names: &'static [CString],
    index: usize,
    fallback: &'static std::ffi::CStr,
) -> *const c_char {
    names.get(index).map_or(fallback.as_ptr(), |n| n.as_ptr())
}

/// The name of the `index`th preset (0-based: `default`, `mutation`, ...), static and
/// NUL-terminated; NULL past the last, so `for (i = 0; k8sretry_preset_name(i); i++)` lists them.
#[unsafe(no_mangle)]
pub extern "C" fn k8sretry_preset_name(index: usize) -> *const c_char {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    let names = c_names(&NAMES, || PRESETS.to_vec());
    names.get(index).map_or(std::ptr::null(), |n| n.as_ptr())
}

/// A static, NUL-terminated name of a `k8sretry_class` (`Throttled`, ...; `None` for
/// `K8SRETRY_CLASS_NONE`, `Unknown` past the last).
#[unsafe(no_mangle)]
pub extern "C" fn k8sretry_class_name(class: u32) -> *const c_char {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    let names = c_names(&NAMES, || {
        std::iter::once("None")
            .chain(Class::ALL.map(Class::as_str))
            .collect()
    });
    nth(names, class as usize, c"Unknown")
}

/// A static, NUL-terminated name of a `k8sretry_give_up_reason` (`MaxRetries`, ...; `None` for
/// `K8SRETRY_GIVE_UP_NONE`, `Unknown` past the last).
#[unsafe(no_mangle)]
pub extern "C" fn k8sretry_give_up_reason_name(reason: u32) -> *const c_char {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    let names = c_names(&NAMES, || {
        std::iter::once("None")
            .chain(GiveUpReason::ALL.map(GiveUpReason::as_str))
            .collect()
    });
    nth(names, reason as usize, c"Unknown")
}

/// A static, NUL-terminated name of a `k8sretry_level`: `debug`, `info`, `warn`, `error`
/// (`unknown` for any other number).
#[unsafe(no_mangle)]
pub extern "C" fn k8sretry_level_name(level: u32) -> *const c_char {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    let names = c_names(&NAMES, || {
        k8sretry::EVENT_LEVELS.map(k8sretry::level_name).to_vec()
    });
    match level.checked_sub(1) {
        Some(i) => nth(names, i as usize, c"unknown"),
        None => c"unknown".as_ptr(),
    }
}

/// The static NUL-terminated copy of an event name (`unknown` for a name the core never emits).
pub(crate) fn event_name(name: &str) -> *const c_char {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    let names = c_names(&NAMES, || {
        k8sretry::EventKind::ALL
            .map(k8sretry::EventKind::name)
            .to_vec()
    });
    names
        .iter()
        .find(|n| n.to_bytes() == name.as_bytes())
        .map_or(c"unknown".as_ptr(), |n| n.as_ptr())
}

/// The patch type of a PATCH whose `Content-Type` header is `content_type`
/// (`application/merge-patch+json; charset=utf-8`, ...): `K8SRETRY_PATCH_NONE` for a content
/// type the Kubernetes API does not take as a patch (such a PATCH is not resent after a lost
/// response).
///
/// # Safety
/// `content_type` points to `len` readable bytes (or is NULL with length 0); `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_patch_type_of(
    content_type: *const c_char,
    len: usize,
    out: *mut k8sretry_patch_type,
) -> k8sretry_status {
    guard(|| {
        let out = out_arg(out)?;
        // Header text comes from outside the program: read lossily (a bad byte never matches).
        let text = unsafe { outside(content_type, len) }?;
        let patch = PatchType::from_content_type(&text);
        unsafe { *out = k8sretry_patch_type::from(patch) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::k8sretry_give_up_reason;
    use std::ffi::CStr;

    fn s(p: *const c_char) -> &'static str {
        unsafe { CStr::from_ptr(p) }.to_str().unwrap()
    }

    #[test]
    fn names_are_the_core_names() {
        for reason in GiveUpReason::ALL {
            let n = k8sretry_give_up_reason::from(Some(reason)) as u32;
            assert_eq!(s(k8sretry_give_up_reason_name(n)), reason.as_str());
        }
        assert_eq!(s(k8sretry_give_up_reason_name(0)), "None");
        assert_eq!(s(k8sretry_give_up_reason_name(99)), "Unknown");
        for class in Class::ALL {
            let n = crate::types::k8sretry_class::from(class) as u32;
            assert_eq!(s(k8sretry_class_name(n)), class.as_str());
        }
        assert_eq!(s(k8sretry_class_name(0)), "None");
        assert_eq!(s(k8sretry_class_name(11)), "Unknown");
        let presets: Vec<&str> = (0..)
            .map(|i: usize| k8sretry_preset_name(i))
            .take_while(|p| !p.is_null())
            .map(s)
            .collect();
        assert_eq!(presets, PRESETS);
        for kind in k8sretry::EventKind::ALL {
            assert_eq!(s(event_name(kind.name())), kind.name());
        }
        assert_eq!(s(event_name("nope")), "unknown");
        use crate::events::k8sretry_level::*;
        for (level, name) in [
            (K8SRETRY_LEVEL_DEBUG, "debug"),
            (K8SRETRY_LEVEL_INFO, "info"),
            (K8SRETRY_LEVEL_WARN, "warn"),
            (K8SRETRY_LEVEL_ERROR, "error"),
        ] {
            assert_eq!(s(k8sretry_level_name(level as u32)), name);
        }
        assert_eq!(s(k8sretry_level_name(0)), "unknown");
        assert_eq!(s(k8sretry_level_name(5)), "unknown");
    }

    #[test]
    fn patch_types_by_content_type() {
        let of = |ct: &str| {
            let mut out = k8sretry_patch_type::K8SRETRY_PATCH_JSON;
            let st = unsafe { k8sretry_patch_type_of(ct.as_ptr().cast(), ct.len(), &mut out) };
            assert_eq!(st, K8SRETRY_STATUS_OK);
            out
        };
        for (ct, patch) in k8sretry::PATCH_CONTENT_TYPES {
            assert_eq!(of(ct), k8sretry_patch_type::from(Some(patch)), "{ct}");
        }
        assert_eq!(
            of("application/apply-patch+json; charset=utf-8"),
            k8sretry_patch_type::K8SRETRY_PATCH_APPLY
        );
        assert_eq!(of("merge"), k8sretry_patch_type::K8SRETRY_PATCH_NONE);
        assert_eq!(of(""), k8sretry_patch_type::K8SRETRY_PATCH_NONE);
    }
}
