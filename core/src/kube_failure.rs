//! What a `kube::Error` says about a failed attempt (feature `kube`): the status, reason and hint of
//! an API error, and for a connection failure what its `source()` chain tells.

use kube::Error;

use crate::error::ToFailure;
use crate::failure::{Failure, MAX_CODES};

impl ToFailure for Error {
    fn to_failure(&self) -> Failure {
        let failure = Failure::new().with_error("kube::Error", self.to_string());
        if let Error::Api(status) = self {
            let mut failure = failure.with_status(status.code).with_reason(&status.reason);
            if let Some(seconds) = status
                .details
                .as_ref()
                .map(|d| d.retry_after_seconds)
                .filter(|s| *s > 0)
            {
                failure = failure.with_retry_after_seconds(i64::from(seconds));
            }
            return failure;
        }
        // Connection failures arrive as Error::Service / Error::HyperError: walk the sources.
        failure_from_source(failure, self)
    }
}

/// Adds what `error` and its `source()` chain say about the connection: io error kinds and
/// numbers, hyper's closed connections (`ECONNRESET`), timeouts.
pub(crate) fn failure_from_source(
    mut failure: Failure,
    error: &(dyn std::error::Error + 'static),
) -> Failure {
    let mut link: Option<&(dyn std::error::Error + 'static)> = Some(error);
    for _ in 0..MAX_CODES {
        let Some(error) = link else { break };
        let mut next = None;
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            failure = match io.raw_os_error() {
                Some(errno) => failure.with_errno(errno),
                None => failure.with_io_kind(io.kind()),
            };
            // `io::Error::new(kind, inner)` answers `source()` with inner's source, skipping
            // inner itself: hyper and tokio-rustls wrap an ECONNRESET (errno 104) like that,
            // so look at the payload next, or the reset is never seen.
            next = io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static));
        }
        if let Some(hyper) = error.downcast_ref::<hyper::Error>() {
            if hyper.is_incomplete_message() || hyper.is_closed() || hyper.is_canceled() {
                failure = failure.with_code("ECONNRESET"); // the answer never came back
            }
            if hyper.is_timeout() {
                failure = failure.with_timeout(true);
            }
        }
        if error.to_string().contains("deadline has elapsed") {
            failure = failure.with_timeout(true); // tower's timeout layer
        }
        link = next.or_else(|| error.source());
    }
    failure
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{Class, Classifier};
    use crate::failure::Verb;

    #[test]
    fn an_errno_inside_a_custom_io_error_is_found() {
        // How a reset reaches kube through hyper/rustls: io::Error::other(<errno 104>).
        let inner = std::io::Error::from_raw_os_error(104);
        let outer = std::io::Error::other(inner);
        let failure = failure_from_source(Failure::new().with_verb(Verb::Post), &outer);
        assert!(
            failure.codes.iter().any(|c| c == "ECONNRESET"),
            "{failure:?}"
        );
        assert_eq!(
            Classifier::default().classify(&failure),
            Class::NetworkAmbiguous
        );
    }
}
