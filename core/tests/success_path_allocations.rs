//! The success path (start a call, succeed) allocates nothing, once a function name is known.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use k8sretry::{Call, Policy, Verb};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
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

        ALLOCATIONS.store(0, Ordering::Relaxed);
        COUNTING.store(true, Ordering::Relaxed);
        for _ in 0..1000 {
            let mut call = Call::new(&policy, "read_pod").with_verb(Verb::Get);
            call.on_success();
            let mut call = Call::new(&breaker, "read_pod");
            call.on_success();
        }
        COUNTING.store(false, Ordering::Relaxed);
        assert_eq!(ALLOCATIONS.load(Ordering::Relaxed), 0, "preset {preset}");
    }
}

#[test]
fn the_counter_counts() {
    // Guards the test above against a counter that never counts.
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let v: Vec<u8> = Vec::with_capacity(std::hint::black_box(64));
    COUNTING.store(false, Ordering::Relaxed);
    drop(v);
    assert!(ALLOCATIONS.load(Ordering::Relaxed) >= 1);
}
