//! A tower layer that retries every request of a `kube::Client` as the engine decides (feature
//! `kube`), on kube's own [`ClientBuilder`]: kube's timeouts, proxy, TLS stack, auth, tracing and
//! gzip stay as the application configured them.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use k8sretry::Policy;
//! use k8sretry::kube_layer::RetryLayer;
//! use kube::client::ClientBuilder;
//!
//! let mut config = kube::Config::infer().await?;
//! config.default_retry = false; // kube's own retry would multiply the attempts
//! let client = ClientBuilder::try_from(config)?
//!     .with_layer(&RetryLayer::new(Policy::preset("default")?))
//!     .build();
//! # Ok(()) }
//! ```
//!
//! [`client_with_retry`] does exactly that. The layer sits outside kube's stack, so each attempt
//! is a request of its own through kube's tracing, auth and timeouts. Error responses are judged
//! by status, `Retry-After` and their `Status` body (read into memory, as kube reads it anyway, and
//! handed on unchanged), so a 409 `AlreadyExists` is told from a `Conflict`; on give-up the
//! response or error goes back as it came. Watches, `follow` streams, upgrades (exec, attach,
//! port-forward) and bodies that cannot be cloned are sent once.
//!
//! What happens after an ambiguous failure (a reset, a timeout, a 5xx: the server may have carried
//! the request out) is chosen by [`crate::plan::choose`] from what the layer sees of the request;
//! it never reads back, so writes that need a read-back to be safe are not resent (use the
//! helpers of [`crate::kube`] for those):
//!
//! | request | after an ambiguous failure |
//! |---|---|
//! | `GET`, list | resent |
//! | `PUT` without `metadata.resourceVersion` | resent |
//! | `PUT` with `metadata.resourceVersion` | not resent: the original error (`replace_idempotent` reads back) |
//! | `PATCH` merge, strategic merge, apply | resent |
//! | `PATCH` JSON patch | not resent: the original error |
//! | `POST` | not resent (`create_idempotent` reads back), except creates that store nothing (reviews): resent |
//! | `DELETE` | resent; a `NotFound` then is returned as it came (`delete_idempotent` makes it success) |
//! | watch, `follow`, upgrades | never retried |

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Either, Full};
use kube::client::{Body, ClientBuilder};
use kube::{Client, Config, Error};
use tower::{BoxError, Layer, Service};

use crate::call::Call;
use crate::decision::Recovery;
use crate::driver::{NoReadBack, drive};
use crate::error::ToFailure;
use crate::failure::{Failure, Verb};
use crate::kube_failure::failure_from_source;
use crate::nesting::{self, Scoped};
use crate::plan::{self, PatchType};
use crate::policy::Policy;
use crate::success::SuccessRecorder;

/// The function name of the layer's calls in events and metrics.
const FUNCTION: &str = "kube::Client";

/// Error bodies up to this size (by `Content-Length`) are read for their `Status`; larger ones
/// (never an apiserver's) are judged by status alone and passed on unread.
const MAX_STATUS_BODY: u64 = 1 << 20;

/// Wraps a service of kube's stack in [`RetryService`]. Use it on kube's [`ClientBuilder`] with
/// `Config::default_retry` off.
#[derive(Debug, Clone)]
pub struct RetryLayer {
    policy: Policy,
}

impl RetryLayer {
    /// Retries under `policy`.
    pub fn new(policy: Policy) -> RetryLayer {
        RetryLayer { policy }
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = RetryService<S>;

    fn layer(&self, inner: S) -> RetryService<S> {
        RetryService {
            inner: Arc::new(Mutex::new(inner)),
            policy: self.policy.clone(),
            success: SuccessRecorder::new(&self.policy, FUNCTION),
        }
    }
}

/// The service [`RetryLayer`] makes. The inner service is shared (kube's stack is a `BoxService`,
/// which cannot be cloned): each attempt takes it for as long as `poll_ready` and `call` take, and
/// awaits the response without it.
#[derive(Debug)]
pub struct RetryService<S> {
    inner: Arc<Mutex<S>>,
    policy: Policy,
    /// A first attempt's success, its metrics looked up once (not once per request).
    success: SuccessRecorder,
}

impl<S> Clone for RetryService<S> {
    fn clone(&self) -> Self {
        RetryService {
            inner: Arc::clone(&self.inner),
            policy: self.policy.clone(),
            success: self.success.clone(),
        }
    }
}

/// The body of a response through [`RetryService`]: the inner body, or an error response's body
/// read into memory.
pub type RetryBody<B> = Either<B, Full<Bytes>>;

fn verb_of(request: &Request<Body>) -> Verb {
    let query = request.uri().query().unwrap_or("");
    match request.method().as_str() {
        "GET" if query.contains("watch=true") || query.contains("watch=1") => Verb::Watch,
        // An HTTP method outside the verbs (CONNECT, OPTIONS, ...) is a write without recovery.
        method => Verb::parse(method).unwrap_or(Verb::Post),
    }
}

/// Requests sent once: watches, log streams, upgrades (exec, attach, port-forward).
fn is_stream(request: &Request<Body>) -> bool {
    let query = request.uri().query().unwrap_or("");
    verb_of(request) == Verb::Watch
        || query.contains("follow=true")
        || request.headers().contains_key(http::header::UPGRADE)
}

/// The recovery [`plan::choose`] gives for what the layer can see of `request`: its verb, the
/// resource (the path's last segment, which tells reviews), a PUT body's
/// `metadata.resourceVersion`, a PATCH's content type. The layer cannot read back
/// (`can_get`/`can_list` off), and a `DELETE` keeps no recovery: a `NotFound` after a lost
/// response goes back to the caller as it came.
async fn recovery_of(parts: &http::request::Parts, body: Option<Body>, verb: Verb) -> Recovery {
    if verb == Verb::Delete {
        return Recovery::None;
    }
    let path = parts.uri.path();
    let resource = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or("");
    let resource_version = if verb == Verb::Put {
        match body {
            Some(copy) => match copy.collect().await {
                Ok(collected) => has_resource_version(&collected.to_bytes()),
                // Unreadable: assume the resourceVersion, the side that never resends.
                Err(_) => true,
            },
            None => true,
        }
    } else {
        false
    };
    let patch = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(PatchType::from_content_type);
    plan::choose(&plan::Request {
        verb,
        resource,
        resource_version,
        patch,
        ..plan::Request::default()
    })
    .recovery
}

/// Whether a JSON body has a non-empty `metadata.resourceVersion` (a body that is not JSON: yes,
/// the side that never resends).
fn has_resource_version(body: &[u8]) -> bool {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => value
            .pointer("/metadata/resourceVersion")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|v| !v.is_empty()),
        Err(_) => true,
    }
}

/// One attempt: waits until the shared inner service is ready and calls it, holding it only
/// while it is polled.
async fn send<S, B>(inner: &Mutex<S>, request: Request<Body>) -> Result<Response<B>, BoxError>
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Error: Into<BoxError>,
{
    let mut request = Some(request);
    let pending = std::future::poll_fn(|cx| {
        let mut service = inner.lock().unwrap_or_else(PoisonError::into_inner);
        match service.poll_ready(cx) {
            Poll::Ready(Ok(())) => match request.take() {
                Some(request) => Poll::Ready(Ok(service.call(request))),
                None => Poll::Ready(Err(BoxError::from("polled after completion"))),
            },
            Poll::Ready(Err(error)) => Poll::Ready(Err(error.into())),
            Poll::Pending => Poll::Pending,
        }
    })
    .await?;
    pending.await.map_err(Into::into)
}

/// The failure an error response stands for, and the response to hand on (its body read into
/// memory when it is small enough to hold a `Status`). A body that breaks off is the attempt's
/// error.
async fn judge<B>(
    response: Response<B>,
    verb: Verb,
) -> (Failure, Result<Response<RetryBody<B>>, BoxError>)
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let mut failure = Failure::new()
        .with_status(response.status().as_u16())
        .with_verb(verb);
    if let Some(value) = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
    {
        failure = failure.with_retry_after(value);
    }
    let declared = response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_STATUS_BODY) {
        return (failure, Ok(response.map(Either::Left)));
    }
    let (parts, body) = response.into_parts();
    match body.collect().await {
        Ok(collected) => {
            let bytes = collected.to_bytes();
            failure = failure.with_status_body(&String::from_utf8_lossy(&bytes));
            let response = Response::from_parts(parts, Either::Right(Full::new(bytes)));
            (failure, Ok(response))
        }
        Err(error) => {
            let error: BoxError = error.into();
            let failure = failure_from_source(Failure::new().with_verb(verb), error.as_ref())
                .with_error("kube::Client", error.to_string());
            (failure, Err(error))
        }
    }
}

impl<S, B> Service<Request<Body>> for RetryService<S>
where
    S: Service<Request<Body>, Response = Response<B>> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<RetryBody<B>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    /// Always ready: each attempt waits for the inner service itself.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let inner = Arc::clone(&self.inner);
        let policy = self.policy.clone();
        let success = self.success.clone();
        Box::pin(async move {
            if is_stream(&request) || request.body().try_clone().is_none() {
                let response = send(&inner, request).await?;
                return Ok(response.map(Either::Left));
            }
            let verb = verb_of(&request);
            let (parts, body) = request.into_parts();
            let started = std::time::Instant::now();
            let nested = nesting::active();
            let inner = &*inner;
            let request = copy_of(&parts, &body);
            let first = Scoped(async move { judged(send(inner, request).await, verb).await });
            let first = match first.await {
                Ok(response) => {
                    // A nested call records nothing: the enclosing call counts the outcome.
                    if !nested {
                        success.record();
                    }
                    return Ok(response);
                }
                Err(first) => first,
            };
            // The first failure starts the call (the success path asks nothing more).
            let recovery = recovery_of(&parts, body.try_clone(), verb).await;
            let call = Call::start(&policy, FUNCTION, nested)
                .with_verb(verb)
                .with_recovery(recovery)
                .with_elapsed(started.elapsed());
            let attempt = move || {
                let request = copy_of(&parts, &body);
                async move { judged(send(inner, request).await, verb).await }
            };
            // No reader: the layer never reads back.
            let no_read_back: Option<NoReadBack<Response<RetryBody<B>>, Judged<B>>> = None;
            match drive(
                call,
                Some(first),
                attempt,
                tokio::time::sleep,
                no_read_back,
                None,
            )
            .await
            {
                Ok(response) => Ok(response),
                // Give the answer back as it came.
                Err(gave_up) => gave_up.error.outcome,
            }
        })
    }
}

/// One attempt's request: in-memory bodies clone (checked before the first attempt).
fn copy_of(parts: &http::request::Parts, body: &Body) -> Request<Body> {
    let copy = body.try_clone().unwrap_or_else(|| Body::from(Vec::new()));
    Request::from_parts(parts.clone(), copy)
}

/// A failed attempt: what it stands for, and the response or error to hand on if the call gives
/// up.
struct Judged<B> {
    failure: Failure,
    outcome: Result<Response<RetryBody<B>>, BoxError>,
}

impl<B> ToFailure for Judged<B> {
    fn to_failure(&self) -> Failure {
        self.failure.clone()
    }
}

/// An attempt's answer: a response that is not an error, or what the error stands for.
async fn judged<B>(
    sent: Result<Response<B>, BoxError>,
    verb: Verb,
) -> Result<Response<RetryBody<B>>, Judged<B>>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let (failure, outcome) = match sent {
        Ok(response)
            if !(response.status().is_client_error() || response.status().is_server_error()) =>
        {
            return Ok(response.map(Either::Left));
        }
        Ok(response) => judge(response, verb).await,
        Err(error) => {
            let failure = failure_from_source(Failure::new().with_verb(verb), error.as_ref())
                .with_error("kube::Client", error.to_string());
            (failure, Err(error))
        }
    };
    Err(Judged { failure, outcome })
}

/// A `kube::Client` for `config` whose requests are retried by k8sretry under `policy`: kube's
/// own [`ClientBuilder`] stack (its TLS, timeouts, proxy, auth, tracing and gzip as configured)
/// with [`RetryLayer`] outside it, and kube's own retry switched off (it would multiply attempts).
pub fn client_with_retry(mut config: Config, policy: Policy) -> Result<Client, Error> {
    config.default_retry = false;
    Ok(ClientBuilder::try_from(config)?
        .with_layer(&RetryLayer::new(policy))
        .build())
}
