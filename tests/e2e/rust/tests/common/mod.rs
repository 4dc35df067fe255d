//! Shared by the kube-rs e2e tests: the running test cluster (tests/cluster/.run/env, written by
//! tests/cluster/up.sh) and a kube `Config` from one of its kubeconfigs.

use std::collections::BTreeMap;

use kube::Config;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// tests/cluster/.run/env as a map; empty when no cluster runs.
pub fn cluster_env() -> BTreeMap<String, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../cluster/.run/env");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The running cluster's settings; stops the test when no cluster runs.
pub fn env() -> BTreeMap<String, String> {
    let env = cluster_env();
    assert!(
        !env.is_empty(),
        "no cluster: run `make cluster-up` (make test-e2e does)"
    );
    env
}

/// A client configuration from the kubeconfig the cluster's env names under `key`.
pub async fn config(key: &str) -> Config {
    let kubeconfig = Kubeconfig::read_from(&env()[key]).expect("kubeconfig");
    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config")
}
