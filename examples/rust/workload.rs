//! The demo workload: an app's config written through kube-rs with k8sretry.
//! Creates 20 ConfigMaps (read, labelled, every 4th deleted) and 5 generateName Secrets in
//! $K8SRETRY_NAMESPACE of $KUBECONFIG; prints one JSON line. Run by `make demo` through the fault
//! proxy: `cargo run -p k8sretry --features kube --example workload`.
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8sretry::kube::{
    client_without_own_retry, create_idempotent, delete_idempotent, patch_idempotent,
};
use k8sretry::{Policy, Verb, metrics_text, retry};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;

fn total(prefix: &str, containing: &str) -> f64 {
    metrics_text()
        .lines()
        .filter(|l| l.starts_with(prefix) && l.contains(containing))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let namespace = std::env::var("K8SRETRY_NAMESPACE")?;
    // kube retries 429/503/504 by itself by default; under k8sretry that is switched off.
    let client = client_without_own_retry(kube::Config::infer().await?)?;
    let (configmaps, secrets) = (
        Api::<ConfigMap>::namespaced(client.clone(), &namespace),
        Api::<Secret>::namespaced(client, &namespace),
    );
    // Short delays for a demo; the same policy in every language's workload.
    let policy = Policy::from_json(
        r#"{"preset": "default", "max_retries": 6, "initial_delay": 0.2, "max_delay": 2}"#,
    )?;
    let (label, patch_params) = (
        Patch::Merge(json!({"metadata": {"labels": {"app": "demo"}}})),
        PatchParams::default(),
    );
    let (mut operations, mut kept) = (0, Vec::new());
    for i in 0..20 {
        let name = format!("app-config-{i}");
        let cm: ConfigMap = serde_json::from_value(
            json!({"metadata": {"name": name}, "data": {"i": i.to_string()}}),
        )?;
        create_idempotent(&configmaps, &policy, &cm).await?;
        retry(&policy, "get", Verb::Get, || configmaps.get(&name)).await?;
        // A merge patch is safe to resend; patch_idempotent knows it from the patch type.
        patch_idempotent(&configmaps, &policy, &name, &patch_params, &label).await?;
        operations += 3;
        if i % 4 == 0 {
            delete_idempotent(&configmaps, &policy, &name, &DeleteParams::default(), false).await?;
            operations += 1;
        } else {
            kept.push(name);
        }
    }
    for _ in 0..5 {
        let secret: Secret =
            serde_json::from_value(json!({"metadata": {"generateName": "app-secret-"}}))?;
        create_idempotent(&secrets, &policy, &secret).await?;
        operations += 1;
    }
    let report = json!({
        "operations": operations,
        "retries": total("k8sretry_retries_total", ""),
        "recovered": total("k8sretry_calls_total", "outcome=\"recovered\""),
        "configmaps": kept,
        "secrets": 5,
    });
    println!("{report}");
    Ok(())
}
