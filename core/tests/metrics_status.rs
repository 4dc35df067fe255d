//! Statuses outside HTTP's range are not metric labels (its own test binary: the registry is
//! process-wide).

use k8sretry::{BudgetChoice, Call, Decision, Failure, PolicyBuilder, metrics_text};

#[test]
fn statuses_outside_http_count_without_a_status_label() {
    let policy = PolicyBuilder::preset("default")
        .unwrap()
        .max_retries(100)
        .budget(BudgetChoice::Disabled) // six retries of one call: not what this test is about
        .build()
        .unwrap();
    let mut call = Call::new(&policy, "odd-statuses");
    for status in [600u16, 999, 1000, 65535, 99, 503] {
        let failure = Failure::new().with_status(status).with_user_retryable(true);
        assert!(
            matches!(call.on_failure(&failure), Decision::Retry { .. }),
            "{status}"
        );
    }
    call.on_success();
    let text = metrics_text();
    let ours: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("k8sretry_retries_total{function=\"odd-statuses\""))
        .collect();
    // 503 is its own series; 99, 600, 999, 1000 and 65535 all count under status="".
    assert_eq!(ours.len(), 2, "{ours:?}");
    assert!(
        ours.iter().any(|l| l.contains("status=\"503\"} 1")),
        "{ours:?}"
    );
    assert!(
        ours.iter().any(|l| l.contains("status=\"\"} 5")),
        "{ours:?}"
    );
}
