"""Chaos: the e2e workload through `wrap_client` and `apply` over the real `kubernetes` client
(per ConfigMap: a create, a generateName create, a read, an update with resourceVersion, a merge
patch, a strategic merge patch, a server-side apply, a JSON patch appending to its finalizers, a
delete) against the real apiserver behind the fault proxy at 0%, 10%, 30% and 50% of requests
faulted; success per kind of operation, every JSON patch applied at most once, no generateName
create made twice; then the outage of tests/e2e with and without the retry budget. Needs the
cluster and proxy of tests/cluster (make bench starts them). Prints one JSON object."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from k8sretry import REQUEST_ID, Policy, RetryBudget, apply, wrap_client
from kubernetes import client, config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e" / "python"))
from conftest import Proxy, cluster_env  # noqa: E402
from test_outage_e2e import load  # noqa: E402

logging.getLogger("k8sretry").disabled = True  # thousands of retries and give-ups: counted, not printed
ROUNDS = 50  # ConfigMaps per fault rate, each with every kind of operation below
KINDS = ["drop_after", "drop_before", "503", "429", "504"]
OPERATIONS = [
    "create",
    "create_generate_name",
    "read",
    "update",
    "merge_patch",
    "strategic_patch",
    "apply",
    "json_patch",
    "delete",
]
BASE_FINALIZER = "chaos.k8sretry.dev/base"  # a JSON patch `add` to `.../-` needs the list to exist
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


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
    # 8 retries: at 50% of requests faulted, all 9 attempts of a call are faulted about once in 700
    # calls (with 6 retries, all 7: once in 160, which alone keeps the success rate under 99%).
    policy = Policy(max_retries=8, initial_delay=0.05, max_delay=1.0, budget=None)
    api = wrap_client(client.CoreV1Api(api_client(env["KUBECONFIG_PROXY"])), policy=policy)
    proxy.plan(plan(rate), seed=int(rate * 100) + 1)
    latencies: list[float] = []
    ok: dict[str, int] = dict.fromkeys(OPERATIONS, 0)
    failures: dict[str, dict[str, int]] = {}  # kind -> why it gave up -> how often
    for i in range(ROUNDS):
        name = f"cm-{i}"
        found: dict[str, Any] = {}

        def update(name: str = name, found: dict[str, Any] = found) -> Any:
            # The object as the read found it (or, when the read failed, as it is), one key changed.
            current = found.get("read") or direct.read_namespaced_config_map(name, namespace)
            current.data = {**(current.data or {}), "updated": "1"}
            return api.replace_namespaced_config_map(name, namespace, current)

        def read(name: str = name, found: dict[str, Any] = found) -> Any:
            found["read"] = api.read_namespaced_config_map(name, namespace)

        intent = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name},
            "data": {"applied": "1"},
        }
        steps = {
            "create": lambda name=name: api.create_namespaced_config_map(
                namespace, {"metadata": {"name": name, "finalizers": [BASE_FINALIZER]}, "data": {"a": "1"}}
            ),
            "create_generate_name": lambda: api.create_namespaced_config_map(
                namespace, {"metadata": {"generateName": "gen-"}, "data": {"a": "1"}}
            ),
            "read": read,
            "update": update,
            "merge_patch": lambda name=name: api.patch_namespaced_config_map(
                name, namespace, {"data": {"merged": "1"}}, _content_type=MERGE
            ),
            "strategic_patch": lambda name=name: api.patch_namespaced_config_map(
                name, namespace, {"metadata": {"labels": {"strategic": "1"}}}
            ),
            "apply": lambda name=name, intent=intent: apply(
                api.patch_namespaced_config_map, name, namespace, body=intent, field_manager="chaos"
            ),
            "json_patch": lambda name=name, i=i: api.patch_namespaced_config_map(
                name,
                namespace,
                [{"op": "add", "path": "/metadata/finalizers/-", "value": f"chaos.k8sretry.dev/{i}"}],
                _content_type=JSON_PATCH,
            ),
            # The finalizers keep the object (deletionTimestamp set) for the count below.
            "delete": lambda name=name: api.delete_namespaced_config_map(name, namespace),
        }
        for kind, step in steps.items():
            started = time.perf_counter()
            try:
                step()
                ok[kind] += 1
            except Exception as exc:  # noqa: BLE001 - the success rate is what is measured
                gave_up = [n for n in getattr(exc, "__notes__", []) if "gave up after" in n]
                reason = gave_up[-1].rsplit(": ", 1)[1] if gave_up else type(exc).__name__
                failures.setdefault(kind, {})
                failures[kind][reason] = failures[kind].get(reason, 0) + 1
            latencies.append(time.perf_counter() - started)
    stats = proxy.stats()
    proxy.plan([])
    injected = sum(stats["faults"].values())
    # What landed: every JSON patch's finalizer at most once, each generateName create one object.
    applied: dict[int, int] = {}
    generated: list[str] = []
    for item in direct.list_namespaced_config_map(namespace).items:
        if item.metadata.name.startswith("gen-"):
            generated.append((item.metadata.annotations or {}).get(REQUEST_ID, ""))
        for finalizer in item.metadata.finalizers or []:
            if finalizer != BASE_FINALIZER:
                applied[int(finalizer.rsplit("/", 1)[1])] = (
                    applied.get(int(finalizer.rsplit("/", 1)[1]), 0) + 1
                )
    kinds = {
        kind: {"operations": ROUNDS, "succeeded": n, "success_rate": n / ROUNDS} for kind, n in ok.items()
    }
    others = [k for k in OPERATIONS if k != "json_patch"]
    return {
        "fault_rate_planned": rate,
        "fault_rate_injected": injected / max(1, stats["requests"]),
        "operations": len(latencies),
        "success_rate": sum(ok.values()) / len(latencies),
        "success_rate_without_json_patch": sum(ok[k] for k in others) / (ROUNDS * len(others)),
        "kinds": kinds,
        "failures": failures,
        "json_patch": {
            "applied_once": sum(n == 1 for n in applied.values()),
            "applied_twice_or_more": sum(n > 1 for n in applied.values()),
            "not_applied": ROUNDS - len(applied),
            "raised": ROUNDS - ok["json_patch"],
        },
        "duplicates": len(generated) - len(set(generated)),
        "attempts_per_operation": stats["requests"] / len(latencies),
        "latencies": latencies,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="0,0.1,0.3,0.5", help="fault rates, comma-separated")
    parser.add_argument("--no-outage", action="store_true", help="leave out the outage")
    options = parser.parse_args()
    env = cluster_env()
    proxy = Proxy(env["PROXY"], env["PROXY_CA"], env["PROXY_TOKEN"])
    direct = client.CoreV1Api(api_client(env["KUBECONFIG"]))
    runs = [run_rate(float(rate), env, proxy, direct) for rate in options.rates.split(",")]
    # Added latency: over the median operation of the run with the fewest faults (0% in make bench).
    baseline = statistics.median(min(runs, key=lambda r: r["fault_rate_planned"])["latencies"])
    for run in runs:
        added = sorted(max(0.0, x - baseline) * 1000 for x in run.pop("latencies"))
        run["added_latency_ms_p50"] = added[len(added) // 2]
        run["added_latency_ms_p99"] = added[min(len(added) - 1, int(len(added) * 0.99))]
    if options.no_outage:
        print(json.dumps({"baseline_latency_ms_p50": baseline * 1000, "rates": runs}))
        return
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
