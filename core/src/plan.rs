//! Choosing how a request is made safe to resend (DESIGN §4), from what a wrapper knows about
//! it. Every binding asks here instead of deciding itself.

use crate::decision::Recovery;
use crate::failure::Verb;

/// The annotation (and, for `generateName`, label) that marks a write as this call's.
pub const REQUEST_ID: &str = "k8sretry.dev/request-id";

/// The patch type of a PATCH, as the content type the client sends says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/merge-patch+json` (RFC 7386): applying it twice gives the same object.
    Merge,
    /// `application/strategic-merge-patch+json`: idempotent like a merge patch.
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply): idempotent.
    Apply,
    /// `application/json-patch+json` (RFC 6902): NOT idempotent (`add` to a list appends).
    Json,
}

/// The patch content types the Kubernetes API accepts, with their patch type (the one table).
pub const PATCH_CONTENT_TYPES: [(&str, PatchType); 6] = [
    ("application/merge-patch+json", PatchType::Merge),
    (
        "application/strategic-merge-patch+json",
        PatchType::Strategic,
    ),
    ("application/apply-patch+yaml", PatchType::Apply),
    ("application/apply-patch+json", PatchType::Apply),
    ("application/apply-patch+cbor", PatchType::Apply),
    ("application/json-patch+json", PatchType::Json),
];

/// The content type a server-side apply is sent with.
pub const APPLY_PATCH_CONTENT_TYPE: &str = PATCH_CONTENT_TYPES[2].0;

impl PatchType {
    /// Every patch type.
    pub const ALL: [PatchType; 4] = [
        PatchType::Merge,
        PatchType::Strategic,
        PatchType::Apply,
        PatchType::Json,
    ];

    /// The short name: `merge`, `strategic`, `apply`, `json`.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchType::Merge => "merge",
            PatchType::Strategic => "strategic",
            PatchType::Apply => "apply",
            PatchType::Json => "json",
        }
    }

    /// From a `Content-Type` header value (one of [`PATCH_CONTENT_TYPES`], any case; parameters
    /// after `;` are ignored); `None` for any other.
    pub fn from_content_type(content_type: &str) -> Option<PatchType> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        PATCH_CONTENT_TYPES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(media))
            .map(|&(_, patch)| patch)
    }

    /// From a content type (see [`PatchType::from_content_type`]) or a short name (`merge`,
    /// `strategic`, `apply`, `json`; see [`PatchType::as_str`]).
    pub fn parse(text: &str) -> Option<PatchType> {
        let short = text.trim();
        PatchType::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(short))
            .or_else(|| PatchType::from_content_type(text))
    }
}

/// What a wrapper knows about one request. Unknown facts stay at their defaults (`false`,
/// `None`), which choose the safe side.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    /// The HTTP verb.
    pub verb: Verb,
    /// The resource, as a kind (`SelfSubjectAccessReview`), a resource name
    /// (`selfsubjectaccessreviews`) or a client method (`create_self_subject_access_review`,
    /// `createSelfSubjectAccessReview`): tells creates that persist nothing.
    pub resource: &'a str,
    /// The body has `metadata.name`.
    pub named: bool,
    /// The body has `metadata.generateName` and no name.
    pub generate_name: bool,
    /// The body has `metadata.resourceVersion` (a PUT that must not overwrite a newer object).
    pub resource_version: bool,
    /// The patch type of a PATCH, when the wrapper can tell.
    pub patch: Option<PatchType>,
    /// The body of a PATCH is known to be a JSON object (not a list, not text the wrapper cannot
    /// see into). Whatever its content type says, such a patch is safe to resend: a JSON patch
    /// is a list, so the apiserver rejects an object labelled as one without applying anything,
    /// and `kubernetes` 37 (Python, `rest.py`) sends it as a strategic merge patch instead; every
    /// other patch type is idempotent, and a content type the API does not know is refused.
    pub object_body: bool,
    /// Adopt an object that already exists under the name instead of owning the write: a create
    /// that meets `AlreadyExists` after a lost response returns whatever object is there, and
    /// nothing is stamped. Off by default (the safe side): the body is stamped with this call's
    /// request id and a read-back returns the object only when it carries that stamp.
    pub adopt_existing: bool,
    /// The wrapper can read the object back by name.
    pub can_get: bool,
    /// The wrapper can list the object's collection by label.
    pub can_list: bool,
    /// A delete that also accepts a first-attempt `NotFound`.
    pub missing_ok: bool,
}

/// What to stamp on the body before the first attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// Send the body as given.
    None,
    /// Add annotation [`REQUEST_ID`] with a fresh request id.
    Annotation,
    /// Add annotation and label [`REQUEST_ID`] (a `generateName` create, listed by label).
    AnnotationAndLabel,
}

impl Stamp {
    /// `none`, `annotation`, `annotation_and_label`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stamp::None => "none",
            Stamp::Annotation => "annotation",
            Stamp::AnnotationAndLabel => "annotation_and_label",
        }
    }
}

/// The recovery for a request and the stamp it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Declare this with [`crate::Call::with_recovery`].
    pub recovery: Recovery,
    /// Stamp the body like this before the first attempt.
    pub stamp: Stamp,
}

const fn plan(recovery: Recovery, stamp: Stamp) -> Plan {
    Plan { recovery, stamp }
}

/// Creates that store nothing (reviews) or forbid metadata on the body: resent like reads,
/// never stamped. From the discovery of kube-apiserver 1.34: the resources whose only verb is
/// `create` and which are answered, not stored (pods/eviction and bindings are left out: they
/// act on another object). Compared after [`normalize`].
const PERSIST_NOTHING: [&str; 9] = [
    "selfsubjectaccessreview",
    "subjectaccessreview",
    "localsubjectaccessreview",
    "selfsubjectrulesreview",
    "selfsubjectreview",
    "tokenreview",
    "tokenrequest",
    // `create_namespaced_service_account_token` / `createNamespacedServiceAccountToken`.
    "serviceaccounttoken",
    // The subresource path `serviceaccounts/token`.
    "serviceaccountstoken",
];

/// Lower case, without `_`/`-`/`/`, a leading `create` and `namespaced`, and a plural `s`.
fn normalize(resource: &str) -> String {
    let mut s: String = resource
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | '/'))
        .collect::<String>()
        .to_ascii_lowercase();
    for prefix in ["create", "namespaced"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.to_string();
        }
    }
    if s.ends_with('s') {
        s.pop();
    }
    s
}

/// Whether creating `resource` stores nothing (see [`Request::resource`]).
pub fn persists_nothing(resource: &str) -> bool {
    !resource.is_empty() && PERSIST_NOTHING.contains(&normalize(resource).as_str())
}

/// Chooses the recovery and the stamp for `request` (DESIGN §4).
pub fn choose(request: &Request<'_>) -> Plan {
    match request.verb {
        Verb::Post if persists_nothing(request.resource) => plan(Recovery::Idempotent, Stamp::None),
        Verb::Post if request.adopt_existing => {
            // Adopt on AlreadyExists (opt-in); nothing to read a generated name back with.
            if request.named && request.can_get {
                plan(Recovery::CreateAdopt, Stamp::None)
            } else {
                plan(Recovery::None, Stamp::None)
            }
        }
        Verb::Post if request.named && request.can_get => plan(Recovery::Create, Stamp::Annotation),
        Verb::Post if request.generate_name && request.can_list => {
            plan(Recovery::CreateGenerated, Stamp::AnnotationAndLabel)
        }
        Verb::Put if request.resource_version && !request.adopt_existing && request.can_get => {
            plan(Recovery::ReplaceStamped, Stamp::Annotation)
        }
        // A full replace without a resourceVersion is idempotent by its verb; with one but no
        // way to check, a resend would meet its own write as a Conflict: never resent.
        Verb::Put if request.resource_version => plan(Recovery::NotIdempotent, Stamp::None),
        Verb::Patch => match request.patch {
            Some(PatchType::Merge | PatchType::Strategic | PatchType::Apply) => {
                plan(Recovery::Idempotent, Stamp::None)
            }
            // See `Request::object_body`.
            Some(PatchType::Json) | None if request.object_body => {
                plan(Recovery::Idempotent, Stamp::None)
            }
            Some(PatchType::Json) | None => plan(Recovery::None, Stamp::None),
        },
        Verb::Delete => plan(
            Recovery::Delete {
                missing_ok: request.missing_ok,
            },
            Stamp::None,
        ),
        _ => plan(Recovery::None, Stamp::None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(resource: &str) -> Request<'_> {
        Request {
            verb: Verb::Post,
            resource,
            named: true,
            can_get: true,
            can_list: true,
            ..Request::default()
        }
    }

    #[test]
    fn reviews_are_resent_unstamped() {
        for name in [
            "create_self_subject_access_review",
            "createSelfSubjectAccessReview",
            "SelfSubjectAccessReview",
            "selfsubjectaccessreviews",
            "create_namespaced_local_subject_access_review",
            "createNamespacedServiceAccountToken",
            "serviceaccounts/token",
            "TokenReview",
        ] {
            assert_eq!(
                choose(&post(name)),
                plan(Recovery::Idempotent, Stamp::None),
                "{name}"
            );
        }
        assert_eq!(
            choose(&post("create_namespaced_pod")).stamp,
            Stamp::Annotation
        );
        assert!(!persists_nothing(""));
        assert!(!persists_nothing("create_namespaced_service_account"));
    }

    #[test]
    fn creates_by_what_can_be_read_back() {
        let generated = Request {
            named: false,
            generate_name: true,
            ..post("pods")
        };
        assert_eq!(
            choose(&generated),
            plan(Recovery::CreateGenerated, Stamp::AnnotationAndLabel)
        );
        let unlistable = Request {
            can_list: false,
            ..generated
        };
        assert_eq!(choose(&unlistable), plan(Recovery::None, Stamp::None));
        let unreadable = Request {
            can_get: false,
            ..post("pods")
        };
        assert_eq!(choose(&unreadable), plan(Recovery::None, Stamp::None));
        let adopt = Request {
            adopt_existing: true,
            ..post("pods")
        };
        assert_eq!(choose(&adopt), plan(Recovery::CreateAdopt, Stamp::None));
    }

    #[test]
    fn patches_by_type_and_puts_by_resource_version() {
        let patch = |p| Request {
            verb: Verb::Patch,
            patch: p,
            ..Request::default()
        };
        for p in [PatchType::Merge, PatchType::Strategic, PatchType::Apply] {
            assert_eq!(choose(&patch(Some(p))).recovery, Recovery::Idempotent);
        }
        assert_eq!(
            choose(&patch(Some(PatchType::Json))).recovery,
            Recovery::None
        );
        assert_eq!(choose(&patch(None)).recovery, Recovery::None);
        for p in [Some(PatchType::Json), None] {
            let object = Request {
                object_body: true,
                ..patch(p)
            };
            assert_eq!(choose(&object).recovery, Recovery::Idempotent);
        }
        let put = Request {
            verb: Verb::Put,
            resource_version: true,
            can_get: true,
            ..Request::default()
        };
        assert_eq!(
            choose(&put),
            plan(Recovery::ReplaceStamped, Stamp::Annotation)
        );
        let plain_put = Request {
            resource_version: false,
            ..put
        };
        assert_eq!(choose(&plain_put).recovery, Recovery::None);
        let unreadable_put = Request {
            can_get: false,
            ..put
        };
        assert_eq!(choose(&unreadable_put).recovery, Recovery::NotIdempotent);
        assert_eq!(
            PatchType::parse("application/merge-patch+json; charset=utf-8"),
            Some(PatchType::Merge)
        );
        assert_eq!(
            PatchType::parse("application/json-patch+json"),
            Some(PatchType::Json)
        );
        assert_eq!(PatchType::parse("text/plain"), None);
        assert_eq!(
            PatchType::from_content_type("Application/Apply-Patch+JSON"),
            Some(PatchType::Apply)
        );
        assert_eq!(PatchType::from_content_type("merge"), None);
        assert_eq!(PatchType::parse(" Strategic "), Some(PatchType::Strategic));
        assert_eq!(APPLY_PATCH_CONTENT_TYPE, "application/apply-patch+yaml");
        for p in PatchType::ALL {
            assert_eq!(PatchType::parse(p.as_str()), Some(p));
        }
    }

    /// A zeroed request (every fact unknown) never adopts and never resends a write.
    #[test]
    fn the_default_request_is_the_safe_one() {
        for verb in [Verb::Post, Verb::Put, Verb::Patch] {
            let plan = choose(&Request {
                verb,
                ..Request::default()
            });
            assert_eq!(plan.recovery, Recovery::None, "{verb:?}");
        }
        let named = Request {
            verb: Verb::Post,
            named: true,
            can_get: true,
            ..Request::default()
        };
        assert_eq!(choose(&named), plan(Recovery::Create, Stamp::Annotation));
    }
}
