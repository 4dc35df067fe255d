//! Policy and clock handles.

use std::ffi::c_char;
use std::sync::Arc;

use k8sretry::{ManualClock, Policy, PolicyBuilder, PolicyError};

use crate::events::forwarder;
use crate::guard::*;
use crate::status::*;

/// An immutable retry policy; share it freely between threads.
pub struct k8sretry_policy {
    pub(crate) inner: Policy,
}

/// A manual clock for tests and conformance vectors: it moves only when advanced.
pub struct k8sretry_clock {
    inner: Arc<ManualClock>,
}

/// Every policy made here forwards its events to the process-wide C callback.
fn build(builder: PolicyBuilder) -> Result<k8sretry_policy, PolicyError> {
    Ok(k8sretry_policy {
        inner: builder.on_event(Some(forwarder())).build()?,
    })
}

fn status_of(error: &PolicyError) -> k8sretry_status {
    match error {
        PolicyError::UnknownPreset(_) => K8SRETRY_STATUS_UNKNOWN_PRESET,
        _ => K8SRETRY_STATUS_INVALID_POLICY,
    }
}

/// Copies `message` into `buf`, NUL-terminated and truncated to `buf_len` bytes on a character
/// boundary (what is written is always whole UTF-8); no-op when `buf` is NULL.
fn write_message(message: &str, buf: *mut c_char, buf_len: usize) {
    if buf.is_null() || buf_len == 0 {
        return;
    }
    let mut n = message.len().min(buf_len - 1);
    while !message.is_char_boundary(n) {
        n -= 1;
    }
    unsafe {
        std::ptr::copy_nonoverlapping(message.as_ptr(), buf.cast::<u8>(), n);
        *buf.add(n) = 0;
    }
}

/// Creates the preset named `name` (one of those `k8sretry_preset_name` lists).
///
/// # Safety
/// `name` points to `name_len` readable bytes; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_policy_new_preset(
    name: *const c_char,
    name_len: usize,
    out: *mut *mut k8sretry_policy,
) -> k8sretry_status {
    guard(|| {
        let out = out_arg(out)?;
        let name = unsafe { text(name, name_len) }?;
        let policy = PolicyBuilder::preset(name)
            .and_then(build)
            .map_err(|e| status_of(&e))?;
        hand_out(policy, out);
        Ok(())
    })
}

/// Creates a policy from JSON (the keys of DESIGN §6; see tests/vectors/README.md).
/// `clock` may be NULL (the system clock). On `K8SRETRY_STATUS_INVALID_POLICY` or
/// `K8SRETRY_STATUS_UNKNOWN_PRESET`, a NUL-terminated message naming the bad key is written to
/// `err_buf` when it is not NULL (truncated to `err_buf_len` bytes).
///
/// # Safety
/// `json` points to `json_len` readable bytes; `out` is writable; `err_buf`, if not NULL, has
/// `err_buf_len` writable bytes; `clock`, if not NULL, is a live clock handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_policy_from_json(
    json: *const c_char,
    json_len: usize,
    clock: *const k8sretry_clock,
    out: *mut *mut k8sretry_policy,
    err_buf: *mut c_char,
    err_buf_len: usize,
) -> k8sretry_status {
    guard(|| {
        let out = out_arg(out)?;
        let json = unsafe { text(json, json_len) }?;
        let clock = unsafe { clock.as_ref() };
        let policy = PolicyBuilder::from_json(json)
            .map(|b| match clock {
                Some(clock) => b.clock(clock.inner.clone()),
                None => b,
            })
            .and_then(build)
            .map_err(|e| {
                write_message(&e.to_string(), err_buf, err_buf_len);
                status_of(&e)
            })?;
        hand_out(policy, out);
        Ok(())
    })
}

/// The number of retries the policy allows after the first attempt.
///
/// # Safety
/// `policy` is a live policy handle or NULL; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_policy_max_retries(
    policy: *const k8sretry_policy,
    out: *mut u32,
) -> k8sretry_status {
    guard(|| {
        let out = out_arg(out)?;
        let policy = unsafe { borrow(policy) }?;
        unsafe { *out = policy.inner.max_retries() };
        Ok(())
    })
}

/// Frees a policy. Calls begun from it keep their own reference. NULL is a no-op.
///
/// # Safety
/// `policy` came from this library and is not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_policy_free(policy: *mut k8sretry_policy) {
    let _ = guard(|| {
        unsafe { take_back(policy) };
        Ok(())
    });
}

/// Creates a manual clock standing at `start_unix` seconds since the Unix epoch.
///
/// # Safety
/// `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_clock_new_manual(
    start_unix: f64,
    out: *mut *mut k8sretry_clock,
) -> k8sretry_status {
    guard(|| {
        let out = out_arg(out)?;
        if !start_unix.is_finite() {
            return Err(K8SRETRY_STATUS_INVALID_ARGUMENT);
        }
        hand_out(
            k8sretry_clock {
                inner: Arc::new(ManualClock::new(start_unix)),
            },
            out,
        );
        Ok(())
    })
}

/// Moves a manual clock forward by `seconds` (finite, >= 0).
///
/// # Safety
/// `clock` is a live clock handle or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_clock_advance(
    clock: *const k8sretry_clock,
    seconds: f64,
) -> k8sretry_status {
    guard(|| {
        let clock = unsafe { borrow(clock) }?;
        if !(seconds.is_finite() && seconds >= 0.0) {
            return Err(K8SRETRY_STATUS_INVALID_ARGUMENT);
        }
        clock.inner.advance_seconds(seconds);
        Ok(())
    })
}

/// Frees a clock; policies built with it keep their own reference. NULL is a no-op.
///
/// # Safety
/// `clock` came from this library and is not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_clock_free(clock: *mut k8sretry_clock) {
    let _ = guard(|| {
        unsafe { take_back(clock) };
        Ok(())
    });
}
