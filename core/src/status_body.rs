//! Reads the few fields of a Kubernetes `Status` body the engine uses, without building a JSON
//! tree: an error body arrives with most failed attempts, and a `serde_json::Value` of one cost
//! microseconds (a map and a string per key). A field of an unexpected type is ignored on its
//! own, as before; anything that is not a JSON object yields nothing.

use std::cell::RefCell;
use std::fmt;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// What a `Status` body says about the failure.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct StatusBody {
    pub reason: Option<String>,
    pub code: Option<u64>,
    /// `details.retryAfterSeconds`.
    pub details_retry_after_seconds: Option<i64>,
    /// Read only inside `details` (at the top level it is not part of a Status).
    retry_after_seconds: Option<i64>,
}

/// A value of type `T`, or anything else (then ignored). The value is taken as raw JSON text
/// first and read on its own, so one value that does not fit (`1e400`, a string for a number)
/// costs only itself: an untagged enum would buffer it as a number, fail, and fail the whole body.
struct Lenient<T>(Option<T>);

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <&serde_json::value::RawValue>::deserialize(deserializer)?;
        Ok(Lenient(serde_json::from_str(raw.get()).ok()))
    }
}

impl<T> Lenient<T> {
    fn value(self) -> Option<T> {
        self.0
    }
}

/// The keys read; any other is skipped unparsed.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum Key {
    Reason,
    Code,
    Details,
    RetryAfterSeconds,
    #[serde(other)]
    Other,
}

/// A JSON object (only an object: a derived struct would also accept an array) with the
/// keys above; `details` is read the same way for its `retryAfterSeconds`. The last of repeated
/// keys wins.
impl<'de> Deserialize<'de> for StatusBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor)
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = StatusBody;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes Status object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StatusBody, A::Error> {
        let mut out = StatusBody::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Reason => out.reason = map.next_value::<Lenient<String>>()?.value(),
                Key::Code => out.code = map.next_value::<Lenient<u64>>()?.value(),
                Key::RetryAfterSeconds => {
                    out.retry_after_seconds = map.next_value::<Lenient<i64>>()?.value();
                }
                Key::Details => {
                    // One level only: `details` is read for its own `retryAfterSeconds`, and what
                    // is nested inside it is skipped under serde_json's depth limit. (Parsing it
                    // as a Status again recursed once per nesting level, without bound.)
                    out.details_retry_after_seconds = map
                        .next_value::<Lenient<Details>>()?
                        .value()
                        .and_then(|d| d.0);
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// `details`: a JSON object read for its `retryAfterSeconds` alone.
struct Details(Option<i64>);

impl<'de> Deserialize<'de> for Details {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(DetailsVisitor)
    }
}

struct DetailsVisitor;

impl<'de> Visitor<'de> for DetailsVisitor {
    type Value = Details;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Status's details object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Details, A::Error> {
        let mut seconds = None;
        while let Some(key) = map.next_key::<Key>()? {
            if matches!(key, Key::RetryAfterSeconds) {
                seconds = map.next_value::<Lenient<i64>>()?.value();
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Details(seconds))
    }
}

/// Bodies up to this size are remembered (a Status is a few hundred bytes; an HTML error page
/// is not worth keeping).
const REMEMBERED_BODY: usize = 4096;

thread_local! {
    /// The last body read on this thread and what it said: in an outage or under API Priority and
    /// Fairness, thousands of failures carry the same Status text, and comparing it costs a
    /// fraction of reading it again.
    static LAST: RefCell<Option<(Box<str>, Option<StatusBody>)>> = const { RefCell::new(None) };
}

/// The fields of `body`, or `None` when it is not a JSON object.
pub(crate) fn parse(body: &str) -> Option<StatusBody> {
    if body.len() > REMEMBERED_BODY {
        return serde_json::from_str(body).ok();
    }
    LAST.with(|last| {
        if let Some((text, read)) = &*last.borrow()
            && **text == *body
        {
            return read.clone();
        }
        let read: Option<StatusBody> = serde_json::from_str(body).ok();
        *last.borrow_mut() = Some((body.into(), read.clone()));
        read
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_reason_code_and_hint() {
        let body = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"x","reason":"TooManyRequests","details":{"name":"a","retryAfterSeconds":3},"code":429}"#;
        let got = parse(body).unwrap();
        assert_eq!(got.reason.as_deref(), Some("TooManyRequests"));
        assert_eq!(got.code, Some(429));
        assert_eq!(got.details_retry_after_seconds, Some(3));
    }

    #[test]
    fn a_field_of_another_type_is_ignored_alone() {
        let got = parse(r#"{"reason":7,"code":"503","details":[1],"extra":{"a":[null]}}"#).unwrap();
        assert_eq!(got, StatusBody::default());
        let got = parse(r#"{"retryAfterSeconds":4,"details":{"retryAfterSeconds":"4"}}"#).unwrap();
        assert_eq!(
            got.details_retry_after_seconds, None,
            "only details.retryAfterSeconds counts"
        );
        let got = parse(r#"{"reason":"A","reason":"B"}"#).unwrap();
        assert_eq!(
            got.reason.as_deref(),
            Some("B"),
            "the last repeated key wins"
        );
        let got = parse(r#"{"reason":"Conflict","code":-1,"details":{"retryAfterSeconds":1.5}}"#)
            .unwrap();
        assert_eq!(got.reason.as_deref(), Some("Conflict"));
        assert_eq!((got.code, got.details_retry_after_seconds), (None, None));
    }

    #[test]
    fn an_out_of_range_number_costs_only_itself() {
        let got = parse(
            r#"{"reason":"TooManyRequests","code":429,"details":{"retryAfterSeconds":7,"x":1e400}}"#,
        )
        .unwrap();
        assert_eq!(got.reason.as_deref(), Some("TooManyRequests"));
        assert_eq!(
            (got.code, got.details_retry_after_seconds),
            (Some(429), Some(7))
        );
        let got =
            parse(r#"{"reason":"Timeout","code":1e400,"details":{"retryAfterSeconds":1e400}}"#)
                .unwrap();
        assert_eq!(got.reason.as_deref(), Some("Timeout"));
        assert_eq!((got.code, got.details_retry_after_seconds), (None, None));
    }

    #[test]
    fn deeply_nested_details_are_read_one_level_deep() {
        // 100k levels: skipped under serde_json's depth limit, not parsed once per level.
        let depth = 100_000;
        let body = format!(
            r#"{{"reason":"TooManyRequests","details":{}1{}}}"#,
            r#"{"details":"#.repeat(depth),
            "}".repeat(depth)
        );
        let got = parse(&body).unwrap();
        assert_eq!(got.reason.as_deref(), Some("TooManyRequests"));
        assert_eq!(got.details_retry_after_seconds, None);
        let got = parse(r#"{"details":{"details":{"retryAfterSeconds":5},"retryAfterSeconds":2}}"#)
            .unwrap();
        assert_eq!(
            got.details_retry_after_seconds,
            Some(2),
            "only details' own key"
        );
    }

    #[test]
    fn the_same_body_twice_reads_the_same_and_another_body_its_own() {
        let a = r#"{"reason":"ServiceUnavailable","code":503}"#;
        let b = r#"{"reason":"TooManyRequests","code":429,"details":{"retryAfterSeconds":2}}"#;
        for _ in 0..2 {
            assert_eq!(
                parse(a).unwrap().reason.as_deref(),
                Some("ServiceUnavailable")
            );
            let got = parse(b).unwrap();
            assert_eq!(
                (got.code, got.details_retry_after_seconds),
                (Some(429), Some(2))
            );
        }
        assert_eq!(parse("null"), None);
        assert_eq!(
            parse("null"),
            None,
            "a remembered non-object is still nothing"
        );
        let big = format!(
            r#"{{"reason":"Timeout","pad":"{}"}}"#,
            "x".repeat(REMEMBERED_BODY)
        );
        assert_eq!(parse(&big).unwrap().reason.as_deref(), Some("Timeout"));
    }

    #[test]
    fn non_objects_yield_nothing() {
        for body in ["", "null", "[1,2]", "{", "<html>503</html>", "\"Status\""] {
            assert_eq!(parse(body), None, "{body:?}");
        }
    }
}
