//! The process-wide event callback for C and Go.

use std::cell::RefCell;
use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use k8sretry::{Event, EventCallback};

use crate::guard::*;
use crate::names::event_name;
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
    /// Error message (len 0 when none), as events carry it (DESIGN §7): the first line, nothing
    /// from the first `{` or `<` on, credentials (`Bearer <token>`, `password=...`, URL user info,
    /// base64 and hex keys) replaced by `[redacted]`, at most 256 bytes, whole UTF-8; `…` ends
    /// text that was cut. `reason` goes through the same rule.
    pub error: k8sretry_str,
    /// Class of the failure (`K8SRETRY_CLASS_NONE` when none).
    pub class_: k8sretry_class,
    /// Why the call gave up (`K8SRETRY_GIVE_UP_NONE` when it did not).
    pub give_up_reason: k8sretry_give_up_reason,
    /// The level to log the event at, the core's rule (DESIGN §7): map it to your logger's
    /// levels and decide nothing else.
    pub level: k8sretry_level,
}

/// The level an event is logged at (the core's `Event::level`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum k8sretry_level {
    /// An answer the caller handles (a first attempt's 404, 409, 422...) or a cancelled call.
    K8SRETRY_LEVEL_DEBUG = 1,
    /// Good news: a success after retries, a recovered lost response.
    K8SRETRY_LEVEL_INFO = 2,
    /// Retries, deferred retries and give-ups with the error returned.
    K8SRETRY_LEVEL_WARN = 3,
    /// A write whose outcome is unknown: it may or may not have been carried out.
    K8SRETRY_LEVEL_ERROR = 4,
}

impl k8sretry_level {
    /// The level of `event`.
    fn of(event: &Event<'_>) -> k8sretry_level {
        use k8sretry_level::*;
        match event.level_name() {
            "error" => K8SRETRY_LEVEL_ERROR,
            "warn" => K8SRETRY_LEVEL_WARN,
            "info" => K8SRETRY_LEVEL_INFO,
            _ => K8SRETRY_LEVEL_DEBUG,
        }
    }
}

/// Receives events. Called synchronously, from inside `k8sretry_call_on_failure`,
/// `_on_read_back`, `_on_success` or `k8sretry_run`, on the thread that reported the failure or
/// success. The callback:
/// - must return normally: it must not unwind (a C++ exception, a Rust panic, a Go panic: Go's
///   cgo callbacks must `recover`), nor `longjmp` out, since it would cross the library's Rust
///   frames (undefined behaviour) and leave the registration counted as running, so that the next
///   `k8sretry_set_event_callback` would wait for ever;
/// - must not call back into the call handle the event is about (that call is in the middle of
///   its step); other handles, and `k8sretry_set_event_callback` itself, are allowed;
/// - must be safe to call from several threads at once, with the same `userdata`.
pub type k8sretry_event_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, event: *const k8sretry_event)>;

/// One registration of a callback. Calls in flight are counted, so that clearing or replacing
/// it can wait until none is running any more.
struct Registered {
    callback: unsafe extern "C" fn(*mut c_void, *const k8sretry_event),
    userdata: *mut c_void,
    in_flight: AtomicUsize,
}

// The caller promises (header comment) that the callback and userdata may be used from any thread.
unsafe impl Send for Registered {}
unsafe impl Sync for Registered {}

static CALLBACK: Mutex<Option<Arc<Registered>>> = Mutex::new(None);

thread_local! {
    /// The registrations whose callbacks this thread is inside (a callback may emit events or
    /// set the callback itself).
    static INSIDE: RefCell<Vec<*const Registered>> = const { RefCell::new(Vec::new()) };
}

fn slot() -> std::sync::MutexGuard<'static, Option<Arc<Registered>>> {
    CALLBACK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sets (or, with NULL, clears) the process-wide event callback. It waits (yielding the thread)
/// until every call of the previous callback that began before the swap has returned, so when it
/// returns the previous callback is not running on any other thread and is never called again,
/// and its userdata may be freed. It may be called from inside a callback (that callback's own
/// call is not waited for); a callback that never returns makes it wait for ever.
///
/// # Safety
/// `callback`, if not NULL, stays callable with `userdata` until replaced.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn k8sretry_set_event_callback(
    callback: k8sretry_event_fn,
    userdata: *mut c_void,
) -> k8sretry_status {
    guard(|| {
        let new = callback.map(|callback| {
            Arc::new(Registered {
                callback,
                userdata,
                in_flight: AtomicUsize::new(0),
            })
        });
        let old = std::mem::replace(&mut *slot(), new);
        if let Some(old) = old {
            // New events take the new registration; wait for the calls of the old one that
            // started before the swap, except this thread's own (a callback setting the callback).
            let own = INSIDE.with(|inside| {
                let ptr = Arc::as_ptr(&old);
                inside.borrow().iter().filter(|p| **p == ptr).count()
            });
            while old.in_flight.load(Ordering::Acquire) > own {
                std::thread::yield_now();
            }
        }
        Ok(())
    })
}

/// The callback every FFI-made policy carries: forwards to whatever C callback is registered.
pub(crate) fn forwarder() -> EventCallback {
    Arc::new(|event: &Event<'_>| {
        let registered = {
            let slot = slot();
            let Some(registered) = slot.as_ref() else {
                return;
            };
            // Counted while the slot is locked: a setter that swaps it afterwards waits for us.
            registered.in_flight.fetch_add(1, Ordering::AcqRel);
            Arc::clone(registered)
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
            level: k8sretry_level::of(event),
        };
        let ptr = Arc::as_ptr(&registered);
        INSIDE.with(|inside| inside.borrow_mut().push(ptr));
        // The count goes down even if the core unwinds through here (it never should).
        struct Done<'a>(&'a Registered);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                INSIDE.with(|inside| {
                    let mut inside = inside.borrow_mut();
                    if let Some(i) = inside.iter().rposition(|p| std::ptr::eq(*p, self.0)) {
                        inside.remove(i);
                    }
                });
                self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let _done = Done(&registered);
        unsafe { (registered.callback)(registered.userdata, &c_event) };
    })
}
