//! A tower layer that retries every request of a `kube::Client` as the engine decides (feature
//! `kube`). Error responses are judged by status and `Retry-After` without reading their body, and
//! given back untouched on give-up; watches, `follow` streams and bodies that cannot be cloned
//! pass straight through.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use kube::client::{Body, ConfigExt};
use kube::{Client, Config, Error};
use tower::{BoxError, Layer, Service, ServiceBuilder, ServiceExt};

use crate::call::Call;
use crate::decision::Decision;
use crate::failure::{Failure, Verb};
use crate::kube::failure_from_source;
use crate::policy::Policy;

/// Wraps a service of kube's stack in [`RetryService`].
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
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// The service [`RetryLayer`] makes.
#[derive(Debug, Clone)]
pub struct RetryService<S> {
    inner: S,
    policy: Policy,
}

fn verb_of(request: &Request<Body>) -> Verb {
    let query = request.uri().query().unwrap_or("");
    match request.method().as_str() {
        "GET" if query.contains("watch=true") || query.contains("watch=1") => Verb::Watch,
        // An HTTP method outside the verbs (CONNECT, OPTIONS, ...) is a write without recovery.
        method => Verb::parse(method).unwrap_or(Verb::Post),
    }
}

fn is_stream(request: &Request<Body>) -> bool {
    let query = request.uri().query().unwrap_or("");
    verb_of(request) == Verb::Watch || query.contains("follow=true")
}

impl<S, B> Service<Request<Body>> for RetryService<S>
where
    S: Service<Request<Body>, Response = Response<B>, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response<B>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<B>, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The service that was polled ready serves the first attempt; a clone serves the rest.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let policy = self.policy.clone();
        Box::pin(async move {
            if is_stream(&request) || request.body().try_clone().is_none() {
                return inner.call(request).await;
            }
            let verb = verb_of(&request);
            let (parts, body) = request.into_parts();
            let mut call: Option<Call> = None;
            let mut first = true;
            loop {
                // In-memory bodies clone (checked above); an empty body is never reached.
                let copy = body.try_clone().unwrap_or_else(|| Body::from(Vec::new()));
                let attempt = Request::from_parts(parts.clone(), copy);
                if !first {
                    inner.ready().await?;
                }
                first = false;
                let (failure, outcome) = match inner.call(attempt).await {
                    Ok(response)
                        if !(response.status().is_client_error()
                            || response.status().is_server_error()) =>
                    {
                        match call.as_mut() {
                            Some(call) => call.on_success(),
                            None => Call::new(&policy, "kube::Client").on_success(),
                        }
                        return Ok(response);
                    }
                    Ok(response) => {
                        let mut failure = Failure::new()
                            .with_status(response.status().as_u16())
                            .with_verb(verb);
                        if let Some(value) = response
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                        {
                            failure = failure.with_retry_after(value);
                        }
                        (failure, Ok(response))
                    }
                    Err(error) => {
                        let failure =
                            failure_from_source(Failure::new().with_verb(verb), error.as_ref())
                                .with_error("kube::Client", error.to_string());
                        (failure, Err(error))
                    }
                };
                let call =
                    call.get_or_insert_with(|| Call::new(&policy, "kube::Client").with_verb(verb));
                match call.on_failure(&failure) {
                    Decision::Retry { delay } => tokio::time::sleep(delay).await,
                    // No recovery is declared here: give the answer back as it came.
                    Decision::GiveUp(_)
                    | Decision::ReadBack { .. }
                    | Decision::Done
                    | Decision::Recovered => return outcome,
                }
            }
        })
    }
}

/// A `kube::Client` for `config` whose requests are retried by k8sretry under `policy`, with kube's
/// own retry switched off (it would multiply attempts).
pub fn client_with_retry(config: Config, policy: Policy) -> Result<Client, Error> {
    let https = config.rustls_https_connector()?;
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(https);
    let service = ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(BoxError::from)
        .service(http);
    Ok(Client::new(service, config.default_namespace))
}
