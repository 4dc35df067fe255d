//! Status codes. Numbers are never reused: a retired status keeps its number.

use std::ffi::{CStr, CString, c_char};
use std::sync::OnceLock;

/// The message of `K8SRETRY_STATUS_UNKNOWN_PRESET`, naming the presets the core has.
fn unknown_preset_message() -> &'static CStr {
    static MESSAGE: OnceLock<CString> = OnceLock::new();
    MESSAGE.get_or_init(|| {
        let text = format!(
            "unknown preset (expected one of: {})",
            k8sretry::PRESETS.join(", ")
        );
        CString::new(text).unwrap_or_default()
    })
}

/// The result of every function. `K8SRETRY_STATUS_OK` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum k8sretry_status {
    /// Success.
    K8SRETRY_STATUS_OK = 0,
    /// A required pointer was NULL.
    K8SRETRY_STATUS_NULL_ARGUMENT = 1,
    /// A string was not valid UTF-8.
    K8SRETRY_STATUS_INVALID_UTF8 = 2,
    /// A number or name was out of range (an unknown verb, a negative delay, ...).
    K8SRETRY_STATUS_INVALID_ARGUMENT = 3,
    /// No preset has that name.
    K8SRETRY_STATUS_UNKNOWN_PRESET = 4,
    /// The policy JSON was malformed, had unknown keys, or out-of-range values.
    K8SRETRY_STATUS_INVALID_POLICY = 5,
    /// The call has finished (succeeded, recovered or gave up) and takes no more reports.
    K8SRETRY_STATUS_CALL_FINISHED = 6,
    /// A Rust panic was caught at the boundary; the library state is still consistent.
    K8SRETRY_STATUS_PANIC = 7,
    /// A step the call did not ask for: a read-back result while none is pending, or an attempt's
    /// failure while a read-back result is expected.
    K8SRETRY_STATUS_OUT_OF_ORDER = 8,
}

pub use k8sretry_status::*;

/// A static, NUL-terminated description of `status` (any number; unknown ones say so).
#[unsafe(no_mangle)]
pub extern "C" fn k8sretry_status_message(status: u32) -> *const c_char {
    let text: &'static [u8] = match status {
        0 => b"ok\0",
        1 => b"a required pointer argument was NULL\0",
        2 => b"a string argument was not valid UTF-8\0",
        3 => b"an argument was out of range\0",
        4 => return unknown_preset_message().as_ptr(),
        5 => b"invalid policy JSON (unknown key, wrong type or out-of-range value)\0",
        6 => b"the call has already finished\0",
        7 => b"internal error: a panic was caught at the FFI boundary\0",
        8 => b"step out of order: the call did not ask for it\0",
        _ => b"unknown status code\0",
    };
    text.as_ptr().cast()
}
