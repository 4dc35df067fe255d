//! Shared by the kube-rs e2e tests: the running test cluster (tests/cluster/.run/env, written by
//! tests/cluster/up.sh) and a kube `Config` from one of its kubeconfigs.

use std::collections::BTreeMap;

use kube::Config;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// tests/cluster/.run/env as a map; empty when no cluster was started. Panics unless
/// tests/cluster/local-env.sh finds that .run is the throw-away apiserver up.sh started (loopback,
/// its own token, live pids): nothing here ever runs against another cluster.
pub fn cluster_env() -> BTreeMap<String, String> {
    let cluster = concat!(env!("CARGO_MANIFEST_DIR"), "/../../cluster");
    if !std::path::Path::new(cluster).join(".run/env").exists() {
        return BTreeMap::new();
    }
    let out = std::process::Command::new(format!("{cluster}/local-env.sh"))
        .output()
        .expect("run tests/cluster/local-env.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("local-env.sh prints one JSON object")
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
