"""k8sretry's events in OpenTelemetry, through the process-wide hook `k8sretry.configure(on_event=...)`:
each retry and give-up becomes an event on the current span, and counters count retries and give-ups
by function, class and reason.

Run: pip install k8sretry kubernetes opentelemetry-sdk && python otel.py
(prints the span and the metrics with the SDK's console exporters; in a service, keep `install()`
and configure the SDK's exporters as usual.)
"""

from __future__ import annotations

from typing import Any

import k8sretry
from opentelemetry import metrics, trace

_meter = metrics.get_meter("k8sretry")
_retries = _meter.create_counter("k8sretry.retries", description="attempts that failed and were retried")
_giveups = _meter.create_counter("k8sretry.giveups", description="calls k8sretry gave up on")


def on_event(fields: dict[str, Any]) -> None:
    """One k8sretry event (the engine's names and fields) as a span event and a count."""
    attributes = {f"k8sretry.{k}": v for k, v in fields.items() if v is not None and k != "event"}
    trace.get_current_span().add_event(fields["event"], attributes=attributes)
    labels = {"function": fields["function"], "class": fields.get("class") or ""}
    if fields["event"] == "k8s_api_call_failed_retrying":
        _retries.add(1, labels)
    elif fields.get("give_up") is not None:
        _giveups.add(1, {**labels, "reason": fields["give_up"]})


def install() -> None:
    k8sretry.configure(on_event=on_event)


def main() -> None:
    from kubernetes.client.exceptions import ApiException
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(tracer_provider)
    reader = PeriodicExportingMetricReader(ConsoleMetricExporter())
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    install()

    attempts = []

    @k8sretry.retry_on_k8s_error(initial_delay=0.1)
    def read_status() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ApiException(status=503, reason="Service Unavailable")
        return "ready"

    with trace.get_tracer("example").start_as_current_span("reconcile"):
        print(read_status())
    metrics.get_meter_provider().shutdown()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
