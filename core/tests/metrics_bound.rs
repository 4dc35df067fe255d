//! The metrics' label set is bounded (its own test binary: the registry is process-wide).

use k8sretry::{
    Call, Decision, Event, EventCallback, Failure, MAX_FUNCTIONS, OTHER_FUNCTIONS, PolicyBuilder,
    metrics_text,
};
use std::sync::{Arc, Mutex};

#[test]
fn names_past_the_limit_count_as_other_and_keep_their_name_in_events() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let callback: EventCallback = Arc::new(move |e: &Event<'_>| {
        sink.lock().unwrap().push(e.function.to_owned());
    });
    let policy = PolicyBuilder::preset("default")
        .unwrap()
        .on_event(Some(callback))
        .build()
        .unwrap();
    for i in 0..MAX_FUNCTIONS + 500 {
        let mut call = Call::new(&policy, &format!("object-{i:05}"));
        call.on_success();
    }
    let mut late = Call::new(&policy, "a-name-past-the-limit");
    assert!(matches!(
        late.on_failure(&Failure::new().with_status(503)),
        Decision::Retry { .. }
    ));
    late.on_success();

    let text = metrics_text();
    let series = text
        .lines()
        .filter(|l| l.starts_with("k8sretry_calls_total{"))
        .count();
    // MAX_FUNCTIONS names with one outcome each, and _other with two (success, success_after_retry).
    assert_eq!(series, MAX_FUNCTIONS + 2, "{series} series");
    let other = |outcome: &str| {
        format!("k8sretry_calls_total{{function=\"{OTHER_FUNCTIONS}\",outcome=\"{outcome}\"}}")
    };
    assert!(
        text.contains(&format!("{} 500", other("success"))),
        "{text}"
    );
    assert!(text.contains(&format!("{} 1", other("success_after_retry"))));
    assert!(!text.contains("a-name-past-the-limit"));
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|f| f == "a-name-past-the-limit"),
        "events keep the call's own name"
    );
}
