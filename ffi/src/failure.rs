//! The failure builder: what a C or Go caller extracts from its error.

use std::ffi::c_char;

use k8sretry::Failure;

use crate::guard::*;
use crate::status::*;
use crate::types::verb_from;

/// A failure being described; one thread at a time.
#[derive(Default)]
pub struct k8sretry_failure {
    pub(crate) inner: Failure,
}

/// Applies `edit` to a live failure handle.
unsafe fn edit(
    failure: *mut k8sretry_failure,
    edit: impl FnOnce(&mut Failure) -> Result<(), k8sretry_status>,
) -> k8sretry_status {
    guard(|| edit(&mut unsafe { borrow_mut(failure) }?.inner))
}

/// Replaces `*f` with `change(f)`, for the core's by-value builder methods.
fn update(f: &mut Failure, change: impl FnOnce(Failure) -> Failure) {
    *f = change(std::mem::take(f));
}

/// Creates an empty failure (classified `FATAL` until something is set).
///
/// # Safety
/// `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_failure_new(out: *mut *mut k8sretry_failure) -> k8sretry_status {
    guard(|| {
        let out = out_arg(out)?;
        hand_out(k8sretry_failure::default(), out);
        Ok(())
    })
}

/// Clears every field, so one handle can describe the next attempt.
///
/// # Safety
/// `failure` is a live failure handle or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_failure_reset(failure: *mut k8sretry_failure) -> k8sretry_status {
    unsafe {
        edit(failure, |f| {
            *f = Failure::default();
            Ok(())
        })
    }
}

/// Sets the HTTP status (0 = no response).
///
/// # Safety
/// `failure` is a live failure handle or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_failure_set_status(
    failure: *mut k8sretry_failure,
    status: u16,
) -> k8sretry_status {
    unsafe {
        edit(failure, |f| {
            update(f, |f| f.with_status(status));
            Ok(())
        })
    }
}

/// Sets the Kubernetes `Status.reason`.
/// Read lossily (see the header's conventions).
///
/// # Safety
/// `failure` is a live failure handle or NULL; `reason` points to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_failure_set_reason(
    failure: *mut k8sretry_failure,
    reason: *const c_char,
    len: usize,
) -> k8sretry_status {
    unsafe {
        edit(failure, |f| {
            let reason = outside(reason, len)?;
            update(f, |f| f.with_reason(reason));
            Ok(())
        })
    }
}

/// Reads a raw Kubernetes `Status` JSON body for its reason, code and `retryAfterSeconds`
/// (fields already set win). Text that is not a `Status` changes nothing; read lossily.
///
/// # Safety
/// `failure` is a live failure handle or NULL; `body` points to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_failure_set_status_body(
    failure: *mut k8sretry_failure,
    body: *const c_char,
    len: usize,
) -> k8sretry_status {
    unsafe {
        edit(failure, |f| {
            let body = outside(body, len)?;
            update(f, |f| f.with_status_body(&body));
            Ok(())
        })
    }
}

/// Sets the raw `Retry-After` header value.
/// Read lossily (see the header's conventions).
///
/// # Safety
/// `failure` is a live failure handle or NULL; `value` points to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_failure_set_retry_after(
    failure: *mut k8sretry_failure,
    value: *const c_char,
    len: usize,
) -> k8sretry_status {
    unsafe {
        edit(failure, |f| {
            let value = outside(value, len)?;
            update(f, |f| f.with_retry_after(value));
            Ok(())
        })
    }
}

/// Sets `Status.details.retryAfterSeconds`.
///
/// # Safety
/// `failure` is a live failure handle or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_failure_set_retry_after_seconds(
    failure: *mut k8sretry_failure,
    seconds: i64,
) -> k8sretry_status {
    unsafe {
        edit(failure, |f| {
            update(f, |f| f.with_retry_after_seconds(seconds));
            Ok(())
        })
    }
}

/// Adds a network error code (`ECONNRESET`, `UND_ERR_SOCKET`, ...), outermost first.
/// Read lossily (see the header's conventions).
///
/// # Safety
/// `failure` is a live failure handle or NULL; `code` points to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_failure_add_code(
    failure: *mut k8sretry_failure,
    code: *const c_char,
    len: usize,
) -> k8sretry_status {
    unsafe {
        edit(failure, |f| {
            let code = outside(code, len)?;
            update(f, |f| f.with_code(code));
            Ok(())
        })
    }
}

/// Adds the code of an OS error number (`errno`), e.g. `ECONNRESET` for 104 on Linux.
///
/// # Safety
/// `failure` is a live failure handle or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_failure_add_errno(
    failure: *mut k8sretry_failure,
    errno_value: i32,
) -> k8sretry_status {
    unsafe {
        edit(failure, |f| {
            update(f, |f| f.with_errno(errno_value));
            Ok(())
        })
    }
}

/// Marks a client-side timeout.
///
/// # Safety
/// `failure` is a live failure handle or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_failure_set_timeout(
    failure: *mut k8sretry_failure,
    timeout: bool,
) -> k8sretry_status {
    unsafe {
        edit(failure, |f| {
            f.timeout = timeout;
            Ok(())
        })
    }
}

/// Marks a cancellation by the caller: never retried.
///
/// # Safety
/// `failure` is a live failure handle or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_failure_set_cancelled(
    failure: *mut k8sretry_failure,
    cancelled: bool,
) -> k8sretry_status {
    unsafe {
        edit(failure, |f| {
            f.cancelled = cancelled;
            Ok(())
        })
    }
}

/// Marks an error that the caller's own rule declares retryable.
///
/// # Safety
/// `failure` is a live failure handle or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_failure_set_user_retryable(
    failure: *mut k8sretry_failure,
    retryable: bool,
) -> k8sretry_status {
    unsafe {
        edit(failure, |f| {
            f.user_retryable = retryable;
            Ok(())
        })
    }
}

/// Sets the verb of the failed request (a `k8sretry_verb` value).
///
/// # Safety
/// `failure` is a live failure handle or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_failure_set_verb(
    failure: *mut k8sretry_failure,
    verb: u32,
) -> k8sretry_status {
    unsafe {
        edit(failure, |f| {
            f.verb = verb_from(verb)?;
            Ok(())
        })
    }
}

/// Sets the error's type name and message, which events report (the message through the rule of
/// `k8sretry_event.error`). Both are read lossily (see the header's conventions).
///
/// # Safety
/// `failure` is a live failure handle or NULL; the strings point to their lengths in bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_failure_set_error(
    failure: *mut k8sretry_failure,
    error_type: *const c_char,
    error_type_len: usize,
    message: *const c_char,
    message_len: usize,
) -> k8sretry_status {
    unsafe {
        edit(failure, |f| {
            let error_type = outside(error_type, error_type_len)?;
            let message = outside(message, message_len)?;
            update(f, |f| f.with_error(error_type, message));
            Ok(())
        })
    }
}

/// Frees a failure. NULL is a no-op.
///
/// # Safety
/// `failure` came from this library and is not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_failure_free(failure: *mut k8sretry_failure) {
    let _ = guard(|| {
        unsafe { take_back(failure) };
        Ok(())
    });
}
