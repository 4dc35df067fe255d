"""wrap_client over the real kubernetes and kubernetes_asyncio clients, against the fake server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from k8sretry import REQUEST_ID, Policy, create_idempotent, delete_idempotent, retry_on_conflict, wrap_client
from kubernetes.client import V1ConfigMap, V1ObjectMeta
from kubernetes.client.exceptions import ApiException

FAST = Policy(initial_delay=0.001, max_delay=0.002, budget=None, max_retries=4)


def cm(name: str = "", generate_name: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name} if name else {"generateName": generate_name}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


def test_reads_are_retried_through_503_429_and_drops(apiserver: Any, core: Any) -> None:
    apiserver.objects[("default", "a")] = cm("a")
    apiserver.fault("GET", ("503", None), ("429", None), "drop_before")
    api = wrap_client(core, policy=FAST)
    assert api.read_namespaced_config_map("a", "default").metadata.name == "a"
    assert len(apiserver.requests) == 4


def test_a_lost_create_response_is_recovered_through_the_request_id(apiserver: Any, core: Any) -> None:
    apiserver.fault("POST", "drop_after")
    api = wrap_client(core, policy=FAST)
    created = api.create_namespaced_config_map("default", cm("lost"))
    assert created.metadata.name == "lost"
    stored = apiserver.objects[("default", "lost")]
    assert stored["metadata"]["annotations"][REQUEST_ID] == created.metadata.annotations[REQUEST_ID]
    assert [r.split("?")[0] for r in apiserver.requests] == [
        "POST /api/v1/namespaces/default/configmaps",
        "POST /api/v1/namespaces/default/configmaps",
        "GET /api/v1/namespaces/default/configmaps/lost",
    ]
    assert len(apiserver.objects) == 1


def test_a_failed_read_back_is_retried_not_reported_as_foreign(apiserver: Any, core: Any) -> None:
    apiserver.fault("POST", "drop_after")
    apiserver.fault("GET", ("503", None))
    api = wrap_client(core, policy=FAST)
    created = api.create_namespaced_config_map("default", cm("reread"))
    assert created.metadata.name == "reread"
    assert len(apiserver.objects) == 1
    # After the failed read, the read is repeated, not the create.
    assert [r.split("?")[0].rsplit("/", 1)[-1] for r in apiserver.requests] == [
        "configmaps",
        "configmaps",
        "reread",
        "reread",
    ]


def test_a_lost_generate_name_create_is_found_by_label_not_created_twice(apiserver: Any, core: Any) -> None:
    apiserver.fault("POST", "drop_after")
    api = wrap_client(core, policy=FAST)
    body = V1ConfigMap(metadata=V1ObjectMeta(generate_name="gen-"), data={"k": "v"})
    created = api.create_namespaced_config_map("default", body)
    assert created.metadata.name.startswith("gen-")
    assert created.metadata.labels[REQUEST_ID] == created.metadata.annotations[REQUEST_ID]
    assert len(apiserver.objects) == 1, "a retry would have generated a second name"
    assert [r.split("?")[0] for r in apiserver.requests] == [
        "POST /api/v1/namespaces/default/configmaps",
        "GET /api/v1/namespaces/default/configmaps",
    ]
    assert body.metadata.annotations is None, "the caller's object is not modified"


def test_a_generate_name_create_that_never_arrived_is_sent_again(apiserver: Any, core: Any) -> None:
    apiserver.fault("POST", "drop_before")
    api = wrap_client(core, policy=FAST)
    created = api.create_namespaced_config_map("default", cm(generate_name="again-"))
    assert len(apiserver.objects) == 1
    assert created.metadata.name.startswith("again-")
    assert [r.split("?")[0] for r in apiserver.requests] == [
        "POST /api/v1/namespaces/default/configmaps",
        "GET /api/v1/namespaces/default/configmaps",
        # Read again READ_BACK_CONFIRM_DELAY (1 s) later: a pending write would have landed.
        "GET /api/v1/namespaces/default/configmaps",
        "POST /api/v1/namespaces/default/configmaps",
    ]


def test_somebody_elses_object_is_never_adopted(apiserver: Any, core: Any) -> None:
    apiserver.objects[("default", "taken")] = cm("taken")
    api = wrap_client(core, policy=FAST)
    with pytest.raises(ApiException) as info:
        api.create_namespaced_config_map("default", cm("taken"))
    assert info.value.status == 409
    assert len(apiserver.requests) == 1, "a first-attempt 409 is a real conflict"

    # A dropped connection (the client cannot tell whether the server acted), then AlreadyExists:
    # the object is read back, and since it does not carry our request id it is refused.
    apiserver.fault("POST", "drop_before")
    apiserver.requests.clear()
    with pytest.raises(ApiException) as info:
        api.create_namespaced_config_map("default", cm("taken"))
    assert info.value.status == 409
    assert apiserver.requests == [
        "POST /api/v1/namespaces/default/configmaps",
        "POST /api/v1/namespaces/default/configmaps",
        "GET /api/v1/namespaces/default/configmaps/taken",
    ]
    assert "not adopted" in "\n".join(info.value.__notes__)


def test_after_an_ambiguous_attempt_a_foreign_object_is_read_back_and_refused(
    apiserver: Any, core: Any
) -> None:
    apiserver.objects[("default", "race")] = cm("race")  # somebody else created it meanwhile
    apiserver.fault("POST", ("503", None))
    api = wrap_client(core, policy=FAST)
    with pytest.raises(ApiException) as info:
        api.create_namespaced_config_map("default", cm("race"))
    assert info.value.status == 409
    assert "not adopted" in "\n".join(info.value.__notes__)


def test_adopt_existing_adopts_like_the_old_hooks(apiserver: Any, core: Any) -> None:
    apiserver.objects[("default", "old")] = cm("old")
    api = wrap_client(core, policy=FAST, adopt_existing=True)
    assert api.create_namespaced_config_map("default", cm("old")).metadata.name == "old"


def test_a_lost_delete_response_is_done(apiserver: Any, core: Any) -> None:
    apiserver.objects[("default", "gone")] = cm("gone")
    apiserver.fault("DELETE", "drop_after")
    api = wrap_client(core, policy=FAST)
    assert api.delete_namespaced_config_map("gone", "default") is None
    assert ("default", "gone") not in apiserver.objects
    with pytest.raises(ApiException):
        api.delete_namespaced_config_map("gone", "default")  # a first-attempt 404 is raised
    assert (
        delete_idempotent(core.delete_namespaced_config_map, "gone", "default", missing_ok=True, policy=FAST)
        is None
    )


def test_streams_and_attributes_pass_through(apiserver: Any, core: Any) -> None:
    api = wrap_client(core, policy=FAST)
    assert api.api_client is core.api_client
    apiserver.fault("GET", ("503", None))
    with pytest.raises(ApiException):
        api.list_namespaced_config_map("default", watch=True, _preload_content=False)
    assert len(apiserver.requests) == 1


def test_create_idempotent_and_retry_on_conflict(apiserver: Any, core: Any) -> None:
    apiserver.fault("POST", "drop_after")
    created = create_idempotent(
        lambda body: core.create_namespaced_config_map("default", body),
        lambda name: core.read_namespaced_config_map(name, "default"),
        cm("helper"),
        policy=FAST,
    )
    assert created.metadata.name == "helper"

    attempts = []

    def read_modify_write() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ApiException(status=409, reason="Conflict")
        return "written"

    assert retry_on_conflict(read_modify_write) == "written"
    assert len(attempts) == 3


def test_kubernetes_asyncio_client(apiserver: Any) -> None:
    from kubernetes_asyncio import client

    async def main() -> None:
        configuration = client.Configuration(host=apiserver.url)
        async with client.ApiClient(configuration) as api_client:
            api = wrap_client(client.CoreV1Api(api_client), policy=FAST)
            apiserver.fault("POST", "drop_after")
            created = await api.create_namespaced_config_map("default", cm("async"))
            assert created.metadata.name == "async"
            apiserver.fault("GET", ("503", None), ("429", 0))
            read = await api.read_namespaced_config_map("async", "default")
            assert read.metadata.annotations[REQUEST_ID] == created.metadata.annotations[REQUEST_ID]
            # Not "drop_after" here: aiohttp itself repeats an idempotent DELETE once after a
            # disconnect on a reused connection, so the caller's first attempt already sees 404.
            apiserver.fault("DELETE", "504_after")
            assert await api.delete_namespaced_config_map("async", "default") is None

    asyncio.run(main())
    assert apiserver.objects == {}
