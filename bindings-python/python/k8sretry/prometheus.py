"""k8sretry's metrics in a `prometheus_client` registry, beside the application's own::

    from prometheus_client import REGISTRY, start_http_server
    import k8sretry.prometheus

    k8sretry.prometheus.register()          # or register(my_registry)
    start_http_server(8000)

The collector reads the engine's metrics at each scrape (`k8sretry.metrics_text()`):
`k8sretry_calls_total{function,outcome}`, `k8sretry_retries_total{function,class,status}`,
`k8sretry_giveups_total{function,reason}`, `k8sretry_retry_delay_seconds` (histogram),
`k8sretry_budget_tokens`, `k8sretry_circuit_open`. Needs `prometheus_client` (not a dependency
of k8sretry: install it yourself).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import _native

__all__ = ["K8sRetryCollector", "register"]


class K8sRetryCollector:
    """A `prometheus_client` collector of every k8sretry metric of this process."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.parser import text_string_to_metric_families

        yield from text_string_to_metric_families(_native.metrics_text())


def register(registry: Any = None) -> K8sRetryCollector:
    """Registers a `K8sRetryCollector` with `registry` (default: `prometheus_client.REGISTRY`)
    and returns it (`registry.unregister(collector)` removes it)."""
    if registry is None:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    collector = K8sRetryCollector()
    registry.register(collector)
    return collector
