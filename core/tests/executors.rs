//! The Rust executors, events and metrics, observed from outside.
// A Failure stands in for a caller's own error type here; its size does not matter in a test.
#![allow(clippy::result_large_err)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8sretry::{
    BudgetChoice, Event, EventCallback, Failure, GiveUpReason, Policy, PolicyBuilder, Verb,
    metrics_text, retry, retry_blocking, retry_blocking_idempotent, retry_idempotent,
};

#[derive(Debug, PartialEq)]
struct ApiError {
    status: u16,
    id: u32,
}

impl k8sretry::ToFailure for ApiError {
    fn to_failure(&self) -> Failure {
        Failure::new()
            .with_status(self.status)
            .with_error("ApiError", format!("HTTP {}", self.status))
    }
}

fn fast(max_retries: u32) -> PolicyBuilder {
    PolicyBuilder::preset("default")
        .unwrap()
        .initial_delay(0.001)
        .max_delay(0.002)
        .max_retries(max_retries)
        .budget(BudgetChoice::Disabled)
}

fn recording() -> (EventCallback, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let callback: EventCallback = Arc::new(move |e: &Event<'_>| {
        sink.lock().unwrap().push(format!(
            "{} attempt={} status={:?}",
            e.kind, e.attempt, e.status_code
        ));
    });
    (callback, seen)
}

#[test]
fn blocking_retries_then_returns_the_value() {
    let (callback, seen) = recording();
    let policy = fast(3).on_event(Some(callback)).build().unwrap();
    let calls = AtomicU32::new(0);
    let out = retry_blocking(&policy, "exec_blocking_ok", Verb::Get, || {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n < 3 {
            Err(ApiError { status: 503, id: n })
        } else {
            Ok(n * 10)
        }
    });
    assert_eq!(out.unwrap(), 30);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "k8s_api_call_failed_retrying attempt=1 status=Some(503)",
            "k8s_api_call_failed_retrying attempt=2 status=Some(503)",
            "k8s_api_call_succeeded_after_retry attempt=3 status=None",
        ]
    );
    let text = metrics_text();
    assert!(
        text.contains(
            "k8sretry_calls_total{function=\"exec_blocking_ok\",outcome=\"success_after_retry\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("k8sretry_retries_total{function=\"exec_blocking_ok\",class=\"Transient\",status=\"503\"} 2"), "{text}");
}

#[test]
fn blocking_gives_up_with_the_original_error_and_the_earlier_ones() {
    let policy = fast(2).build().unwrap();
    let calls = AtomicU32::new(0);
    let err = retry_blocking(
        &policy,
        "exec_blocking_max",
        Verb::Get,
        || -> Result<(), ApiError> {
            Err(ApiError {
                status: 503,
                id: calls.fetch_add(1, Ordering::SeqCst) + 1,
            })
        },
    )
    .unwrap_err();
    assert_eq!(err.reason, GiveUpReason::MaxRetries);
    assert_eq!(err.attempts, 3, "max_retries 2 means 3 calls");
    assert_eq!(err.error, ApiError { status: 503, id: 3 });
    assert_eq!(err.earlier.iter().map(|e| e.id).collect::<Vec<_>>(), [1, 2]);
    assert!(metrics_text().contains(
        "k8sretry_giveups_total{function=\"exec_blocking_max\",reason=\"MaxRetries\"} 1"
    ));
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)
    }
}

impl std::error::Error for ApiError {}

#[test]
fn a_give_up_prints_its_source_once_and_says_when_to_try_again() {
    let policy = fast(1).build().unwrap();
    let err = retry_blocking(
        &policy,
        "exec_display",
        Verb::Get,
        || -> Result<(), ApiError> { Err(ApiError { status: 503, id: 0 }) },
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "gave up after 2 attempt(s): MaxRetries");
    let source = std::error::Error::source(&err).map(ToString::to_string);
    assert_eq!(source.as_deref(), Some("HTTP 503"));
    // The next backoff without jitter: 0.001 * 2^1, capped at 0.002.
    assert_eq!(err.retry_after, Some(Duration::from_millis(2)));
}

#[test]
fn non_retryable_errors_are_returned_at_once() {
    let policy = fast(5).build().unwrap();
    let calls = AtomicU32::new(0);
    let err = retry_blocking(
        &policy,
        "exec_404",
        Verb::Get,
        || -> Result<(), ApiError> {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ApiError { status: 404, id: 0 })
        },
    )
    .unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(err.reason, GiveUpReason::NonRetryable);
    // An answer the caller handles (a 404 on the first attempt) is a failed call, not a give-up.
    let text = metrics_text();
    assert!(
        text.contains("k8sretry_calls_total{function=\"exec_404\",outcome=\"failed\"} 1"),
        "{text}"
    );
    assert!(
        !text.contains("function=\"exec_404\",outcome=\"gave_up\""),
        "{text}"
    );
    assert!(
        !text.contains("k8sretry_giveups_total{function=\"exec_404\""),
        "{text}"
    );
}

#[test]
fn the_verb_decides_whether_an_ambiguous_failure_is_resent() {
    let policy = fast(3).build().unwrap();
    let reset = || Failure::new().with_code("ECONNRESET");
    for (verb, attempts, reason) in [
        (Verb::Post, 1, GiveUpReason::NotIdempotent),
        (Verb::Patch, 1, GiveUpReason::NotIdempotent),
        (Verb::Get, 4, GiveUpReason::MaxRetries),
        (Verb::Put, 4, GiveUpReason::MaxRetries),
        (Verb::Delete, 4, GiveUpReason::MaxRetries),
    ] {
        let calls = AtomicU32::new(0);
        let err = retry_blocking(&policy, "exec_verb", verb, || -> Result<(), Failure> {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(reset())
        })
        .unwrap_err();
        assert_eq!(
            (calls.load(Ordering::SeqCst), err.reason),
            (attempts, reason),
            "{verb}"
        );
    }
    // Declared idempotent: resent like a read.
    let calls = AtomicU32::new(0);
    let err = retry_blocking_idempotent(&policy, "exec_verb", || -> Result<(), Failure> {
        calls.fetch_add(1, Ordering::SeqCst);
        Err(reset())
    })
    .unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(err.reason, GiveUpReason::MaxRetries);
    // A POST that never reached the server is sent again.
    let calls = AtomicU32::new(0);
    let out = retry_blocking(&policy, "exec_verb", Verb::Post, || {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            Err(Failure::new().with_code("ECONNREFUSED"))
        } else {
            Ok("created")
        }
    });
    assert_eq!(out.unwrap(), "created");
}

#[test]
fn io_errors_are_understood() {
    let policy = fast(1).build().unwrap();
    let calls = AtomicU32::new(0);
    let out = retry_blocking_idempotent(&policy, "exec_io", || {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            Err(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))
        } else {
            Ok("connected")
        }
    });
    assert_eq!(out.unwrap(), "connected");
}

#[tokio::test(start_paused = true)]
async fn async_retry_sleeps_the_decided_delay() {
    let policy = PolicyBuilder::preset("default")
        .unwrap()
        .budget(BudgetChoice::Disabled)
        .jitter(k8sretry::Jitter::None)
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let calls = AtomicU32::new(0);
    let out = retry(&policy, "exec_async", Verb::List, || {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        async move {
            if n < 2 {
                Err(ApiError { status: 429, id: n })
            } else {
                Ok(n)
            }
        }
    })
    .await;
    assert_eq!(out.unwrap(), 2);
    // 1 s + 2 s of backoff, measured on tokio's paused clock.
    assert_eq!(started.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_future_cancels_the_sleep() {
    let policy = PolicyBuilder::preset("default")
        .unwrap()
        .budget(BudgetChoice::Disabled)
        .initial_delay(3600.0)
        .max_delay(3600.0)
        .build()
        .unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let fut = retry_idempotent(&policy, "exec_cancel", move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Err::<(), _>(ApiError { status: 503, id: 0 }) }
    });
    let timed_out = tokio::time::timeout(Duration::from_secs(5), fut).await;
    assert!(timed_out.is_err(), "still sleeping when dropped");
    tokio::time::advance(Duration::from_secs(7200)).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "no attempt after the future was dropped"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_call_ends_cancelled_with_one_event_and_one_metric() {
    let (callback, seen) = recording();
    let policy = PolicyBuilder::preset("default")
        .unwrap()
        .budget(BudgetChoice::Disabled)
        .initial_delay(3600.0)
        .max_delay(3600.0)
        .on_event(Some(callback))
        .build()
        .unwrap();
    let fut = retry_idempotent(&policy, "exec_dropped", || async {
        Err::<(), _>(ApiError { status: 503, id: 0 })
    });
    assert!(
        tokio::time::timeout(Duration::from_secs(5), fut)
            .await
            .is_err()
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "k8s_api_call_failed_retrying attempt=1 status=Some(503)",
            "k8s_api_call_failed_non_retryable attempt=2 status=None",
        ]
    );
    let text = metrics_text();
    assert!(
        text.contains("k8sretry_giveups_total{function=\"exec_dropped\",reason=\"Cancelled\"} 1"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_call_dropped_during_its_first_attempt_ends_cancelled_too() {
    let (callback, seen) = recording();
    let policy = PolicyBuilder::preset("default")
        .unwrap()
        .budget(BudgetChoice::Disabled)
        .on_event(Some(callback))
        .build()
        .unwrap();
    let fut = retry(&policy, "exec_dropped_first", Verb::Get, || {
        std::future::pending::<Result<(), ApiError>>()
    });
    assert!(
        tokio::time::timeout(Duration::from_secs(5), fut)
            .await
            .is_err()
    );
    assert_eq!(
        *seen.lock().unwrap(),
        ["k8s_api_call_failed_non_retryable attempt=1 status=None"]
    );
    let text = metrics_text();
    assert!(
        text.contains(
            "k8sretry_giveups_total{function=\"exec_dropped_first\",reason=\"Cancelled\"} 1"
        ),
        "{text}"
    );
}

#[test]
fn a_first_attempt_that_succeeds_is_counted_once_and_a_nested_one_not_at_all() {
    let policy = fast(3).build().unwrap();
    let outer = retry_blocking_idempotent(&policy, "exec_first_ok_outer", || {
        retry_blocking_idempotent(&policy, "exec_first_ok_inner", || Ok::<_, ApiError>(1))
            .map_err(|e| e.error)
    });
    assert_eq!(outer.unwrap(), 1);
    let text = metrics_text();
    assert!(
        text.contains(
            "k8sretry_calls_total{function=\"exec_first_ok_outer\",outcome=\"success\"} 1"
        ),
        "{text}"
    );
    assert!(!text.contains("exec_first_ok_inner"), "{text}");
}

#[test]
fn a_wrapper_inside_a_wrapper_makes_one_attempt() {
    let policy = fast(3).build().unwrap();
    let inner_calls = AtomicU32::new(0);
    let outer = retry_blocking_idempotent(&policy, "exec_outer", || {
        let inner = retry_blocking_idempotent(&policy, "exec_inner", || {
            inner_calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(ApiError { status: 503, id: 0 })
        });
        let error = inner.unwrap_err();
        assert_eq!(error.reason, GiveUpReason::Nested);
        Err::<(), _>(error.error)
    });
    assert_eq!(outer.unwrap_err().reason, GiveUpReason::MaxRetries);
    assert_eq!(
        inner_calls.load(Ordering::SeqCst),
        4,
        "4 attempts, not 4 x 4"
    );
    // Once the outer call is over, a call retries on its own again.
    let alone = retry_blocking_idempotent(&policy, "exec_inner", || {
        Err::<(), _>(ApiError { status: 503, id: 0 })
    });
    assert_eq!(alone.unwrap_err().attempts, 4);
}

#[tokio::test(start_paused = true)]
async fn an_awaited_wrapper_inside_an_async_attempt_makes_one_attempt() {
    let policy = fast(3).build().unwrap();
    let inner_calls = Arc::new(AtomicU32::new(0));
    let outer = retry_idempotent(&policy, "exec_outer_async", || {
        let (policy, inner_calls) = (policy.clone(), Arc::clone(&inner_calls));
        async move {
            let inner = retry_idempotent(&policy, "exec_inner_async", || {
                inner_calls.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>(ApiError { status: 503, id: 0 }) }
            })
            .await;
            Err::<(), _>(inner.unwrap_err().error)
        }
    })
    .await;
    assert_eq!(outer.unwrap_err().attempts, 4);
    assert_eq!(
        inner_calls.load(Ordering::SeqCst),
        4,
        "4 attempts, not 4 x 4"
    );
    // A task the attempt spawns retries on its own.
    let spawned_calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&spawned_calls);
    let (p, q) = (policy.clone(), policy.clone());
    let _ = retry_idempotent(&p, "exec_outer_spawn", move || {
        let (policy, counter) = (q.clone(), Arc::clone(&counter));
        async move {
            let task = tokio::spawn(async move {
                retry_idempotent(&policy, "exec_spawned", || {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async { Err::<(), _>(ApiError { status: 503, id: 0 }) }
                })
                .await
                .map_err(|e| e.attempts)
            });
            assert_eq!(task.await.unwrap(), Err(4));
            Ok::<(), ApiError>(())
        }
    })
    .await;
    assert_eq!(spawned_calls.load(Ordering::SeqCst), 4);
}

#[test]
fn metrics_text_is_prometheus_exposition() {
    let policy = Policy::from_json(
        r#"{"budget": null, "breaker": {"failure_threshold": 1, "open_for": 60}}"#,
    )
    .unwrap();
    let mut call = k8sretry::Call::new(&policy, "weird \"name\"\n");
    call.on_failure(&Failure::new().with_status(503));
    let text = metrics_text();
    for family in [
        "k8sretry_calls_total counter",
        "k8sretry_retries_total counter",
        "k8sretry_giveups_total counter",
        "k8sretry_retry_delay_seconds histogram",
        "k8sretry_budget_tokens gauge",
        "k8sretry_circuit_open gauge",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family}")),
            "{family} missing:\n{text}"
        );
    }
    assert!(
        text.contains("function=\"weird \\\"name\\\"\\n\""),
        "label escaping:\n{text}"
    );
    assert!(
        text.contains("k8sretry_circuit_open{breaker=\"default\"} 1"),
        "{text}"
    );
    assert!(text.contains("k8sretry_retry_delay_seconds_bucket{le=\"+Inf\"}"));
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "bad sample line {line:?}");
    }
}
