//! Plain C types shared by several functions.

use std::ffi::c_char;

use k8sretry::{Class, GiveUpReason, Recovery, Verb};

use crate::status::*;

/// HTTP verb of a request (pass as `uint32_t`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum k8sretry_verb {
    /// Not known: the caller vouches that repeating the call is safe.
    K8SRETRY_VERB_UNKNOWN = 0,
    /// GET of one object.
    K8SRETRY_VERB_GET = 1,
    /// GET of a collection.
    K8SRETRY_VERB_LIST = 2,
    /// A watch.
    K8SRETRY_VERB_WATCH = 3,
    /// POST (create).
    K8SRETRY_VERB_POST = 4,
    /// PUT (replace).
    K8SRETRY_VERB_PUT = 5,
    /// PATCH.
    K8SRETRY_VERB_PATCH = 6,
    /// DELETE.
    K8SRETRY_VERB_DELETE = 7,
}

pub(crate) fn verb_from(n: u32) -> Result<Verb, k8sretry_status> {
    Ok(match n {
        0 => Verb::Unknown,
        1 => Verb::Get,
        2 => Verb::List,
        3 => Verb::Watch,
        4 => Verb::Post,
        5 => Verb::Put,
        6 => Verb::Patch,
        7 => Verb::Delete,
        _ => return Err(K8SRETRY_STATUS_INVALID_ARGUMENT),
    })
}

/// How a call recovers an uncertain write (pass as `uint32_t`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum k8sretry_recovery {
    /// No recovery.
    K8SRETRY_RECOVERY_NONE = 0,
    /// Create stamped with a request id: read back on AlreadyExists after an ambiguous attempt.
    K8SRETRY_RECOVERY_CREATE = 1,
    /// Create that adopts existing objects (`adopt_existing`): read back and adopt on any AlreadyExists.
    K8SRETRY_RECOVERY_CREATE_ADOPT = 2,
    /// Delete: NotFound after an ambiguous attempt is success.
    K8SRETRY_RECOVERY_DELETE = 3,
    /// Delete: any NotFound is success.
    K8SRETRY_RECOVERY_DELETE_MISSING_OK = 4,
    /// The caller vouches that repeating the request is safe.
    K8SRETRY_RECOVERY_IDEMPOTENT = 5,
    /// A read-modify-write: Conflict is retried too (retry_on_conflict).
    K8SRETRY_RECOVERY_RETRY_CONFLICT = 6,
    /// A generateName create stamped with a request id label: checked before each retry.
    K8SRETRY_RECOVERY_CREATE_GENERATED = 7,
    /// A replace (PUT) with `metadata.resourceVersion`, stamped with a request id: resent after
    /// a lost response; a `Conflict` after that is read back.
    K8SRETRY_RECOVERY_REPLACE_STAMPED = 8,
    /// Never resent after a lost response, whatever the verb (a PUT with a resourceVersion that
    /// cannot be read back).
    K8SRETRY_RECOVERY_NOT_IDEMPOTENT = 9,
}

pub(crate) fn recovery_from(n: u32) -> Result<Recovery, k8sretry_status> {
    Ok(match n {
        0 => Recovery::None,
        1 => Recovery::Create,
        2 => Recovery::CreateAdopt,
        3 => Recovery::Delete { missing_ok: false },
        4 => Recovery::Delete { missing_ok: true },
        5 => Recovery::Idempotent,
        6 => Recovery::RetryConflict,
        7 => Recovery::CreateGenerated,
        8 => Recovery::ReplaceStamped,
        9 => Recovery::NotIdempotent,
        _ => return Err(K8SRETRY_STATUS_INVALID_ARGUMENT),
    })
}

/// The `k8sretry_recovery` number of `recovery` (the inverse of `recovery_from`).
pub(crate) fn recovery_number(recovery: Recovery) -> u32 {
    use k8sretry_recovery::*;
    (match recovery {
        Recovery::None => K8SRETRY_RECOVERY_NONE,
        Recovery::Create => K8SRETRY_RECOVERY_CREATE,
        Recovery::CreateAdopt => K8SRETRY_RECOVERY_CREATE_ADOPT,
        Recovery::Delete { missing_ok: false } => K8SRETRY_RECOVERY_DELETE,
        Recovery::Delete { missing_ok: true } => K8SRETRY_RECOVERY_DELETE_MISSING_OK,
        Recovery::Idempotent => K8SRETRY_RECOVERY_IDEMPOTENT,
        Recovery::RetryConflict => K8SRETRY_RECOVERY_RETRY_CONFLICT,
        Recovery::CreateGenerated => K8SRETRY_RECOVERY_CREATE_GENERATED,
        Recovery::ReplaceStamped => K8SRETRY_RECOVERY_REPLACE_STAMPED,
        Recovery::NotIdempotent => K8SRETRY_RECOVERY_NOT_IDEMPOTENT,
    }) as u32
}

/// Failure classes (DESIGN §2).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum k8sretry_class {
    /// No class (events without a failure).
    K8SRETRY_CLASS_NONE = 0,
    /// 429 / TooManyRequests.
    K8SRETRY_CLASS_THROTTLED = 1,
    /// 408, 500, 502, 503, 504.
    K8SRETRY_CLASS_TRANSIENT = 2,
    /// The request never reached the server.
    K8SRETRY_CLASS_NETWORK_NOT_SENT = 3,
    /// The request may have reached the server.
    K8SRETRY_CLASS_NETWORK_AMBIGUOUS = 4,
    /// 409 AlreadyExists.
    K8SRETRY_CLASS_ALREADY_EXISTS = 5,
    /// 409 Conflict.
    K8SRETRY_CLASS_CONFLICT = 6,
    /// 404.
    K8SRETRY_CLASS_NOT_FOUND = 7,
    /// 410.
    K8SRETRY_CLASS_GONE = 8,
    /// Cancelled by the caller.
    K8SRETRY_CLASS_CANCELLED = 9,
    /// Anything else.
    K8SRETRY_CLASS_FATAL = 10,
}

impl From<Class> for k8sretry_class {
    fn from(class: Class) -> k8sretry_class {
        use k8sretry_class::*;
        match class {
            Class::Throttled => K8SRETRY_CLASS_THROTTLED,
            Class::Transient => K8SRETRY_CLASS_TRANSIENT,
            Class::NetworkNotSent => K8SRETRY_CLASS_NETWORK_NOT_SENT,
            Class::NetworkAmbiguous => K8SRETRY_CLASS_NETWORK_AMBIGUOUS,
            Class::AlreadyExists => K8SRETRY_CLASS_ALREADY_EXISTS,
            Class::Conflict => K8SRETRY_CLASS_CONFLICT,
            Class::NotFound => K8SRETRY_CLASS_NOT_FOUND,
            Class::Gone => K8SRETRY_CLASS_GONE,
            Class::Cancelled => K8SRETRY_CLASS_CANCELLED,
            Class::Fatal => K8SRETRY_CLASS_FATAL,
        }
    }
}

/// Why a call gave up.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum k8sretry_give_up_reason {
    /// Did not give up.
    K8SRETRY_GIVE_UP_NONE = 0,
    /// Cancelled by the caller.
    K8SRETRY_GIVE_UP_CANCELLED = 1,
    /// Not retryable.
    K8SRETRY_GIVE_UP_NON_RETRYABLE = 2,
    /// Ambiguous failure of a non-idempotent request without a recovery.
    K8SRETRY_GIVE_UP_NOT_IDEMPOTENT = 3,
    /// Retries used up.
    K8SRETRY_GIVE_UP_MAX_RETRIES = 4,
    /// Circuit breaker open.
    K8SRETRY_GIVE_UP_CIRCUIT_OPEN = 5,
    /// The next delay would pass the deadline.
    K8SRETRY_GIVE_UP_DEADLINE = 6,
    /// Retry budget empty.
    K8SRETRY_GIVE_UP_BUDGET_EXHAUSTED = 7,
    /// A read-back that would tell whether the write landed failed past its retries.
    K8SRETRY_GIVE_UP_OUTCOME_UNKNOWN = 8,
    /// The server asked to wait longer than `retry_after_cap` (the engine never retries sooner
    /// than asked); `k8sretry_call_retry_after` gives the server's hint.
    K8SRETRY_GIVE_UP_RETRY_AFTER_TOO_LONG = 9,
    /// The call was begun nested (inside an attempt of another call): it made its one attempt;
    /// fail with the attempt's error unchanged, the enclosing call decides. Nothing recorded.
    K8SRETRY_GIVE_UP_NESTED = 10,
}

impl From<Option<GiveUpReason>> for k8sretry_give_up_reason {
    fn from(reason: Option<GiveUpReason>) -> k8sretry_give_up_reason {
        use k8sretry_give_up_reason::*;
        match reason {
            None => K8SRETRY_GIVE_UP_NONE,
            Some(GiveUpReason::Cancelled) => K8SRETRY_GIVE_UP_CANCELLED,
            Some(GiveUpReason::NonRetryable) => K8SRETRY_GIVE_UP_NON_RETRYABLE,
            Some(GiveUpReason::NotIdempotent) => K8SRETRY_GIVE_UP_NOT_IDEMPOTENT,
            Some(GiveUpReason::MaxRetries) => K8SRETRY_GIVE_UP_MAX_RETRIES,
            Some(GiveUpReason::CircuitOpen) => K8SRETRY_GIVE_UP_CIRCUIT_OPEN,
            Some(GiveUpReason::Deadline) => K8SRETRY_GIVE_UP_DEADLINE,
            Some(GiveUpReason::BudgetExhausted) => K8SRETRY_GIVE_UP_BUDGET_EXHAUSTED,
            Some(GiveUpReason::OutcomeUnknown) => K8SRETRY_GIVE_UP_OUTCOME_UNKNOWN,
            Some(GiveUpReason::RetryAfterTooLong) => K8SRETRY_GIVE_UP_RETRY_AFTER_TOO_LONG,
            Some(GiveUpReason::Nested) => K8SRETRY_GIVE_UP_NESTED,
        }
    }
}

/// A borrowed string: `data` is not NUL-terminated; `len` 0 means absent.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct k8sretry_str {
    /// First byte (NULL when absent).
    pub data: *const c_char,
    /// Length in bytes.
    pub len: usize,
}

impl k8sretry_str {
    pub(crate) fn of(s: Option<&str>) -> k8sretry_str {
        match s {
            Some(s) => k8sretry_str {
                data: s.as_ptr().cast(),
                len: s.len(),
            },
            None => k8sretry_str {
                data: std::ptr::null(),
                len: 0,
            },
        }
    }
}
