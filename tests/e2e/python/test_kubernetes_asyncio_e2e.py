"""The real `kubernetes_asyncio` client, wrapped by k8sretry, against a real kube-apiserver behind
the fault proxy.

DELETEs get no drop-after faults here: aiohttp itself repeats an idempotent request once after a
disconnect on a reused connection, so a lost delete response reaches the caller as a first-attempt
404 that no wrapper can tell from a real one (see bindings-python/README.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import REPORT, Proxy
from k8sretry import REQUEST_ID, Policy, retry_on_conflict, wrap_client
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

FAST = Policy(max_retries=8, initial_delay=0.05, max_delay=0.5, retry_after_cap=2.0, budget=None)

FAULTS = [
    {
        "method": "POST",
        "path": "/(configmaps|secrets|pods)$",
        "fault": "drop_after",
        "probability": 0.2,
    },
    {
        "method": "POST",
        "path": "/(configmaps|secrets|pods)$",
        "fault": "drop_before",
        "probability": 0.1,
    },
    {
        "method": "POST",
        "path": "/(configmaps|secrets|pods)$",
        "fault": "503",
        "probability": 0.1,
    },
    {
        "method": "GET",
        "path": "/(configmaps|pods)/",
        "fault": "503",
        "probability": 0.2,
    },
    {"method": "GET", "path": "", "fault": "429", "probability": 0.15},
    {
        "method": "PUT",
        "path": "/configmaps/",
        "fault": "drop_after",
        "probability": 0.2,
    },
    {"method": "PUT", "path": "/configmaps/", "fault": "504", "probability": 0.15},
    {"method": "PATCH", "path": "", "fault": "429", "probability": 0.3},
    {"method": "DELETE", "path": "", "fault": "drop_before", "probability": 0.2},
    {"method": "DELETE", "path": "", "fault": "503", "probability": 0.15},
]


async def core_api(kubeconfig: str) -> tuple[client.ApiClient, client.CoreV1Api]:
    configuration = client.Configuration()
    await config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    api_client = client.ApiClient(configuration)
    return api_client, client.CoreV1Api(api_client)


def test_mixed_operations_under_faults(
    env: dict[str, str], proxy: Proxy, direct: Any, namespace: str
) -> None:
    names = [f"cm-{i}" for i in range(45)]
    pods = [f"pod-{i}" for i in range(12)]

    async def workload() -> int:
        api_client, raw = await core_api(env["KUBECONFIG_PROXY"])
        api = wrap_client(raw, policy=FAST)
        ops = 0
        try:
            for i, name in enumerate(names):
                await api.create_namespaced_config_map(
                    namespace, {"metadata": {"name": name}, "data": {"v": "1"}}
                )
                assert (await api.read_namespaced_config_map(name, namespace)).data == {"v": "1"}
                body = {"metadata": {"name": name}, "data": {"v": "2"}}
                await api.replace_namespaced_config_map(name, namespace, body)
                await api.patch_namespaced_config_map(
                    name, namespace, {"metadata": {"labels": {"patched": "yes"}}}
                )
                ops += 4
                if i % 3 == 0:
                    await api.delete_namespaced_config_map(name, namespace)
                    ops += 1
            for _ in range(15):
                body = {"metadata": {"generateName": "gen-"}, "stringData": {"k": "v"}}
                await api.create_namespaced_secret(namespace, body)
                ops += 1
            for i, name in enumerate(pods):
                spec = {"containers": [{"name": "main", "image": "registry.invalid/app:1"}]}
                await api.create_namespaced_pod(namespace, {"metadata": {"name": name}, "spec": spec})
                assert (await api.read_namespaced_pod(name, namespace)).metadata.name == name
                await api.patch_namespaced_pod(name, namespace, {"metadata": {"labels": {"patched": "yes"}}})
                ops += 3
                if i % 2 == 0:  # no kubelet: only a delete with grace period 0 finishes
                    await api.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
                    ops += 1
        finally:
            await api_client.close()
        return ops

    proxy.plan(FAULTS, seed=11)
    ops = asyncio.run(workload())
    REPORT["operations"] += ops
    stats = proxy.stats()
    proxy.plan([])
    configmaps = direct.list_namespaced_config_map(namespace).items
    expected = {name for i, name in enumerate(names) if i % 3 != 0}
    assert sorted(cm.metadata.name for cm in configmaps) == sorted(expected)
    assert all(cm.data == {"v": "2"} and cm.metadata.labels == {"patched": "yes"} for cm in configmaps)
    secrets = direct.list_namespaced_secret(namespace).items
    ids = {s.metadata.annotations[REQUEST_ID] for s in secrets}
    REPORT["duplicates"] += len(secrets) - len(ids)
    assert len(secrets) == 15 and len(ids) == 15
    remaining = direct.list_namespaced_pod(namespace).items
    assert sorted(p.metadata.name for p in remaining) == sorted(p for i, p in enumerate(pods) if i % 2)
    assert all(p.metadata.labels == {"patched": "yes"} for p in remaining)
    assert ops >= 200
    assert sum(stats["faults"].values()) / stats["requests"] >= 0.3, stats


def test_lost_creates_and_foreign_objects(
    env: dict[str, str], proxy: Proxy, direct: Any, namespace: str
) -> None:
    direct.create_namespaced_config_map(namespace, {"metadata": {"name": "theirs"}})

    async def scenario() -> tuple[Any, Any]:
        api_client, raw = await core_api(env["KUBECONFIG_PROXY"])
        api = wrap_client(raw, policy=FAST)
        try:
            proxy.plan(
                [
                    {
                        "method": "POST",
                        "path": "/configmaps$",
                        "fault": "drop_after",
                        "count": 2,
                    }
                ]
            )
            named = await api.create_namespaced_config_map(namespace, {"metadata": {"name": "lost"}})
            generated = await api.create_namespaced_config_map(
                namespace, {"metadata": {"generateName": "lost-"}}
            )
            proxy.plan(
                [
                    {
                        "method": "POST",
                        "path": "/configmaps$",
                        "fault": "drop_before",
                        "count": 1,
                    }
                ]
            )
            with pytest.raises(ApiException) as info:
                await api.create_namespaced_config_map(namespace, {"metadata": {"name": "theirs"}})
            assert info.value.status == 409 and "not adopted" in "\n".join(info.value.__notes__)
            return named, generated
        finally:
            await api_client.close()

    named, generated = asyncio.run(scenario())
    REPORT["operations"] += 3
    names = sorted(i.metadata.name for i in direct.list_namespaced_config_map(namespace).items)
    assert names == sorted(["lost", "theirs", generated.metadata.name])
    assert named.metadata.annotations[REQUEST_ID]


def test_retry_on_conflict_wins_a_real_resource_version_race(
    env: dict[str, str], direct: Any, namespace: str
) -> None:
    direct.create_namespaced_config_map(namespace, {"metadata": {"name": "counter"}, "data": {"n": "0"}})
    conflicts = []

    async def race() -> None:
        api_client, api = await core_api(env["KUBECONFIG_PROXY"])
        policy = Policy(preset="conflict", max_retries=50, budget=None)

        async def increment() -> Any:
            cm = await api.read_namespaced_config_map("counter", namespace)
            await asyncio.sleep(0.005)  # widen the window between read and write
            cm.data["n"] = str(int(cm.data["n"]) + 1)
            try:
                return await api.replace_namespaced_config_map("counter", namespace, cm)
            except ApiException as exc:
                conflicts.extend([1] if exc.status == 409 else [])
                raise

        async def writer() -> None:
            for _ in range(10):
                await retry_on_conflict(increment, policy=policy)

        try:
            await asyncio.gather(writer(), writer())
        finally:
            await api_client.close()

    asyncio.run(race())
    REPORT["operations"] += 20
    assert direct.read_namespaced_config_map("counter", namespace).data == {"n": "20"}
    assert conflicts, "the two writers really raced"


def test_a_watch_is_never_retried(env: dict[str, str], proxy: Proxy, namespace: str) -> None:
    async def watch() -> int:
        api_client, raw = await core_api(env["KUBECONFIG_PROXY"])
        api = wrap_client(raw, policy=FAST)
        try:
            # With _preload_content=False kubernetes_asyncio hands back the raw response, status
            # unchecked; either way the 503 reaches the caller after one request.
            response = await api.list_namespaced_config_map(
                namespace, watch=True, _preload_content=False, timeout_seconds=1
            )
            response.release()
            return int(response.status)
        except ApiException as exc:
            return int(exc.status)
        finally:
            await api_client.close()

    proxy.plan([{"method": "GET", "path": "/configmaps", "fault": "503", "count": 1}])
    status = asyncio.run(watch())
    REPORT["operations"] += 1
    assert status == 503
    assert proxy.stats()["requests"] == 1
