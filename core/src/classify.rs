//! Classification of a failure (DESIGN §2).
//!
//! Precedence: cancellation, then the caller's own rule (a veto before a "retryable"), then `Status.reason`, then the HTTP
//! status, then network codes (outermost first), then a client-side timeout.

use std::fmt;

use crate::failure::Failure;

/// Statuses retried by default: the union of the two implementations k8sretry replaces.
pub const DEFAULT_RETRY_STATUSES: &[u16] = &[408, 429, 500, 502, 503, 504];
/// Codes that mean the request never reached the server: safe to retry for any verb.
pub const DEFAULT_NOT_SENT_CODES: &[&str] = &[
    "ECONNREFUSED",
    "ENOTFOUND",
    "EAI_AGAIN",
    "ENETUNREACH",
    "EHOSTUNREACH",
    "UND_ERR_CONNECT_TIMEOUT",
    // httpx (lightkube, kr8s): no connection was made, or none was free in the pool.
    "HTTPX_CONNECT_ERROR",
    "HTTPX_CONNECT_TIMEOUT",
    "HTTPX_POOL_TIMEOUT",
];
/// Codes after which the server may or may not have acted on the request.
pub const DEFAULT_AMBIGUOUS_CODES: &[&str] = &[
    "ECONNRESET",
    "ETIMEDOUT",
    "EPIPE",
    "ECONNABORTED",
    "UND_ERR_SOCKET",
    "UND_ERR_HEADERS_TIMEOUT",
    "UND_ERR_BODY_TIMEOUT",
    "ERR_STREAM_PREMATURE_CLOSE",
    // httpx: the connection broke or stalled while the request or its answer was on the wire.
    "HTTPX_READ_ERROR",
    "HTTPX_READ_TIMEOUT",
    "HTTPX_WRITE_ERROR",
    "HTTPX_WRITE_TIMEOUT",
    "HTTPX_REMOTE_PROTOCOL_ERROR",
];

/// What kind of failure an attempt met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// 429 / `TooManyRequests`: rejected before any work; retried for any verb.
    Throttled,
    /// 408, 5xx gateway and server errors: retried; non-idempotent verbs only with a recovery.
    Transient,
    /// The request never reached the server: retried for any verb.
    NetworkNotSent,
    /// The connection failed mid-request: retried; non-idempotent verbs only with a recovery.
    NetworkAmbiguous,
    /// 409 `AlreadyExists` on a create.
    AlreadyExists,
    /// 409 `Conflict` (stale resourceVersion).
    Conflict,
    /// 404.
    NotFound,
    /// 410 `Gone` / `Expired` (a watch relists).
    Gone,
    /// The caller cancelled: never retried.
    Cancelled,
    /// Everything else.
    Fatal,
}

impl Class {
    /// The name used in vectors, events and metrics (`Throttled`, `NetworkAmbiguous`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Throttled => "Throttled",
            Class::Transient => "Transient",
            Class::NetworkNotSent => "NetworkNotSent",
            Class::NetworkAmbiguous => "NetworkAmbiguous",
            Class::AlreadyExists => "AlreadyExists",
            Class::Conflict => "Conflict",
            Class::NotFound => "NotFound",
            Class::Gone => "Gone",
            Class::Cancelled => "Cancelled",
            Class::Fatal => "Fatal",
        }
    }

    /// Every class, in declaration order.
    pub const ALL: [Class; 10] = ALL_CLASSES;

    /// Parses a name produced by [`Class::as_str`].
    pub fn parse(name: &str) -> Option<Class> {
        ALL_CLASSES.iter().copied().find(|c| c.as_str() == name)
    }

    /// Whether a retry can help at all (the verb decides the rest).
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Class::Throttled | Class::Transient | Class::NetworkNotSent | Class::NetworkAmbiguous
        )
    }

    /// Whether the server may have carried out the request although the attempt failed.
    pub fn may_have_applied(self) -> bool {
        matches!(self, Class::Transient | Class::NetworkAmbiguous)
    }
}

/// Every class, in discriminant order (`Class as usize` indexes it).
pub(crate) const ALL_CLASSES: [Class; 10] = [
    Class::Throttled,
    Class::Transient,
    Class::NetworkNotSent,
    Class::NetworkAmbiguous,
    Class::AlreadyExists,
    Class::Conflict,
    Class::NotFound,
    Class::Gone,
    Class::Cancelled,
    Class::Fatal,
];

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The configurable part of classification: which statuses and codes are retried.
#[derive(Debug, Clone, PartialEq)]
pub struct Classifier {
    /// HTTP statuses that are retried (`Throttled` for 429, `Transient` for the rest).
    pub retry_statuses: Vec<u16>,
    /// Codes classified `NetworkNotSent`.
    pub not_sent_codes: Vec<String>,
    /// Codes classified `NetworkAmbiguous`.
    pub ambiguous_codes: Vec<String>,
    /// Whether a client-side timeout is retried (as `NetworkAmbiguous`).
    pub retry_timeouts: bool,
}

impl Default for Classifier {
    fn default() -> Classifier {
        Classifier {
            retry_statuses: DEFAULT_RETRY_STATUSES.to_vec(),
            not_sent_codes: DEFAULT_NOT_SENT_CODES
                .iter()
                .map(|c| c.to_string())
                .collect(),
            ambiguous_codes: DEFAULT_AMBIGUOUS_CODES
                .iter()
                .map(|c| c.to_string())
                .collect(),
            retry_timeouts: true,
        }
    }
}

impl Classifier {
    /// Classifies one failure.
    pub fn classify(&self, failure: &Failure) -> Class {
        if failure.cancelled {
            return Class::Cancelled;
        }
        if failure.user_fatal {
            return Class::Fatal;
        }
        if failure.user_retryable {
            return Class::Transient;
        }
        if let Some(class) = failure
            .reason
            .as_deref()
            .and_then(|r| self.class_of_reason(r))
        {
            return class;
        }
        if let Some(status) = failure.status {
            return self.class_of_status(status);
        }
        for code in &failure.codes {
            if self
                .not_sent_codes
                .iter()
                .any(|c| c.eq_ignore_ascii_case(code))
            {
                return Class::NetworkNotSent;
            }
            if self
                .ambiguous_codes
                .iter()
                .any(|c| c.eq_ignore_ascii_case(code))
            {
                return Class::NetworkAmbiguous;
            }
        }
        if failure.timeout && self.retry_timeouts {
            return Class::NetworkAmbiguous;
        }
        Class::Fatal
    }

    /// A reason decides over a status. Reasons that mean "retry" are retried only while the
    /// status they stand for (429 for `TooManyRequests`, ...) is in the retryable set, so a
    /// policy without statuses (the `connection` preset) retries none of them.
    fn class_of_reason(&self, reason: &str) -> Option<Class> {
        let retry_if = |status: u16, class: Class| {
            Some(if self.retry_statuses.contains(&status) {
                class
            } else {
                Class::Fatal
            })
        };
        match reason {
            "TooManyRequests" => retry_if(429, Class::Throttled),
            "ServerTimeout" => retry_if(500, Class::Transient),
            "ServiceUnavailable" => retry_if(503, Class::Transient),
            "Timeout" => retry_if(504, Class::Transient),
            "AlreadyExists" => Some(Class::AlreadyExists),
            "Conflict" => Some(Class::Conflict),
            "NotFound" => Some(Class::NotFound),
            "Gone" | "Expired" => Some(Class::Gone),
            _ => None,
        }
    }

    fn class_of_status(&self, status: u16) -> Class {
        if self.retry_statuses.contains(&status) {
            return if status == 429 {
                Class::Throttled
            } else {
                Class::Transient
            };
        }
        match status {
            409 => Class::Conflict,
            404 => Class::NotFound,
            410 => Class::Gone,
            _ => Class::Fatal,
        }
    }
}

/// Classifies a failure with the default sets of DESIGN §2.
pub fn classify(failure: &Failure) -> Class {
    Classifier::default().classify(failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_decides_over_status_and_status_over_codes() {
        let f = Failure::new().with_status(409).with_reason("AlreadyExists");
        assert_eq!(classify(&f), Class::AlreadyExists);
        let f = Failure::new().with_status(400).with_code("ECONNRESET");
        assert_eq!(classify(&f), Class::Fatal);
        let f = Failure::new().with_code("EPROTO").with_code("ECONNREFUSED");
        assert_eq!(classify(&f), Class::NetworkNotSent);
    }

    #[test]
    fn a_callers_veto_decides_over_everything_but_a_cancellation() {
        let vetoed = Failure::new()
            .with_status(503)
            .with_user_retryable(true)
            .with_user_fatal(true);
        assert_eq!(classify(&vetoed), Class::Fatal);
        assert_eq!(classify(&vetoed.with_cancelled(true)), Class::Cancelled);
    }

    #[test]
    fn class_names_round_trip() {
        for class in ALL_CLASSES {
            assert_eq!(Class::parse(class.as_str()), Some(class));
        }
    }

    #[test]
    fn empty_status_set_retries_no_status() {
        let c = Classifier {
            retry_statuses: vec![],
            ..Classifier::default()
        };
        assert_eq!(c.classify(&Failure::new().with_status(429)), Class::Fatal);
        assert_eq!(
            c.classify(&Failure::new().with_reason("TooManyRequests")),
            Class::Fatal
        );
        assert_eq!(
            c.classify(&Failure::new().with_code("ECONNRESET")),
            Class::NetworkAmbiguous
        );
    }
}
