"""Every API class the Python README names, through `wrap_client` over the real `kubernetes` and
`kubernetes_asyncio` clients against the real apiserver behind the fault proxy: a create whose
response is lost is recovered (one object, ours), a read through a 503 and a delete whose response
is lost end right; cluster-scoped objects too (namespaces, cluster roles, CRDs, custom objects of a
cluster-scoped CRD); reviews are resent unstamped. Also what the issue-15 fixes do against the real
server: kubernetes_asyncio's `_request_timeout` retried, aiohttp's own resend of a lost PUT switched
off by `wrap_client` (not by the test), and `watch.Watch().stream` over a wrapped list yielding models.
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
from k8sretry import REQUEST_ID, Policy, retry_on_k8s_error, wrap_client
from kubernetes import client

FAST = Policy(max_retries=6, initial_delay=0.05, max_delay=0.5, retry_after_cap=2.0, budget=None)
CLIENTS = ["kubernetes", "kubernetes_asyncio"]
IMAGE = "registry.invalid/none:1"  # nothing runs them: there is no scheduler or kubelet


async def done(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


def module_of(flavour: str) -> Any:
    if flavour == "kubernetes":
        return client
    from kubernetes_asyncio import client as aclient

    return aclient


async def run_with(flavour: str, env: dict[str, str], job: Callable[[Any], Awaitable[Any]]) -> Any:
    """`job(api_client)` with an ApiClient of `flavour` behind the fault proxy, as users make it
    (aiohttp's own resend left as aiohttp sets it: wrap_client switches it off)."""
    if flavour == "kubernetes":
        return await job(api_client(env["KUBECONFIG_PROXY"]))
    from kubernetes_asyncio import client as aclient
    from kubernetes_asyncio import config as aconfig

    configuration = aclient.Configuration()
    await aconfig.load_kube_config(config_file=env["KUBECONFIG_PROXY"], client_configuration=configuration)
    async with aclient.ApiClient(configuration) as raw:
        return await job(raw)


def field(obj: Any, *path: str) -> Any:
    """A field of a model or a dict (custom objects), by its snake_case / camelCase names."""
    for name in path:
        if obj is None:
            return None
        if isinstance(obj, dict):
            camel = name.split("_")[0] + "".join(p.title() for p in name.split("_")[1:])
            obj = obj.get(name, obj.get(camel))
        else:
            obj = getattr(obj, name, None)
    return obj


def crd(group: str, scope: str) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
            ],
        },
    }


def established(extensions: Any, name: str) -> None:
    for _ in range(100):
        status = extensions.read_custom_resource_definition(name).status
        if any(c.type == "Established" and c.status == "True" for c in (status.conditions or [])):
            time.sleep(1.0)  # discovery of the new group
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} never became Established")


class Case:
    """One kind of object through one API class: `create`, `read_`/`get_`, `delete_` with `scope`."""

    def __init__(
        self,
        api: str,
        kind: str,
        plural: str,
        scope: Callable[[str], tuple[Any, ...]],
        body: Callable[[str], dict[str, Any]],
        *,
        read: str = "read",
        namespaced: bool = True,
        delete: bool = True,
        custom: bool = False,
        named: Callable[[str], str] = lambda name: name,
        delete_options: dict[str, Any] | None = None,
    ) -> None:
        self.api, self.kind, self.plural, self.scope, self.body = api, kind, plural, scope, body
        self.read, self.namespaced, self.delete, self.custom = read, namespaced, delete, custom
        self.named = named  # the object's name for the name the test gives it
        self.delete_options = delete_options or {}

    def method(self, verb: str) -> str:
        where = "namespaced_" if self.namespaced else ("cluster_" if self.custom else "")
        return f"{verb}_{where}{self.kind}"


def cases(group: str, suffix: str) -> list[Case]:
    ns = lambda namespace: (namespace,)  # noqa: E731
    cluster = lambda namespace: ()  # noqa: E731
    container = {"name": "c", "image": IMAGE}
    return [
        Case(
            "CoreV1Api",
            "config_map",
            "configmaps",
            ns,
            lambda n: {"metadata": {"name": n}, "data": {"k": "v"}},
        ),
        Case(
            "CoreV1Api",
            "secret",
            "secrets",
            ns,
            lambda n: {"metadata": {"name": n}, "stringData": {"k": "v"}},
        ),
        Case(
            "CoreV1Api",
            "namespace",
            "namespaces",
            cluster,
            lambda n: {"metadata": {"name": n}},
            namespaced=False,
            delete=False,  # namespaces never finish deleting without a controller manager
        ),
        Case(
            "AppsV1Api",
            "deployment",
            "deployments",
            ns,
            lambda n: {
                "metadata": {"name": n},
                "spec": {
                    "selector": {"matchLabels": {"app": n}},
                    "template": {"metadata": {"labels": {"app": n}}, "spec": {"containers": [container]}},
                },
            },
        ),
        Case(
            "BatchV1Api",
            "job",
            "jobs",
            ns,
            lambda n: {
                "metadata": {"name": n},
                "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [container]}}},
            },
            # batch/v1 orphans a job's pods by default: a finalizer only the garbage collector
            # (no controller manager here) removes. Background deletes it at once.
            delete_options={"propagation_policy": "Background"},
        ),
        Case(
            "RbacAuthorizationV1Api",
            "role",
            "roles",
            ns,
            lambda n: {
                "metadata": {"name": n},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
            },
        ),
        Case(
            "RbacAuthorizationV1Api",
            "cluster_role",
            "clusterroles",
            cluster,
            lambda n: {
                "metadata": {"name": n},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
            },
            namespaced=False,
        ),
        Case(
            "CoordinationV1Api",
            "lease",
            "leases",
            ns,
            lambda n: {"metadata": {"name": n}, "spec": {"holderIdentity": "e2e"}},
        ),
        Case(
            "ApiextensionsV1Api",
            "custom_resource_definition",
            "customresourcedefinitions",
            cluster,
            lambda n: crd(f"{n}.e2e.k8sretry.dev", "Namespaced"),
            namespaced=False,
            delete=False,  # deleting a CRD finishes later (its finalizer): not a 404 on a resend
            named=lambda n: f"gadgets.{n}.e2e.k8sretry.dev",
        ),
        Case(
            "CustomObjectsApi",
            "custom_object",
            "gadgets",
            lambda namespace: (group, "v1", "gadgets"),
            lambda n: {
                "apiVersion": f"{group}/v1",
                "kind": "Gadget",
                "metadata": {"name": n},
                "spec": {"a": 1},
            },
            read="get",
            namespaced=False,
            custom=True,
        ),
    ]


@pytest.fixture(scope="module")
def cluster_gadgets(env: dict[str, str]) -> str:
    """A cluster-scoped CRD of this run's own group, Established."""
    group = f"py{uuid.uuid4().hex[:6]}.e2e.k8sretry.dev"
    extensions = client.ApiextensionsV1Api(api_client(env["KUBECONFIG"]))
    extensions.create_custom_resource_definition(crd(group, "Cluster"))
    established(extensions, f"gadgets.{group}")
    return group


@pytest.mark.parametrize("flavour", CLIENTS)
def test_every_api_class_recovers_lost_creates_and_deletes(
    flavour: str, env: dict[str, str], proxy: Proxy, direct: Any, namespace: str, cluster_gadgets: str
) -> None:
    suffix = uuid.uuid4().hex[:6]
    checked: list[str] = []

    async def workload(raw: Any) -> None:
        module = module_of(flavour)
        for case in cases(cluster_gadgets, suffix):
            api = wrap_client(getattr(module, case.api)(raw), policy=FAST)
            name = case.named(f"e2e-{case.plural[:10]}-{suffix}")
            scope = case.scope(namespace)
            where = f"/namespaces/{namespace}/{case.plural}" if case.namespaced else f"/{case.plural}"
            what = f"{flavour} {case.api}.{case.method('create')}"

            proxy.plan([{"method": "POST", "path": f"{where}$", "fault": "drop_after", "count": 1}])
            created = await done(
                getattr(api, case.method("create"))(*scope, case.body(f"e2e-{case.plural[:10]}-{suffix}"))
            )
            assert [f["fault"] for f in proxy.log()] == ["drop_after"], what
            assert field(created, "metadata", "name") == name, what
            assert (field(created, "metadata", "annotations") or {}).get(REQUEST_ID), (
                f"{what}: recovered, ours"
            )

            # Reads and deletes take the name first (custom objects: last, after their scope).
            args, kwargs = ((*scope, name), {}) if case.custom else ((), {"name": name})
            if case.namespaced:
                kwargs["namespace"] = namespace

            proxy.plan([{"method": "GET", "path": f"{where}/{name}$", "fault": "503", "count": 1}])
            read = await done(getattr(api, case.method(case.read))(*args, **kwargs))
            assert field(read, "metadata", "uid") == field(created, "metadata", "uid"), what
            assert [f["fault"] for f in proxy.log()] == ["503"], what

            if case.delete:
                proxy.plan(
                    [{"method": "DELETE", "path": f"{where}/{name}$", "fault": "drop_after", "count": 1}]
                )
                deleted = await done(
                    getattr(api, case.method("delete"))(*args, **kwargs, **case.delete_options)
                )
                assert deleted is None, what
                assert [f["fault"] for f in proxy.log()] == ["drop_after"], what
            checked.append(f"{case.api}.{case.kind}")

        # Reviews persist nothing and refuse metadata: resent as they are, never stamped.
        authorization = wrap_client(module.AuthorizationV1Api(raw), policy=FAST)
        proxy.plan(
            [{"method": "POST", "path": "/selfsubjectaccessreviews$", "fault": "drop_after", "count": 1}]
        )
        review = await done(
            authorization.create_self_subject_access_review(
                {"spec": {"resourceAttributes": {"verb": "get", "resource": "pods", "namespace": namespace}}}
            )
        )
        assert field(review, "status", "allowed") is True
        assert [f["fault"] for f in proxy.log()] == ["drop_after"]
        checked.append("AuthorizationV1Api.self_subject_access_review")

    asyncio.run(run_with(flavour, env, workload))
    proxy.plan([])
    REPORT["operations"] += 3 * len(checked)
    for kind, listed in (
        ("configmaps", direct.list_namespaced_config_map(namespace).items),
        ("secrets", direct.list_namespaced_secret(namespace).items),
    ):
        assert not [o for o in listed if suffix in o.metadata.name], f"{kind}: deleted"
    namespaces = [n.metadata.name for n in direct.list_namespace().items if suffix in n.metadata.name]
    assert namespaces == [f"e2e-namespaces-{suffix}"]
    assert len(checked) == 11, checked


@pytest.mark.parametrize("flavour", CLIENTS)
def test_a_lost_put_with_resource_version_is_recovered_without_touching_aiohttp(
    flavour: str, env: dict[str, str], proxy: Proxy, direct: Any, namespace: str
) -> None:
    direct.create_namespaced_config_map(namespace, {"metadata": {"name": "rv"}, "data": {"n": "0"}})

    async def workload(raw: Any) -> Any:
        api = wrap_client(module_of(flavour).CoreV1Api(raw), policy=FAST)
        current = await done(api.read_namespaced_config_map("rv", namespace))
        current.data = {"n": "1"}
        proxy.plan([{"method": "PUT", "path": "/configmaps/rv$", "fault": "drop_after", "count": 1}])
        return await done(api.replace_namespaced_config_map("rv", namespace, current))

    replaced = asyncio.run(run_with(flavour, env, workload))
    assert [f["fault"] for f in proxy.log()] == ["drop_after"]
    proxy.plan([])
    REPORT["operations"] += 1
    stored = direct.read_namespaced_config_map("rv", namespace)
    assert (
        stored.data == {"n": "1"} and replaced.metadata.resource_version == stored.metadata.resource_version
    )


def test_kubernetes_asyncio_request_timeouts_are_retried(
    env: dict[str, str], proxy: Proxy, direct: Any, namespace: str
) -> None:
    direct.create_namespaced_config_map(namespace, {"metadata": {"name": "slow"}})

    async def workload(raw: Any) -> list[Any]:
        api = wrap_client(module_of("kubernetes_asyncio").CoreV1Api(raw), policy=FAST)
        proxy.plan([{"method": "GET", "path": "/configmaps/slow$", "fault": "latency:2000", "count": 1}])
        found = [await api.read_namespaced_config_map("slow", namespace, _request_timeout=0.5)]
        faults.extend(f["fault"] for f in proxy.log())
        proxy.plan([{"method": "GET", "path": "/configmaps/slow$", "fault": "latency:2000", "count": 1}])

        @retry_on_k8s_error(initial_delay=0.05, budget=None)
        async def read_within_half_a_second() -> Any:
            return await asyncio.wait_for(api.read_namespaced_config_map("slow", namespace), 0.5)

        found.append(await read_within_half_a_second())
        faults.extend(f["fault"] for f in proxy.log())
        return found

    faults: list[str] = []
    found = asyncio.run(run_with("kubernetes_asyncio", env, workload))
    assert faults == ["latency:2000", "latency:2000"]
    proxy.plan([])
    REPORT["operations"] += 2
    assert [f.metadata.name for f in found] == ["slow", "slow"]


@pytest.mark.parametrize("flavour", CLIENTS)
def test_watch_stream_over_a_wrapped_list_yields_models(
    flavour: str, env: dict[str, str], direct: Any, namespace: str
) -> None:
    direct.create_namespaced_config_map(namespace, {"metadata": {"name": "watched"}})

    async def workload(raw: Any) -> Any:
        api = wrap_client(module_of(flavour).CoreV1Api(raw))
        if flavour == "kubernetes":
            from kubernetes import watch

            for event in watch.Watch().stream(api.list_namespaced_config_map, namespace, timeout_seconds=5):
                return event["object"]
        from kubernetes_asyncio import watch as awatch

        async with awatch.Watch() as stream:
            async for event in stream.stream(api.list_namespaced_config_map, namespace, timeout_seconds=5):
                return event["object"]
        return None

    first = asyncio.run(run_with(flavour, env, workload))
    assert type(first).__name__ == "V1ConfigMap", type(first)
    assert first.metadata.name == "watched"
