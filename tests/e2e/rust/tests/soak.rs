//! Soak (make soak, through tests/e2e/soak.sh; K8SRETRY_SOAK=1): kube-rs through k8sretry's
//! helpers behind the fault proxy for SOAK_SECONDS at SOAK_RATE calls per second, in one process.
//! The same units of work as tests/e2e/python/soak.py, started at a fixed rate; prints RSS and fds
//! every 10 s and last one line `SOAK {json}` (see soak.py). Does nothing without K8SRETRY_SOAK=1.
#![cfg(feature = "e2e")]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8sretry::kube::{
    client_without_own_retry, create_idempotent, delete_idempotent, patch_idempotent,
};
use k8sretry::{EventKind, PolicyBuilder, Verb, metrics_text, retry};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

mod common;
use common::config;

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64)
}

fn metric_counts() -> Value {
    let mut calls: BTreeMap<String, u64> = BTreeMap::new();
    let mut retries = 0u64;
    for line in metrics_text().lines() {
        let value = || -> u64 {
            line.rsplit(' ')
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0) as u64
        };
        if line.starts_with("k8sretry_calls_total{") {
            let outcome = line
                .split("outcome=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("");
            *calls.entry(outcome.to_owned()).or_default() += value();
        } else if line.starts_with("k8sretry_retries_total{") {
            retries += value();
        }
    }
    let total: u64 = calls.values().sum();
    json!({"calls": calls, "calls_total": total, "retries": retries})
}

#[derive(Default)]
struct Work {
    calls: usize,
    ok: usize,
    failed: usize,
    errors: BTreeMap<String, usize>,
}

fn record<T, E: std::fmt::Display>(
    work: &Mutex<Work>,
    step: &str,
    result: Result<T, E>,
) -> Option<T> {
    let mut w = work.lock().unwrap();
    w.calls += 1;
    match result {
        Ok(v) => {
            w.ok += 1;
            Some(v)
        }
        Err(e) => {
            w.failed += 1;
            let msg: String = e.to_string().chars().take(80).collect();
            *w.errors.entry(format!("{step}: {msg}")).or_default() += 1;
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_kube_rs() {
    if std::env::var("K8SRETRY_SOAK").as_deref() != Ok("1") {
        eprintln!("skipped: make soak (K8SRETRY_SOAK=1)");
        return;
    }
    let seconds: f64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600.0);
    let rate: f64 = std::env::var("SOAK_RATE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200.0);
    let events: Arc<Mutex<BTreeMap<&'static str, usize>>> = Arc::default();
    let seen = Arc::clone(&events);
    let policy = PolicyBuilder::from_json(r#"{"max_retries": 10, "initial_delay": 0.05, "max_delay": 1, "retry_after_cap": 2, "budget": null}"#)
        .unwrap()
        .on_event(Some(Arc::new(move |e: &k8sretry::Event<'_>| {
            *seen.lock().unwrap().entry(e.kind.name()).or_default() += 1;
        })))
        .build()
        .unwrap();
    let admin = Client::try_from(config("KUBECONFIG").await).unwrap();
    let ns = Api::<Namespace>::all(admin.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    generate_name: Some("soak-rs-".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .metadata
        .name
        .unwrap();
    let client = client_without_own_retry(config("KUBECONFIG_PROXY").await).unwrap();
    let api = Api::<ConfigMap>::namespaced(client, &ns);
    let work = Arc::new(Mutex::new(Work::default()));
    let inflight = Arc::new(AtomicUsize::new(0));
    let interval = Duration::from_secs_f64(6.0 / rate);
    let t0 = Instant::now();
    let mut samples: Vec<(f64, u64, u64)> = Vec::new();
    let mut next_sample = Duration::ZERO;
    let mut tasks = Vec::new();
    let mut k = 0u64;
    while t0.elapsed() < Duration::from_secs_f64(seconds) {
        let now = t0.elapsed();
        if now >= next_sample {
            samples.push(((now.as_secs_f64() * 10.0).round() / 10.0, rss_kb(), fds()));
            let (_, r, f) = samples[samples.len() - 1];
            println!(
                "t={:5.0} s rss={r} kB fds={f} calls={} in flight={}",
                now.as_secs_f64(),
                work.lock().unwrap().calls,
                inflight.load(Ordering::SeqCst)
            );
            next_sample += Duration::from_secs(10);
            tasks.retain(|t: &tokio::task::JoinHandle<()>| !t.is_finished());
        }
        let (api, policy, work, inflight) = (
            api.clone(),
            policy.clone(),
            Arc::clone(&work),
            Arc::clone(&inflight),
        );
        inflight.fetch_add(1, Ordering::SeqCst);
        tasks.push(tokio::spawn(async move {
            let name = format!("s-{k}");
            let named = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    ..Default::default()
                },
                data: Some(BTreeMap::from([("v".to_owned(), "1".to_owned())])),
                ..Default::default()
            };
            if record(
                &work,
                "create",
                create_idempotent(&api, &policy, &named).await,
            )
            .is_some()
            {
                record(
                    &work,
                    "read",
                    retry(&policy, "get", Verb::Get, || api.get(&name)).await,
                );
                let patch = Patch::Merge(json!({"data": {"v": "2"}}));
                record(
                    &work,
                    "patch",
                    patch_idempotent(&api, &policy, &name, &PatchParams::default(), &patch).await,
                );
            }
            let generate = ConfigMap {
                metadata: ObjectMeta {
                    generate_name: Some("g-".into()),
                    ..Default::default()
                },
                ..Default::default()
            };
            if let Some(g) = record(
                &work,
                "generate",
                create_idempotent(&api, &policy, &generate).await,
            ) {
                let gname = g.metadata.name.unwrap();
                record(
                    &work,
                    "delete-generated",
                    delete_idempotent(&api, &policy, &gname, &DeleteParams::default(), false).await,
                );
            }
            record(
                &work,
                "delete",
                delete_idempotent(&api, &policy, &name, &DeleteParams::default(), false).await,
            );
            inflight.fetch_sub(1, Ordering::SeqCst);
        }));
        k += 1;
        tokio::time::sleep_until((t0 + interval * k as u32).into()).await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = t0.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    samples.push((elapsed, rss_kb(), fds()));
    let left = Api::<ConfigMap>::namespaced(admin, &ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    let start = if samples.len() > 2 {
        samples[1]
    } else {
        samples[0]
    };
    let after = if samples.len() > 2 {
        &samples[1..]
    } else {
        &samples[..]
    };
    let end = samples[samples.len() - 1];
    let w = work.lock().unwrap();
    let ev = events.lock().unwrap();
    let count = |name: &str| ev.get(name).copied().unwrap_or(0);
    let result = json!({
        "language": "rust", "client": "kube-rs 5", "seconds": elapsed, "calls": w.calls,
        "rate": w.calls as f64 / seconds, "ok": w.ok, "failed": w.failed, "errors": w.errors,
        "retries": count(EventKind::FailedRetrying.name()),
        "succeeded_after_retry": count(EventKind::SucceededAfterRetry.name()),
        "recovered": count(EventKind::RecoveredLostResponse.name()),
        "metrics": metric_counts(),
        "rss_kb": {"start": start.1, "end": end.1, "max": after.iter().map(|s| s.1).max()},
        "fds": {"start": start.2, "end": end.2, "max": after.iter().map(|s| s.2).max()},
        "left_in_namespace": left.iter().take(10).filter_map(|c| c.metadata.name.clone()).collect::<Vec<_>>(),
        "left_count": left.len(),
        "samples": samples,
    });
    println!("SOAK {result}");
}
