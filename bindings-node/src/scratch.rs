//! The scratch array: a `Float64Array` the TypeScript layer writes a failure's numbers into just
//! before `NativeCall.decide`, so that the hot path crosses the boundary without arguments (each
//! argument is a separate engine call through napi, tens of ns apiece on a small VM; a decision
//! must stay within a few hundred ns).
//!
//! Layout: `[status (0 = none), flags (failure.rs), retryAfterSeconds (NaN = none)]`.
//!
//! Safety rules: the array is the binding's own (never handed to user code, so never detached
//! or transferred); it is kept alive by a strong reference that is never released; each
//! JavaScript thread (main, worker) binds its own, kept in a thread-local; JavaScript and the
//! decision run on that one thread, never at the same time.

use std::cell::Cell;

use napi::bindgen_prelude::Float64Array;
use napi::{Error, Result, Status};
use napi_derive::napi;

/// How many numbers the layout has.
pub const LEN: usize = 3;

thread_local! {
    static SCRATCH: Cell<*const f64> = const { Cell::new(std::ptr::null()) };
}

/// Binds `array` (at least 3 elements, over its own `ArrayBuffer`) as this thread's scratch
/// array. The TypeScript layer calls it once when it loads.
#[napi]
pub fn bind_scratch(array: Float64Array) -> Result<()> {
    if array.len() < LEN {
        return Err(Error::new(
            Status::InvalidArg,
            format!(
                "the scratch array needs {LEN} elements, got {}",
                array.len()
            ),
        ));
    }
    SCRATCH.set(array.as_ptr());
    // Keeps the strong reference napi-rs took: the array lives as long as the JS environment.
    std::mem::forget(array);
    Ok(())
}

/// The failure's numbers: status, flags and Retry-After seconds.
pub fn read() -> Result<(u32, u32, f64)> {
    let ptr = SCRATCH.get();
    if ptr.is_null() {
        return Err(Error::new(
            Status::GenericFailure,
            "bindScratch was not called on this thread".to_owned(),
        ));
    }
    // SAFETY: ptr points at LEN f64s of an array kept alive and never detached (module docs),
    // written only by JavaScript on this thread, which is not running while we are.
    let [status, flags, seconds] = unsafe { ptr.cast::<[f64; LEN]>().read() };
    // `as` saturates: NaN and negatives become 0 (no status, no flags).
    Ok((status as u32, flags as u32, seconds))
}
