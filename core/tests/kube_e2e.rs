//! kube-rs through k8sretry against the real kube-apiserver of tests/cluster behind the fault
//! proxy. Run by `make test-e2e` (feature `kube`), which starts both.
#![cfg(feature = "kube")]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8sretry::kube::{REQUEST_ID, client_without_own_retry, create_idempotent, delete_idempotent};
use k8sretry::{Policy, retry};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Value, json};

fn env() -> BTreeMap<String, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/cluster/.run/env");
    let text = std::fs::read_to_string(path)
        .expect("no cluster: run `make cluster-up` (make test-e2e does)");
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn control(method: &str, path: &str, body: Option<Value>) -> Value {
    let url = format!("{}/__k8sretry/{path}", env()["PROXY"]);
    let mut cmd = Command::new("curl");
    cmd.args(["-sk", "-X", method, &url]);
    if let Some(body) = body {
        cmd.args(["-d", &body.to_string()]);
    }
    let out = cmd.output().expect("curl");
    serde_json::from_slice(&out.stdout).expect("control endpoint answers JSON")
}

fn plan(rules: Value) {
    control("PUT", "plan", Some(json!({"seed": 9, "rules": rules})));
}

async fn config(key: &str) -> Config {
    let kubeconfig = Kubeconfig::read_from(&env()[key]).expect("kubeconfig");
    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config")
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

// One test, run in order: the proxy's plan is shared state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_through_k8sretry_against_a_real_apiserver() {
    let direct = Client::try_from(config("KUBECONFIG").await).unwrap();
    let faulted = client_without_own_retry(config("KUBECONFIG_PROXY").await).unwrap();
    let policy = fast();

    // kube's default retry repeats a 503 by itself; under k8sretry it is switched off.
    let ns = namespace(&direct).await;
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

    // The mixed workload under >= 30% faults.
    let ns = namespace(&direct).await;
    let api = Api::<ConfigMap>::namespaced(faulted.clone(), &ns);
    plan(json!([
        {"method": "POST", "path": "/configmaps$", "fault": "drop_after", "probability": 0.2},
        {"method": "POST", "path": "/configmaps$", "fault": "drop_before", "probability": 0.12},
        {"method": "POST", "path": "/configmaps$", "fault": "503", "probability": 0.1},
        {"method": "GET", "path": "/configmaps", "fault": "503", "probability": 0.3},
        {"method": "GET", "path": "", "fault": "drop_before", "probability": 0.1},
        {"method": "PUT", "path": "/configmaps/", "fault": "drop_after", "probability": 0.2},
        {"method": "PUT", "path": "/configmaps/", "fault": "504", "probability": 0.1},
        {"method": "PATCH", "path": "", "fault": "429", "probability": 0.4},
        {"method": "DELETE", "path": "", "fault": "drop_after", "probability": 0.2},
        {"method": "DELETE", "path": "", "fault": "drop_before", "probability": 0.1}
    ]));
    let mut ops = 0;
    let mut want = BTreeSet::new();
    for i in 0..45 {
        let name = format!("cm-{i}");
        create_idempotent(&api, &policy, &cm(Some(&name), None, "1"))
            .await
            .expect("create");
        let got = retry(&policy, "get", || api.get(&name)).await.expect("get");
        assert_eq!(got.data.unwrap()["v"], "1");
        let (post, replacement) = (PostParams::default(), cm(Some(&name), None, "2"));
        retry(&policy, "replace", || {
            api.replace(&name, &post, &replacement)
        })
        .await
        .expect("replace");
        let (patch_params, patch) = (
            PatchParams::default(),
            Patch::Merge(json!({"metadata": {"labels": {"patched": "yes"}}})),
        );
        retry(&policy, "patch", || api.patch(&name, &patch_params, &patch))
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
    for _ in 0..15 {
        create_idempotent(&api, &policy, &cm(None, Some("gen-"), "g"))
            .await
            .expect("generateName create");
        ops += 1;
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
    let listed = Api::<ConfigMap>::namespaced(direct.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    let named: BTreeSet<String> = listed
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .filter(|n| !n.starts_with("gen-"))
        .collect();
    let generated: BTreeSet<String> = listed
        .iter()
        .filter(|c| {
            c.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("gen-"))
        })
        .map(|c| c.metadata.annotations.as_ref().unwrap()[REQUEST_ID].clone())
        .collect();
    assert_eq!(named, want, "nothing lost, nothing extra");
    assert_eq!(
        listed.len() - named.len(),
        15,
        "each generateName create made one object"
    );
    assert_eq!(generated.len(), 15);
    for c in listed
        .iter()
        .filter(|c| want.contains(c.metadata.name.as_deref().unwrap()))
    {
        assert_eq!(c.data.as_ref().unwrap()["v"], "2");
        assert_eq!(c.metadata.labels.as_ref().unwrap()["patched"], "yes");
    }
    assert!(ops >= 200);
    assert!(
        faults as f64 / requests as f64 >= 0.3,
        "{faults} faults of {requests} requests"
    );

    // Somebody else's object is never adopted.
    Api::<ConfigMap>::namespaced(direct.clone(), &ns)
        .create(&PostParams::default(), &cm(Some("theirs"), None, "them"))
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
    let theirs = Api::<ConfigMap>::namespaced(direct, &ns)
        .get("theirs")
        .await
        .unwrap();
    assert_eq!(theirs.data.unwrap()["v"], "them");
    // The tower layer: every request of a kube::Client goes through the engine.
    let layered =
        k8sretry::kube_layer::client_with_retry(config("KUBECONFIG_PROXY").await, fast()).unwrap();
    let layered_api = Api::<ConfigMap>::namespaced(layered, &ns);
    plan(json!([
        {"method": "GET", "path": "/configmaps/theirs$", "fault": "503", "count": 2, "retry_after": "1"},
        {"method": "GET", "path": "/configmaps/theirs$", "fault": "drop_before", "count": 1}
    ]));
    let started = std::time::Instant::now();
    let got = layered_api
        .get("theirs")
        .await
        .expect("retried through 503, 503 and a reset");
    assert_eq!(got.data.unwrap()["v"], "them");
    assert_eq!(control("GET", "stats", None)["requests"], 4);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(2),
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
        control("GET", "stats", None)["requests"],
        1,
        "a POST is not repeated after an ambiguous 503"
    );
    plan(json!([]));
    println!(
        "=== k8sretry e2e report (kube-rs) ===\noperations: {}\nfaults injected: {faults} of {requests} requests",
        ops + 3
    );
}
