//! kube-rs through k8sretry against the real kube-apiserver of tests/cluster behind the fault
//! proxy. Run by `make test-e2e` (feature `e2e`), which starts both.
#![cfg(feature = "e2e")]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret};
use k8sretry::kube::{
    REQUEST_ID, apply, client_without_own_retry, create_idempotent, delete_idempotent,
    patch_idempotent, replace_idempotent, retry_on_conflict,
};
use k8sretry::{
    Class, EventKind, GiveUpReason, Policy, PolicyBuilder, Verb, metrics_text, retry,
    retry_idempotent,
};
use kube::Client;
use kube::api::{
    Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams, Preconditions,
    WatchParams,
};
use serde_json::{Value, json};

mod common;
use common::{config, env};

fn control(method: &str, path: &str, body: Option<Value>) -> Value {
    let env = env();
    let url = format!("{}/__k8sretry/{path}", env["PROXY"]);
    let mut cmd = Command::new("curl");
    // The proxy's certificate verified against mitmproxy's CA.
    cmd.args(["-s", "--cacert", &env["PROXY_CA"], "-X", method, &url]);
    cmd.args([
        "-H",
        &format!("X-K8sretry-Control-Token: {}", env["PROXY_TOKEN"]),
    ]);
    if let Some(body) = body {
        cmd.args(["-d", &body.to_string()]);
    }
    let out = cmd.output().expect("curl");
    serde_json::from_slice(&out.stdout).expect("control endpoint answers JSON")
}

/// Faults injected, by kind, over the whole suite (the report).
static FAULTS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

/// Replaces the proxy's plan; the faults of the previous one go into the report first.
fn plan(rules: Value) {
    let log = control("GET", "log", None);
    let mut faults = FAULTS.lock().unwrap();
    for entry in log.as_array().unwrap() {
        *faults
            .entry(entry["fault"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    control("PUT", "plan", Some(json!({"seed": 9, "rules": rules})));
}

fn requests() -> u64 {
    control("GET", "stats", None)["requests"].as_u64().unwrap()
}

async fn namespace(direct: &Client) -> String {
    let ns = Namespace {
        metadata: ObjectMeta {
            generate_name: Some("e2e-rs-".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(direct.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace")
        .metadata
        .name
        .unwrap()
}

fn cm(name: Option<&str>, generate: Option<&str>, data: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: name.map(Into::into),
            generate_name: generate.map(Into::into),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("v".to_owned(), data.to_owned())])),
        ..Default::default()
    }
}

fn fast() -> Policy {
    Policy::from_json(r#"{"max_retries": 8, "initial_delay": 0.05, "max_delay": 0.5, "retry_after_cap": 2, "budget": null}"#).unwrap()
}

// One test, its sections run in order: the proxy's plan is shared state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_through_k8sretry_against_a_real_apiserver() {
    let started = Instant::now();
    let direct = Client::try_from(config("KUBECONFIG").await).unwrap();
    let faulted = client_without_own_retry(config("KUBECONFIG_PROXY").await).unwrap();
    plan(json!([]));
    let mut ops = own_retry_is_off(&direct, &faulted).await;
    let (mixed_ops, duplicates) = mixed_workload(&direct, &faulted).await;
    ops += mixed_ops;
    ops += lost_creates_and_foreign_objects(&direct, &faulted).await;
    ops += a_post_is_not_resent(&direct, &faulted).await;
    ops += tower_layer(&direct).await;
    ops += lost_delete_and_uid_precondition(&direct, &faulted).await;
    ops += conflict_race(&direct, &faulted).await;
    ops += writes_exactly_once(&direct, &faulted).await;
    ops += watch_is_not_retried(&direct).await;
    let (outage_ops, outage) = outage_under_load(&direct).await;
    ops += outage_ops;
    plan(json!([]));
    report(ops, duplicates, &outage, started.elapsed());
}

fn report(ops: usize, duplicates: usize, outage: &str, took: Duration) {
    let faults = FAULTS.lock().unwrap();
    let kinds: Vec<String> = faults.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let metric = |prefix: &str, containing: &str| -> f64 {
        metrics_text()
            .lines()
            .filter(|l| l.starts_with(prefix) && l.contains(containing))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    println!("=== k8sretry e2e report (kube-rs) ===");
    println!("operations: {ops}");
    println!(
        "faults injected: {} ({})",
        faults.values().sum::<u64>(),
        kinds.join(", ")
    );
    println!("retries: {}", metric("k8sretry_retries_total", ""));
    println!(
        "recovered lost responses: {}",
        metric("k8sretry_calls_total", "outcome=\"recovered\"")
    );
    println!("duplicates: {duplicates}");
    println!("{outage}");
    println!("time: {:.1} s", took.as_secs_f64());
}

/// kube's default retry repeats a 503 by itself; under k8sretry it is switched off.
async fn own_retry_is_off(direct: &Client, faulted: &Client) -> usize {
    let ns = namespace(direct).await;
    let own_retry = Client::try_from(config("KUBECONFIG_PROXY").await).unwrap();
    plan(json!([{"method": "GET", "path": "/configmaps/x$", "fault": "503", "count": 1}]));
    let _ = Api::<ConfigMap>::namespaced(own_retry, &ns)
        .get_opt("x")
        .await;
    let with_kube_retry = control("GET", "stats", None)["requests"].as_u64().unwrap();
    plan(json!([{"method": "GET", "path": "/configmaps/x$", "fault": "503", "count": 1}]));
    let err = Api::<ConfigMap>::namespaced(faulted.clone(), &ns)
        .get_opt("x")
        .await
        .unwrap_err();
    assert_eq!(
        control("GET", "stats", None)["requests"],
        1,
        "one request: kube's own retry is off"
    );
    assert!(
        with_kube_retry >= 2,
        "kube retries by itself by default ({with_kube_retry} requests)"
    );
    assert_eq!(k8sretry::ToFailure::to_failure(&err).status, Some(503));
    2
}

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": "registry.invalid/app:1"}]}
    }))
    .unwrap()
}

fn names<K: kube::Resource>(items: &[K]) -> BTreeSet<String> {
    items.iter().filter_map(|o| o.meta().name.clone()).collect()
}

/// The mixed workload under >= 30% faults: every operation ends correctly, and the final lists
/// hold exactly the expected objects. Returns (operations, duplicates).
async fn mixed_workload(direct: &Client, faulted: &Client) -> (usize, usize) {
    let policy = fast();
    let ns = namespace(direct).await;
    let api = Api::<ConfigMap>::namespaced(faulted.clone(), &ns);
    plan(json!([
        {"method": "POST", "path": "/(configmaps|secrets|pods)$", "fault": "drop_after", "probability": 0.2},
        {"method": "POST", "path": "/(configmaps|secrets|pods)$", "fault": "drop_before", "probability": 0.12},
        {"method": "POST", "path": "/(configmaps|secrets|pods)$", "fault": "503", "probability": 0.1},
        {"method": "GET", "path": "/(configmaps|pods)", "fault": "503", "probability": 0.3},
        {"method": "GET", "path": "", "fault": "drop_before", "probability": 0.1},
        {"method": "PUT", "path": "/configmaps/", "fault": "drop_after", "probability": 0.2},
        {"method": "PUT", "path": "/configmaps/", "fault": "504", "probability": 0.1},
        {"method": "PATCH", "path": "", "fault": "429", "probability": 0.4},
        {"method": "DELETE", "path": "", "fault": "drop_after", "probability": 0.2},
        {"method": "DELETE", "path": "", "fault": "drop_before", "probability": 0.1}
    ]));
    let mut ops = 0;
    let mut want = BTreeSet::new();
    let labelled = Patch::Merge(json!({"metadata": {"labels": {"patched": "yes"}}}));
    let patch_params = PatchParams::default();
    for i in 0..45 {
        let name = format!("cm-{i}");
        create_idempotent(&api, &policy, &cm(Some(&name), None, "1"))
            .await
            .expect("create");
        let got = retry(&policy, "get", Verb::Get, || api.get(&name))
            .await
            .expect("get");
        assert_eq!(got.data.unwrap()["v"], "1");
        let (post, replacement) = (PostParams::default(), cm(Some(&name), None, "2"));
        // No resourceVersion: a full replace, safe to resend.
        retry(&policy, "replace", Verb::Put, || {
            api.replace(&name, &post, &replacement)
        })
        .await
        .expect("replace");
        patch_idempotent(&api, &policy, &name, &patch_params, &labelled)
            .await
            .expect("patch");
        ops += 4;
        if i % 3 == 0 {
            delete_idempotent(&api, &policy, &name, &DeleteParams::default(), false)
                .await
                .expect("delete");
            ops += 1;
        } else {
            want.insert(name);
        }
    }
    let secrets = Api::<Secret>::namespaced(faulted.clone(), &ns);
    for _ in 0..15 {
        let secret: Secret = serde_json::from_value(
            json!({"metadata": {"generateName": "gen-"}, "stringData": {"k": "v"}}),
        )
        .unwrap();
        create_idempotent(&secrets, &policy, &secret)
            .await
            .expect("generateName create");
        ops += 1;
    }
    let pods = Api::<Pod>::namespaced(faulted.clone(), &ns);
    let mut want_pods = BTreeSet::new();
    // No kubelet: a graceful delete would wait for one forever.
    let now = DeleteParams::default().grace_period(0);
    for i in 0..12 {
        let name = format!("pod-{i}");
        create_idempotent(&pods, &policy, &pod(&name))
            .await
            .expect("create pod");
        retry(&policy, "get", Verb::Get, || pods.get(&name))
            .await
            .expect("get pod");
        patch_idempotent(&pods, &policy, &name, &patch_params, &labelled)
            .await
            .expect("patch pod");
        ops += 3;
        if i % 2 == 0 {
            delete_idempotent(&pods, &policy, &name, &now, false)
                .await
                .expect("delete pod");
            ops += 1;
        } else {
            want_pods.insert(name);
        }
    }
    let stats = control("GET", "stats", None);
    plan(json!([]));
    let faults: u64 = stats["faults"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    let requests = stats["requests"].as_u64().unwrap();
    let lp = ListParams::default();
    let listed = Api::<ConfigMap>::namespaced(direct.clone(), &ns)
        .list(&lp)
        .await
        .unwrap()
        .items;
    assert_eq!(names(&listed), want, "nothing lost, nothing extra");
    for c in &listed {
        assert_eq!(c.data.as_ref().unwrap()["v"], "2");
        assert_eq!(c.metadata.labels.as_ref().unwrap()["patched"], "yes");
    }
    let generated = Api::<Secret>::namespaced(direct.clone(), &ns)
        .list(&lp)
        .await
        .unwrap()
        .items;
    let ids: BTreeSet<String> = generated
        .iter()
        .map(|s| s.metadata.annotations.as_ref().unwrap()[REQUEST_ID].clone())
        .collect();
    let duplicates = generated.len() - ids.len();
    assert_eq!(
        (generated.len(), ids.len()),
        (15, 15),
        "each generateName create made one object"
    );
    let remaining = Api::<Pod>::namespaced(direct.clone(), &ns)
        .list(&lp)
        .await
        .unwrap()
        .items;
    assert_eq!(names(&remaining), want_pods);
    for p in &remaining {
        assert_eq!(p.metadata.labels.as_ref().unwrap()["patched"], "yes");
    }
    assert!(ops >= 200);
    assert!(
        faults as f64 / requests as f64 >= 0.3,
        "{faults} faults of {requests} requests"
    );
    (ops, duplicates)
}

/// Lost creates are recovered through the request id (the proxy's log shows the drops); somebody
/// else's object of the same name is never adopted.
async fn lost_creates_and_foreign_objects(direct: &Client, faulted: &Client) -> usize {
    let policy = fast();
    let ns = namespace(direct).await;
    let api = Api::<ConfigMap>::namespaced(faulted.clone(), &ns);
    let mine = Api::<ConfigMap>::namespaced(direct.clone(), &ns);
    plan(json!([{"method": "POST", "path": "/configmaps$", "fault": "drop_after", "count": 1}]));
    create_idempotent(&api, &policy, &cm(Some("lost"), None, "1"))
        .await
        .expect("a lost create is recovered");
    assert_eq!(control("GET", "log", None)[0]["fault"], "drop_after");
    plan(json!([{"method": "POST", "path": "/configmaps$", "fault": "drop_after", "count": 1}]));
    let generated = create_idempotent(&api, &policy, &cm(None, Some("lost-"), "1"))
        .await
        .expect("a lost generateName create is recovered");
    assert_eq!(control("GET", "log", None)[0]["fault"], "drop_after");
    mine.create(&PostParams::default(), &cm(Some("theirs"), None, "them"))
        .await
        .unwrap();
    plan(json!([{"method": "POST", "path": "/configmaps$", "fault": "drop_before", "count": 1}]));
    let err = create_idempotent(&api, &policy, &cm(Some("theirs"), None, "us"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err.error, kube::Error::Api(s) if s.code == 409),
        "{err}"
    );
    plan(json!([]));
    let listed = mine.list(&ListParams::default()).await.unwrap().items;
    let want: BTreeSet<String> = [
        "lost",
        "theirs",
        generated.metadata.name.as_deref().unwrap(),
    ]
    .map(String::from)
    .into();
    assert_eq!(names(&listed), want);
    assert_eq!(mine.get("theirs").await.unwrap().data.unwrap()["v"], "them");
    3
}

/// `retry` with the verb POST: a generateName create whose response is lost is not sent again
/// (NotIdempotent, the original error) and leaves exactly one object. Declared idempotent instead,
/// the same loss is resent and makes a second object: why `retry` asks for the verb.
async fn a_post_is_not_resent(direct: &Client, faulted: &Client) -> usize {
    let policy = fast();
    let ns = namespace(direct).await;
    let api = Api::<ConfigMap>::namespaced(faulted.clone(), &ns);
    let mine = Api::<ConfigMap>::namespaced(direct.clone(), &ns);
    let (post, body) = (PostParams::default(), cm(None, Some("post-"), "1"));
    let lose_one =
        json!([{"method": "POST", "path": "/configmaps$", "fault": "drop_after", "count": 1}]);
    plan(lose_one.clone());
    let err = retry(&policy, "create_post", Verb::Post, || {
        api.create(&post, &body)
    })
    .await
    .expect_err("the lost response is returned");
    assert_eq!(err.reason, GiveUpReason::NotIdempotent, "{err}");
    assert_eq!(err.attempts, 1);
    assert!(
        !matches!(err.error, kube::Error::Api(_)),
        "the original connection error: {err}"
    );
    assert_eq!(requests(), 1, "sent once");
    assert_eq!(control("GET", "log", None)[0]["fault"], "drop_after");
    let listed = mine.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(
        listed.len(),
        1,
        "exactly one object: the one the lost request made"
    );

    plan(lose_one);
    retry_idempotent(&policy, "create_declared", || api.create(&post, &body))
        .await
        .expect("declared idempotent: resent");
    assert_eq!(requests(), 2);
    let listed = mine.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(
        listed.len(),
        3,
        "the lost create was sent again and made a second object"
    );
    plan(json!([]));
    2
}

/// The tower layer: every request of a kube::Client goes through the engine.
async fn tower_layer(direct: &Client) -> usize {
    let ns = namespace(direct).await;
    Api::<ConfigMap>::namespaced(direct.clone(), &ns)
        .create(&PostParams::default(), &cm(Some("theirs"), None, "them"))
        .await
        .unwrap();
    let layered =
        k8sretry::kube_layer::client_with_retry(config("KUBECONFIG_PROXY").await, fast()).unwrap();
    let layered_api = Api::<ConfigMap>::namespaced(layered, &ns);
    plan(json!([
        {"method": "GET", "path": "/configmaps/theirs$", "fault": "503", "count": 2, "retry_after": "1"},
        {"method": "GET", "path": "/configmaps/theirs$", "fault": "drop_before", "count": 1}
    ]));
    let started = Instant::now();
    let got = layered_api
        .get("theirs")
        .await
        .expect("retried through 503, 503 and a reset");
    assert_eq!(got.data.unwrap()["v"], "them");
    assert_eq!(requests(), 4);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After honoured"
    );
    plan(json!([{"method": "POST", "path": "/configmaps$", "fault": "503", "count": 1}]));
    let err = layered_api
        .create(&PostParams::default(), &cm(Some("once"), None, "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 503),
        "{err}"
    );
    assert_eq!(
        requests(),
        1,
        "a POST is not repeated after an ambiguous 503"
    );
    plan(json!([]));

    // The Status body of a 409 tells AlreadyExists from Conflict, and kube gets it unchanged; a
    // missing object is a quiet answer (DEBUG), like both 409s on a first attempt.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let policy = PolicyBuilder::from_json(
        r#"{"max_retries": 8, "initial_delay": 0.05, "max_delay": 0.5, "budget": null}"#,
    )
    .unwrap()
    .on_event(Some(Arc::new(move |e: &k8sretry::Event<'_>| {
        sink.lock()
            .unwrap()
            .push((e.kind, e.class, e.level().to_string()));
    })))
    .build()
    .unwrap();
    let layered = Api::<ConfigMap>::namespaced(
        k8sretry::kube_layer::client_with_retry(config("KUBECONFIG_PROXY").await, policy).unwrap(),
        &ns,
    );
    let post = PostParams::default();
    let err = layered
        .create(&post, &cm(Some("theirs"), None, "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists"),
        "{err}"
    );
    let stale = layered.get("theirs").await.unwrap();
    let mut newer = stale.clone();
    newer.data = Some(BTreeMap::from([("v".to_owned(), "newer".to_owned())]));
    layered.replace("theirs", &post, &newer).await.unwrap();
    let mut late = stale;
    late.data = Some(BTreeMap::from([("v".to_owned(), "late".to_owned())]));
    let err = layered.replace("theirs", &post, &late).await.unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 409 && s.reason == "Conflict"),
        "{err}"
    );
    assert!(layered.get_opt("missing").await.unwrap().is_none());
    let quiet = |class| {
        (
            EventKind::FailedNonRetryable,
            Some(class),
            "DEBUG".to_owned(),
        )
    };
    assert_eq!(
        *seen.lock().unwrap(),
        [
            quiet(Class::AlreadyExists),
            quiet(Class::Conflict),
            quiet(Class::NotFound)
        ]
    );
    6
}

/// A delete whose response was lost is done; a UID precondition stops the retried delete from
/// removing an object of the same name that somebody created in between.
async fn lost_delete_and_uid_precondition(direct: &Client, faulted: &Client) -> usize {
    let ns = namespace(direct).await;
    let mine = Api::<ConfigMap>::namespaced(direct.clone(), &ns);
    let api = Api::<ConfigMap>::namespaced(faulted.clone(), &ns);
    let post = PostParams::default();
    mine.create(&post, &cm(Some("gone"), None, "1"))
        .await
        .unwrap();
    plan(
        json!([{"method": "DELETE", "path": "/configmaps/gone", "fault": "drop_after", "count": 1}]),
    );
    delete_idempotent(&api, &fast(), "gone", &DeleteParams::default(), false)
        .await
        .expect("a lost delete is done");
    assert!(mine.get_opt("gone").await.unwrap().is_none());

    let old = mine
        .create(&post, &cm(Some("reborn"), None, "old"))
        .await
        .unwrap();
    plan(
        json!([{"method": "DELETE", "path": "/configmaps/reborn", "fault": "drop_after", "count": 1}]),
    );
    let racer = tokio::spawn({
        let mine = mine.clone();
        async move {
            for _ in 0..200 {
                let logged = tokio::task::spawn_blocking(|| control("GET", "log", None))
                    .await
                    .unwrap();
                if !logged.as_array().unwrap().is_empty() {
                    let fresh = cm(Some("reborn"), None, "new");
                    return mine.create(&PostParams::default(), &fresh).await.unwrap();
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("the delete never reached the proxy");
        }
    });
    let slow = Policy::from_json(
        r#"{"max_retries": 3, "initial_delay": 1, "max_delay": 1, "jitter": 0, "budget": null}"#,
    )
    .unwrap();
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: old.metadata.uid.clone(),
            resource_version: None,
        }),
        ..Default::default()
    };
    delete_idempotent(&api, &slow, "reborn", &params, false)
        .await
        .expect("our object (the old UID) is gone: the delete is done");
    racer.await.unwrap();
    plan(json!([]));
    let survivor = mine.get("reborn").await.unwrap();
    assert_eq!(
        survivor.data.unwrap()["v"],
        "new",
        "the newer object survives"
    );
    2
}

/// `retry_on_conflict` wins a real resourceVersion race between two writers.
async fn conflict_race(direct: &Client, faulted: &Client) -> usize {
    let ns = namespace(direct).await;
    Api::<ConfigMap>::namespaced(direct.clone(), &ns)
        .create(&PostParams::default(), &cm(Some("counter"), None, "0"))
        .await
        .unwrap();
    let api = Api::<ConfigMap>::namespaced(faulted.clone(), &ns);
    let conflicts = Arc::new(AtomicUsize::new(0));
    let policy =
        Policy::from_json(r#"{"preset": "conflict", "max_retries": 50, "budget": null}"#).unwrap();
    let writer = |api: Api<ConfigMap>, conflicts: Arc<AtomicUsize>, policy: Policy| async move {
        for _ in 0..10 {
            retry_on_conflict(&policy, || async {
                let mut current = api.get("counter").await?;
                tokio::time::sleep(Duration::from_millis(5)).await; // widen the race window
                let data = current.data.get_or_insert_default();
                let n: u32 = data["v"].parse().unwrap();
                data.insert("v".into(), (n + 1).to_string());
                let result = api
                    .replace("counter", &PostParams::default(), &current)
                    .await;
                if matches!(&result, Err(kube::Error::Api(s)) if s.code == 409) {
                    conflicts.fetch_add(1, Ordering::Relaxed);
                }
                result
            })
            .await
            .expect("increment");
        }
    };
    let a = tokio::spawn(writer(api.clone(), conflicts.clone(), policy.clone()));
    let b = tokio::spawn(writer(api, conflicts.clone(), policy));
    a.await.unwrap();
    b.await.unwrap();
    let counter = Api::<ConfigMap>::namespaced(direct.clone(), &ns)
        .get("counter")
        .await
        .unwrap();
    assert_eq!(counter.data.unwrap()["v"], "20");
    assert!(
        conflicts.load(Ordering::Relaxed) > 0,
        "the two writers really raced"
    );
    20
}

/// Updates with a resourceVersion, merge / strategic patches and applies under lost responses all
/// land exactly once; a JSON patch whose response was lost is not resent (NotIdempotent, the
/// original error) and its item is on the list at most once; a read-modify-write whose PUT
/// response was lost is not run again.
async fn writes_exactly_once(direct: &Client, faulted: &Client) -> usize {
    let policy = fast();
    let ns = namespace(direct).await;
    let api = Api::<ConfigMap>::namespaced(faulted.clone(), &ns);
    let direct_api = Api::<ConfigMap>::namespaced(direct.clone(), &ns);
    let post = PostParams::default();
    for i in 0..10 {
        direct_api
            .create(&post, &cm(Some(&format!("w-{i}")), None, "0"))
            .await
            .unwrap();
    }
    plan(json!([
        {"method": "PUT", "path": "/configmaps/w-", "fault": "drop_after", "probability": 0.5},
        {"method": "PATCH", "path": "/configmaps/w-", "fault": "drop_after", "probability": 0.5},
        {"method": "GET", "path": "/configmaps/w-", "fault": "503", "probability": 0.2}
    ]));
    let mut ops = 0;
    for i in 0..10 {
        let name = format!("w-{i}");
        let mut current = retry(&policy, "get", Verb::Get, || api.get(&name))
            .await
            .unwrap();
        assert!(current.metadata.resource_version.is_some());
        current
            .data
            .get_or_insert_default()
            .insert("v".into(), "1".into());
        replace_idempotent(&api, &policy, &name, &current)
            .await
            .expect("update with resourceVersion");
        let params = PatchParams::default();
        let merge = Patch::Merge(json!({"data": {"merge": "yes"}}));
        patch_idempotent(&api, &policy, &name, &params, &merge)
            .await
            .expect("merge patch");
        let strategic = Patch::Strategic(json!({"metadata": {"labels": {"strategic": "yes"}}}));
        patch_idempotent(&api, &policy, &name, &params, &strategic)
            .await
            .expect("strategic merge patch");
        let mut applied = cm(Some(&name), None, "1");
        applied.data = Some([("applied".to_owned(), "yes".to_owned())].into());
        apply(&api, &policy, &name, "k8sretry-e2e", true, &applied)
            .await
            .expect("server-side apply");
        ops += 4;
    }
    let dropped: Vec<Value> = control("GET", "log", None).as_array().unwrap().clone();
    for method in ["PUT", "PATCH"] {
        assert!(
            dropped
                .iter()
                .any(|e| e["method"] == method && e["fault"] == "drop_after"),
            "a {method} response was lost"
        );
    }
    for i in 0..10 {
        let got = direct_api.get(&format!("w-{i}")).await.unwrap();
        let data = got.data.unwrap();
        assert_eq!(
            (&data["merge"], &data["applied"]),
            (&"yes".to_owned(), &"yes".to_owned())
        );
        assert_eq!(got.metadata.labels.unwrap()["strategic"], "yes");
    }

    // JSON patches that append to a list: the first two lose their responses.
    let mut listed = cm(Some("list"), None, "0");
    listed.metadata.finalizers = Some(vec!["k8sretry.dev/start".into()]);
    direct_api.create(&post, &listed).await.unwrap();
    plan(
        json!([{"method": "PATCH", "path": "/configmaps/list$", "fault": "drop_after", "count": 2}]),
    );
    let mut unknown = 0;
    for i in 0..6 {
        let item = format!("k8sretry.dev/f-{i}");
        let add: json_patch::Patch = serde_json::from_value(
            json!([{"op": "add", "path": "/metadata/finalizers/-", "value": item}]),
        )
        .unwrap();
        let params = PatchParams::default();
        match patch_idempotent(&api, &policy, "list", &params, &Patch::<()>::Json(add)).await {
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.reason, GiveUpReason::NotIdempotent, "{e}");
                assert!(!matches!(e.error, kube::Error::Api(_)), "the original: {e}");
                unknown += 1;
            }
        }
        ops += 1;
    }
    assert_eq!(
        unknown, 2,
        "each lost JSON patch response gives up with the outcome unknown"
    );
    let finalizers = direct_api
        .get("list")
        .await
        .unwrap()
        .metadata
        .finalizers
        .unwrap();
    for i in 0..6 {
        let item = format!("k8sretry.dev/f-{i}");
        let n = finalizers.iter().filter(|f| **f == item).count();
        assert_eq!(
            n, 1,
            "{item} applied exactly once (the lost ones landed before the drop)"
        );
    }

    // A read-modify-write whose PUT response is lost runs once and returns the error.
    direct_api
        .create(&post, &cm(Some("once"), None, "0"))
        .await
        .unwrap();
    plan(
        json!([{"method": "PUT", "path": "/configmaps/once$", "fault": "drop_after", "count": 1}]),
    );
    let runs = AtomicUsize::new(0);
    let conflict_policy = Policy::from_json(r#"{"preset": "conflict", "budget": null}"#).unwrap();
    let result = retry_on_conflict(&conflict_policy, || async {
        runs.fetch_add(1, Ordering::Relaxed);
        let mut current = api.get("once").await?;
        let data = current.data.get_or_insert_default();
        let n: u32 = data["v"].parse().unwrap();
        data.insert("v".into(), (n + 1).to_string());
        api.replace("once", &PostParams::default(), &current).await
    })
    .await;
    let err = result.expect_err("the lost response is returned");
    assert_eq!(err.reason, GiveUpReason::NotIdempotent);
    assert_eq!(runs.load(Ordering::Relaxed), 1, "never run twice");
    let once = direct_api.get("once").await.unwrap();
    assert_eq!(once.data.unwrap()["v"], "1", "the increment applied once");
    plan(json!([]));
    ops + 1
}

/// A watch through the layer is sent once: a 503 comes back as it is.
async fn watch_is_not_retried(direct: &Client) -> usize {
    let ns = namespace(direct).await;
    let layered =
        k8sretry::kube_layer::client_with_retry(config("KUBECONFIG_PROXY").await, fast()).unwrap();
    plan(json!([{"method": "GET", "path": "/configmaps$", "fault": "503", "count": 1}]));
    let result = Api::<ConfigMap>::namespaced(layered, &ns)
        .watch(&WatchParams::default().timeout(1), "0")
        .await;
    assert!(
        matches!(&result, Err(kube::Error::Api(s)) if s.code == 503),
        "the 503 is returned"
    );
    assert_eq!(requests(), 1, "a watch is never retried");
    plan(json!([]));
    1
}

/// The apiserver stopped for 10 s while 100 new calls per second keep arriving (straight to the
/// apiserver: the proxy would be the bottleneck at this rate). Returns (operations, report line).
async fn outage_under_load(direct: &Client) -> (usize, String) {
    let ns = namespace(direct).await;
    Api::<ConfigMap>::namespaced(direct.clone(), &ns)
        .create(&PostParams::default(), &cm(Some("target"), None, "1"))
        .await
        .unwrap();
    let with_budget = outage_run(&ns, r#"{"ratio": 0.2, "min_per_second": 10, "ttl": 10}"#).await;
    let without = outage_run(&ns, "null").await;
    let line = format!(
        "outage 10 s at {RATE} calls/s: attempts per first attempt {with_budget} with the budget, {without} without"
    );
    assert!(
        with_budget.first as f64 >= 0.9 * RATE as f64 * OUTAGE.as_secs_f64(),
        "{with_budget:?}"
    );
    // The budget's bound for one process (docs/design.md section 5): at most min_per_episode +
    // burst * D0 + ratio * first attempts retries in the outage (plus this budget's floor), D0 being
    // the first attempts in the window when the episode began (BEFORE and its first 0.5 s).
    let first = with_budget.first.max(1) as f64;
    let d0 = RATE as f64 * (BEFORE.as_secs_f64() + 0.5);
    let bound = 1.0 + (3.0 + 3.0 * d0 + 0.2 * first + 10.0 * OUTAGE.as_secs_f64()) / first;
    assert!(
        with_budget.amplification() <= bound,
        "{with_budget:?} bound {bound}"
    );
    assert!(
        without.amplification() > with_budget.amplification(),
        "{line}"
    );
    assert!(
        without.late_ok,
        "calls whose backoff outlasts the outage recover"
    );
    assert!(
        with_budget.after_ok && without.after_ok,
        "calls after the restart succeed"
    );
    (with_budget.calls + without.calls, line)
}

const RATE: u64 = 100;
const BEFORE: Duration = Duration::from_secs(3);
const OUTAGE: Duration = Duration::from_secs(10);
const AFTER: Duration = Duration::from_secs(6);

#[derive(Debug)]
struct OutageRun {
    calls: usize,
    first: usize,
    attempts: usize,
    late_ok: bool,
    after_ok: bool,
}

impl OutageRun {
    fn amplification(&self) -> f64 {
        self.attempts as f64 / self.first.max(1) as f64
    }
}

impl std::fmt::Display for OutageRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2} ({}/{})",
            self.amplification(),
            self.attempts,
            self.first
        )
    }
}

fn apiserver(action: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../cluster/apiserver.sh");
    let status = Command::new(script).arg(action).status().unwrap();
    assert!(status.success(), "apiserver.sh {action}");
}

async fn outage_run(ns: &str, budget: &str) -> OutageRun {
    let retries = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let seen = retries.clone();
    let policy = PolicyBuilder::from_json(&format!(
        r#"{{"max_retries": 12, "initial_delay": 0.2, "max_delay": 2, "budget": {budget}}}"#
    ))
    .unwrap()
    .on_event(Some(Arc::new(move |e: &k8sretry::Event<'_>| {
        if e.kind == EventKind::FailedRetrying {
            seen.lock().unwrap().push(Instant::now());
        }
    })))
    .build()
    .unwrap();
    let client = client_without_own_retry(config("KUBECONFIG").await).unwrap();
    let api = Api::<ConfigMap>::namespaced(client, ns);
    let outage = tokio::task::spawn_blocking(|| {
        std::thread::sleep(BEFORE);
        apiserver("stop");
        let down = Instant::now();
        std::thread::sleep(OUTAGE);
        let up = Instant::now();
        apiserver("start");
        (down, up, Instant::now())
    });
    let t0 = Instant::now();
    let total = (RATE * (BEFORE + OUTAGE + AFTER).as_secs()) as usize;
    let mut calls = Vec::with_capacity(total);
    for i in 0..total {
        tokio::time::sleep_until((t0 + Duration::from_millis(i as u64 * 1000 / RATE)).into()).await;
        let (api, policy) = (api.clone(), policy.clone());
        let start = Instant::now();
        calls.push((
            start,
            tokio::spawn(async move {
                retry(&policy, "get", Verb::Get, || api.get("target"))
                    .await
                    .is_ok()
            }),
        ));
    }
    let (down, up, ready) = outage.await.unwrap();
    let mut run = OutageRun {
        calls: total,
        first: 0,
        attempts: 0,
        late_ok: true,
        after_ok: true,
    };
    for (start, handle) in calls {
        let ok = handle.await.unwrap();
        if start >= down && start < up {
            run.first += 1;
            run.late_ok &= ok || start < up - Duration::from_secs(2);
        }
        run.after_ok &= ok || start < ready;
    }
    run.attempts = run.first
        + retries
            .lock()
            .unwrap()
            .iter()
            .filter(|t| **t >= down && **t < up)
            .count();
    run
}
