//! Uses k8sretry's kube integration over kube's openssl stack: the layer on kube's own
//! ClientBuilder (by hand and through client_with_retry) and a helper, against a port where
//! nothing listens (every attempt refused, retried, given up).
use k8s_openapi::api::core::v1::ConfigMap;
use k8sretry::kube::create_idempotent;
use k8sretry::kube_layer::{RetryLayer, client_with_retry};
use k8sretry::{Policy, Verb, retry};
use kube::api::Api;
use kube::client::ClientBuilder;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let policy = Policy::from_json(r#"{"max_retries": 1, "initial_delay": 0.01, "budget": null}"#)?;
    let mut config = kube::Config::new("https://127.0.0.1:1".parse()?);
    config.default_retry = false;
    let by_hand = ClientBuilder::try_from(config.clone())?
        .with_layer(&RetryLayer::new(policy.clone()))
        .build();
    let api: Api<ConfigMap> =
        Api::namespaced(client_with_retry(config, policy.clone())?, "default");
    let cm: ConfigMap = serde_json::from_value(serde_json::json!({"metadata": {"name": "x"}}))?;
    let created = create_idempotent(&api, &policy, &cm).await;
    let by_hand: Api<ConfigMap> = Api::namespaced(by_hand, "default");
    let got = retry(&policy, "get", Verb::Get, || by_hand.get("x")).await;
    match (created, got) {
        (Err(c), Err(g)) => println!("create: {c}; get: {g}"),
        _ => return Err("nothing listens on port 1: both calls must fail".into()),
    }
    Ok(())
}
