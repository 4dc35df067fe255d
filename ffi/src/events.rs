//! The process-wide event callback for C and Go.

use std::ffi::{c_char, c_void};
use std::sync::{Arc, RwLock};

use k8sretry::{Event, EventCallback};

use crate::guard::*;
use crate::status::*;
use crate::types::*;

/// One event, valid only during the callback (copy what you keep).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct k8sretry_event {
    /// The event name (`k8s_api_call_failed_retrying`, ...), static and NUL-terminated.
    pub name: *const c_char,
    /// The call's function name.
    pub function: k8sretry_str,
    /// 1-based attempt the event is about.
    pub attempt: u32,
    /// The policy's max_retries.
    pub max_retries: u32,
    /// Delay before the next attempt in seconds, or a negative number when there is none.
    pub delay_seconds: f64,
    /// HTTP status, 0 when none.
    pub status_code: u16,
    /// `Status.reason` (len 0 when none).
    pub reason: k8sretry_str,
    /// First network code (len 0 when none).
    pub code: k8sretry_str,
    /// Error type name (len 0 when none).
    pub error_type: k8sretry_str,
    /// Error message (len 0 when none).
    pub error: k8sretry_str,
    /// Class of the failure (`K8SRETRY_CLASS_NONE` when none).
    pub class_: k8sretry_class,
    /// Why the call gave up (`K8SRETRY_GIVE_UP_NONE` when it did not).
    pub give_up_reason: k8sretry_give_up_reason,
}

/// Receives events. Called from the thread that reported the failure or success.
pub type k8sretry_event_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, event: *const k8sretry_event)>;

#[derive(Clone, Copy)]
struct Registered {
    callback: unsafe extern "C" fn(*mut c_void, *const k8sretry_event),
    userdata: *mut c_void,
}

// The caller promises (header comment) that the callback and userdata may be used from any thread.
unsafe impl Send for Registered {}
unsafe impl Sync for Registered {}

static CALLBACK: RwLock<Option<Registered>> = RwLock::new(None);

/// Sets (or, with NULL, clears) the process-wide event callback. `callback` must be safe to call
/// from any thread with `userdata`; it is not called any more once this returns with another value.
///
/// # Safety
/// `callback`, if not NULL, stays callable with `userdata` until replaced.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_set_event_callback(
    callback: k8sretry_event_fn,
    userdata: *mut c_void,
) -> k8sretry_status {
    guard(|| {
        let mut slot = CALLBACK.write().unwrap_or_else(|p| p.into_inner());
        *slot = callback.map(|callback| Registered { callback, userdata });
        Ok(())
    })
}

/// The callback every FFI-made policy carries: forwards to whatever C callback is registered.
pub(crate) fn forwarder() -> EventCallback {
    Arc::new(|event: &Event<'_>| {
        let registered = *CALLBACK.read().unwrap_or_else(|p| p.into_inner());
        let Some(Registered { callback, userdata }) = registered else {
            return;
        };
        let c_event = k8sretry_event {
            name: event_name(event.kind.name()),
            function: k8sretry_str::of(Some(event.function)),
            attempt: event.attempt,
            max_retries: event.max_retries,
            delay_seconds: event.delay_seconds.unwrap_or(-1.0),
            status_code: event.status_code.unwrap_or(0),
            reason: k8sretry_str::of(event.reason),
            code: k8sretry_str::of(event.code),
            error_type: k8sretry_str::of(event.error_type),
            error: k8sretry_str::of(event.error),
            class_: event
                .class
                .map_or(k8sretry_class::K8SRETRY_CLASS_NONE, Into::into),
            give_up_reason: event.give_up.into(),
        };
        unsafe { callback(userdata, &c_event) };
    })
}

/// The static NUL-terminated copy of an event name.
fn event_name(name: &str) -> *const c_char {
    const NAMES: [&str; 8] = [
        "k8s_api_call_failed_retrying\0",
        "k8s_api_call_succeeded_after_retry\0",
        "k8s_api_call_failed_max_retries\0",
        "k8s_api_call_failed_non_retryable\0",
        "k8s_api_call_recovered_lost_response\0",
        "k8s_api_call_budget_exhausted\0",
        "k8s_api_call_circuit_open\0",
        "k8s_api_call_deadline_exceeded\0",
    ];
    NAMES
        .iter()
        .find(|n| n.strip_suffix('\0') == Some(name))
        .map_or(c"unknown".as_ptr(), |n| n.as_ptr().cast())
}
