//! The core's decision alone, the success path, and `retry` against backon and a bare call.
use std::hint::black_box;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use criterion::{Criterion, criterion_group, criterion_main};
use k8sretry::{Call, Failure, Policy, SuccessRecorder, Verb, retry};

fn decision(c: &mut Criterion) {
    let policy = Policy::from_json(r#"{"budget": null}"#).unwrap();
    let failure = Failure {
        status: Some(503),
        verb: Verb::Get,
        ..Failure::default()
    };
    c.bench_function("decision alone: on_failure for a 503 on a GET", |b| {
        b.iter_batched_ref(
            || Call::new(&policy, "read_pod"),
            |call| black_box(call.on_failure(black_box(&failure))),
            criterion::BatchSize::SmallInput,
        )
    });
    c.bench_function("decision: a 503 on a GET (Call::new + on_failure)", |b| {
        b.iter(|| {
            let mut call = Call::new(&policy, "read_pod");
            black_box(call.on_failure(black_box(&failure)))
        })
    });
    let with_budget = Policy::preset("default").unwrap();
    c.bench_function("decision with the shared budget", |b| {
        b.iter(|| {
            let mut call = Call::new(&with_budget, "read_pod");
            black_box(call.on_failure(black_box(&failure)))
        })
    });
    let recorder = SuccessRecorder::new(&with_budget, "read_pod");
    c.bench_function("success path: SuccessRecorder::record", |b| {
        b.iter(|| recorder.record())
    });
    c.bench_function("success path: Call::new + on_success", |b| {
        b.iter(|| Call::new(&with_budget, "read_pod").on_success())
    });
}

async fn ok() -> Result<u32, std::io::Error> {
    Ok(black_box(1))
}

fn executors(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let policy = Policy::preset("default").unwrap();
    let mut group = c.benchmark_group("success path, async");
    group.bench_function("bare call", |b| b.to_async(&rt).iter(|| async { ok().await }));
    group.bench_function("k8sretry retry", |b| {
        b.to_async(&rt).iter(|| retry(&policy, "read_pod", Verb::Get, ok))
    });
    group.bench_function("backon", |b| {
        b.to_async(&rt).iter(|| {
            ok.retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_secs(1))
                    .with_max_times(3),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, decision, executors);

fn clock(c: &mut Criterion) {
    c.bench_function("std::time::Instant::now", |b| {
        b.iter(|| black_box(std::time::Instant::now()))
    });
}
criterion_group!(clocks, clock);
criterion_main!(benches, clocks);
