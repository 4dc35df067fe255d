//! `plan(request)`: the core chooses how a request is made safe to resend (DESIGN §4) from the
//! facts a wrapper knows; the TypeScript layer stamps the body as told and begins the call with
//! the recovery it gets. Off the hot path (the wrappers remember the answer per set of facts).

use k8sretry::Verb;
use k8sretry::plan::{self, PatchType, Plan, Request};
use napi_derive::napi;

use crate::Code;
use crate::call::parse_verb;
use napi::Result;

/// What a wrapper knows about one request (unknown facts left out choose the safe side).
#[napi(object)]
#[derive(Default)]
pub struct PlanRequest {
    /// GET, LIST, WATCH, POST, PUT, PATCH, DELETE (or UNKNOWN).
    pub verb: String,
    /// A kind, a resource name or a client method name (`createSelfSubjectAccessReview`).
    pub resource: Option<String>,
    /// The body has `metadata.name`.
    pub named: Option<bool>,
    /// The body has `metadata.generateName` (and no name).
    pub generate_name: Option<bool>,
    /// The body has `metadata.resourceVersion`.
    pub resource_version: Option<bool>,
    /// The patch's content type (`application/merge-patch+json`, ...) or short name (`merge`,
    /// `strategic`, `apply`, `json`). Absent or not a patch type: not known, so not idempotent.
    pub patch: Option<String>,
    /// The PATCH body is known to be a JSON object (not a list): resent whatever its patch type
    /// (the core's rule; default false).
    pub object_body: Option<bool>,
    /// Opt-in (default false): a create adopts any object already under its name, unstamped;
    /// otherwise the body is stamped with a request id and only our own object is accepted.
    pub adopt_existing: Option<bool>,
    /// The wrapper can read the object back by name.
    pub can_get: Option<bool>,
    /// The wrapper can list the object's collection by label.
    pub can_list: Option<bool>,
    /// A delete that also accepts a first-attempt NotFound.
    pub missing_ok: Option<bool>,
}

/// The core's answer: the recovery to begin the call with, and how to stamp the body.
#[napi(object)]
pub struct PlanAnswer {
    /// One of the recovery names `beginCall` takes.
    pub recovery: String,
    /// `none`, `annotation` or `annotation_and_label` (with [`REQUEST_ID`]).
    pub stamp: String,
}

/// The recovery and stamp for `request` (core `plan::choose`).
#[napi]
pub fn plan(request: PlanRequest) -> Result<PlanAnswer, Code> {
    let verb = parse_verb(&request.verb)?;
    let chosen = choose(verb, &request);
    Ok(PlanAnswer {
        recovery: chosen.recovery.as_str().to_owned(),
        stamp: chosen.stamp.as_str().to_owned(),
    })
}

fn choose(verb: Verb, request: &PlanRequest) -> Plan {
    plan::choose(&Request {
        verb,
        resource: request.resource.as_deref().unwrap_or(""),
        named: request.named.unwrap_or(false),
        generate_name: request.generate_name.unwrap_or(false),
        resource_version: request.resource_version.unwrap_or(false),
        patch: request.patch.as_deref().and_then(PatchType::parse),
        object_body: request.object_body.unwrap_or(false),
        adopt_existing: request.adopt_existing.unwrap_or(false),
        can_get: request.can_get.unwrap_or(false),
        can_list: request.can_list.unwrap_or(false),
        missing_ok: request.missing_ok.unwrap_or(false),
    })
}

/// The annotation (and, for `generateName`, label) key of the request id.
#[napi]
pub const REQUEST_ID: &str = k8sretry::REQUEST_ID;

/// The content type a server-side apply is sent with.
#[napi]
pub const APPLY_PATCH: &str = k8sretry::APPLY_PATCH_CONTENT_TYPE;

#[cfg(test)]
mod tests {
    // napi errors need the Node runtime to be dropped: the tests stay before them.
    use super::*;
    use k8sretry::Recovery;
    use k8sretry::plan::Stamp;

    #[test]
    fn plans_come_from_the_core() {
        let review = PlanRequest {
            resource: Some("createSelfSubjectAccessReview".into()),
            named: Some(true),
            can_get: Some(true),
            ..PlanRequest::default()
        };
        assert_eq!(
            choose(Verb::Post, &review),
            Plan {
                recovery: Recovery::Idempotent,
                stamp: Stamp::None
            }
        );
        let patch = |t: &str| PlanRequest {
            patch: Some(t.into()),
            ..PlanRequest::default()
        };
        let merge = patch("application/merge-patch+json");
        assert_eq!(choose(Verb::Patch, &merge).recovery, Recovery::Idempotent);
        // A content type that is no patch type is not known: not idempotent.
        let unknown = patch("application/json");
        assert_eq!(choose(Verb::Patch, &unknown).recovery, Recovery::None);
        // Nothing is adopted unless asked for.
        let create = PlanRequest {
            named: Some(true),
            can_get: Some(true),
            ..PlanRequest::default()
        };
        assert_eq!(choose(Verb::Post, &create).stamp, Stamp::Annotation);
    }
}
