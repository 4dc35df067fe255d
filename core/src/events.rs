//! Events (DESIGN §7). The names come from the deployed Python decorator k8sretry replaces.
//!
//! Each event is also a `tracing` event (target `k8sretry`) at the level of [`Event::level`]:
//!
//! | level | events |
//! |---|---|
//! | `DEBUG` | `k8s_api_call_failed_non_retryable` on the first attempt (a 404, 409, 422...: an answer the caller handles, such as `Api::get_opt` of a missing object), and any cancelled call |
//! | `INFO` | `k8s_api_call_succeeded_after_retry`, `k8s_api_call_recovered_lost_response` |
//! | `WARN` | `k8s_api_call_failed_retrying` (as Python and Node log retries), `k8s_api_call_retry_deferred` (the budget deferred a retry: the call waits, then asks again), and give-ups with the error returned: `k8s_api_call_failed_max_retries`, `k8s_api_call_budget_exhausted`, `k8s_api_call_circuit_open`, `k8s_api_call_deadline_exceeded`, `k8s_api_call_retry_after_too_long`, and `k8s_api_call_failed_non_retryable` after retries |
//! | `ERROR` | `k8s_api_call_failed_non_retryable` when a write's outcome is unknown (give-up `NotIdempotent` or `OutcomeUnknown`): it may or may not have been carried out |

use std::fmt;
use std::sync::Arc;

use crate::classify::Class;
use crate::decision::GiveUpReason;
use crate::event_text::event_text;

/// Which event happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// An attempt failed and the call will retry after `delay_seconds`.
    FailedRetrying,
    /// A call succeeded after one or more retries.
    SucceededAfterRetry,
    /// A call gave up because its retries were used up.
    FailedMaxRetries,
    /// A call gave up on a failure that is not retried (or not safe to retry, or cancelled).
    FailedNonRetryable,
    /// A write whose response was lost turned out to have happened: returned as success.
    RecoveredLostResponse,
    /// A call gave up because the retry budget was empty.
    BudgetExhausted,
    /// A call gave up because the circuit breaker was open.
    CircuitOpen,
    /// A call gave up because the next delay would pass its deadline.
    DeadlineExceeded,
    /// The retry budget refused a retry and the call waits `delay_seconds` (sending nothing)
    /// before it asks again ([`crate::Decision::Wait`]).
    RetryDeferred,
    /// A call gave up because the server asked to wait longer than `retry_after_cap`.
    RetryAfterTooLong,
}

impl EventKind {
    /// Every event kind.
    pub const ALL: [EventKind; 10] = [
        EventKind::FailedRetrying,
        EventKind::SucceededAfterRetry,
        EventKind::FailedMaxRetries,
        EventKind::FailedNonRetryable,
        EventKind::RecoveredLostResponse,
        EventKind::BudgetExhausted,
        EventKind::CircuitOpen,
        EventKind::DeadlineExceeded,
        EventKind::RetryDeferred,
        EventKind::RetryAfterTooLong,
    ];

    /// The contract name (`k8s_api_call_failed_retrying`, ...).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::FailedRetrying => "k8s_api_call_failed_retrying",
            EventKind::SucceededAfterRetry => "k8s_api_call_succeeded_after_retry",
            EventKind::FailedMaxRetries => "k8s_api_call_failed_max_retries",
            EventKind::FailedNonRetryable => "k8s_api_call_failed_non_retryable",
            EventKind::RecoveredLostResponse => "k8s_api_call_recovered_lost_response",
            EventKind::BudgetExhausted => "k8s_api_call_budget_exhausted",
            EventKind::CircuitOpen => "k8s_api_call_circuit_open",
            EventKind::DeadlineExceeded => "k8s_api_call_deadline_exceeded",
            EventKind::RetryDeferred => "k8s_api_call_retry_deferred",
            EventKind::RetryAfterTooLong => "k8s_api_call_retry_after_too_long",
        }
    }

    /// The event that reports a give-up for `reason`.
    pub fn for_give_up(reason: GiveUpReason) -> EventKind {
        match reason {
            GiveUpReason::MaxRetries => EventKind::FailedMaxRetries,
            GiveUpReason::BudgetExhausted => EventKind::BudgetExhausted,
            GiveUpReason::CircuitOpen => EventKind::CircuitOpen,
            GiveUpReason::Deadline => EventKind::DeadlineExceeded,
            GiveUpReason::RetryAfterTooLong => EventKind::RetryAfterTooLong,
            GiveUpReason::Cancelled
            | GiveUpReason::NonRetryable
            | GiveUpReason::NotIdempotent
            | GiveUpReason::OutcomeUnknown
            | GiveUpReason::Nested => EventKind::FailedNonRetryable,
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One event with the fields of DESIGN §7; borrowed, valid during the callback only.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    /// What happened.
    pub kind: EventKind,
    /// The name the call was started with.
    pub function: &'a str,
    /// 1-based number of the attempt this event is about.
    pub attempt: u32,
    /// The policy's `max_retries` (a read-back's own allowance in its events, DESIGN §4).
    pub max_retries: u32,
    /// Delay before the next attempt (`FailedRetrying` only).
    pub delay_seconds: Option<f64>,
    /// Type name of the error.
    pub error_type: Option<&'a str>,
    /// Message of the error; emitted events carry it through [`event_text`] (first line, no
    /// bodies or credentials, at most [`crate::MAX_EVENT_TEXT`] bytes).
    pub error: Option<&'a str>,
    /// HTTP status of the failure.
    pub status_code: Option<u16>,
    /// `Status.reason` of the failure.
    pub reason: Option<&'a str>,
    /// First network code of the failure.
    pub code: Option<&'a str>,
    /// Classification of the failure.
    pub class: Option<Class>,
    /// Why the call gave up, for give-up events.
    pub give_up: Option<GiveUpReason>,
}

impl Event<'_> {
    /// The `tracing` level this event is emitted at (see the module documentation): quiet for
    /// answers the caller handles, louder as the engine has less it can tell the caller.
    pub fn level(&self) -> tracing::Level {
        use tracing::Level;
        match (self.kind, self.give_up) {
            (_, Some(GiveUpReason::Cancelled)) => Level::DEBUG,
            (EventKind::FailedNonRetryable, Some(GiveUpReason::NonRetryable))
                if self.attempt <= 1 =>
            {
                Level::DEBUG
            }
            (
                EventKind::FailedNonRetryable,
                Some(GiveUpReason::NotIdempotent | GiveUpReason::OutcomeUnknown),
            ) => Level::ERROR,
            (EventKind::SucceededAfterRetry | EventKind::RecoveredLostResponse, _) => Level::INFO,
            _ => Level::WARN,
        }
    }

    /// [`Event::level`] by name, as every binding receives it: `debug`, `info`, `warn` or
    /// `error` (each maps it to its logger's level and decides nothing).
    pub fn level_name(&self) -> &'static str {
        level_name(self.level())
    }
}

/// Every level [`Event::level`] returns, quietest first (the C ABI numbers them from 1).
pub const EVENT_LEVELS: [tracing::Level; 4] = [
    tracing::Level::DEBUG,
    tracing::Level::INFO,
    tracing::Level::WARN,
    tracing::Level::ERROR,
];

/// The name of a level [`Event::level`] returns: `debug`, `info`, `warn`, `error` (`trace` is
/// never returned).
pub fn level_name(level: tracing::Level) -> &'static str {
    match level {
        tracing::Level::TRACE => "trace",
        tracing::Level::DEBUG => "debug",
        tracing::Level::INFO => "info",
        tracing::Level::WARN => "warn",
        tracing::Level::ERROR => "error",
    }
}

/// A callback that receives every event of a policy.
pub type EventCallback = Arc<dyn Fn(&Event<'_>) + Send + Sync>;

/// Emits `event` as a `tracing` event (target `k8sretry`) and to the policy's callback, its
/// `error` and `reason` passed through [`event_text`] (DESIGN §7: no bodies, no credentials).
pub(crate) fn emit(event: &Event<'_>, callback: Option<&EventCallback>) {
    // Nobody to tell: no text to clean (a subscriber's interest is a cached check).
    if callback.is_none() && !traced(event.level()) {
        return;
    }
    let error = event.error.map(event_text);
    let reason = event.reason.map(event_text);
    let event = &Event {
        error: error.as_deref(),
        reason: reason.as_deref(),
        ..event.clone()
    };
    macro_rules! trace_at {
        ($level:expr) => {
            tracing::event!(
                target: "k8sretry",
                $level,
                event = event.kind.name(),
                function = event.function,
                attempt = event.attempt,
                max_retries = event.max_retries,
                delay_seconds = event.delay_seconds,
                error_type = event.error_type,
                error = event.error,
                status_code = event.status_code,
                reason = event.reason,
                code = event.code,
                class = event.class.map(Class::as_str),
                give_up = event.give_up.map(GiveUpReason::as_str),
            )
        };
    }
    // tracing::event! needs its level as a constant.
    match event.level() {
        tracing::Level::DEBUG => trace_at!(tracing::Level::DEBUG),
        tracing::Level::INFO => trace_at!(tracing::Level::INFO),
        tracing::Level::WARN => trace_at!(tracing::Level::WARN),
        _ => trace_at!(tracing::Level::ERROR),
    }
    if let Some(callback) = callback {
        callback(event);
    }
}

/// Whether a `tracing` subscriber wants k8sretry's events at `level`.
fn traced(level: tracing::Level) -> bool {
    // tracing::enabled! needs its level as a constant.
    match level {
        tracing::Level::DEBUG => tracing::enabled!(target: "k8sretry", tracing::Level::DEBUG),
        tracing::Level::INFO => tracing::enabled!(target: "k8sretry", tracing::Level::INFO),
        tracing::Level::WARN => tracing::enabled!(target: "k8sretry", tracing::Level::WARN),
        _ => tracing::enabled!(target: "k8sretry", tracing::Level::ERROR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn event(kind: EventKind, attempt: u32, give_up: Option<GiveUpReason>) -> Event<'static> {
        Event {
            kind,
            function: "f",
            attempt,
            max_retries: 3,
            delay_seconds: None,
            error_type: None,
            error: None,
            status_code: None,
            reason: None,
            code: None,
            class: None,
            give_up,
        }
    }

    #[test]
    fn levels() {
        use EventKind as K;
        use GiveUpReason as R;
        let cases = [
            (
                K::FailedNonRetryable,
                1,
                Some(R::NonRetryable),
                Level::DEBUG,
            ),
            (K::FailedNonRetryable, 1, Some(R::Cancelled), Level::DEBUG),
            (K::FailedNonRetryable, 3, Some(R::Cancelled), Level::DEBUG),
            (K::FailedRetrying, 1, None, Level::WARN),
            (K::SucceededAfterRetry, 2, None, Level::INFO),
            (K::RecoveredLostResponse, 2, None, Level::INFO),
            (K::FailedNonRetryable, 2, Some(R::NonRetryable), Level::WARN),
            (K::FailedMaxRetries, 4, Some(R::MaxRetries), Level::WARN),
            (K::BudgetExhausted, 1, Some(R::BudgetExhausted), Level::WARN),
            (K::CircuitOpen, 1, Some(R::CircuitOpen), Level::WARN),
            (K::DeadlineExceeded, 2, Some(R::Deadline), Level::WARN),
            (K::RetryDeferred, 1, None, Level::WARN),
            (
                K::RetryAfterTooLong,
                1,
                Some(R::RetryAfterTooLong),
                Level::WARN,
            ),
            (
                K::FailedNonRetryable,
                1,
                Some(R::NotIdempotent),
                Level::ERROR,
            ),
            (
                K::FailedNonRetryable,
                2,
                Some(R::OutcomeUnknown),
                Level::ERROR,
            ),
        ];
        for (kind, attempt, give_up, level) in cases {
            let e = event(kind, attempt, give_up);
            assert_eq!(e.level(), level, "{kind} attempt {attempt} {give_up:?}");
            assert_eq!(e.level_name(), level.as_str().to_ascii_lowercase());
        }
    }
}
