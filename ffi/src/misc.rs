//! Version, classification, Retry-After, delays and metrics.

use std::ffi::{CString, c_char};

use crate::failure::k8sretry_failure;
use crate::guard::*;
use crate::policy::k8sretry_policy;
use crate::status::*;
use crate::types::*;

/// The library version, static and NUL-terminated (compare with `K8SRETRY_VERSION_STRING`).
#[unsafe(no_mangle)]
pub extern "C" fn k8sretry_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Classifies `failure` with `policy`'s status and code sets.
///
/// # Safety
/// `policy` and `failure` are live handles or NULL; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_classify(
    policy: *const k8sretry_policy,
    failure: *const k8sretry_failure,
    out: *mut k8sretry_class,
) -> k8sretry_status {
    guard(|| {
        let out = out_arg(out)?;
        let (policy, failure) = unsafe { (borrow(policy)?, borrow(failure)?) };
        unsafe { *out = policy.inner.classify(&failure.inner).into() };
        Ok(())
    })
}

/// Whether `failure` is retryable at all under `policy` (ignoring verb, budget and count).
///
/// # Safety
/// `policy` and `failure` are live handles or NULL; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_is_retryable(
    policy: *const k8sretry_policy,
    failure: *const k8sretry_failure,
    out: *mut bool,
) -> k8sretry_status {
    guard(|| {
        let out = out_arg(out)?;
        let (policy, failure) = unsafe { (borrow(policy)?, borrow(failure)?) };
        unsafe { *out = policy.inner.is_retryable(&failure.inner) };
        Ok(())
    })
}

/// Parses a `Retry-After` value at `now_unix` (seconds since the epoch). Writes whether it is
/// a hint to `out_found` and, if so, the seconds to wait to `out_seconds` (else 0).
///
/// # Safety
/// `value` points to `len` readable bytes; the out-params are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_parse_retry_after(
    value: *const c_char,
    len: usize,
    now_unix: f64,
    out_found: *mut bool,
    out_seconds: *mut f64,
) -> k8sretry_status {
    guard(|| {
        let (found, seconds) = (out_arg(out_found)?, out_arg(out_seconds)?);
        let value = unsafe { outside(value, len) }?;
        let hint = k8sretry::parse_retry_after(&value, now_unix);
        unsafe {
            *found = hint.is_some();
            *seconds = hint.unwrap_or(0.0);
        }
        Ok(())
    })
}

/// The delay before the retry after 0-based attempt `attempt`: max(capped server hint, backoff),
/// in nanoseconds (the runner hooks' `retryAfterDelay`).
///
/// # Safety
/// `policy` and `failure` are live handles or NULL; `out_nanos` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_retry_delay(
    policy: *const k8sretry_policy,
    failure: *const k8sretry_failure,
    attempt: u32,
    out_nanos: *mut u64,
) -> k8sretry_status {
    guard(|| {
        let out = out_arg(out_nanos)?;
        let (policy, failure) = unsafe { (borrow(policy)?, borrow(failure)?) };
        let delay = policy.inner.retry_delay(&failure.inner, attempt);
        unsafe { *out = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX) };
        Ok(())
    })
}

/// All metrics in Prometheus text format, as a new NUL-terminated string that the caller frees
/// with `k8sretry_string_free`.
///
/// # Safety
/// `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_metrics_text(out: *mut *mut c_char) -> k8sretry_status {
    guard(|| {
        let out = out_arg(out)?;
        // Function names come from callers and may hold NUL bytes; a C string cannot.
        let text = k8sretry::metrics_text().replace('\0', "\\0");
        let text = CString::new(text).map_err(|_| K8SRETRY_STATUS_PANIC)?;
        unsafe { *out = text.into_raw() };
        Ok(())
    })
}

/// Frees a string returned by this library. NULL is a no-op.
///
/// # Safety
/// `s` came from `k8sretry_metrics_text` and is not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_string_free(s: *mut c_char) {
    let _ = guard(|| {
        if !s.is_null() {
            drop(unsafe { CString::from_raw(s) });
        }
        Ok(())
    });
}
