//! Events (DESIGN §2.7). The names come from the deployed Python decorator k8sretry replaces.

use std::fmt;
use std::sync::Arc;

use crate::classify::Class;
use crate::decision::GiveUpReason;

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
}

impl EventKind {
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
        }
    }

    /// The event that reports a give-up for `reason`.
    pub fn for_give_up(reason: GiveUpReason) -> EventKind {
        match reason {
            GiveUpReason::MaxRetries => EventKind::FailedMaxRetries,
            GiveUpReason::BudgetExhausted => EventKind::BudgetExhausted,
            GiveUpReason::CircuitOpen => EventKind::CircuitOpen,
            GiveUpReason::Deadline => EventKind::DeadlineExceeded,
            GiveUpReason::Cancelled
            | GiveUpReason::NonRetryable
            | GiveUpReason::NotIdempotent
            | GiveUpReason::OutcomeUnknown => EventKind::FailedNonRetryable,
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One event with the fields of DESIGN §2.7; borrowed, valid during the callback only.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    /// What happened.
    pub kind: EventKind,
    /// The name the call was started with.
    pub function: &'a str,
    /// 1-based number of the attempt this event is about.
    pub attempt: u32,
    /// The policy's `max_retries`.
    pub max_retries: u32,
    /// Delay before the next attempt (`FailedRetrying` only).
    pub delay_seconds: Option<f64>,
    /// Type name of the error.
    pub error_type: Option<&'a str>,
    /// Message of the error.
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

/// A callback that receives every event of a policy.
pub type EventCallback = Arc<dyn Fn(&Event<'_>) + Send + Sync>;

/// Emits `event` as a `tracing` event (target `k8sretry`) and to the policy's callback.
pub(crate) fn emit(event: &Event<'_>, callback: Option<&EventCallback>) {
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
    match event.kind {
        EventKind::SucceededAfterRetry | EventKind::RecoveredLostResponse => {
            trace_at!(tracing::Level::INFO)
        }
        EventKind::FailedRetrying => trace_at!(tracing::Level::WARN),
        _ => trace_at!(tracing::Level::ERROR),
    }
    if let Some(callback) = callback {
        callback(event);
    }
}
