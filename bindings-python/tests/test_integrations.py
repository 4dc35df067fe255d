"""k8sretry with the libraries around it, as installed from PyPI: prometheus_client (a collector on a
real registry), OpenTelemetry (the example of examples/python/otel.py through `configure`), kopf
(a give-up as `kopf.TemporaryError` with the engine's retry_after)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import k8sretry
import k8sretry.kopf
import k8sretry.prometheus
import kopf
import pytest
from k8sretry import retry_on_k8s_error
from kubernetes.client.exceptions import ApiException

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


def flaky(name: str, failures: int) -> Any:
    attempts: list[int] = []

    def fn() -> str:
        attempts.append(1)
        if len(attempts) <= failures:
            raise ApiException(status=503, reason="Service Unavailable")
        return "ok"

    fn.__name__ = name
    return retry_on_k8s_error(initial_delay=0.001, max_delay=0.002, budget=None)(fn)


def test_prometheus_collector_on_a_real_registry() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    collector = k8sretry.prometheus.register(registry)
    assert flaky("prometheus_probe", 2)() == "ok"
    text = generate_latest(registry).decode()
    assert 'k8sretry_calls_total{function="prometheus_probe",outcome="success_after_retry"} 1.0' in text
    retries = 'k8sretry_retries_total{class="Transient",function="prometheus_probe",status="503"} 2.0'
    assert retries in text, text
    assert "# TYPE k8sretry_retry_delay_seconds histogram" in text
    assert 'k8sretry_retry_delay_seconds_bucket{le="+Inf"}' in text
    assert "k8sretry_budget_tokens" in text
    # Scraped again: the current counts, not a copy made at registration.
    assert flaky("prometheus_probe", 0)() == "ok"
    assert 'k8sretry_calls_total{function="prometheus_probe",outcome="success"} 1.0' in (
        generate_latest(registry).decode()
    )
    registry.unregister(collector)
    assert "k8sretry_" not in generate_latest(registry).decode()


def test_opentelemetry_example_through_the_global_hook() -> None:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(tracer_provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

    spec = importlib.util.spec_from_file_location("k8sretry_otel_example", EXAMPLES / "otel.py")
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.install()
    try:
        with trace.get_tracer("test").start_as_current_span("reconcile"):
            assert flaky("otel_probe", 2)() == "ok"
    finally:
        k8sretry.configure(on_event=None)
    (span,) = spans.get_finished_spans()
    assert [e.name for e in span.events] == [
        "k8s_api_call_failed_retrying",
        "k8s_api_call_failed_retrying",
        "k8s_api_call_succeeded_after_retry",
    ]
    assert span.events[0].attributes is not None
    assert span.events[0].attributes["k8sretry.status_code"] == 503
    data = reader.get_metrics_data()
    assert data is not None
    counted = {
        metric.name: sum(point.value for point in metric.data.data_points)  # type: ignore[union-attr]
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    assert counted["k8sretry.retries"] == 2


def test_kopf_temporary_error_carries_the_engines_retry_after() -> None:
    attempts: list[int] = []

    @retry_on_k8s_error(max_retries=1, jitter=0, budget=None, sleep=lambda d: None)
    def throttled() -> None:
        attempts.append(1)
        raise ApiException(status=429, reason="Too Many Requests")

    def with_retry_after(exc: ApiException) -> ApiException:
        exc.headers = {"Retry-After": "7"}
        return exc

    @retry_on_k8s_error(max_retries=1, jitter=0, budget=None, sleep=lambda d: None)
    def throttled_with_hint() -> None:
        raise with_retry_after(ApiException(status=429, reason="Too Many Requests"))

    with pytest.raises(ApiException) as info:
        throttled_with_hint()
    assert k8sretry.retry_after(info.value) == 7.0
    error = k8sretry.kopf.temporary_error(info.value)
    assert isinstance(error, kopf.TemporaryError)
    assert error.delay == 7.0
    assert str(error) == "ApiException: Too Many Requests (429)"

    with pytest.raises(ApiException) as info:
        throttled()
    assert k8sretry.retry_after(info.value) == 2.0, "the next backoff without jitter"
    assert k8sretry.kopf.temporary_error(info.value).delay == 2.0

    @retry_on_k8s_error(sleep=lambda d: None)
    def missing() -> None:
        raise ApiException(status=404, reason="Not Found")

    with pytest.raises(ApiException) as info:
        missing()
    assert k8sretry.retry_after(info.value) is None, "not a retryable failure: no requeue hint"
    assert k8sretry.kopf.temporary_error(info.value, default_delay=15).delay == 15
    assert k8sretry.kopf.temporary_error(ValueError("x")).delay == kopf.TemporaryError("x").delay
