"""Soak (make soak, through tests/e2e/soak.sh): kubernetes_asyncio through wrap_client behind the
fault proxy for SOAK_SECONDS at SOAK_RATE calls per second, in one process. Each unit of work is
six calls on one namespace: create a named ConfigMap, read it, merge-patch it, create a
generateName ConfigMap, delete that, delete the named one; units start at a fixed rate (open
loop) and run their calls in order. Prints RSS and open fds every 10 s and, last, one line
`SOAK {json}`: the workload's own counts (calls, ok, failed, retries and recoveries from the
engine's events), the engine's metrics_text() counts, RSS and fds at the start (after 10 s) and
the end, and what was left in the namespace (must be nothing).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import k8sretry
from k8sretry import Policy, wrap_client
from kubernetes_asyncio import client, config

RUN = Path(__file__).resolve().parents[2] / "cluster" / ".run"
SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
RATE = float(os.environ.get("SOAK_RATE", "200"))
MERGE = "application/merge-patch+json"


def env() -> dict[str, str]:
    """.run/env of the local cluster, after tests/cluster/local-env.sh checked that it is the local one."""
    done = subprocess.run([str(RUN.parent / "local-env.sh")], check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def metric_counts(text: str) -> dict[str, Any]:
    calls: Counter[str] = Counter()
    retries = 0
    for line in text.splitlines():
        if line.startswith("k8sretry_calls_total{"):
            outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
            calls[outcome] += int(float(line.rsplit(" ", 1)[1]))
        elif line.startswith("k8sretry_retries_total{"):
            retries += int(float(line.rsplit(" ", 1)[1]))
    return {"calls": dict(calls), "calls_total": sum(calls.values()), "retries": retries}


async def main() -> None:
    # The engine's events are counted below; without a handler, logging would print each retry.
    logging.getLogger("k8sretry").addHandler(logging.NullHandler())
    e = env()
    counts: Counter[str] = Counter()

    def on_event(event: dict[str, Any]) -> None:
        counts[event["event"]] += 1

    policy = Policy(
        max_retries=10, initial_delay=0.05, max_delay=1.0, retry_after_cap=2.0, budget=None, on_event=on_event
    )
    admin_cfg = client.Configuration()
    await config.load_kube_config(config_file=e["KUBECONFIG"], client_configuration=admin_cfg)
    ns = f"soak-py-{uuid.uuid4().hex[:6]}"
    async with client.ApiClient(admin_cfg) as admin:
        await client.CoreV1Api(admin).create_namespace({"metadata": {"name": ns}})
    cfg = client.Configuration()
    await config.load_kube_config(config_file=e["KUBECONFIG_PROXY"], client_configuration=cfg)
    cfg.connection_pool_maxsize = 200
    raw = client.ApiClient(cfg)
    # aiohttp resends a PUT or DELETE once by itself after a disconnect (README): off.
    raw.rest_client.pool_manager._retry_connection = False
    api = wrap_client(client.CoreV1Api(raw), policy=policy)
    work: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    samples: list[tuple[float, int, int]] = []

    async def one(step: str, coro: Any) -> Any:
        work["calls"] += 1
        try:
            result = await coro
        except Exception as exc:  # noqa: BLE001 - counted, the soak goes on
            work["failed"] += 1
            errors[f"{step}: {type(exc).__name__} {getattr(exc, 'status', '')}"] += 1
            return None
        work["ok"] += 1
        return result

    async def unit(k: int) -> None:
        name = f"s-{k}"
        if await one(
            "create", api.create_namespaced_config_map(ns, {"metadata": {"name": name}, "data": {"v": "1"}})
        ):
            await one("read", api.read_namespaced_config_map(name, ns))
            await one(
                "patch", api.patch_namespaced_config_map(name, ns, {"data": {"v": "2"}}, _content_type=MERGE)
            )
        generated = await one(
            "generate", api.create_namespaced_config_map(ns, {"metadata": {"generateName": "g-"}})
        )
        if generated is not None:
            await one("delete-generated", api.delete_namespaced_config_map(generated.metadata.name, ns))
        await one("delete", api.delete_namespaced_config_map(name, ns))

    loop = asyncio.get_running_loop()
    interval = 6 / RATE
    t0 = loop.time()
    tasks: set[asyncio.Task[None]] = set()
    next_sample = 0.0
    k = 0
    while (now := loop.time() - t0) < SECONDS:
        if now >= next_sample:
            samples.append((round(now, 1), rss_kb(), fds()))
            print(
                f"t={now:5.0f} s rss={samples[-1][1]} kB fds={samples[-1][2]} calls={work['calls']}"
                f" in flight={len(tasks)}",
                flush=True,
            )
            next_sample += 10
        task = asyncio.create_task(unit(k))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        k += 1
        await asyncio.sleep(max(0.0, t0 + k * interval - loop.time()))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - t0
    await asyncio.sleep(1.5)  # the engine may batch first-attempt successes for a moment
    samples.append((round(elapsed, 1), rss_kb(), fds()))
    await raw.close()
    async with client.ApiClient(admin_cfg) as admin:
        left = (await client.CoreV1Api(admin).list_namespaced_config_map(ns)).items
    start = samples[1] if len(samples) > 2 else samples[0]
    result = {
        "language": "python",
        "client": "kubernetes_asyncio",
        "seconds": round(elapsed, 1),
        "calls": work["calls"],
        "rate": round(work["calls"] / SECONDS, 1),
        "ok": work["ok"],
        "failed": work["failed"],
        "errors": dict(errors.most_common(5)),
        "retries": counts["k8s_api_call_failed_retrying"],
        "succeeded_after_retry": counts["k8s_api_call_succeeded_after_retry"],
        "recovered": counts["k8s_api_call_recovered_lost_response"],
        "metrics": metric_counts(k8sretry.metrics_text()),
        "rss_kb": {
            "start": start[1],
            "end": samples[-1][1],
            "max": max(s[1] for s in samples[1:] or samples),
        },
        "fds": {"start": start[2], "end": samples[-1][2], "max": max(s[2] for s in samples[1:] or samples)},
        "left_in_namespace": [i.metadata.name for i in left][:10],
        "left_count": len(left),
        "samples": samples,
    }
    print("SOAK " + json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
