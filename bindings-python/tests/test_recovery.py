"""The recovery protocol of DESIGN §4 through the real retry loop: what the engine asks for is
carried out (resend, read back, return, raise), per verb and patch type, against the fake server
of conftest.py with the real `kubernetes` client, or against plain fakes."""

from __future__ import annotations

import asyncio
import errno
from typing import Any

import pytest
from k8sretry import REQUEST_ID, Policy, _native, apply, create_idempotent, retry_on_conflict, wrap_client
from kubernetes.client import V1ConfigMap, V1ObjectMeta
from kubernetes.client.exceptions import ApiException

FAST = Policy(initial_delay=0.001, max_delay=0.002, budget=None, max_retries=4)
CM = "/api/v1/namespaces/default/configmaps"


def cm(name: str = "", generate_name: str = "", **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name} if name else {"generateName": generate_name}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}, **extra}


def paths(apiserver: Any) -> list[str]:
    return [r.split("?")[0] for r in apiserver.requests]


def already_exists() -> ApiException:
    error = ApiException(status=409, reason="Conflict")
    error.body = b'{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"AlreadyExists","code":409}'
    return error


def notes(exc: BaseException) -> str:
    return "\n".join(getattr(exc, "__notes__", []))


# ------------------------------------------------------------------------------------ create


def test_a_lost_create_read_back_ours_returns_the_object(apiserver: Any, core: Any) -> None:
    apiserver.fault("POST", "drop_after")
    created = wrap_client(core, policy=FAST).create_namespaced_config_map("default", cm("mine"))
    assert created.metadata.uid == apiserver.objects[("default", "mine")]["metadata"]["uid"]
    assert (
        created.metadata.annotations[REQUEST_ID] == apiserver.bodies[0]["metadata"]["annotations"][REQUEST_ID]
    )
    assert paths(apiserver) == [f"POST {CM}", f"POST {CM}", f"GET {CM}/mine"]


def test_a_lost_create_read_back_not_ours_raises_the_original_409(apiserver: Any, core: Any) -> None:
    # The first attempt never arrived (the client cannot tell), and the name is somebody else's:
    # the resend meets AlreadyExists, the read-back finds an object without our request id.
    apiserver.objects[("default", "race")] = cm("race")
    apiserver.fault("POST", "drop_before")
    with pytest.raises(ApiException) as info:
        wrap_client(core, policy=FAST).create_namespaced_config_map("default", cm("race"))
    assert info.value.status == 409 and "AlreadyExists" in str(info.value.body)
    assert "not adopted" in notes(info.value)
    assert "gave up after 2 attempt(s): NonRetryable" in notes(info.value)
    assert paths(apiserver) == [f"POST {CM}", f"POST {CM}", f"GET {CM}/race"]
    assert "annotations" not in apiserver.objects[("default", "race")]["metadata"]


def test_a_failing_read_back_is_retried_as_a_read_then_recovers(apiserver: Any, core: Any) -> None:
    apiserver.fault("POST", "drop_after")
    apiserver.fault("GET", ("503", None), ("503", None))
    created = wrap_client(core, policy=FAST).create_namespaced_config_map("default", cm("reread"))
    assert created.metadata.name == "reread"
    assert paths(apiserver) == [f"POST {CM}", f"POST {CM}"] + [f"GET {CM}/reread"] * 3
    metrics = _native.metrics_text()
    assert 'k8sretry_retries_total{function="create_namespaced_config_map/read_back"' in metrics


def test_a_read_back_failing_past_its_retries_raises_the_requests_error(apiserver: Any, core: Any) -> None:
    apiserver.fault("POST", "drop_after")
    # The read and its 16 retries: a read-back gets 4 x max_retries of its own (DESIGN §4).
    apiserver.fault("GET", *[("503", None)] * 17)
    with pytest.raises(ApiException) as info:
        wrap_client(core, policy=FAST).create_namespaced_config_map("default", cm("unknown"))
    assert info.value.status == 409, "the request's last error, not the read's 503"
    assert "OutcomeUnknown" in notes(info.value)
    assert "read-backs failed: read 1: ServiceException: (503)" in notes(info.value)
    assert paths(apiserver).count(f"GET {CM}/unknown") == 17


def test_a_lost_generate_name_create_is_listed_by_label_before_the_resend(apiserver: Any, core: Any) -> None:
    apiserver.fault("POST", "drop_after")
    body = V1ConfigMap(metadata=V1ObjectMeta(generate_name="gen-"), data={"k": "v"})
    created = wrap_client(core, policy=FAST).create_namespaced_config_map("default", body)
    assert created.metadata.labels[REQUEST_ID] == created.metadata.annotations[REQUEST_ID]
    assert len(apiserver.objects) == 1, "a resend would have generated a second name"
    assert paths(apiserver) == [f"POST {CM}", f"GET {CM}"]
    assert f"labelSelector={REQUEST_ID}%3D{created.metadata.labels[REQUEST_ID]}" in apiserver.requests[1]
    assert body.metadata.annotations is None, "the caller's object is not modified"

    # Nothing found by the label, twice 1 s apart (the first attempt never arrived): sent again.
    apiserver.clear()
    apiserver.fault("POST", "drop_before")
    wrap_client(core, policy=FAST).create_namespaced_config_map("default", cm(generate_name="again-"))
    assert paths(apiserver) == [f"POST {CM}", f"GET {CM}", f"GET {CM}", f"POST {CM}"]
    assert len(apiserver.objects) == 2


def test_create_idempotent_reports_what_its_reader_finds() -> None:
    """Plain fakes: a create whose response is lost, then AlreadyExists, then a reader that
    fails once and then finds an object carrying the stamped request id."""
    store: dict[str, Any] = {}
    calls: list[str] = []

    def create(body: dict[str, Any]) -> Any:
        calls.append("create")
        if body["metadata"]["name"] in store:
            raise already_exists()
        store[body["metadata"]["name"]] = body
        if len(calls) == 1:
            raise ConnectionResetError(errno.ECONNRESET, "reset")  # committed, answer lost
        return body

    def read(name: str) -> Any:
        calls.append("read")
        if calls.count("read") == 1:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "refused")
        return store[name]

    body = cm("helper")
    found = create_idempotent(create, read, body, policy=FAST)
    assert found is store["helper"] and found["metadata"]["annotations"][REQUEST_ID]
    assert calls == ["create", "create", "read", "read"]
    assert "annotations" not in body["metadata"], "the caller's body is not stamped"


# ------------------------------------------------------------------------------------ replace


def test_a_replace_with_resource_version_is_stamped_and_its_lost_response_recovered(
    apiserver: Any, core: Any
) -> None:
    api = wrap_client(core, policy=FAST)
    first = api.create_namespaced_config_map("default", cm("put"))
    body = cm("put", metadata={"name": "put", "resourceVersion": first.metadata.resource_version})
    body["data"] = {"k": "2"}
    apiserver.clear()
    apiserver.fault("PUT", "drop_after")
    replaced = api.replace_namespaced_config_map("put", "default", body)
    stored = apiserver.objects[("default", "put")]
    assert replaced.metadata.resource_version == stored["metadata"]["resourceVersion"]
    assert replaced.data == {"k": "2"}
    assert (
        stored["metadata"]["annotations"][REQUEST_ID]
        == apiserver.bodies[-2]["metadata"]["annotations"][REQUEST_ID]
    )
    # The resend met Conflict (the first attempt had moved the resourceVersion on): read back, ours.
    assert paths(apiserver) == [f"PUT {CM}/put", f"PUT {CM}/put", f"GET {CM}/put"]
    assert "annotations" not in body["metadata"], "a stamped copy is sent, the caller's body is left alone"


def test_a_replace_conflict_read_back_not_ours_raises_the_conflict(apiserver: Any, core: Any) -> None:
    api = wrap_client(core, policy=FAST)
    first = api.create_namespaced_config_map("default", cm("other"))
    stale = cm("other", metadata={"name": "other", "resourceVersion": first.metadata.resource_version})
    apiserver.fault("PUT", "drop_before")  # never arrived
    apiserver.objects[("default", "other")]["metadata"]["resourceVersion"] = "999"  # somebody else wrote
    with pytest.raises(ApiException) as info:
        api.replace_namespaced_config_map("other", "default", stale)
    assert info.value.status == 409 and "Conflict" in str(info.value.body)
    assert "not adopted" in notes(info.value)


def test_a_first_attempt_conflict_is_raised_at_once(apiserver: Any, core: Any) -> None:
    api = wrap_client(core, policy=FAST)
    api.create_namespaced_config_map("default", cm("fresh"))
    apiserver.clear()
    with pytest.raises(ApiException) as info:
        api.replace_namespaced_config_map(
            "fresh", "default", cm("fresh", metadata={"name": "fresh", "resourceVersion": "0"})
        )
    assert info.value.status == 409
    assert len(apiserver.requests) == 1


def test_retry_on_conflict_is_not_rerun_after_a_lost_response() -> None:
    runs: list[int] = []

    def read_modify_write() -> None:
        runs.append(1)
        raise ConnectionResetError(errno.ECONNRESET, "reset after the write")

    with pytest.raises(ConnectionResetError) as info:
        retry_on_conflict(read_modify_write, policy=FAST)
    assert runs == [1]
    assert "NotIdempotent" in notes(info.value)


# ------------------------------------------------------------------------------------ patch


def finalizers_patch(value: str) -> list[dict[str, Any]]:
    return [{"op": "add", "path": "/metadata/finalizers/-", "value": value}]


def test_a_json_patch_whose_response_is_lost_is_not_resent(apiserver: Any, core: Any) -> None:
    api = wrap_client(core, policy=FAST)
    api.create_namespaced_config_map("default", cm("jp", metadata={"name": "jp", "finalizers": []}))
    apiserver.clear()
    apiserver.fault("PATCH", "drop_after")
    with pytest.raises(Exception) as info:
        api.patch_namespaced_config_map("jp", "default", finalizers_patch("example.com/a"))
    assert not isinstance(info.value, ApiException), "the request's own error (a dropped connection)"
    assert "NotIdempotent" in notes(info.value)
    assert apiserver.content_types == ["application/json-patch+json"]
    assert apiserver.objects[("default", "jp")]["metadata"]["finalizers"] == ["example.com/a"], "applied once"

    # A 429 is a refusal: nothing applied, so a JSON patch is sent again.
    apiserver.fault("PATCH", ("429", None))
    api.patch_namespaced_config_map("jp", "default", finalizers_patch("example.com/b"))
    assert apiserver.objects[("default", "jp")]["metadata"]["finalizers"] == [
        "example.com/a",
        "example.com/b",
    ]


def test_a_merge_patch_whose_response_is_lost_is_resent(apiserver: Any, core: Any) -> None:
    api = wrap_client(core, policy=FAST)
    api.create_namespaced_config_map("default", cm("mp"))
    apiserver.clear()
    apiserver.fault("PATCH", "drop_after")
    patched = api.patch_namespaced_config_map(
        "mp", "default", {"data": {"k": "merged"}}, _content_type="application/merge-patch+json"
    )
    assert patched.data == {"k": "merged"}
    # An object body without _content_type: kubernetes sends it as a strategic merge patch.
    apiserver.fault("PATCH", "drop_after")
    patched = api.patch_namespaced_config_map("mp", "default", {"data": {"k": "strategic"}})
    assert patched.data == {"k": "strategic"}
    assert paths(apiserver) == [f"PATCH {CM}/mp"] * 4
    assert (
        apiserver.content_types
        == ["application/merge-patch+json"] * 2 + ["application/strategic-merge-patch+json"] * 2
    )


def test_apply_is_a_server_side_apply_resent_after_a_lost_response(apiserver: Any, core: Any) -> None:
    api = wrap_client(core, policy=FAST)
    api.create_namespaced_config_map("default", cm("sa"))
    apiserver.clear()
    apiserver.fault("PATCH", "drop_after")
    body = cm("sa")
    body["data"] = {"k": "applied"}
    applied = apply(api.patch_namespaced_config_map, "sa", "default", body=body, field_manager="tests")
    assert applied.data == {"k": "applied"}
    assert apiserver.content_types == ["application/apply-patch+yaml"] * 2
    assert all("fieldManager=tests" in r and "force=" in r for r in apiserver.requests)


# ------------------------------------------------------------------------------------ others


def test_a_self_subject_access_review_is_not_stamped_and_is_resent(
    apiserver: Any, authorization: Any
) -> None:
    apiserver.fault("POST", "drop_before")
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}},
    }
    answer = wrap_client(authorization, policy=FAST).create_self_subject_access_review(review)
    assert answer.status.allowed is True
    assert len(apiserver.requests) == 2, "resent after the reset like a read"
    assert all(not (b or {}).get("metadata") for b in apiserver.bodies), "never stamped"


class Widgets:
    """An API object with a method whose verb its name does not tell."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.calls = 0

    def frobnicate_widget(self, name: str) -> str:
        self.calls += 1
        if self.calls == 1:
            raise self.error
        return f"frobnicated {name}"


def test_a_method_of_unknown_verb_is_retried_only_when_the_request_was_not_sent() -> None:
    refused = Widgets(ConnectionRefusedError(errno.ECONNREFUSED, "refused"))
    assert wrap_client(refused, policy=FAST).frobnicate_widget("w") == "frobnicated w"
    assert refused.calls == 2

    reset = Widgets(ConnectionResetError(errno.ECONNRESET, "reset"))
    with pytest.raises(ConnectionResetError) as info:
        wrap_client(reset, policy=FAST).frobnicate_widget("w")
    assert reset.calls == 1
    assert "NotIdempotent" in notes(info.value)


def test_the_async_loop_reads_back_too() -> None:
    store: dict[str, Any] = {}
    calls: list[str] = []

    async def create(body: dict[str, Any]) -> Any:
        calls.append("create")
        if body["metadata"]["name"] in store:
            raise already_exists()
        store[body["metadata"]["name"]] = body
        raise asyncio.TimeoutError()  # committed, answer lost

    async def read(name: str) -> Any:
        calls.append("read")
        return store[name]

    found = asyncio.run(create_idempotent(create, read, cm("async"), policy=FAST))
    assert found is store["async"]
    assert calls == ["create", "create", "read"]


# ------------------------------------------------------------------------------------ native steps


def test_steps_out_of_order_raise() -> None:
    policy = _native.Policy.from_json('{"budget": null}')
    call = _native.Call(policy, "f", "POST", "create")
    with pytest.raises(_native.StepError, match="none was asked for"):
        call.on_read_back("ours")
    reset = _native.Failure(codes=["ECONNRESET"])
    assert call.on_failure(reset)[0] == "retry"
    exists = _native.Failure(status=409, reason="AlreadyExists")
    assert call.on_failure(exists) == ("read_back", 0.0, None)
    assert call.awaiting_read_back
    with pytest.raises(_native.StepError, match="read-back result is expected"):
        call.on_failure(reset)
    with pytest.raises(ValueError, match="unknown read-back outcome"):
        call.on_read_back("mine")
    with pytest.raises(ValueError, match="needs the read's failure"):
        call.on_read_back("failed")
    assert call.on_read_back("ours") == ("recovered", 0.0, None)
    assert call.is_finished
    with pytest.raises(_native.StepError, match="ended already"):
        call.on_failure(reset)
    assert issubclass(_native.StepError, RuntimeError)
    with pytest.raises(ValueError, match="unknown verb"):
        _native.Call(policy, "f", "PSOT")
    with pytest.raises(ValueError, match="unknown recovery"):
        _native.Call(policy, "f", "POST", "create_maybe")


def test_plan_answers_from_the_engine() -> None:
    assert _native.plan("POST", resource="create_namespaced_pod", named=True, can_get=True) == (
        "create",
        "annotation",
    )
    assert _native.plan("POST", generate_name=True, can_list=True) == (
        "create_generated",
        "annotation_and_label",
    )
    assert _native.plan("POST", resource="create_self_subject_access_review") == ("idempotent", "none")
    assert _native.plan("PUT", resource_version=True, can_get=True) == ("replace_stamped", "annotation")
    assert _native.plan("PATCH", patch_type="application/json-patch+json") == ("none", "none")
    assert _native.plan("PATCH", patch_type="merge") == ("idempotent", "none")
    assert _native.plan("DELETE", missing_ok=True) == ("delete_missing_ok", "none")
    with pytest.raises(ValueError, match="unknown patch type"):
        _native.plan("PATCH", patch_type="text/plain")


class Things:
    """A client of one resource kept in a dict: creates with generateName, lists by label."""

    def __init__(self, failures: list[BaseException | None]) -> None:
        self.failures = failures  # per create: raise before storing, or (None) store
        self.store: dict[str, Any] = {}
        self.calls: list[str] = []

    def create_namespaced_thing(self, namespace: str, body: dict[str, Any]) -> Any:
        self.calls.append("create")
        failure = self.failures.pop(0) if self.failures else None
        if isinstance(failure, ApiException):
            raise failure  # refused: nothing stored
        body["metadata"]["name"] = body["metadata"]["generateName"] + str(len(self.store))
        self.store[body["metadata"]["name"]] = body
        if failure is not None:
            raise failure  # stored, the answer lost
        return body

    def list_namespaced_thing(self, namespace: str, label_selector: str = "") -> Any:
        self.calls.append("list")
        key, _, value = label_selector.partition("=")
        return {
            "items": [o for o in self.store.values() if o["metadata"].get("labels", {}).get(key) == value]
        }


def test_a_later_failure_is_judged_on_its_own_not_on_the_first_one() -> None:
    """Attempts after the first run outside the first failure's `except` block: a reset after a
    429 is not chained to the 429 (extraction would find the 429's status and resend a create
    whose first copy may have landed)."""
    throttled = ApiException(status=429, reason="Too Many Requests")
    things = Things([throttled, ConnectionResetError(errno.ECONNRESET, "reset after the write")])
    created = wrap_client(things, policy=FAST).create_namespaced_thing("ns", cm(generate_name="thing-"))
    assert len(things.store) == 1, "created twice"
    assert things.calls == ["create", "create", "list"]
    assert created is next(iter(things.store.values()))


def test_a_later_failure_of_a_decorated_call_is_not_chained_to_the_first() -> None:
    from k8sretry import retry_on_k8s_error

    seen: list[BaseException] = []

    @retry_on_k8s_error(max_retries=1, initial_delay=0, budget=None, sleep=lambda d: None)
    def op() -> None:
        error: BaseException = ApiException(status=429) if not seen else ConnectionResetError()
        seen.append(error)
        raise error

    with pytest.raises(ConnectionResetError) as info:
        op()
    assert info.value.__context__ is None
