//! kube-rs integration (feature `kube`): idempotent writes over `kube::Api<K>`, and a client
//! whose own retries are off (kube retries 429/503/504 itself by default, and its attempts would
//! multiply with ours). What a `kube::Error` says is read in `kube_failure.rs`.

use std::fmt::Debug;
use std::future::Future;

use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Resource, ResourceExt,
};
use kube::{Client, Config, Error};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::call::Call;
use crate::decision::Recovery;
use crate::driver::Found;
use crate::error::RetryError;
use crate::failure::Verb;
use crate::plan::{self, PatchType, Request, Stamp};
use crate::policy::Policy;

pub use crate::plan::REQUEST_ID;

/// A client from `config` with kube's own retry switched off, for use under k8sretry.
pub fn client_without_own_retry(mut config: Config) -> Result<Client, Error> {
    config.default_retry = false;
    Client::try_from(config)
}

/// The read-back of helpers that have none.
type NoReadBack<T> = crate::driver::NoReadBack<T, Error>;

/// The kind of `K`, for [`plan::choose`] (reviews and token requests persist nothing).
fn kind<K: Resource>() -> String
where
    K::DynamicType: Default,
{
    K::kind(&K::DynamicType::default()).into_owned()
}

/// A copy of `obj` stamped as `stamp` says, and the request id it carries.
fn stamped<K: Resource + Clone>(obj: &K, stamp: Stamp) -> (K, String) {
    let id = uuid::Uuid::new_v4().to_string();
    let mut copy = obj.clone();
    if stamp != Stamp::None {
        copy.annotations_mut()
            .insert(REQUEST_ID.to_owned(), id.clone());
    }
    if stamp == Stamp::AnnotationAndLabel {
        copy.labels_mut().insert(REQUEST_ID.to_owned(), id.clone());
    }
    (copy, id)
}

fn carries<K: Resource>(obj: &K, id: &str) -> bool {
    obj.annotations().get(REQUEST_ID).map(String::as_str) == Some(id)
}

/// Creates `obj` with retries. A copy is stamped with a request id; after a lost response the
/// object is read back (by name, or listed by label for `generateName`) and returned only if it
/// carries our id: somebody else's object is never adopted. Reviews and token requests, which
/// persist nothing, are sent unstamped and resent like reads.
pub async fn create_idempotent<K>(
    api: &Api<K>,
    policy: &Policy,
    obj: &K,
) -> Result<K, RetryError<Error>>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
    K::DynamicType: Default,
{
    let kind = kind::<K>();
    let named = obj.meta().name.is_some();
    let chosen = plan::choose(&Request {
        verb: Verb::Post,
        resource: &kind,
        named,
        generate_name: !named && obj.meta().generate_name.is_some(),
        can_get: true,
        can_list: true,
        ..Request::default()
    });
    let (sent, id) = stamped(obj, chosen.stamp);
    let read_back = || async {
        if chosen.recovery == Recovery::CreateGenerated {
            let list = api
                .list(&ListParams::default().labels(&format!("{REQUEST_ID}={id}")))
                .await?;
            Ok(list
                .items
                .into_iter()
                .find(|item| carries(item, &id))
                .map(|item| (item, true)))
        } else {
            Ok(api.get_opt(&sent.name_any()).await?.map(|found| {
                let mine = carries(&found, &id);
                (found, mine)
            }))
        }
    };
    let call = Call::start(policy, "create_idempotent", crate::nesting::active())
        .with_verb(Verb::Post)
        .with_recovery(chosen.recovery);
    let params = PostParams::default();
    drive(call, || api.create(&params, &sent), Some(read_back), None).await
}

/// Replaces `name` with `obj` with retries. Without `metadata.resourceVersion` a replace is
/// idempotent and is simply resent. With one, a copy is stamped with a request id; a `Conflict`
/// after a lost response is read back, and the object is returned if it carries our id (our
/// update landed), else the `Conflict` is returned.
pub async fn replace_idempotent<K>(
    api: &Api<K>,
    policy: &Policy,
    name: &str,
    obj: &K,
) -> Result<K, RetryError<Error>>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
    K::DynamicType: Default,
{
    let kind = kind::<K>();
    let chosen = plan::choose(&Request {
        verb: Verb::Put,
        resource: &kind,
        named: true,
        resource_version: obj.meta().resource_version.is_some(),
        can_get: true,
        ..Request::default()
    });
    let (sent, id) = stamped(obj, chosen.stamp);
    let read_back = || async {
        Ok(api.get_opt(name).await?.map(|found| {
            let mine = carries(&found, &id);
            (found, mine)
        }))
    };
    let call = Call::start(policy, "replace_idempotent", crate::nesting::active())
        .with_verb(Verb::Put)
        .with_recovery(chosen.recovery);
    let params = PostParams::default();
    drive(
        call,
        || api.replace(name, &params, &sent),
        Some(read_back),
        None,
    )
    .await
}

/// The patch type of a kube patch; any other (JSON patch) is not idempotent.
fn patch_type<P: Serialize>(patch: &Patch<P>) -> Option<PatchType> {
    match patch {
        Patch::Apply(_) => Some(PatchType::Apply),
        Patch::Merge(_) => Some(PatchType::Merge),
        Patch::Strategic(_) => Some(PatchType::Strategic),
        #[allow(unreachable_patterns)] // Patch::Json exists with kube's `jsonpatch` feature
        _ => Some(PatchType::Json),
    }
}

/// Patches `name` with retries decided by the patch type: merge, strategic merge and apply
/// patches are idempotent and resent after a lost response; a JSON patch (RFC 6902) is not: after
/// a lost response it gives up with [`crate::GiveUpReason::NotIdempotent`] (its outcome is unknown).
pub async fn patch_idempotent<K, P>(
    api: &Api<K>,
    policy: &Policy,
    name: &str,
    params: &PatchParams,
    patch: &Patch<P>,
) -> Result<K, RetryError<Error>>
where
    K: Resource + Clone + DeserializeOwned + Debug,
    P: Serialize + Debug,
{
    let chosen = plan::choose(&Request {
        verb: Verb::Patch,
        patch: patch_type(patch),
        ..Request::default()
    });
    let call = Call::start(policy, "patch_idempotent", crate::nesting::active())
        .with_verb(Verb::Patch)
        .with_recovery(chosen.recovery);
    let no_read_back: Option<NoReadBack<K>> = None;
    drive(call, || api.patch(name, params, patch), no_read_back, None).await
}

/// Server-side apply of `obj` as `field_manager` (forcing conflicts when `force`), with retries:
/// an apply is idempotent, so it is resent after every transient failure. The recommended
/// create-or-update path for named objects.
pub async fn apply<K>(
    api: &Api<K>,
    policy: &Policy,
    name: &str,
    field_manager: &str,
    force: bool,
    obj: &K,
) -> Result<K, RetryError<Error>>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    let mut params = PatchParams::apply(field_manager);
    params.force = force;
    patch_idempotent(api, policy, name, &params, &Patch::Apply(obj)).await
}

/// Deletes `name` with retries: `NotFound` after a lost response (or any `NotFound` with
/// `missing_ok`) is success, and so is a failed UID precondition after a lost response.
pub async fn delete_idempotent<K>(
    api: &Api<K>,
    policy: &Policy,
    name: &str,
    params: &DeleteParams,
    missing_ok: bool,
) -> Result<(), RetryError<Error>>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let call = Call::start(policy, "delete_idempotent", crate::nesting::active())
        .with_verb(Verb::Delete)
        .with_recovery(Recovery::Delete { missing_ok });
    let no_read_back: Option<NoReadBack<()>> = None;
    drive(
        call,
        || async { api.delete(name, params).await.map(|_| ()) },
        no_read_back,
        Some(()),
    )
    .await
}

/// Re-runs a read-modify-write on `Conflict` (client-go's RetryOnConflict: the `conflict` preset).
pub async fn retry_on_conflict<T, F, Fut>(policy: &Policy, op: F) -> Result<T, RetryError<Error>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let call = Call::start(policy, "retry_on_conflict", crate::nesting::active())
        .with_verb(Verb::Put)
        .with_recovery(Recovery::RetryConflict);
    let no_read_back: Option<NoReadBack<T>> = None;
    drive(call, op, no_read_back, None).await
}

/// The loop behind the helpers: [`crate::driver::drive`] on tokio's clock.
async fn drive<T, A, AF, R, RF>(
    call: Call,
    attempt: A,
    read_back: Option<R>,
    done: Option<T>,
) -> Result<T, RetryError<Error>>
where
    A: FnMut() -> AF,
    AF: Future<Output = Result<T, Error>>,
    R: FnMut() -> RF,
    RF: Future<Output = Result<Found<T>, Error>>,
{
    crate::driver::drive(call, None, attempt, tokio::time::sleep, read_back, done).await
}
