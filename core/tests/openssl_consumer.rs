//! An application with kube's `openssl-tls` and k8s-openapi `v1_33` builds and runs with k8sretry
//! (feature `kube`): the library picks neither a TLS stack nor a Kubernetes version. Builds
//! tests/e2e/rust/consumer-openssl (its own workspace; a few seconds once its dependencies are
//! built, a few minutes the first time). Outside the repository (the packaged crate) there is no
//! fixture and nothing to check.

use std::path::Path;
use std::process::Command;

fn cargo(fixture: &Path, target: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(fixture)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "cargo {args:?} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn an_openssl_app_on_kubernetes_1_33_builds_and_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let fixture = root.join("tests/e2e/rust/consumer-openssl");
    if !fixture.join("Cargo.toml").exists() {
        return;
    }
    let target = root.join("target/consumer-openssl");
    let tree = cargo(
        &fixture,
        &target,
        &["tree", "-e", "normal", "--prefix", "none", "--no-dedupe"],
    );
    let crates: Vec<&str> = tree.lines().filter_map(|l| l.split(' ').next()).collect();
    for absent in ["rustls", "ring", "hyper-rustls", "aws-lc-rs"] {
        assert!(!crates.contains(&absent), "{absent} pulled in:\n{tree}");
    }
    assert!(crates.contains(&"openssl"), "{tree}");
    let features = cargo(
        &fixture,
        &target,
        &[
            "tree",
            "-e",
            "features",
            "-i",
            "k8s-openapi",
            "--prefix",
            "none",
        ],
    );
    assert!(features.contains("feature \"v1_33\""), "{features}");
    assert!(
        !features.contains("feature \"v1_34\""),
        "a second version: {features}"
    );
    let run = cargo(&fixture, &target, &["run", "--quiet"]);
    assert!(run.contains("create: gave up"), "{run}");
}
