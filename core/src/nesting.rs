//! The nesting rule's marker for Rust callers (docs/design.md "Nesting"): a call made while an
//! attempt of another call of this engine runs on the same logical task makes one attempt
//! ([`crate::Call::new_nested`]). For Rust and C the logical task is the code an attempt runs:
//! the drivers count, per thread, the attempts being run or polled right now, so a wrapper called
//! from inside an attempt (synchronously, or awaited by it) sees [`active`]; a task the attempt
//! spawns is polled elsewhere and retries on its own. Go, Python and Node keep their own marker
//! (a context value, a contextvar, AsyncLocalStorage) and pass it to the call.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Whether the current thread is inside an attempt of a call of this engine (run by one of the
/// Rust drivers, `k8sretry_run`, or marked with [`enter`]).
pub fn active() -> bool {
    DEPTH.with(Cell::get) > 0
}

/// Marks the current thread as inside an attempt until the guard is dropped (for callers that
/// drive a [`crate::Call`] themselves on one thread).
pub fn enter() -> Attempt {
    DEPTH.with(|d| d.set(d.get().saturating_add(1)));
    Attempt {
        _not_send: std::marker::PhantomData,
    }
}

/// The mark of [`enter`]; dropping it leaves the attempt.
#[must_use = "the thread is inside an attempt only while the guard lives"]
pub struct Attempt {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for Attempt {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// A future that is inside an attempt while it is polled.
pub(crate) struct Scoped<F>(pub(crate) F);

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _inside = enter();
        // SAFETY: structural pinning of the only field; `Scoped` never moves it.
        unsafe { self.map_unchecked_mut(|s| &mut s.0) }.poll(cx)
    }
}

/// Runs a future whose parts never wait on anything but the current thread (the blocking
/// drivers: attempts and sleeps run inline), polling it to its end on this thread.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_lives_as_long_as_its_guard_and_nests() {
        assert!(!active());
        let outer = enter();
        let inner = enter();
        drop(inner);
        assert!(active());
        drop(outer);
        assert!(!active());
        assert!(block_on(Scoped(async { active() })));
        assert!(!active());
    }
}
