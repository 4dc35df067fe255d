//! Faults the real apiserver and etcd make, not the proxy: kube-rs through k8sretry's helpers
//! against the kube-apiserver of tests/cluster/up-faults.sh (`make test-e2e-faults`), straight to
//! it. Scenarios (tests/e2e/README.md): apf-429, etcd-pause, etcd-restart, apiserver-graceful,
//! apiserver-kill, and goaway (--goaway-chance: kube-rs speaks HTTP/2). Every call must end
//! successfully; afterwards each namespace holds exactly the expected objects: none lost, none
//! twice. Does nothing outside that cluster profile.
#![cfg(feature = "e2e")]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8sretry::kube::{
    REQUEST_ID, client_without_own_retry, create_idempotent, delete_idempotent, patch_idempotent,
};
use k8sretry::kube_layer::client_with_retry;
use k8sretry::{Class, EventKind, Policy, PolicyBuilder, ToFailure, Verb, retry};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

mod common;
use common::{cluster_env, config, env};

async fn namespace(direct: &Client, name: &str) -> String {
    let ns = Namespace {
        metadata: ObjectMeta {
            generate_name: Some(format!("e2e-rf-{name}-rs-")),
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

/// Runs fault.sh (blocking: call it from spawn_blocking or a plain thread).
fn fault(action: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../cluster/fault.sh");
    let out = Command::new(script).arg(action).output().expect("fault.sh");
    assert!(
        out.status.success(),
        "fault.sh {action}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What one scenario met, from the engine's own events.
#[derive(Default)]
struct Stats {
    calls: usize,
    retries: usize,
    recovered: usize,
    seen: BTreeMap<String, usize>,
    throttled_delays: Vec<f64>,
    failed: Vec<String>,
    named: BTreeSet<String>,
    generated: BTreeMap<String, String>,
}

type Shared = Arc<Mutex<Stats>>;

/// Retries that outlast each fault (about 40 s), no budget: every call must end.
fn policy(stats: &Shared, overrides: Value) -> Policy {
    let mut fields = json!({"max_retries": 40, "initial_delay": 0.1, "max_delay": 1, "retry_after_cap": 5, "budget": null});
    for (k, v) in overrides.as_object().unwrap() {
        fields[k] = v.clone();
    }
    let seen = Arc::clone(stats);
    PolicyBuilder::from_json(&fields.to_string())
        .unwrap()
        .on_event(Some(Arc::new(move |e: &k8sretry::Event<'_>| {
            let mut s = seen.lock().unwrap();
            match e.kind {
                EventKind::FailedRetrying => {
                    s.retries += 1;
                    let what = e
                        .status_code
                        .map(|c| c.to_string())
                        .or(e.code.map(String::from))
                        .unwrap_or_else(|| e.error_type.unwrap_or("?").to_owned());
                    *s.seen.entry(what).or_default() += 1;
                    if e.class == Some(Class::Throttled) {
                        s.throttled_delays.push(e.delay_seconds.unwrap_or(0.0));
                    }
                }
                EventKind::RecoveredLostResponse => s.recovered += 1,
                _ => {}
            }
        })))
        .build()
        .unwrap()
}

fn cm(name: Option<String>, generate: Option<String>) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name,
            generate_name: generate,
            ..Default::default()
        },
        data: Some(BTreeMap::from([("v".to_owned(), "1".to_owned())])),
        ..Default::default()
    }
}

/// A named and a generateName ConfigMap, a read and a merge patch of the named one, a delete of
/// every third; until `stop` (or for `rounds`).
async fn worker(
    api: Api<ConfigMap>,
    policy: Policy,
    w: usize,
    stats: Shared,
    stop: Arc<AtomicBool>,
    rounds: Option<usize>,
    pause: Duration,
) {
    let merge = Patch::Merge(json!({"data": {"v": "2"}}));
    let params = PatchParams::default();
    let mut k = 0;
    while rounds.map_or(!stop.load(Ordering::SeqCst), |r| k < r) {
        let name = format!("n{w}-{k}");
        for step in ["create", "generate", "read", "patch", "delete"] {
            if step == "delete" && k % 3 != 2 {
                continue;
            }
            stats.lock().unwrap().calls += 1;
            let result: Result<Option<ConfigMap>, String> = match step {
                "create" => create_idempotent(&api, &policy, &cm(Some(name.clone()), None))
                    .await
                    .map(Some)
                    .map_err(|e| format!("{e} [{:?}]", e.error)),
                "generate" => create_idempotent(&api, &policy, &cm(None, Some(format!("g{w}-"))))
                    .await
                    .map(Some)
                    .map_err(|e| format!("{e} [{:?}]", e.error)),
                "read" => retry(&policy, "get", Verb::Get, || api.get(&name))
                    .await
                    .map(Some)
                    .map_err(|e| format!("{e} [{:?}]", e.error)),
                "patch" => patch_idempotent(&api, &policy, &name, &params, &merge)
                    .await
                    .map(Some)
                    .map_err(|e| format!("{e} [{:?}]", e.error)),
                _ => delete_idempotent(&api, &policy, &name, &DeleteParams::default(), false)
                    .await
                    .map(|()| None)
                    .map_err(|e| format!("{e} [{:?}]", e.error)),
            };
            let mut s = stats.lock().unwrap();
            match (step, result) {
                (_, Err(e)) => {
                    s.failed.push(format!("{step} {name}: {e}"));
                    break;
                }
                ("create", _) => {
                    s.named.insert(name.clone());
                }
                ("generate", Ok(Some(obj))) => {
                    let id = obj.metadata.annotations.as_ref().unwrap()[REQUEST_ID].clone();
                    s.generated.insert(obj.metadata.name.unwrap(), id);
                }
                ("read", Ok(Some(obj))) => {
                    assert_eq!(obj.data.unwrap()["v"], "1", "{name}");
                }
                ("delete", _) => {
                    s.named.remove(&name);
                }
                _ => {}
            }
        }
        k += 1;
        tokio::time::sleep(pause).await;
    }
}

#[derive(Debug, PartialEq, Default)]
struct Figures {
    lost: usize,
    duplicates: usize,
    unexpected: usize,
}

/// Lost: objects a call succeeded for that are not there (calls that gave up are counted apart). Duplicates:
/// objects beyond one per request id, or that no successful call returned.
async fn check(direct: &Client, ns: &str, s: &Stats) -> Figures {
    let items = Api::<ConfigMap>::namespaced(direct.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    let mut f = Figures::default();
    let mut present = BTreeSet::new();
    let mut ids: HashMap<String, usize> = HashMap::new();
    for c in items {
        let name = c.metadata.name.clone().unwrap();
        if name.starts_with('g') {
            let id = c
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REQUEST_ID))
                .cloned()
                .unwrap_or_default();
            *ids.entry(id).or_default() += 1;
            f.duplicates += usize::from(!s.generated.contains_key(&name));
        } else if name.starts_with('n') {
            f.unexpected += usize::from(!s.named.contains(&name));
            assert_eq!(c.data.as_ref().unwrap()["v"], "2", "{name} patched");
        }
        present.insert(name);
    }
    f.duplicates += ids.values().map(|n| n - 1).sum::<usize>();
    f.lost = s.named.iter().filter(|n| !present.contains(*n)).count()
        + s.generated.keys().filter(|n| !present.contains(*n)).count();
    f
}

struct Options {
    kubeconfig: &'static str,
    workers: usize,
    rounds: Option<usize>,
    pause: Duration,
    overrides: Value,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            kubeconfig: "KUBECONFIG",
            workers: 6,
            rounds: None,
            pause: Duration::from_millis(50),
            overrides: json!({}),
        }
    }
}

/// Runs the workload while `sequence` (blocking, on a thread of its own) makes the fault, then
/// checks the namespace and prints one line.
async fn scenario(
    direct: &Client,
    name: &str,
    o: Options,
    sequence: impl FnOnce() + Send + 'static,
    lines: &mut Vec<String>,
) -> Stats {
    let ns = namespace(direct, name).await;
    let stats: Shared = Arc::default();
    let policy = policy(&stats, o.overrides);
    let client = client_without_own_retry(config(o.kubeconfig).await).unwrap();
    let api = Api::<ConfigMap>::namespaced(client, &ns);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..o.workers)
        .map(|w| {
            tokio::spawn(worker(
                api.clone(),
                policy.clone(),
                w,
                Arc::clone(&stats),
                Arc::clone(&stop),
                o.rounds,
                o.pause,
            ))
        })
        .collect();
    tokio::task::spawn_blocking(sequence).await.unwrap();
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let s = std::mem::take(&mut *stats.lock().unwrap());
    let f = check(direct, &ns, &s).await;
    let seen: Vec<String> = s.seen.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let line = format!(
        "real-fault {name} [kube-rs]: calls {}, attempts {} (retries {}), failures met: {}; recovered {}, lost {}, duplicates {}, gave up {} ({:.1} s)",
        s.calls,
        s.calls + s.retries,
        s.retries,
        if seen.is_empty() {
            "none".into()
        } else {
            seen.join(", ")
        },
        s.recovered,
        f.lost,
        f.duplicates,
        s.failed.len(),
        started.elapsed().as_secs_f64()
    );
    println!("{line}");
    lines.push(line);
    assert!(
        s.failed.is_empty(),
        "calls gave up: {:?}",
        &s.failed[..s.failed.len().min(5)]
    );
    assert_eq!(f, Figures::default());
    s
}

/// Client connections to the apiserver's port seen in /proc/net/tcp (TIME_WAIT included), sampled
/// until `stop`: each GOAWAY makes the client open a new one.
fn count_connections(port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut seen = BTreeSet::new();
        let hex = format!(":{port:04X}");
        while !stop.load(Ordering::SeqCst) {
            for line in std::fs::read_to_string("/proc/net/tcp")
                .unwrap_or_default()
                .lines()
                .skip(1)
            {
                let fields: Vec<&str> = line.split_whitespace().collect();
                // local address, remote address: a client socket has the apiserver's port remote.
                if fields.len() > 2 && fields[2].ends_with(&hex) {
                    seen.insert(fields[1].to_owned());
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        seen.len()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_faults_kube_rs() {
    if cluster_env().get("K8SRETRY_PROFILE").map(String::as_str) != Some("faults") {
        eprintln!(
            "skipped: needs the real-fault cluster profile (tests/cluster/up-faults.sh, make test-e2e-faults)"
        );
        return;
    }
    let direct = Client::try_from(config("KUBECONFIG").await).unwrap();
    let mut lines = Vec::new();

    // apf-429: a tiny backoff (0.05 s doubling to 0.2 s), so a delay of 1 s or more can only be
    // APF's Retry-After.
    let apf = Options {
        kubeconfig: "KUBECONFIG_USER",
        workers: 10,
        rounds: Some(3),
        overrides: json!({"max_retries": 60, "initial_delay": 0.05, "max_delay": 0.2}),
        ..Options::default()
    };
    let s = scenario(&direct, "apf-429", apf, || {}, &mut lines).await;
    assert!(
        s.seen.get("429").copied().unwrap_or(0) > 0,
        "APF never rejected a request"
    );
    apf_429_extraction(&mut lines).await;

    let s = scenario(
        &direct,
        "etcd-pause",
        Options {
            workers: 8,
            ..Options::default()
        },
        || {
            std::thread::sleep(Duration::from_secs(1));
            fault("etcd-pause");
            std::thread::sleep(Duration::from_secs(3));
            fault("etcd-resume");
            std::thread::sleep(Duration::from_secs(2));
        },
        &mut lines,
    )
    .await;
    assert!(
        s.seen.contains_key("504"),
        "no 504 Timeout met: {:?}",
        s.seen
    );

    let s = scenario(
        &direct,
        "etcd-restart",
        Options::default(),
        || {
            std::thread::sleep(Duration::from_secs(1));
            fault("etcd-kill");
            std::thread::sleep(Duration::from_secs(3));
            fault("etcd-start");
            std::thread::sleep(Duration::from_secs(2));
        },
        &mut lines,
    )
    .await;
    assert!(s.retries > 0, "met no fault");

    let s = scenario(
        &direct,
        "apiserver-graceful",
        Options::default(),
        || {
            std::thread::sleep(Duration::from_secs(1));
            let term = std::thread::spawn(|| fault("apiserver-term"));
            // Requests held in flight by a paused etcd when the 2 s shutdown delay ends: while the
            // apiserver drains them, new requests get 429 with Retry-After and Connection: close.
            std::thread::sleep(Duration::from_millis(1500));
            fault("etcd-pause");
            std::thread::sleep(Duration::from_millis(1500));
            fault("etcd-resume");
            term.join().unwrap();
            fault("apiserver-start");
            std::thread::sleep(Duration::from_secs(2));
        },
        &mut lines,
    )
    .await;
    assert!(s.retries > 0, "met no fault");

    let s = scenario(
        &direct,
        "apiserver-kill",
        Options::default(),
        || {
            std::thread::sleep(Duration::from_secs(1));
            fault("apiserver-kill");
            std::thread::sleep(Duration::from_secs(1));
            fault("apiserver-start");
            std::thread::sleep(Duration::from_secs(2));
        },
        &mut lines,
    )
    .await;
    assert!(s.retries > 0, "met no fault");

    // goaway: 1 in 50 HTTP/2 requests gets a GOAWAY.
    let port: u16 = env()["K8S_API"]
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let counter = count_connections(port, Arc::clone(&stop));
    let goaway = Options {
        workers: 4,
        rounds: Some(60),
        pause: Duration::from_millis(1),
        ..Options::default()
    };
    let s = scenario(&direct, "goaway", goaway, || {}, &mut lines).await;
    stop.store(true, Ordering::SeqCst);
    let connections = counter.join().unwrap();
    let line = format!(
        "real-fault goaway [kube-rs]: {} requests made {connections} connections to the apiserver",
        s.calls + s.retries
    );
    println!("{line}");
    lines.push(line);
    assert!(
        connections >= 5,
        "{connections} connections: no GOAWAYs seen"
    );

    println!("=== k8sretry real-fault report (kube-rs) ===");
    for line in lines {
        println!("{line}");
    }
}

/// The real 429 as kube-rs returns it: `kube::Error::Api` with code 429 and no headers (kube drops
/// them; the text/plain body is not a Status). The helpers see Throttled; the Retry-After only
/// reaches the engine through the tower layer (client_with_retry), which reads the response.
async fn apf_429_extraction(lines: &mut Vec<String>) {
    let user = client_without_own_retry(config("KUBECONFIG_USER").await).unwrap();
    let api = Api::<ConfigMap>::namespaced(user, "default");
    let errors: Arc<Mutex<Vec<kube::Error>>> = Arc::default();
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let (api, errors) = (api.clone(), Arc::clone(&errors));
            tokio::spawn(async move {
                for _ in 0..10 {
                    if let Err(e) = api.list(&ListParams::default()).await {
                        errors.lock().unwrap().push(e);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let line = {
        let errors = errors.lock().unwrap();
        let err = errors
            .iter()
            .find(|e| matches!(e, kube::Error::Api(s) if s.code == 429))
            .expect("APF never answered 429");
        let policy = Policy::from_json(r#"{"initial_delay": 0.05, "max_delay": 0.2}"#).unwrap();
        let failure = err.to_failure();
        assert_eq!(policy.classify(&failure), Class::Throttled, "{err:?}");
        let hint = policy.server_hint(&failure);
        format!(
            "real-fault apf-429 [kube-rs]: kube::Error as returned: {err:?}; engine hint from it: {hint:?}"
        )
    };
    println!("{line}");
    lines.push(line);

    // Through the tower layer the response itself is judged: its Retry-After is honoured.
    let stats: Shared = Arc::default();
    let layered =
        client_with_retry(config("KUBECONFIG_USER").await, policy_of_layer(&stats)).unwrap();
    let api = Api::<ConfigMap>::namespaced(layered, "default");
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let api = api.clone();
            tokio::spawn(async move {
                for _ in 0..5 {
                    api.list(&ListParams::default())
                        .await
                        .expect("the layer outlasts APF");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let s = stats.lock().unwrap();
    let line = format!(
        "real-fault apf-429 [kube-rs tower layer]: 60 lists, {} Throttled retries, shortest delay {:.2} s",
        s.throttled_delays.len(),
        s.throttled_delays
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
    );
    println!("{line}");
    lines.push(line);
    assert!(!s.throttled_delays.is_empty(), "the layer met no 429");
    assert!(
        s.throttled_delays.iter().all(|d| *d >= 1.0),
        "Retry-After not honoured: {:?}",
        s.throttled_delays
    );
}

fn policy_of_layer(stats: &Shared) -> Policy {
    policy(
        stats,
        json!({"max_retries": 60, "initial_delay": 0.05, "max_delay": 0.2}),
    )
}
