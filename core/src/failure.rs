//! What a binding extracts from one failed attempt (DESIGN §2).

use std::fmt;
use std::io;

/// Text from outside (a response body, a header, an error message) as the engine reads it: invalid
/// UTF-8 is decoded lossily (U+FFFD), never refused, so the same bytes get the same decision in
/// every language (DESIGN §2).
pub fn outside_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// How many network codes a failure keeps: bindings walk cause chains up to 16 links.
pub const MAX_CODES: usize = 16;

/// The statuses HTTP defines: what a policy may list, and what metrics label a retry with.
pub(crate) const HTTP_STATUSES: std::ops::RangeInclusive<u16> = 100..=599;

/// HTTP verb of the failed request, as far as the caller knows it.
///
/// `Unknown` (a decorator around arbitrary code) means the caller vouches for idempotency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Verb {
    /// `GET` of one object.
    Get,
    /// `GET` of a collection.
    List,
    /// A watch stream: classified like a read, but never retried.
    Watch,
    /// `POST` (create): not idempotent.
    Post,
    /// `PUT` (replace).
    Put,
    /// `PATCH`: not idempotent in general (JSON patch `add`, strategic merge list appends).
    Patch,
    /// `DELETE`.
    Delete,
    /// Not known: the caller vouches that repeating the call is safe.
    #[default]
    Unknown,
}

impl Verb {
    /// The names [`Verb::parse`] accepts besides the aliases, for messages.
    pub const NAMES: [&'static str; 8] = [
        "GET", "LIST", "WATCH", "POST", "PUT", "PATCH", "DELETE", "UNKNOWN",
    ];

    /// Parses a verb name strictly, case-insensitively and without surrounding ASCII white
    /// space: one of [`Verb::NAMES`], or the aliases `READ`/`HEAD` (GET), `CREATE` (POST),
    /// `REPLACE`/`UPDATE` (PUT). Only an explicit `UNKNOWN` means unknown: any other string is
    /// `None`, because a mistyped verb must never switch off the rule for writes (DESIGN §2).
    pub fn parse(name: &str) -> Option<Verb> {
        let name = name.trim_matches(|c: char| c.is_ascii_whitespace());
        let is = |s: &str| name.eq_ignore_ascii_case(s);
        Some(if is("GET") || is("READ") || is("HEAD") {
            Verb::Get
        } else if is("LIST") {
            Verb::List
        } else if is("WATCH") {
            Verb::Watch
        } else if is("POST") || is("CREATE") {
            Verb::Post
        } else if is("PUT") || is("REPLACE") || is("UPDATE") {
            Verb::Put
        } else if is("PATCH") {
            Verb::Patch
        } else if is("DELETE") {
            Verb::Delete
        } else if is("UNKNOWN") {
            Verb::Unknown
        } else {
            return None;
        })
    }

    /// The message for a name [`Verb::parse`] refused.
    pub fn parse_error(name: &str) -> String {
        format!(
            "unknown verb {name:?} (expected one of {})",
            Verb::NAMES.join(", ")
        )
    }

    /// The upper-case name used in vectors, events and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::List => "LIST",
            Verb::Watch => "WATCH",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
            Verb::Unknown => "UNKNOWN",
        }
    }

    /// Whether sending the same request twice has the effect of sending it once.
    ///
    /// `DELETE` counts as idempotent: a repeat can only answer `NotFound`, which the delete
    /// recovery turns into success. `Unknown` is idempotent because the caller vouched for it.
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Verb::Post | Verb::Patch)
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed attempt, as the binding saw it. Built only on the failure path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Failure {
    /// HTTP status, if a response arrived. `0` (Python's client uses it for SSL errors) means none.
    pub status: Option<u16>,
    /// Kubernetes `Status.reason` from the response body.
    pub reason: Option<String>,
    /// Raw `Retry-After` header value.
    pub retry_after: Option<String>,
    /// `Status.details.retryAfterSeconds` from the body.
    pub retry_after_seconds: Option<i64>,
    /// Network error codes from the error and its cause chain, outermost first, upper-case.
    pub codes: Vec<String>,
    /// A client-side timeout fired.
    pub timeout: bool,
    /// The caller cancelled: never retried.
    pub cancelled: bool,
    /// The caller's own rule (Python `retry_on`, for example) says this error is retryable.
    pub user_retryable: bool,
    /// The caller's own rule (a predicate that vetoes a retry) says this error is not retryable:
    /// classified `Fatal`, over `user_retryable` and everything but a cancellation.
    pub user_fatal: bool,
    /// Verb of the failed request.
    pub verb: Verb,
    /// Type name of the original error, for events (`ApiException`, `FetchError`, ...).
    pub error_type: Option<String>,
    /// Message of the original error, for events (which carry it through [`crate::event_text`]).
    pub message: Option<String>,
}

impl Failure {
    /// An empty failure: no status, no codes. Classifies as `Fatal` until something is added.
    pub fn new() -> Failure {
        Failure::default()
    }

    /// A failure with an HTTP status (`0` is treated as no status).
    pub fn with_status(mut self, status: u16) -> Failure {
        self.status = (status != 0).then_some(status);
        self
    }

    /// Sets `Status.reason`; blank strings are ignored.
    pub fn with_reason(mut self, reason: impl AsRef<str>) -> Failure {
        let reason = reason.as_ref().trim();
        self.reason = (!reason.is_empty()).then(|| reason.to_owned());
        self
    }

    /// Sets the raw `Retry-After` header value.
    pub fn with_retry_after(mut self, value: impl Into<String>) -> Failure {
        self.retry_after = Some(value.into());
        self
    }

    /// Sets `Status.details.retryAfterSeconds`.
    pub fn with_retry_after_seconds(mut self, seconds: i64) -> Failure {
        self.retry_after_seconds = Some(seconds);
        self
    }

    /// Adds a network error code (kept upper-case; blank codes and codes past [`MAX_CODES`] are dropped).
    pub fn with_code(mut self, code: impl AsRef<str>) -> Failure {
        self.push_code(code.as_ref());
        self
    }

    /// Adds the code of a raw OS error number (`104` on Linux is `ECONNRESET`).
    pub fn with_errno(mut self, errno: i32) -> Failure {
        if let Some(code) = code_for_io_kind(io::Error::from_raw_os_error(errno).kind()) {
            self.push_code(code);
        }
        self
    }

    /// Adds the code for a `std::io::ErrorKind`, when it names a network condition.
    pub fn with_io_kind(mut self, kind: io::ErrorKind) -> Failure {
        if kind == io::ErrorKind::TimedOut {
            self.timeout = true;
        }
        if let Some(code) = code_for_io_kind(kind) {
            self.push_code(code);
        }
        self
    }

    /// Marks a client-side timeout.
    pub fn with_timeout(mut self, timeout: bool) -> Failure {
        self.timeout = timeout;
        self
    }

    /// Marks a cancellation by the caller.
    pub fn with_cancelled(mut self, cancelled: bool) -> Failure {
        self.cancelled = cancelled;
        self
    }

    /// Marks an error that the caller's own rule declares retryable.
    pub fn with_user_retryable(mut self, retryable: bool) -> Failure {
        self.user_retryable = retryable;
        self
    }

    /// Marks an error that the caller's own rule declares not retryable (a veto).
    pub fn with_user_fatal(mut self, fatal: bool) -> Failure {
        self.user_fatal = fatal;
        self
    }

    /// Sets the verb of the failed request.
    pub fn with_verb(mut self, verb: Verb) -> Failure {
        self.verb = verb;
        self
    }

    /// Sets the error's type name and message, which events report.
    pub fn with_error(
        mut self,
        error_type: impl Into<String>,
        message: impl Into<String>,
    ) -> Failure {
        self.error_type = Some(error_type.into());
        self.message = Some(message.into());
        self
    }

    /// Reads a Kubernetes `Status` JSON body: `reason` and `details.retryAfterSeconds`, plus
    /// `code` when no HTTP status is known yet. A body that is not a JSON `Status` changes nothing,
    /// so bindings can pass whatever text the client kept.
    pub fn with_status_body(mut self, body: &str) -> Failure {
        let Some(status) = crate::status_body::parse(body) else {
            return self;
        };
        if self.reason.is_none()
            && let Some(reason) = status.reason
        {
            self = self.with_reason(reason);
        }
        if self.status.is_none()
            && let Some(code) = status.code.and_then(|c| u16::try_from(c).ok())
        {
            self = self.with_status(code);
        }
        if self.retry_after_seconds.is_none() {
            self.retry_after_seconds = status.details_retry_after_seconds;
        }
        self
    }

    /// The first network code, for events.
    pub fn first_code(&self) -> Option<&str> {
        self.codes.first().map(String::as_str)
    }

    fn push_code(&mut self, code: &str) {
        let code = code.trim();
        if code.is_empty() || self.codes.len() >= MAX_CODES {
            return;
        }
        self.codes.push(code.to_ascii_uppercase());
    }
}

/// POSIX name of the network condition an `io::ErrorKind` stands for.
fn code_for_io_kind(kind: io::ErrorKind) -> Option<&'static str> {
    use io::ErrorKind as K;
    Some(match kind {
        K::ConnectionRefused => "ECONNREFUSED",
        K::ConnectionReset => "ECONNRESET",
        K::ConnectionAborted => "ECONNABORTED",
        K::BrokenPipe => "EPIPE",
        K::TimedOut => "ETIMEDOUT",
        K::HostUnreachable => "EHOSTUNREACH",
        K::NetworkUnreachable => "ENETUNREACH",
        K::UnexpectedEof => "ECONNRESET",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_body_fills_reason_and_hint() {
        let body = r#"{"kind":"Status","code":429,"reason":"TooManyRequests","details":{"retryAfterSeconds":3}}"#;
        let f = Failure::new().with_status_body(body);
        assert_eq!(f.status, Some(429));
        assert_eq!(f.reason.as_deref(), Some("TooManyRequests"));
        assert_eq!(f.retry_after_seconds, Some(3));
    }

    #[test]
    fn garbage_body_changes_nothing() {
        for body in [
            "",
            "null",
            "[1,2]",
            "{",
            "<html>503</html>",
            "{\"reason\":7}",
        ] {
            let f = Failure::new().with_status(503).with_status_body(body);
            assert_eq!(f, Failure::new().with_status(503), "body {body:?}");
        }
    }

    #[test]
    fn errno_maps_to_posix_names() {
        let f = Failure::new().with_errno(104).with_errno(111).with_errno(2);
        assert_eq!(f.codes, ["ECONNRESET", "ECONNREFUSED"]);
    }

    #[test]
    fn codes_are_bounded_and_upper_case() {
        let mut f = Failure::new();
        for _ in 0..40 {
            f = f.with_code("econnreset");
        }
        assert_eq!(f.codes.len(), MAX_CODES);
        assert_eq!(f.codes[0], "ECONNRESET");
    }

    #[test]
    fn status_zero_is_no_status() {
        assert_eq!(Failure::new().with_status(0).status, None);
    }

    #[test]
    fn verbs_parse_and_know_idempotency() {
        assert_eq!(Verb::parse("create"), Some(Verb::Post));
        assert_eq!(Verb::parse(" patch "), Some(Verb::Patch));
        assert_eq!(Verb::parse("unknown"), Some(Verb::Unknown));
        for typo in [
            "frobnicate",
            "PSOT",
            "post\u{200b}",
            "CONNECT",
            "",
            "GET POST",
        ] {
            assert_eq!(Verb::parse(typo), None, "{typo:?}");
        }
        assert!(!Verb::Post.is_idempotent());
        assert!(Verb::Delete.is_idempotent());
        assert!(Verb::Unknown.is_idempotent());
    }
}
