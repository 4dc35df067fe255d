//! Reads the few fields of a Kubernetes `Status` body the engine uses, without building a JSON
//! tree: an error body arrives with most failed attempts, and a `serde_json::Value` of one cost
//! microseconds (a map and a string per key). A field of an unexpected type is ignored on its
//! own, as before; anything that is not a JSON object yields nothing.

use std::fmt;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// What a `Status` body says about the failure.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct StatusBody {
    pub reason: Option<String>,
    pub code: Option<u64>,
    /// `details.retryAfterSeconds`.
    pub details_retry_after_seconds: Option<i64>,
    /// Read only inside `details` (at the top level it is not part of a Status).
    retry_after_seconds: Option<i64>,
}

/// A value of type `T`, or anything else (then ignored).
#[derive(Deserialize)]
#[serde(untagged)]
enum Lenient<T> {
    Is(T),
    Other(IgnoredAny),
}

impl<T> Lenient<T> {
    fn value(self) -> Option<T> {
        match self {
            Lenient::Is(value) => Some(value),
            Lenient::Other(_) => None,
        }
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
                    out.details_retry_after_seconds = map
                        .next_value::<Lenient<StatusBody>>()?
                        .value()
                        .and_then(|details| details.retry_after_seconds);
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// The fields of `body`, or `None` when it is not a JSON object.
pub(crate) fn parse(body: &str) -> Option<StatusBody> {
    serde_json::from_str(body).ok()
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
    fn non_objects_yield_nothing() {
        for body in ["", "null", "[1,2]", "{", "<html>503</html>", "\"Status\""] {
            assert_eq!(parse(body), None, "{body:?}");
        }
    }
}
