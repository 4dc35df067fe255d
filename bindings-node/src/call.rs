//! One logical call, handed to JavaScript as a number (a handle into this thread's table of
//! calls) and driven by free functions: a number is the cheapest argument napi reads, and on the
//! failure path every decision goes through here. Each step answers with one number
//! (`wire.rs`); a step the call did not ask for throws an Error with code
//! `K8SRETRY_OUT_OF_ORDER` (or `K8SRETRY_CALL_FINISHED` after the end, or on a released handle).
//!
//! Why a table and not an `External` per call: an `External` is a V8 object with a weak handle
//! and a finalizer, freed only when V8 collects garbage, which it schedules by the size of its own
//! heap, not of this one. Under 100,000 concurrent failing calls the calls' memory piled up
//! between collections (+150 MiB of RSS kept after a forced GC, where cockatiel kept +20). A
//! table slot is reused as soon as the retry loop releases the call (`releaseCall`, at every way
//! out of the loop), and the table is freed whole when no call is left in it.

use std::cell::RefCell;
use std::time::Duration;

use k8sretry::{Decision, ReadOutcome, Recovery, StepError, Verb};
use napi_derive::napi;

use crate::events::{RetryEvent, collect};
use crate::{Code, NativePolicy, error, wire};
use napi::Result;

/// A core call, whether its events are wanted, and the events of its last step.
struct CallState {
    inner: k8sretry::Call,
    listening: bool,
    events: Vec<RetryEvent>,
}

/// The calls of this JavaScript thread (main or worker: each has its own), by handle.
#[derive(Default)]
struct Table {
    slots: Vec<Slot>,
    /// Indexes of empty slots.
    free: Vec<u32>,
    /// Slots in use.
    live: usize,
    /// The generation the next call gets: a released handle never names a later call (unless
    /// 2^29 calls later it lands on the same slot).
    next_generation: u64,
}

struct Slot {
    generation: u64,
    call: Option<CallState>,
}

/// A handle is `generation * 2^INDEX_BITS + index`, an integer below 2^53 (exact as a JS number).
const INDEX_BITS: u32 = 24;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
const GENERATION_MASK: u64 = (1 << 29) - 1;
/// A table of more slots than this is freed when its last call is released (below it, kept for
/// reuse: freeing and regrowing it around every call would cost more than it holds).
const KEEP_SLOTS: usize = 1024;

thread_local! {
    static CALLS: RefCell<Table> = RefCell::new(Table::default());
}

impl Table {
    /// The new call's handle; `None` when the thread has `2^INDEX_BITS` calls in progress.
    fn insert(&mut self, call: CallState) -> Option<f64> {
        let generation = self.next_generation;
        self.next_generation = (generation + 1) & GENERATION_MASK;
        let index = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Slot {
                    generation,
                    call: Some(call),
                };
                u64::from(i)
            }
            None => {
                let i = self.slots.len() as u64;
                if i > INDEX_MASK {
                    return None;
                }
                self.slots.push(Slot {
                    generation,
                    call: Some(call),
                });
                i
            }
        };
        self.live += 1;
        Some((generation * (INDEX_MASK + 1) + index) as f64)
    }

    /// The slot `handle` names, when it still holds that call.
    fn find(&mut self, handle: f64) -> Option<(usize, &mut CallState)> {
        if !((0.0..9007199254740992.0).contains(&handle) && handle.fract() == 0.0) {
            return None;
        }
        let h = handle as u64;
        let index = (h & INDEX_MASK) as usize;
        let slot = self.slots.get_mut(index)?;
        if slot.generation != h >> INDEX_BITS {
            return None;
        }
        slot.call.as_mut().map(|call| (index, call))
    }

    fn release(&mut self, handle: f64) {
        let Some((index, _)) = self.find(handle) else {
            return;
        };
        self.slots[index].call = None;
        self.live -= 1;
        if self.live == 0 && self.slots.len() > KEEP_SLOTS {
            // A burst is over: give its memory back (a large table is its own mapping).
            self.slots = Vec::new();
            self.free = Vec::new();
            give_back();
        } else {
            self.free.push(index as u32);
        }
    }
}

/// Hands the memory of a finished burst back to the system. glibc keeps it: once a large block it
/// mapped is freed, it raises its mapping threshold to that size, so the next burst's table grows
/// on the heap, and freed heap is not returned (measured: 100,000 failing calls kept +35 MiB RSS
/// after a forced GC, cockatiel +17; with this +11). Costs ~10 ns per call of the burst, once.
/// musl returns large blocks itself.
fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: glibc's malloc_trim takes any pad and only returns free memory to the system.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Runs `f` on the call `handle` names; `None` when it names none (released, or never made).
fn with_call<R>(handle: f64, f: impl FnOnce(&mut CallState) -> R) -> Option<R> {
    CALLS.with(|table| table.borrow_mut().find(handle).map(|(_, call)| f(call)))
}

fn released() -> napi::Error<Code> {
    error(
        Code::CallFinished,
        "the call was released (its handle names no call)",
    )
}

/// A verb name, strictly: only `UNKNOWN` means unknown (a typo must never switch off the rules
/// for writes).
pub fn parse_verb(name: &str) -> Result<Verb, Code> {
    Verb::parse(name).ok_or_else(|| error(Code::InvalidArgument, Verb::parse_error(name)))
}

/// Begins a call of `function_name` (`elapsed_ms` since its first attempt started). With
/// `listening` false (default true) no events are kept: nobody would read them. `reader`
/// (default true): whether the caller can read back when asked (without one the call never
/// answers `read_back`); `nested` (default false): the call runs inside an attempt of another
/// k8sretry call (one attempt, `give_up` `Nested`, nothing recorded).
#[napi(ts_return_type = "number")]
#[allow(clippy::too_many_arguments)]
pub fn begin_call(
    policy: &NativePolicy,
    function_name: String,
    verb: String,
    recovery: String,
    elapsed_ms: f64,
    listening: Option<bool>,
    reader: Option<bool>,
    nested: Option<bool>,
) -> Result<f64, Code> {
    let site = call_site(policy, function_name, verb, recovery)?;
    begin_call_at(&site, elapsed_ms, listening, reader, nested)
}

/// What every call of one function, verb and recovery under one policy shares, read from its
/// names once: `beginCallAt` then takes no string (each one napi reads costs a copy).
#[napi]
pub struct NativeCallSite {
    site: k8sretry::CallSite,
}

/// The call site of `function_name` with `verb` and `recovery` under `policy` (the names as
/// `beginCall` takes them; an unknown one throws `K8SRETRY_INVALID_ARGUMENT`).
#[napi]
pub fn call_site(
    policy: &NativePolicy,
    function_name: String,
    verb: String,
    recovery: String,
) -> Result<NativeCallSite, Code> {
    let recovery = Recovery::parse(&recovery).ok_or_else(|| {
        error(
            Code::InvalidArgument,
            format!(
                "unknown recovery {recovery:?} (one of {})",
                Recovery::NAMES.join(", ")
            ),
        )
    })?;
    Ok(NativeCallSite {
        site: k8sretry::CallSite::new(&policy.inner, &function_name, parse_verb(&verb)?, recovery),
    })
}

/// `beginCall` at a call site: the same call, begun without reading a name.
#[napi(ts_return_type = "number")]
pub fn begin_call_at(
    site: &NativeCallSite,
    elapsed_ms: f64,
    listening: Option<bool>,
    reader: Option<bool>,
    nested: Option<bool>,
) -> Result<f64, Code> {
    let elapsed = Duration::try_from_secs_f64(elapsed_ms / 1000.0).unwrap_or_default();
    let listening = listening.unwrap_or(true);
    let inner = site
        .site
        .start(nested.unwrap_or(false))
        .with_callback(listening)
        .with_reader(reader.unwrap_or(true))
        .with_elapsed(elapsed);
    let call = CallState {
        inner,
        listening,
        events: Vec::new(),
    };
    CALLS
        .with(|table| table.borrow_mut().insert(call))
        .ok_or_else(|| {
            error(
                Code::Internal,
                format!("more than {INDEX_MASK} calls in progress on one thread"),
            )
        })
}

/// Frees the call `call` names: the retry loop is done with it (every way out of the loop
/// releases). Afterwards the handle names no call: its steps throw `K8SRETRY_CALL_FINISHED`.
/// Releasing twice, or a handle that names no call, does nothing.
#[napi(ts_args_type = "call: number")]
pub fn release_call(call: f64) {
    CALLS.with(|table| table.borrow_mut().release(call));
}

fn step_code(e: StepError) -> Code {
    match e {
        StepError::Finished => Code::CallFinished,
        StepError::NoReadBackPending
        | StepError::ReadBackPending
        | StepError::NoWaitPending
        | StepError::WaitPending => Code::OutOfOrder,
    }
}

fn step_error(e: StepError) -> napi::Error<Code> {
    error(step_code(e), e.to_string())
}

/// Runs one step with events collected as the call wants them; the answer as one number.
fn answer(
    handle: f64,
    f: impl FnOnce(&mut k8sretry::Call) -> std::result::Result<Decision, StepError>,
) -> Result<f64, Code> {
    with_call(handle, |call| {
        let (decision, events) = collect(call.listening, || f(&mut call.inner));
        call.events = events;
        decision.map(wire::encode).map_err(step_error)
    })
    .unwrap_or_else(|| Err(released()))
}

/// The engine's decision on a failed attempt whose failure is only numbers, read from the
/// scratch array; the answer is one number (`wire.rs`), the events are kept for `takeEvents`.
/// napi-rs reads each argument, object property and array element through a separate engine
/// call (tens of ns each here, microseconds for an object), so the hot path passes nothing else.
#[napi(ts_args_type = "call: number")]
pub fn decide(call: f64) -> Result<f64, Code> {
    decide_packed(call, "")
}

/// `decide` for a failure with text: the string fields packed as `wire.rs` describes.
#[napi(ts_args_type = "call: number, fields: string")]
pub fn decide_with(call: f64, fields: String) -> Result<f64, Code> {
    decide_packed(call, &fields)
}

fn decide_packed(call: f64, fields: &str) -> Result<f64, Code> {
    let failure = wire::read_failure(fields)?;
    answer(call, |c| c.try_on_failure(&failure))
}

/// What the read-back a `read_back` answer asked for found: `ours`, `not_ours`, `missing`, or
/// `failed` with the read's own failure given as `decide` takes one (the scratch array and
/// `fields`, read only for `failed`). The answer is one number, like `decide`'s.
#[napi(ts_args_type = "call: number, outcome: string, fields?: string")]
pub fn read_back(call: f64, outcome: String, fields: Option<String>) -> Result<f64, Code> {
    let failure;
    let outcome = match outcome.as_str() {
        "ours" => ReadOutcome::Ours,
        "not_ours" => ReadOutcome::NotOurs,
        "missing" => ReadOutcome::Missing,
        "failed" => {
            failure = wire::read_failure(fields.as_deref().unwrap_or(""))?;
            ReadOutcome::Failed(&failure)
        }
        other => {
            return Err(error(
                Code::InvalidArgument,
                format!(
                    "unknown read-back outcome {other:?} (one of {})",
                    wire::READ_OUTCOMES.join(", ")
                ),
            ));
        }
    };
    answer(call, |c| c.on_read_back(outcome))
}

/// After a `wait` answer has been slept (the budget deferred the retry; nothing was sent): the
/// next decision, one number like `decide`'s (`retry` with no delay, `wait` again, `read_back` or
/// `give_up`). A cancel during the wait is reported with `onCancelled`.
#[napi(ts_args_type = "call: number")]
pub fn resume(call: f64) -> Result<f64, Code> {
    answer(call, |c| c.resume())
}

/// The caller cancelled the call, whatever it was doing (an attempt, a sleep, a wait, a
/// read-back): `give_up` `Cancelled`, one number like `decide`'s; its event is kept for
/// `takeEvents`. After the end it throws `K8SRETRY_CALL_FINISHED`.
#[napi(ts_args_type = "call: number")]
pub fn on_cancelled(call: f64) -> Result<f64, Code> {
    answer(call, |c| c.on_cancelled())
}

/// The events of the last `decide` / `readBack` / `resume` / `onCancelled`.
#[napi(ts_args_type = "call: number")]
pub fn take_events(call: f64) -> Vec<RetryEvent> {
    with_call(call, |call| std::mem::take(&mut call.events)).unwrap_or_default()
}

/// The current attempt succeeded; its events, or `null` for a call begun with `listening`
/// false (no array made for nobody). (After the end it changes nothing.)
#[napi(ts_args_type = "call: number")]
pub fn on_success(call: f64) -> Option<Vec<RetryEvent>> {
    with_call(call, |call| {
        let events = collect(call.listening, || call.inner.on_success()).1;
        call.listening.then_some(events)
    })
    .flatten()
}

/// `onSuccess` and `releaseCall` in one step: the retry loop's way out on a success.
#[napi(ts_args_type = "call: number")]
pub fn succeeded(call: f64) -> Option<Vec<RetryEvent>> {
    let events = on_success(call);
    release_call(call);
    events
}

/// Attempts of the request started so far (1 before the first failure; read-backs are not
/// attempts). Throws `K8SRETRY_CALL_FINISHED` on a released handle.
#[napi(ts_args_type = "call: number")]
pub fn attempts(call: f64) -> Result<u32, Code> {
    with_call(call, |call| call.inner.attempts()).ok_or_else(released)
}

#[cfg(test)]
mod tests {
    // napi errors need the Node runtime to be dropped: the tests stay before them.
    use super::*;

    fn state() -> CallState {
        CallState {
            inner: k8sretry::Call::new(&k8sretry::Policy::default(), "f"),
            listening: false,
            events: Vec::new(),
        }
    }

    fn table_insert(table: &mut Table) -> f64 {
        table.insert(state()).expect("a small table has room")
    }

    #[test]
    fn a_released_handle_names_no_call_even_when_its_slot_is_reused() {
        let mut table = Table::default();
        let a = table_insert(&mut table);
        let b = table_insert(&mut table);
        assert!(table.find(a).is_some() && table.find(b).is_some());
        table.release(a);
        assert!(table.find(a).is_none());
        table.release(a); // twice: nothing
        assert_eq!(table.live, 1);
        let c = table_insert(&mut table); // a's slot, a later generation
        assert_eq!(table.slots.len(), 2);
        assert_ne!(a, c);
        assert!(table.find(a).is_none() && table.find(c).is_some());
        for bad in [
            -1.0,
            0.5,
            f64::NAN,
            f64::INFINITY,
            1e300,
            12345.0 * 16777216.0,
        ] {
            assert!(table.find(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_large_table_is_freed_when_its_last_call_is_released() {
        let mut table = Table::default();
        let handles: Vec<f64> = (0..KEEP_SLOTS + 10)
            .map(|_| table_insert(&mut table))
            .collect();
        for h in &handles {
            table.release(*h);
        }
        assert_eq!(
            (table.live, table.slots.capacity(), table.free.capacity()),
            (0, 0, 0)
        );
        // Handles made before still name nothing; new ones work.
        assert!(handles.iter().all(|h| table.find(*h).is_none()));
        let h = table_insert(&mut table);
        assert!(table.find(h).is_some());
        // A small table is kept for reuse.
        table.release(h);
        assert_eq!(table.slots.len(), 1);
    }

    #[test]
    fn step_errors_have_codes() {
        assert_eq!(
            step_code(StepError::Finished).as_ref(),
            "K8SRETRY_CALL_FINISHED"
        );
        assert_eq!(
            step_code(StepError::ReadBackPending).as_ref(),
            "K8SRETRY_OUT_OF_ORDER"
        );
        assert_eq!(
            step_code(StepError::NoReadBackPending).as_ref(),
            "K8SRETRY_OUT_OF_ORDER"
        );
    }
}
