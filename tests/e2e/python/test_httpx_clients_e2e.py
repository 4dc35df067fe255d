"""lightkube (httpx2) and kr8s (httpx), sync and async, wrapped by `wrap_client`, against the real
kube-apiserver behind the fault proxy: a mixed workload of creates (named and generateName),
reads, lists, replaces (lightkube), patches and deletes with at least 30% of requests faulted ends
with nothing lost and nothing created twice; a lost create is recovered (the object is ours, read
back by name or by the request-id label); somebody else's object is never adopted; and the
attempts the proxy counts equal the engine's attempts (httpx's own connect retries are off).

One workload serves the four flavours: every call goes through `done(...)`, which awaits what the
async clients return and takes the sync clients' results as they are.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
from conftest import REPORT, Proxy
from k8sretry import REQUEST_ID, Policy, metrics_text, wrap_client
from test_kubernetes_e2e import MIXED_FAULTS as KUBERNETES_FAULTS

FAST = Policy(max_retries=8, initial_delay=0.05, max_delay=0.5, retry_after_cap=2.0, budget=None)
FLAVOURS = ["lightkube", "lightkube-async", "kr8s", "kr8s-async"]
IMAGE = "registry.invalid/none:1"  # nothing runs them: there is no scheduler or kubelet

# The kubernetes e2e's faults, lost answers on patches (merge patches: resent), and 503s on the
# collection reads kr8s's get makes (a LIST by field selector).
MIXED_FAULTS = [
    *KUBERNETES_FAULTS,
    {"method": "PATCH", "path": "", "fault": "drop_after", "probability": 0.1},
    {"method": "GET", "path": "/configmaps$", "fault": "503", "probability": 0.2},
]


async def done(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


class Lightkube:
    """lightkube's Client / AsyncClient: the same methods, sync or async."""

    def __init__(self, kubeconfig: str, asynchronous: bool) -> None:
        from lightkube import AsyncClient, Client, KubeConfig

        config = KubeConfig.from_file(kubeconfig)
        self.client = AsyncClient(config=config) if asynchronous else Client(config=config)

    def wrap(self, policy: Policy) -> None:
        assert wrap_client(self.client, policy=policy) is self.client

    async def create_configmap(self, ns: str, name: str, data: dict[str, str]) -> Any:
        from lightkube.models.meta_v1 import ObjectMeta
        from lightkube.resources.core_v1 import ConfigMap

        made = await done(
            self.client.create(ConfigMap(metadata=ObjectMeta(name=name), data=data), namespace=ns)
        )
        return made.metadata.name

    async def read_configmap(self, ns: str, name: str) -> dict[str, str]:
        from lightkube.resources.core_v1 import ConfigMap

        return dict((await done(self.client.get(ConfigMap, name, namespace=ns))).data or {})

    async def replace_configmap(self, ns: str, name: str, data: dict[str, str]) -> None:
        from lightkube.resources.core_v1 import ConfigMap

        current = await done(self.client.get(ConfigMap, name, namespace=ns))
        current.data = data  # with its resourceVersion: stamped and read back after a lost answer
        await done(self.client.replace(current))

    async def label(self, ns: str, kind: str, name: str) -> None:
        from lightkube.resources.core_v1 import ConfigMap, Pod
        from lightkube.types import PatchType

        res = {"configmap": ConfigMap, "pod": Pod}[kind]
        patch = {"metadata": {"labels": {"patched": "yes"}}}
        await done(self.client.patch(res, name, patch, namespace=ns, patch_type=PatchType.MERGE))

    async def delete(self, ns: str, kind: str, name: str) -> None:
        from lightkube.resources.core_v1 import ConfigMap, Pod

        res = {"configmap": ConfigMap, "pod": Pod}[kind]
        extra = {"grace_period": 0} if kind == "pod" else {}
        await done(self.client.delete(res, name, namespace=ns, **extra))

    async def create_generated_secret(self, ns: str) -> str:
        from lightkube.models.meta_v1 import ObjectMeta
        from lightkube.resources.core_v1 import Secret

        secret = Secret(metadata=ObjectMeta(generateName="gen-"), stringData={"k": "v"})
        return str((await done(self.client.create(secret, namespace=ns))).metadata.name)

    async def create_pod(self, ns: str, name: str) -> None:
        from lightkube.models.core_v1 import Container, PodSpec
        from lightkube.models.meta_v1 import ObjectMeta
        from lightkube.resources.core_v1 import Pod

        spec = PodSpec(containers=[Container(name="main", image=IMAGE)])
        await done(self.client.create(Pod(metadata=ObjectMeta(name=name), spec=spec), namespace=ns))

    async def list_configmaps(self, ns: str) -> list[str]:
        from lightkube.resources.core_v1 import ConfigMap

        listed = self.client.list(ConfigMap, namespace=ns)
        if hasattr(listed, "__aiter__"):
            return [cm.metadata.name async for cm in listed]
        return [cm.metadata.name for cm in listed]

    async def close(self) -> None:
        await done(self.client.close())


class Kr8s:
    """kr8s's objects over a sync `kr8s.api()` or an async `kr8s.asyncio.api()`."""

    def __init__(self, kubeconfig: str, asynchronous: bool) -> None:
        self.kubeconfig, self.asynchronous = kubeconfig, asynchronous

    async def open(self) -> None:
        if self.asynchronous:
            import kr8s.asyncio
            from kr8s.asyncio import objects

            self.api = await kr8s.asyncio.api(kubeconfig=self.kubeconfig)
        else:
            import kr8s
            from kr8s import objects  # type: ignore[no-redef]

            self.api = kr8s.api(kubeconfig=self.kubeconfig)
        self.objects = objects

    def wrap(self, policy: Policy) -> None:
        assert wrap_client(self.api, policy=policy) is self.api

    def _object(self, kind: str, ns: str, metadata: dict[str, Any], **fields: Any) -> Any:
        cls = {"configmap": self.objects.ConfigMap, "pod": self.objects.Pod, "secret": self.objects.Secret}[
            kind
        ]
        return cls({"metadata": {**metadata, "namespace": ns}, **fields}, api=self.api)

    async def create_configmap(self, ns: str, name: str, data: dict[str, str]) -> Any:
        obj = self._object("configmap", ns, {"name": name}, data=data)
        await done(obj.create())
        return obj.name

    async def read_configmap(self, ns: str, name: str) -> dict[str, str]:
        obj = await done(self.objects.ConfigMap.get(name, namespace=ns, api=self.api))
        return dict(obj.raw.get("data") or {})

    async def replace_configmap(self, ns: str, name: str, data: dict[str, str]) -> None:
        # kr8s has no PUT: a merge patch of the whole data.
        obj = await done(self.objects.ConfigMap.get(name, namespace=ns, api=self.api))
        await done(obj.patch({"data": data}))

    async def label(self, ns: str, kind: str, name: str) -> None:
        obj = self._object(kind, ns, {"name": name})
        await done(obj.patch({"metadata": {"labels": {"patched": "yes"}}}))

    async def delete(self, ns: str, kind: str, name: str) -> None:
        obj = self._object(kind, ns, {"name": name})
        await done(obj.delete(grace_period=0) if kind == "pod" else obj.delete())

    async def create_generated_secret(self, ns: str) -> str:
        obj = self._object("secret", ns, {"generateName": "gen-"}, stringData={"k": "v"})
        await done(obj.create())
        return str(obj.name)

    async def create_pod(self, ns: str, name: str) -> None:
        spec = {"containers": [{"name": "main", "image": IMAGE}]}
        await done(self._object("pod", ns, {"name": name}, spec=spec).create())

    async def list_configmaps(self, ns: str) -> list[str]:
        listed = self.api.get("configmaps", namespace=ns)
        if hasattr(listed, "__aiter__"):
            return [cm.name async for cm in listed]
        return [cm.name for cm in await done(listed)]

    async def close(self) -> None:
        pass


async def client_of(flavour: str, env: dict[str, str]) -> Any:
    kubeconfig = env["KUBECONFIG_PROXY"]
    if flavour.startswith("lightkube"):
        return Lightkube(kubeconfig, flavour.endswith("async"))
    made = Kr8s(kubeconfig, flavour.endswith("async"))
    await made.open()
    return made


def engine_attempts(function_prefix: str = "") -> int:
    """Attempts the engine made, from its metrics: calls plus retries of the functions whose name
    starts with `function_prefix` (all by default: kr8s also asks for discovery documents)."""
    total = 0
    for line in metrics_text().splitlines():
        if line.startswith(("k8sretry_calls_total{", "k8sretry_retries_total{")) and (
            f'function="{function_prefix}' in line
        ):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_mixed_operations_under_faults(
    flavour: str, env: dict[str, str], proxy: Proxy, direct: Any, namespace: str
) -> None:
    async def run() -> tuple[int, dict[str, Any]]:
        api = await client_of(flavour, env)
        api.wrap(FAST)
        proxy.plan(MIXED_FAULTS, seed=11)
        names = [f"cm-{i}" for i in range(40)]
        ops = 0
        for i, name in enumerate(names):
            assert await api.create_configmap(namespace, name, {"v": "1"}) == name
            assert await api.read_configmap(namespace, name) == {"v": "1"}
            await api.replace_configmap(namespace, name, {"v": "2"})
            await api.label(namespace, "configmap", name)
            ops += 5  # the replace reads first
            if i % 3 == 0:
                await api.delete(namespace, "configmap", name)
                ops += 1
        listed = await api.list_configmaps(namespace)
        ops += 1
        assert sorted(listed) == sorted(n for i, n in enumerate(names) if i % 3)
        for _ in range(15):
            await api.create_generated_secret(namespace)
            ops += 1
        pods = [f"pod-{i}" for i in range(8)]
        for i, name in enumerate(pods):
            await api.create_pod(namespace, name)
            await api.label(namespace, "pod", name)
            ops += 2
            if i % 2 == 0:
                await api.delete(namespace, "pod", name)
                ops += 1
        await api.close()
        stats = proxy.stats()
        proxy.plan([])
        return ops, stats

    ops, stats = asyncio.run(run())
    REPORT["operations"] += ops
    fault_ratio = sum(stats["faults"].values()) / stats["requests"]

    configmaps = direct.list_namespaced_config_map(namespace).items
    expected = {f"cm-{i}" for i in range(40) if i % 3}
    assert sorted(cm.metadata.name for cm in configmaps) == sorted(expected), "nothing lost, nothing extra"
    for cm in configmaps:
        assert cm.data == {"v": "2"} and cm.metadata.labels == {"patched": "yes"}, cm.metadata.name
    secrets = [
        s for s in direct.list_namespaced_secret(namespace).items if s.metadata.name.startswith("gen-")
    ]
    request_ids = [s.metadata.annotations[REQUEST_ID] for s in secrets]
    REPORT["duplicates"] += len(secrets) - len(set(request_ids))
    assert len(secrets) == 15 and len(set(request_ids)) == 15, "each generateName create made one object"
    remaining = direct.list_namespaced_pod(namespace).items
    assert sorted(p.metadata.name for p in remaining) == sorted(f"pod-{i}" for i in range(8) if i % 2)
    assert all(p.metadata.labels == {"patched": "yes"} for p in remaining)
    assert ops >= 200
    assert fault_ratio >= 0.3, f"only {fault_ratio:.0%} of {stats['requests']} requests were faulted"
    assert stats["faults"].get("drop_after", 0) >= 10


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_lost_creates_are_recovered_and_theirs_is_not_adopted(
    flavour: str, env: dict[str, str], proxy: Proxy, direct: Any, namespace: str
) -> None:
    direct.create_namespaced_config_map(
        namespace, {"metadata": {"name": "theirs"}, "data": {"owner": "them"}}
    )

    async def run() -> tuple[str, BaseException | None]:
        api = await client_of(flavour, env)
        api.wrap(FAST)
        proxy.plan([{"method": "POST", "path": "/(configmaps|secrets)$", "fault": "drop_after", "count": 2}])
        await api.create_configmap(namespace, "lost", {"v": "1"})
        generated = await api.create_generated_secret(namespace)
        proxy.plan([{"method": "POST", "path": "/configmaps$", "fault": "drop_before", "count": 1}])
        error = None
        try:
            await api.create_configmap(namespace, "theirs", {"owner": "us"})
        except Exception as exc:  # noqa: BLE001 - the client's own error, checked below
            error = exc
        await api.close()
        return generated, error

    generated, error = asyncio.run(run())
    REPORT["operations"] += 3
    assert error is not None, "a create of somebody else's object fails (409), never adopted"
    ours = direct.read_namespaced_config_map("lost", namespace)
    assert REQUEST_ID in (ours.metadata.annotations or {})
    secret = direct.read_namespaced_secret(generated, namespace)
    assert secret.metadata.labels[REQUEST_ID] == secret.metadata.annotations[REQUEST_ID]
    assert (
        len([s for s in direct.list_namespaced_secret(namespace).items if s.metadata.name.startswith("gen-")])
        == 1
    )
    assert direct.read_namespaced_config_map("theirs", namespace).data == {"owner": "them"}


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_attempts_at_the_server_equal_the_engines(
    flavour: str, env: dict[str, str], proxy: Proxy, direct: Any, namespace: str
) -> None:
    """Nobody but the engine resends: the requests the proxy counts equal the engine's attempts
    (its metrics: calls + retries), for three 503s then success (kr8s also fetches discovery
    documents, counted on both sides) and for a read whose connection is closed every time (one
    call, 4 attempts, no resend by httpx or the client)."""
    direct.create_namespaced_config_map(namespace, {"metadata": {"name": "counted"}, "data": {"v": "1"}})
    policy = Policy(max_retries=3, initial_delay=0.01, max_delay=0.05, budget=None)

    async def run() -> tuple[int, int]:
        api = await client_of(flavour, env)
        api.wrap(policy)
        proxy.plan([{"method": "GET", "path": "/configmaps", "fault": "503", "count": 3}])
        before = engine_attempts()
        assert await api.read_configmap(namespace, "counted") == {"v": "1"}
        first = proxy.stats()["requests"]
        assert engine_attempts() - before == first >= 4
        proxy.plan([{"method": "GET", "path": "", "fault": "drop_before", "probability": 1.0}])
        before = engine_attempts()
        with pytest.raises(Exception):  # noqa: B017 - each client's own transport error
            await api.read_configmap(namespace, "counted")
        second = proxy.stats()["requests"]
        assert engine_attempts() - before == second == 4, "one call, 4 attempts, all refused"
        await api.close()
        return first, second

    first, second = asyncio.run(run())
    REPORT["operations"] += 2
    assert first >= 4 and second == 4
