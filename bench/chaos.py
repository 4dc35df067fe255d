"""Chaos: the e2e workload (ConfigMaps created, read, patched, deleted through `wrap_client` over
the real `kubernetes` client) against the real apiserver behind the fault proxy at 0%, 10%, 30% and
50% of requests faulted; then the outage of tests/e2e with and without the retry budget. Needs the
cluster and proxy of tests/cluster (make bench starts them). Prints one JSON object."""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from k8sretry import Policy, RetryBudget, wrap_client
from kubernetes import client, config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e" / "python"))
from conftest import Proxy, cluster_env  # noqa: E402
from test_outage_e2e import load  # noqa: E402

logging.getLogger("k8sretry").disabled = True  # thousands of retries and give-ups: counted, not printed
OPS_PER_RATE = 200  # 50 ConfigMaps x (create, read, patch, delete)
KINDS = ["drop_after", "drop_before", "503", "429", "504"]


def plan(rate: float) -> list[dict[str, Any]]:
    """`rate` of all requests faulted, spread over every kind (drops, 5xx, 429 with Retry-After)."""
    share = rate / len(KINDS)
    rules = []
    for i, kind in enumerate(KINDS):
        # Each rule sees only what the rules before it let through: scale so the total is `rate`.
        p = share / (1 - share * i)
        rule: dict[str, Any] = {"method": "*", "path": "/configmaps", "fault": kind, "probability": p}
        if kind == "429":
            rule["retry_after"] = "0"  # the header present, the wait left to the backoff
        rules.append(rule)
    return rules


def api_client(kubeconfig: str) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    configuration.retries = False
    return client.ApiClient(configuration)


def run_rate(rate: float, env: dict[str, str], proxy: Proxy, direct: client.CoreV1Api) -> dict[str, Any]:
    namespace = f"chaos-{int(rate * 100)}-{uuid.uuid4().hex[:6]}"
    direct.create_namespace({"metadata": {"name": namespace}})
    policy = Policy(max_retries=6, initial_delay=0.05, max_delay=1.0, budget=None)
    api = wrap_client(client.CoreV1Api(api_client(env["KUBECONFIG_PROXY"])), policy=policy)
    proxy.plan(plan(rate), seed=int(rate * 100) + 1)
    latencies: list[float] = []
    ok = 0
    for i in range(OPS_PER_RATE // 4):
        name = f"cm-{i}"
        steps = [
            lambda name=name: api.create_namespaced_config_map(namespace, {"metadata": {"name": name}}),
            lambda name=name: api.read_namespaced_config_map(name, namespace),
            lambda name=name: api.patch_namespaced_config_map(
                name, namespace, {"metadata": {"labels": {"a": "b"}}}
            ),
            lambda name=name: api.delete_namespaced_config_map(name, namespace),
        ]
        for step in steps:
            started = time.perf_counter()
            try:
                step()
                ok += 1
            except Exception:  # noqa: BLE001 - the success rate is what is measured
                pass
            latencies.append(time.perf_counter() - started)
    stats = proxy.stats()
    proxy.plan([])
    injected = sum(stats["faults"].values())
    return {
        "fault_rate_planned": rate,
        "fault_rate_injected": injected / max(1, stats["requests"]),
        "operations": len(latencies),
        "success_rate": ok / len(latencies),
        "attempts_per_operation": stats["requests"] / len(latencies),
        "latencies": latencies,
    }


def main() -> None:
    env = cluster_env()
    proxy = Proxy(env["PROXY"], env["PROXY_CA"])
    direct = client.CoreV1Api(api_client(env["KUBECONFIG"]))
    runs = [run_rate(rate, env, proxy, direct) for rate in (0.0, 0.1, 0.3, 0.5)]
    baseline = statistics.median(runs[0]["latencies"])
    for run in runs:
        added = sorted(max(0.0, x - baseline) * 1000 for x in run.pop("latencies"))
        run["added_latency_ms_p50"] = added[len(added) // 2]
        run["added_latency_ms_p99"] = added[min(len(added) - 1, int(len(added) * 0.99))]
    # The outage of tests/e2e/python/test_outage_e2e.py: 100 new calls/s, apiserver away 10 s.
    namespace = f"chaos-outage-{uuid.uuid4().hex[:6]}"
    direct.create_namespace({"metadata": {"name": namespace}})
    direct.create_namespaced_config_map(namespace, {"metadata": {"name": "target"}})
    common = {"max_retries": 12, "initial_delay": 0.2, "max_delay": 2.0}
    budget = RetryBudget(ratio=0.2, min_per_second=10, ttl=10)
    with_budget = asyncio.run(load(env["KUBECONFIG"], namespace, common, budget))
    without = asyncio.run(load(env["KUBECONFIG"], namespace, common, None))
    print(
        json.dumps(
            {
                "baseline_latency_ms_p50": baseline * 1000,
                "rates": runs,
                "outage": {
                    "amplification_with_budget": with_budget["amplification"],
                    "amplification_without_budget": without["amplification"],
                    "first_attempts_during": with_budget["first_attempts_during"],
                },
            }
        )
    )


if __name__ == "__main__":
    main()
