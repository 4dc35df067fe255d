//! The panic boundary and argument checks shared by every entry point.

use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::status::*;

/// Runs `body`, turning a panic into `K8SRETRY_STATUS_PANIC`.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), k8sretry_status>) -> k8sretry_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => K8SRETRY_STATUS_OK,
        Ok(Err(status)) => status,
        Err(_) => K8SRETRY_STATUS_PANIC,
    }
}

/// Borrows a handle, or fails with `NULL_ARGUMENT`.
pub(crate) unsafe fn borrow<'a, T>(ptr: *const T) -> Result<&'a T, k8sretry_status> {
    unsafe { ptr.as_ref() }.ok_or(K8SRETRY_STATUS_NULL_ARGUMENT)
}

/// Borrows a handle mutably, or fails with `NULL_ARGUMENT`.
pub(crate) unsafe fn borrow_mut<'a, T>(ptr: *mut T) -> Result<&'a mut T, k8sretry_status> {
    unsafe { ptr.as_mut() }.ok_or(K8SRETRY_STATUS_NULL_ARGUMENT)
}

/// Checks an out-param before any work, so a NULL is reported before side effects.
pub(crate) fn out_arg<T>(ptr: *mut T) -> Result<*mut T, k8sretry_status> {
    if ptr.is_null() {
        Err(K8SRETRY_STATUS_NULL_ARGUMENT)
    } else {
        Ok(ptr)
    }
}

/// Borrows a (pointer, length) string. NULL is allowed only with length 0; a length above
/// `isize::MAX` cannot describe real memory and is an invalid argument.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, len: usize) -> Result<&'a str, k8sretry_status> {
    unsafe { bytes(ptr, len) }
        .and_then(|b| std::str::from_utf8(b).map_err(|_| K8SRETRY_STATUS_INVALID_UTF8))
}

/// Borrows (pointer, length) text from outside (a body, a header, a message): invalid UTF-8 is
/// decoded lossily, as in every binding (core's `outside_text`).
pub(crate) unsafe fn outside<'a>(
    ptr: *const c_char,
    len: usize,
) -> Result<std::borrow::Cow<'a, str>, k8sretry_status> {
    unsafe { bytes(ptr, len) }.map(k8sretry::outside_text)
}

/// Borrows (pointer, length) bytes; see [`text`].
pub(crate) unsafe fn bytes<'a>(
    ptr: *const c_char,
    len: usize,
) -> Result<&'a [u8], k8sretry_status> {
    if len > isize::MAX as usize {
        return Err(K8SRETRY_STATUS_INVALID_ARGUMENT);
    }
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(K8SRETRY_STATUS_NULL_ARGUMENT)
        };
    }
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

/// Moves `value` to the heap and hands the pointer out.
pub(crate) fn hand_out<T>(value: T, out: *mut *mut T) {
    unsafe { *out = Box::into_raw(Box::new(value)) };
}

/// Frees a handle made by `hand_out`; NULL is a no-op.
pub(crate) unsafe fn take_back<T>(ptr: *mut T) {
    if !ptr.is_null() {
        drop(unsafe { Box::from_raw(ptr) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_status() {
        let status = guard(|| panic!("boom"));
        assert_eq!(status, K8SRETRY_STATUS_PANIC);
    }

    #[test]
    fn strings_are_checked() {
        let bad = [0xffu8, 0xfe];
        assert_eq!(
            unsafe { text(bad.as_ptr().cast(), 2) },
            Err(K8SRETRY_STATUS_INVALID_UTF8)
        );
        assert_eq!(
            unsafe { text(std::ptr::null(), 3) },
            Err(K8SRETRY_STATUS_NULL_ARGUMENT)
        );
        assert_eq!(unsafe { text(std::ptr::null(), 0) }, Ok(""));
    }
}
