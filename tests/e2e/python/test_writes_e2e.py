"""Updates and patches whose responses are lost (the proxy's `drop_after`: the apiserver commits,
the client never hears), through `wrap_client` and `apply` over the real `kubernetes` and
`kubernetes_asyncio` clients: PUTs with a resourceVersion, merge and strategic merge patches and
server-side applies land exactly once and are never lost; a JSON patch that appends to a list is
never applied twice, and when its outcome is unknown the original error is raised with the
NotIdempotent reason. Also custom objects of a CRD: a lost create is recovered, not a 409.

One workload serves both clients: every call goes through `done(...)`, which awaits what the
asyncio client returns and takes the sync client's result as it is.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from conftest import REPORT, Proxy, api_client
from k8sretry import REQUEST_ID, Policy, apply, wrap_client
from kubernetes import client

FAST = Policy(max_retries=8, initial_delay=0.05, max_delay=0.5, retry_after_cap=2.0, budget=None)
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
ROUNDS = 12
BASE = "k8sretry.dev/base"

# Lost responses on every update and patch, read-backs that sometimes fail too.
LOST_WRITES = [
    {"method": "PUT", "path": "/configmaps/", "fault": "drop_after", "probability": 0.4},
    {"method": "PATCH", "path": "/configmaps/", "fault": "drop_after", "probability": 0.4},
    {"method": "GET", "path": "/configmaps/", "fault": "503", "probability": 0.15},
]

CLIENTS = ["kubernetes", "kubernetes_asyncio"]


async def done(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


def notes(exc: BaseException) -> str:
    return "\n".join(getattr(exc, "__notes__", []))


def add_finalizer(value: str) -> list[dict[str, Any]]:
    """A JSON patch that appends to a list: applied twice, the item is there twice."""
    return [{"op": "add", "path": "/metadata/finalizers/-", "value": value}]


async def run_with(flavour: str, env: dict[str, str], job: Callable[[Any], Awaitable[Any]]) -> Any:
    """Runs `job(api_client)` with an ApiClient of `flavour` behind the fault proxy."""
    if flavour == "kubernetes":
        return await job(api_client(env["KUBECONFIG_PROXY"]))
    from kubernetes_asyncio import client as aclient
    from kubernetes_asyncio import config as aconfig

    configuration = aclient.Configuration()
    await aconfig.load_kube_config(config_file=env["KUBECONFIG_PROXY"], client_configuration=configuration)
    async with aclient.ApiClient(configuration) as raw:
        # aiohttp sends a PUT or DELETE once more by itself when the connection drops: a lost PUT's
        # resend then reaches the caller as a first-attempt Conflict. Off, so k8sretry sees the loss.
        raw.rest_client.pool_manager._retry_connection = False
        return await job(raw)


def apis(flavour: str, raw: Any) -> tuple[Any, Any]:
    module = client
    if flavour == "kubernetes_asyncio":
        from kubernetes_asyncio import client as module  # type: ignore[no-redef]
    return module.CoreV1Api(raw), module.CustomObjectsApi(raw)


@pytest.mark.parametrize("flavour", CLIENTS)
def test_lost_updates_and_patches_land_exactly_once(
    flavour: str, env: dict[str, str], proxy: Proxy, direct: Any, namespace: str
) -> None:
    # `add` to `.../-` needs the list to exist (an empty one is not stored): one item to start with.
    base = {"name": "w", "finalizers": [BASE]}
    direct.create_namespaced_config_map(namespace, {"metadata": base, "data": {"start": "1"}})
    # The field really appends: the same JSON patch twice leaves the item twice.
    direct.create_namespaced_config_map(namespace, {"metadata": {**base, "name": "probe"}})
    for _ in range(2):
        direct.patch_namespaced_config_map("probe", namespace, add_finalizer("k8sretry.dev/x"))
    probe = direct.read_namespaced_config_map("probe", namespace).metadata.finalizers
    assert probe == [BASE, "k8sretry.dev/x", "k8sretry.dev/x"], probe

    unknown: list[int] = []

    async def workload(raw: Any) -> None:
        core, _ = apis(flavour, raw)
        api = wrap_client(core, policy=FAST)
        for i in range(ROUNDS):
            current = await done(api.read_namespaced_config_map("w", namespace))
            assert current.metadata.resource_version
            current.data[f"put-{i}"] = "1"
            replaced = await done(api.replace_namespaced_config_map("w", namespace, current))
            assert replaced.data[f"put-{i}"] == "1"
            body = {"data": {f"merge-{i}": "1"}}
            await done(api.patch_namespaced_config_map("w", namespace, body, _content_type=MERGE))
            body = {"metadata": {"labels": {f"strategic-{i}": "1"}}}  # an object: a strategic merge
            await done(api.patch_namespaced_config_map("w", namespace, body))
            intent = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w"}}
            intent["data"] = {f"apply-{i}": "1"}
            applied = await done(
                apply(api.patch_namespaced_config_map, "w", namespace, body=intent, field_manager=f"e2e-{i}")
            )
            assert applied.data[f"apply-{i}"] == "1"
            try:
                patch = add_finalizer(f"k8sretry.dev/f{i}")
                await done(api.patch_namespaced_config_map("w", namespace, patch, _content_type=JSON_PATCH))
            except Exception as exc:  # noqa: BLE001 - a JSON patch whose outcome is unknown
                assert "NotIdempotent" in notes(exc), notes(exc)
                assert getattr(exc, "status", None) is None, "the request's own error: a dropped connection"
                unknown.append(i)

    proxy.plan(LOST_WRITES, seed=5 if flavour == "kubernetes" else 6)
    asyncio.run(run_with(flavour, env, workload))
    faults = proxy.log()
    proxy.plan([])
    REPORT["operations"] += ROUNDS * 6

    final = direct.read_namespaced_config_map("w", namespace)
    for i in range(ROUNDS):
        for key in (f"put-{i}", f"merge-{i}", f"apply-{i}"):
            assert final.data.get(key) == "1", f"{key} lost"
        assert final.metadata.labels.get(f"strategic-{i}") == "1", f"strategic-{i} lost"
    finalizers = final.metadata.finalizers or []
    REPORT["duplicates"] += len(finalizers) - len(set(finalizers))
    assert len(finalizers) == len(set(finalizers)), f"a JSON patch applied twice: {finalizers}"
    # drop_after forwards the request: a JSON patch that raised was applied once all the same.
    assert finalizers == [BASE] + [f"k8sretry.dev/f{i}" for i in range(ROUNDS)], finalizers
    lost_puts = sum(f["method"] == "PUT" and f["fault"] == "drop_after" for f in faults)
    lost_patches = sum(f["method"] == "PATCH" and f["fault"] == "drop_after" for f in faults)
    assert lost_puts >= 2 and lost_patches >= 4, faults
    assert unknown, "some JSON patch lost its response"


@pytest.mark.parametrize("flavour", CLIENTS)
def test_a_json_patch_with_an_unknown_outcome_raises_the_original_error(
    flavour: str, env: dict[str, str], proxy: Proxy, direct: Any, namespace: str
) -> None:
    direct.create_namespaced_config_map(namespace, {"metadata": {"name": "j", "finalizers": [BASE]}})

    async def workload(raw: Any) -> BaseException:
        core, _ = apis(flavour, raw)
        api = wrap_client(core, policy=FAST)
        proxy.plan([{"method": "PATCH", "path": "/configmaps/j", "fault": "drop_after", "count": 1}])
        try:
            await done(api.patch_namespaced_config_map("j", namespace, add_finalizer("k8sretry.dev/once")))
        except Exception as exc:  # noqa: BLE001 - what is raised is the point
            return exc
        raise AssertionError("a JSON patch whose response was lost returned")

    error = asyncio.run(run_with(flavour, env, workload))
    requests = proxy.stats()["requests"]
    proxy.plan([])
    REPORT["operations"] += 1
    assert requests == 1, "not sent again"
    assert "gave up after 1 attempt(s): NotIdempotent" in notes(error)
    assert not hasattr(error, "status") or error.status is None, type(error)  # type: ignore[attr-defined]
    assert direct.read_namespaced_config_map("j", namespace).metadata.finalizers == [
        BASE,
        "k8sretry.dev/once",
    ]


def crd(group: str) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"items": {"type": "array", "items": {"type": "string"}}},
            }
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
            ],
        },
    }


@pytest.fixture(scope="module")
def widgets(env: dict[str, str]) -> str:
    """A CRD of this run's own group, Established."""
    group = f"py{uuid.uuid4().hex[:6]}.e2e.k8sretry.dev"
    extensions = client.ApiextensionsV1Api(api_client(env["KUBECONFIG"]))
    extensions.create_custom_resource_definition(crd(group))
    for _ in range(100):
        status = extensions.read_custom_resource_definition(f"widgets.{group}").status
        if any(c.type == "Established" and c.status == "True" for c in (status.conditions or [])):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the CRD never became Established")
    time.sleep(1.0)  # discovery of the new group
    return group


@pytest.mark.parametrize("flavour", CLIENTS)
def test_custom_objects_lost_creates_are_recovered(
    flavour: str, widgets: str, env: dict[str, str], proxy: Proxy, direct: Any, namespace: str
) -> None:
    scope = (widgets, "v1", namespace, "widgets")

    def widget(**metadata: Any) -> dict[str, Any]:
        return {"apiVersion": f"{widgets}/v1", "kind": "Widget", "metadata": metadata, "spec": {"items": []}}

    faults: list[str] = []

    async def workload(raw: Any) -> tuple[Any, Any, Any]:
        _, custom = apis(flavour, raw)
        api = wrap_client(custom, policy=FAST)
        proxy.plan([{"method": "POST", "path": "/widgets$", "fault": "drop_after", "count": 2}])
        named = await done(api.create_namespaced_custom_object(*scope, widget(name="named")))
        generated = await done(api.create_namespaced_custom_object(*scope, widget(generateName="gen-")))
        faults.extend(f"{f['method']} {f['fault']}" for f in proxy.log())
        proxy.plan([{"method": "PUT", "path": "/widgets/named", "fault": "drop_after", "count": 1}])
        named["spec"]["items"] = ["replaced"]
        replaced = await done(api.replace_namespaced_custom_object(*scope, "named", named))
        faults.extend(f"{f['method']} {f['fault']}" for f in proxy.log())
        return named, generated, replaced

    named, generated, replaced = asyncio.run(run_with(flavour, env, workload))
    proxy.plan([])
    REPORT["operations"] += 3
    assert faults == ["POST drop_after", "POST drop_after", "PUT drop_after"], faults
    custom = client.CustomObjectsApi(direct.api_client)
    items = custom.list_namespaced_custom_object(*scope)["items"]
    names = sorted(i["metadata"]["name"] for i in items)
    assert names == sorted(["named", generated["metadata"]["name"]]), "each create made one object"
    assert named["metadata"]["annotations"][REQUEST_ID]
    assert generated["metadata"]["labels"][REQUEST_ID] == generated["metadata"]["annotations"][REQUEST_ID]
    stored = custom.get_namespaced_custom_object(*scope, "named")
    assert stored["spec"]["items"] == ["replaced"]
    assert replaced["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
