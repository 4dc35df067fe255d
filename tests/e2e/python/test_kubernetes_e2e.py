"""The real `kubernetes` client, wrapped by k8sretry, against a real kube-apiserver behind the
fault proxy: every operation ends correctly, nothing is created twice or lost, and somebody
else's object is never adopted."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from conftest import REPORT, Proxy
from k8sretry import REQUEST_ID, Policy, delete_idempotent, retry_on_conflict, wrap_client
from kubernetes import client
from kubernetes.client.exceptions import ApiException

FAST = Policy(max_retries=8, initial_delay=0.05, max_delay=0.5, retry_after_cap=2.0, budget=None)

MIXED_FAULTS = [
    {"method": "POST", "path": "/(configmaps|secrets|pods)$", "fault": "drop_after", "probability": 0.2},
    {"method": "POST", "path": "/(configmaps|secrets|pods)$", "fault": "drop_before", "probability": 0.12},
    {"method": "POST", "path": "/(configmaps|secrets|pods)$", "fault": "503", "probability": 0.1},
    {"method": "GET", "path": "/(configmaps|pods)/", "fault": "503", "probability": 0.2},
    {"method": "GET", "path": "/configmaps/", "fault": "429", "probability": 0.04, "retry_after": "1"},
    {"method": "GET", "path": "", "fault": "drop_before", "probability": 0.1},
    {"method": "PUT", "path": "/configmaps/", "fault": "drop_after", "probability": 0.2},
    {"method": "PUT", "path": "/configmaps/", "fault": "504", "probability": 0.1},
    {"method": "PATCH", "path": "", "fault": "429", "probability": 0.3},
    {"method": "DELETE", "path": "", "fault": "drop_after", "probability": 0.2},
    {"method": "DELETE", "path": "", "fault": "drop_before", "probability": 0.1},
]


def test_mixed_operations_under_faults(proxy: Proxy, faulted: Any, direct: Any, namespace: str) -> None:
    api = wrap_client(faulted, policy=FAST)
    proxy.plan(MIXED_FAULTS, seed=7)
    names = [f"cm-{i}" for i in range(60)]
    ops = 0
    for i, name in enumerate(names):
        api.create_namespaced_config_map(namespace, {"metadata": {"name": name}, "data": {"v": "1"}})
        assert api.read_namespaced_config_map(name, namespace).data == {"v": "1"}
        api.replace_namespaced_config_map(name, namespace, {"metadata": {"name": name}, "data": {"v": "2"}})
        api.patch_namespaced_config_map(name, namespace, {"metadata": {"labels": {"patched": "yes"}}})
        ops += 4
        if i % 3 == 0:
            api.delete_namespaced_config_map(name, namespace)
            ops += 1
    for _ in range(20):
        api.create_namespaced_secret(
            namespace, {"metadata": {"generateName": "gen-"}, "stringData": {"k": "v"}}
        )
        ops += 1
    pods = [f"pod-{i}" for i in range(12)]
    for i, name in enumerate(pods):
        spec = {"containers": [{"name": "main", "image": "registry.invalid/app:1"}]}
        api.create_namespaced_pod(namespace, {"metadata": {"name": name}, "spec": spec})
        assert api.read_namespaced_pod(name, namespace).metadata.name == name
        api.patch_namespaced_pod(name, namespace, {"metadata": {"labels": {"patched": "yes"}}})
        ops += 3
        if i % 2 == 0:
            api.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
            ops += 1
    REPORT["operations"] += ops
    stats = proxy.stats()
    fault_ratio = sum(stats["faults"].values()) / stats["requests"]
    proxy.plan([])

    configmaps = direct.list_namespaced_config_map(namespace).items
    expected = {name for i, name in enumerate(names) if i % 3 != 0}
    assert sorted(cm.metadata.name for cm in configmaps) == sorted(expected), "nothing lost, nothing extra"
    for cm in configmaps:
        assert cm.data == {"v": "2"} and cm.metadata.labels == {"patched": "yes"}, cm.metadata.name
    secrets = direct.list_namespaced_secret(namespace).items
    request_ids = [s.metadata.annotations[REQUEST_ID] for s in secrets]
    REPORT["duplicates"] += len(secrets) - len(set(request_ids))
    assert len(secrets) == 20 and len(set(request_ids)) == 20, (
        "each generateName create made exactly one object"
    )
    # Without a kubelet, a pod deleted with grace period 0 is gone at once.
    remaining = direct.list_namespaced_pod(namespace).items
    assert sorted(p.metadata.name for p in remaining) == sorted(p for i, p in enumerate(pods) if i % 2)
    assert all(p.metadata.labels == {"patched": "yes"} for p in remaining)
    assert ops >= 200
    assert fault_ratio >= 0.3, f"only {fault_ratio:.0%} of {stats['requests']} requests were faulted"
    assert stats["faults"].get("drop_after", 0) >= 10


def test_lost_create_responses_are_recovered_through_the_request_id(
    proxy: Proxy, faulted: Any, direct: Any, namespace: str
) -> None:
    api = wrap_client(faulted, policy=FAST)
    proxy.plan([{"method": "POST", "path": "/configmaps$", "fault": "drop_after", "count": 2}])
    named = api.create_namespaced_config_map(namespace, {"metadata": {"name": "lost"}})
    generated = api.create_namespaced_config_map(namespace, {"metadata": {"generateName": "lost-"}})
    REPORT["operations"] += 2
    assert [e["fault"] for e in proxy.log()] == ["drop_after", "drop_after"]
    items = direct.list_namespaced_config_map(namespace).items
    assert sorted(i.metadata.name for i in items) == sorted(["lost", generated.metadata.name])
    assert named.metadata.uid == next(i.metadata.uid for i in items if i.metadata.name == "lost")


def test_somebody_elses_object_is_not_adopted(
    proxy: Proxy, faulted: Any, direct: Any, namespace: str
) -> None:
    direct.create_namespaced_config_map(
        namespace, {"metadata": {"name": "theirs"}, "data": {"owner": "them"}}
    )
    api = wrap_client(faulted, policy=FAST)
    with pytest.raises(ApiException) as first:
        api.create_namespaced_config_map(namespace, {"metadata": {"name": "theirs"}})
    assert first.value.status == 409
    proxy.plan([{"method": "POST", "path": "/configmaps$", "fault": "drop_before", "count": 1}])
    with pytest.raises(ApiException) as after_reset:
        api.create_namespaced_config_map(namespace, {"metadata": {"name": "theirs"}})
    REPORT["operations"] += 2
    assert after_reset.value.status == 409
    assert "not adopted" in "\n".join(after_reset.value.__notes__)
    assert direct.read_namespaced_config_map("theirs", namespace).data == {"owner": "them"}


def test_lost_delete_is_done_and_a_uid_precondition_protects_a_newer_object(
    proxy: Proxy, faulted: Any, direct: Any, namespace: str
) -> None:
    api = wrap_client(faulted, policy=FAST)
    direct.create_namespaced_config_map(namespace, {"metadata": {"name": "gone"}})
    proxy.plan([{"method": "DELETE", "path": "/configmaps/gone", "fault": "drop_after", "count": 1}])
    assert api.delete_namespaced_config_map("gone", namespace) is None
    with pytest.raises(ApiException):
        direct.read_namespaced_config_map("gone", namespace)

    # A delete with a UID precondition whose response is lost; before the retry somebody else
    # creates a new object of the same name. The retry must not remove it.
    old = direct.create_namespaced_config_map(namespace, {"metadata": {"name": "reborn"}})
    proxy.plan([{"method": "DELETE", "path": "/configmaps/reborn", "fault": "drop_after", "count": 1}])

    def recreate() -> None:
        for _ in range(100):
            if proxy.log():
                direct.create_namespaced_config_map(
                    namespace, {"metadata": {"name": "reborn"}, "data": {"new": "1"}}
                )
                return
            time.sleep(0.01)

    racer = threading.Thread(target=recreate)
    racer.start()
    slow = Policy(max_retries=3, initial_delay=1.0, max_delay=1.0, jitter=0, budget=None)
    options = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=old.metadata.uid))
    result = delete_idempotent(
        faulted.delete_namespaced_config_map, "reborn", namespace, body=options, policy=slow
    )
    racer.join()
    REPORT["operations"] += 2
    assert result is None, "our object (the old UID) is gone: the delete is done"
    assert direct.read_namespaced_config_map("reborn", namespace).data == {"new": "1"}, (
        "the newer object survives"
    )


def test_retry_on_conflict_wins_a_real_resource_version_race(
    direct: Any, faulted: Any, namespace: str
) -> None:
    direct.create_namespaced_config_map(namespace, {"metadata": {"name": "counter"}, "data": {"n": "0"}})
    conflicts = []

    def increment() -> None:
        cm = faulted.read_namespaced_config_map("counter", namespace)
        time.sleep(0.005)  # widen the window between read and write
        cm.data["n"] = str(int(cm.data["n"]) + 1)
        try:
            faulted.replace_namespaced_config_map("counter", namespace, cm)
        except ApiException as exc:
            if exc.status == 409:
                conflicts.append(1)
            raise

    def writer() -> None:
        for _ in range(10):
            retry_on_conflict(increment, policy=Policy(preset="conflict", max_retries=50, budget=None))

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    REPORT["operations"] += 20
    assert direct.read_namespaced_config_map("counter", namespace).data == {"n": "20"}
    assert conflicts, "the two writers really raced"


def test_a_watch_is_never_retried(proxy: Proxy, faulted: Any, namespace: str) -> None:
    api = wrap_client(faulted, policy=FAST)
    proxy.plan([{"method": "GET", "path": "/configmaps", "fault": "503", "count": 1}])
    with pytest.raises(ApiException) as info:
        api.list_namespaced_config_map(namespace, watch=True, _preload_content=False, timeout_seconds=1)
    REPORT["operations"] += 1
    assert info.value.status == 503
    assert proxy.stats()["requests"] == 1
