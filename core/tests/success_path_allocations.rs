//! The success path (start a call, succeed) allocates nothing, once a function name is known.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use k8sretry::{Call, Policy, SuccessRecorder, Verb};

struct Counting;

// Per thread: tests run in parallel, and only this thread's allocations are the success path's.
thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
    }
}

fn counting(on: bool) {
    if on {
        ALLOCATIONS.with(|n| n.set(0));
    }
    COUNTING.with(|c| c.set(on));
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn success_path_allocates_nothing() {
    for preset in ["default", "mutation", "runner_hooks"] {
        let policy = Policy::preset(preset).unwrap();
        let breaker =
            Policy::from_json(r#"{"breaker": {"failure_threshold": 3, "open_for": 5}}"#).unwrap();
        // Warm-up: the first call of a function name registers its metrics.
        Call::new(&policy, "read_pod").on_success();
        Call::new(&breaker, "read_pod").on_success();
        let (recorder, breaker_recorder) = (
            SuccessRecorder::new(&policy, "read_pod"),
            SuccessRecorder::new(&breaker, "read_pod"),
        );

        counting(true);
        for _ in 0..1000 {
            let mut call = Call::new(&policy, "read_pod").with_verb(Verb::Get);
            call.on_success();
            let mut call = Call::new(&breaker, "read_pod");
            call.on_success();
            recorder.record();
            breaker_recorder.record();
        }
        counting(false);
        assert_eq!(allocations(), 0, "preset {preset}");
    }
}

#[test]
fn the_counter_counts() {
    // Guards the test above against a counter that never counts.
    counting(true);
    let v: Vec<u8> = Vec::with_capacity(std::hint::black_box(64));
    counting(false);
    drop(v);
    assert!(allocations() >= 1);
}
