//! Events: the core emits them synchronously inside a call's `on_failure` / `on_success` on the
//! calling (JS) thread, so they are collected in a thread-local buffer, handed back with the
//! call's result, and the TypeScript layer gives them to `onEvent` and the logger.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use k8sretry::{Event, EventCallback};
use napi_derive::napi;

/// One event with the fields of DESIGN §7 (snake_case, as in every other language).
#[napi(object)]
pub struct RetryEvent {
    pub event: String,
    pub function: String,
    pub attempt: u32,
    #[napi(js_name = "max_retries")]
    pub max_retries: u32,
    #[napi(js_name = "delay_seconds")]
    pub delay_seconds: Option<f64>,
    #[napi(js_name = "error_type")]
    pub error_type: Option<String>,
    pub error: Option<String>,
    #[napi(js_name = "status_code")]
    pub status_code: Option<u32>,
    pub reason: Option<String>,
    pub code: Option<String>,
    pub class: Option<String>,
    #[napi(js_name = "give_up")]
    pub give_up: Option<String>,
    /// The engine's level for the event: `debug`, `info`, `warn` or `error` (one rule for every
    /// language; loggers map it to theirs).
    pub level: String,
}

thread_local! {
    static EVENTS: RefCell<Vec<RetryEvent>> = const { RefCell::new(Vec::new()) };
    /// Whether the call being driven has a listener: copying an event into owned strings costs
    /// more than the decision itself, so a call nobody listens to skips it.
    static LISTENING: Cell<bool> = const { Cell::new(true) };
}

/// The policy's event callback: keeps events while somebody listens.
pub fn collector() -> EventCallback {
    Arc::new(|e: &Event<'_>| {
        if !LISTENING.get() {
            return;
        }
        let owned = RetryEvent {
            event: e.kind.name().to_owned(),
            function: e.function.to_owned(),
            attempt: e.attempt,
            max_retries: e.max_retries,
            delay_seconds: e.delay_seconds,
            error_type: e.error_type.map(str::to_owned),
            error: e.error.map(str::to_owned),
            status_code: e.status_code.map(u32::from),
            reason: e.reason.map(str::to_owned),
            code: e.code.map(str::to_owned),
            class: e.class.map(|c| c.as_str().to_owned()),
            give_up: e.give_up.map(|g| g.as_str().to_owned()),
            level: e.level_name().to_owned(),
        };
        EVENTS.with(|events| events.borrow_mut().push(owned));
    })
}

/// Runs `f` with events kept only if `listening`; returns its result and the events.
pub fn collect<R>(listening: bool, f: impl FnOnce() -> R) -> (R, Vec<RetryEvent>) {
    LISTENING.set(listening);
    let out = f();
    LISTENING.set(true);
    let events = if listening {
        EVENTS.with(|events| std::mem::take(&mut *events.borrow_mut()))
    } else {
        Vec::new()
    };
    (out, events)
}
