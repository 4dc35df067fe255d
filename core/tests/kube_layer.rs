//! The tower layer on kube's own ClientBuilder against a scripted local HTTP server (feature
//! `kube`; no cluster needed): kube's timeouts apply to each attempt, a 409's Status body tells
//! AlreadyExists from Conflict and reaches kube unchanged, hints in a Status body are honoured,
//! writes are not resent after an ambiguous failure, a 404 is a quiet answer.
#![cfg(feature = "kube")]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use k8sretry::kube_layer::{RetryLayer, client_with_retry};
use k8sretry::{Class, Event, EventKind, Policy, PolicyBuilder, metrics_text};
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::client::ClientBuilder;
use kube::{Client, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One scripted answer: `None` accepts the request and never answers.
type Answer = Option<(u16, String, Vec<(String, String)>)>;

/// A local HTTP/1.1 server that answers requests from a script (then 200 with a ConfigMap),
/// closing each connection after its answer, and records "METHOD path" per request.
struct Server {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
}

impl Server {
    async fn start(script: Vec<Answer>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (s, r, c) = (script.clone(), seen.clone(), connections.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                c.fetch_add(1, Ordering::SeqCst);
                let (script, seen) = (s.clone(), r.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let Ok(n) = socket.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    while buf.len() < head_end + length {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let line = head.lines().next().unwrap_or("").to_owned();
                    let mut parts = line.split(' ');
                    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                    seen.lock().unwrap().push(format!("{method} {path}"));
                    let answer = script.lock().unwrap().pop_front();
                    let (status, body, headers) = match answer {
                        Some(Some(answer)) => answer,
                        Some(None) => {
                            // Accept and never answer: hold the connection open.
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            return;
                        }
                        None => (200, configmap_json("x"), vec![]),
                    };
                    let mut response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                        body.len()
                    );
                    for (k, v) in headers {
                        response.push_str(&format!("{k}: {v}\r\n"));
                    }
                    response.push_str("\r\n");
                    response.push_str(&body);
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Server {
            url,
            seen,
            connections,
        }
    }

    fn config(&self) -> Config {
        Config::new(self.url.parse().unwrap())
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn configmap_json(name: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","namespace":"default","resourceVersion":"1"}}}}"#
    )
}

fn status(code: u16, reason: &str, retry_after_seconds: Option<u32>) -> Answer {
    let details = retry_after_seconds
        .map(|s| format!(r#","details":{{"retryAfterSeconds":{s}}}"#))
        .unwrap_or_default();
    let body = format!(
        r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"{reason} says the server","reason":"{reason}","code":{code}{details}}}"#
    );
    Some((code, body, vec![]))
}

/// Events as (kind, class, level).
type Seen = Arc<Mutex<Vec<(EventKind, Option<Class>, String)>>>;

/// A fast policy that records its events.
fn recording() -> (Policy, Seen) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let policy = PolicyBuilder::from_json(
        r#"{"max_retries": 2, "initial_delay": 0.01, "max_delay": 0.02, "budget": null}"#,
    )
    .unwrap()
    .on_event(Some(Arc::new(move |e: &Event<'_>| {
        sink.lock()
            .unwrap()
            .push((e.kind, e.class, e.level().to_string()));
    })))
    .build()
    .unwrap();
    (policy, seen)
}

fn cm(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn kube_read_timeout_bounds_each_attempt() {
    let server = Server::start(vec![None, None]).await;
    let mut config = server.config();
    config.read_timeout = Some(Duration::from_secs(1));
    let policy = Policy::from_json(
        r#"{"max_retries": 1, "initial_delay": 0.05, "max_delay": 0.05, "jitter": "none", "budget": null}"#,
    )
    .unwrap();
    // The layer on kube's own ClientBuilder, as an application writes it.
    config.default_retry = false;
    let client = ClientBuilder::try_from(config)
        .unwrap()
        .with_layer(&RetryLayer::new(policy))
        .build();
    let started = Instant::now();
    let err = Api::<ConfigMap>::namespaced(client, "default")
        .get("x")
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(server.connections.load(Ordering::SeqCst), 2, "two attempts");
    assert!(
        took >= Duration::from_millis(2000) && took < Duration::from_millis(3500),
        "two attempts of ~1 s each (kube's read_timeout), took {took:?}: {err}"
    );
    let failure = k8sretry::ToFailure::to_failure(&err);
    assert!(failure.timeout, "a timeout: {failure:?}");
}

#[tokio::test]
async fn a_409_body_tells_already_exists_from_conflict_and_reaches_kube_unchanged() {
    let server = Server::start(vec![
        status(409, "AlreadyExists", None),
        status(409, "Conflict", None),
    ])
    .await;
    let (policy, events) = recording();
    let api = Api::<ConfigMap>::namespaced(
        client_with_retry(server.config(), policy).unwrap(),
        "default",
    );
    let err = api
        .create(&PostParams::default(), &cm("a"))
        .await
        .unwrap_err();
    match &err {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (409, "AlreadyExists"));
            assert_eq!(s.message, "AlreadyExists says the server");
        }
        other => panic!("{other}"),
    }
    let err = api
        .replace("a", &PostParams::default(), &cm("a"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.reason == "Conflict"),
        "{err}"
    );
    let events = events.lock().unwrap().clone();
    assert_eq!(
        events,
        [
            (
                EventKind::FailedNonRetryable,
                Some(Class::AlreadyExists),
                "DEBUG".to_owned()
            ),
            (
                EventKind::FailedNonRetryable,
                Some(Class::Conflict),
                "DEBUG".to_owned()
            ),
        ]
    );
    assert_eq!(server.seen().len(), 2, "neither is resent");
}

#[tokio::test]
async fn a_missing_object_is_a_quiet_answer_not_a_give_up() {
    let server = Server::start(vec![status(404, "NotFound", None)]).await;
    let (policy, events) = recording();
    let client = client_with_retry(server.config(), policy).unwrap();
    let found = Api::<ConfigMap>::namespaced(client, "default")
        .get_opt("missing")
        .await
        .unwrap();
    assert!(found.is_none());
    assert_eq!(
        *events.lock().unwrap(),
        [(
            EventKind::FailedNonRetryable,
            Some(Class::NotFound),
            "DEBUG".to_owned()
        )]
    );
    let text = metrics_text();
    assert!(
        text.contains("k8sretry_calls_total{function=\"kube::Client\",outcome=\"failed\"}"),
        "{text}"
    );
    assert!(
        !text.contains("k8sretry_giveups_total{function=\"kube::Client\",reason=\"NonRetryable\"}"),
        "{text}"
    );
}

#[tokio::test]
async fn reads_are_retried_writes_are_not_resent_after_an_ambiguous_failure() {
    let server = Server::start(vec![
        status(503, "ServiceUnavailable", None),
        Some((200, configmap_json("x"), vec![])),
        status(503, "ServiceUnavailable", None),
    ])
    .await;
    let (policy, events) = recording();
    let api = Api::<ConfigMap>::namespaced(
        client_with_retry(server.config(), policy).unwrap(),
        "default",
    );
    let got = api.get("x").await.expect("a GET through a 503 is retried");
    assert_eq!(got.metadata.name.as_deref(), Some("x"));
    let err = api
        .create(&PostParams::default(), &cm("y"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 503),
        "{err}"
    );
    assert_eq!(
        server.seen(),
        [
            "GET /api/v1/namespaces/default/configmaps/x",
            "GET /api/v1/namespaces/default/configmaps/x",
            "POST /api/v1/namespaces/default/configmaps?",
        ]
    );
    let levels: Vec<String> = events.lock().unwrap().iter().map(|e| e.2.clone()).collect();
    // A retry, the success after it, and the POST's give-up (its outcome unknown).
    assert_eq!(levels, ["WARN", "INFO", "ERROR"]);
}

#[tokio::test]
async fn a_hint_in_the_status_body_is_honoured() {
    let server = Server::start(vec![status(429, "TooManyRequests", Some(1))]).await;
    let (policy, _) = recording();
    let client: Client = client_with_retry(server.config(), policy).unwrap();
    let started = Instant::now();
    Api::<ConfigMap>::namespaced(client, "default")
        .get("x")
        .await
        .expect("retried after the 429");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retryAfterSeconds 1 honoured"
    );
    assert_eq!(server.seen().len(), 2);
}

/// What the layer sees of a write chooses whether it is resent after a 503 (plan::choose).
#[tokio::test]
async fn writes_are_resent_as_the_plan_for_what_the_layer_sees_says() {
    let unavailable = || status(503, "ServiceUnavailable", None);
    let ok = || Some((200, configmap_json("x"), vec![]));
    let server = Server::start(vec![
        unavailable(), // merge patch: resent
        ok(),
        unavailable(), // JSON patch: not resent
        unavailable(), // PUT without resourceVersion: resent
        ok(),
        unavailable(), // PUT with resourceVersion: not resent
        unavailable(), // a review (stores nothing): resent
        Some((201, r#"{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","spec":{},"status":{"allowed":true}}"#.into(), vec![])),
        unavailable(), // a create: not resent
    ])
    .await;
    let (policy, _) = recording();
    let client = client_with_retry(server.config(), policy).unwrap();
    let api = Api::<ConfigMap>::namespaced(client.clone(), "default");
    let merge = Patch::Merge(serde_json::json!({"data": {"a": "b"}}));
    api.patch("x", &PatchParams::default(), &merge)
        .await
        .expect("a merge patch is resent");
    let json_patch = http::Request::patch("/api/v1/namespaces/default/configmaps/x")
        .header("content-type", "application/json-patch+json")
        .body(br#"[{"op":"add","path":"/data/a","value":"b"}]"#.to_vec())
        .unwrap();
    client
        .request_text(json_patch)
        .await
        .expect_err("a JSON patch is not resent");
    let mut unversioned = cm("x");
    api.replace("x", &PostParams::default(), &unversioned)
        .await
        .expect("a full replace is resent");
    unversioned.metadata.resource_version = Some("7".into());
    api.replace("x", &PostParams::default(), &unversioned)
        .await
        .expect_err("a PUT with resourceVersion is not resent");
    let review = http::Request::post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
        .header("content-type", "application/json")
        .body(br#"{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","spec":{"resourceAttributes":{"verb":"get","resource":"pods"}}}"#.to_vec())
        .unwrap();
    client
        .request_text(review)
        .await
        .expect("a review is resent");
    api.create(&PostParams::default(), &cm("y"))
        .await
        .expect_err("a create is not resent");
    let methods: Vec<String> = server
        .seen()
        .iter()
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        methods,
        [
            "PATCH", "PATCH", "PATCH", "PUT", "PUT", "PUT", "POST", "POST", "POST"
        ]
    );
}

/// `k8sretry_calls_total` of the layer's calls with `outcome`.
fn layer_calls(outcome: &str) -> u64 {
    let key = format!("k8sretry_calls_total{{function=\"kube::Client\",outcome=\"{outcome}\"}} ");
    metrics_text()
        .lines()
        .find_map(|l| l.strip_prefix(key.as_str()))
        .map_or(0, |n| n.parse().unwrap())
}

#[tokio::test]
async fn each_first_attempt_success_counts_once_and_quietly() {
    let server = Server::start(vec![]).await;
    let (policy, events) = recording();
    let api = Api::<ConfigMap>::namespaced(
        client_with_retry(server.config(), policy).unwrap(),
        "default",
    );
    let before = layer_calls("success");
    for _ in 0..3 {
        api.get("x").await.expect("the server answers 200");
    }
    // Other tests of this binary run alongside and may add successes of their own.
    assert!(layer_calls("success") >= before + 3);
    assert!(
        events.lock().unwrap().is_empty(),
        "a first-attempt success has no event"
    );
}
