"""How k8sretry's pieces combine with each other and with the clients: one retry loop at a time,
`def`s returning coroutines, `async_req=True`, aiohttp's own resend, the seed's keyword names,
notes that Python 3.10 tracebacks show."""

from __future__ import annotations

import asyncio
import os
import pickle
import shutil
import subprocess
from pathlib import Path
from typing import Any

import k8sretry
import pytest
from k8sretry import Policy, create_idempotent, retry_async, retry_on_k8s_error, wrap_client
from kubernetes.client.exceptions import ApiException

FAST = Policy(initial_delay=0.001, max_delay=0.002, budget=None, max_retries=3)


def cm(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


def gets(apiserver: Any) -> int:
    return sum(r.startswith("GET") for r in apiserver.requests)


def test_is_retryable_k8s_error_takes_the_seed_keyword() -> None:
    unavailable = ApiException(status=503, reason="Service Unavailable")
    assert k8sretry.is_retryable_k8s_error(exception=unavailable)
    assert k8sretry.is_retryable_k8s_error(unavailable)
    assert k8sretry.is_retryable_k8s_error(exc=unavailable)
    assert not k8sretry.is_retryable_k8s_error(exception=ApiException(status=403))
    with pytest.raises(TypeError):
        k8sretry.is_retryable_k8s_error()


def test_a_decorator_over_a_wrapped_client_does_not_multiply_attempts(apiserver: Any, core: Any) -> None:
    apiserver.fault("GET", *[("503", None)] * 20)
    api = wrap_client(core, policy=FAST)

    @retry_on_k8s_error(max_retries=3, initial_delay=0.001, budget=None)
    def status() -> Any:
        return api.read_namespaced_config_map("x", "default")

    with pytest.raises(ApiException) as info:
        status()
    assert gets(apiserver) == 4, "the decorator's 4 attempts, each a single request"
    assert info.value.k8sretry_attempts == 4  # type: ignore[attr-defined]


def test_nested_decorators_and_helpers_do_not_multiply_attempts(apiserver: Any, core: Any) -> None:
    calls: list[int] = []

    @retry_on_k8s_error(max_retries=3, initial_delay=0.001, budget=None)
    def inner() -> None:
        calls.append(1)
        raise ApiException(status=503, reason="Service Unavailable")

    @retry_on_k8s_error(max_retries=2, initial_delay=0.001, budget=None)
    def outer() -> None:
        inner()

    with pytest.raises(ApiException):
        outer()
    assert len(calls) == 3

    # wrap_client twice is one proxy; create_idempotent over wrapped methods retries once.
    api = wrap_client(wrap_client(core, policy=FAST), policy=FAST)
    apiserver.fault("GET", *[("503", None)] * 20)
    with pytest.raises(ApiException):
        api.read_namespaced_config_map("x", "default")
    assert gets(apiserver) == 4
    apiserver.faults.clear()
    apiserver.fault("POST", *[("503", None)] * 20)
    wrapped = wrap_client(core, policy=FAST)
    with pytest.raises(ApiException):
        create_idempotent(
            lambda body: wrapped.create_namespaced_config_map("default", body),
            lambda name: wrapped.read_namespaced_config_map(name, "default"),
            cm("once"),
            policy=FAST,
        )
    assert sum(r.startswith("POST") for r in apiserver.requests) == 4


def test_retry_on_conflict_leaves_wrapped_calls_their_recoveries(apiserver: Any, core: Any) -> None:
    """retry_on_conflict re-runs a read-modify-write on Conflict: not a transient-failure loop, so
    a wrapped replace inside it still recovers its own lost response."""
    from k8sretry import retry_on_conflict

    apiserver.objects[("default", "rmw")] = {
        "metadata": {"name": "rmw", "namespace": "default", "resourceVersion": "1", "uid": "u"},
        "data": {"n": "0"},
    }
    apiserver.version = 1
    api = wrap_client(core, policy=FAST)
    apiserver.fault("PUT", "drop_after")

    def bump() -> Any:
        current = api.read_namespaced_config_map("rmw", "default")
        current.data = {"n": str(int(current.data["n"]) + 1)}
        return api.replace_namespaced_config_map("rmw", "default", current)

    assert retry_on_conflict(bump).data == {"n": "1"}
    assert [r.split(" ")[0] for r in apiserver.requests] == ["GET", "PUT", "PUT", "GET"]


def test_async_decorator_over_a_wrapped_asyncio_client_and_tasks_of_their_own(apiserver: Any) -> None:
    from kubernetes_asyncio import client

    apiserver.fault("GET", *[("503", None)] * 40)

    async def main() -> None:
        async with client.ApiClient(client.Configuration(host=apiserver.url)) as api_client:
            api = wrap_client(client.CoreV1Api(api_client), policy=FAST)

            @retry_on_k8s_error(max_retries=2, initial_delay=0.001, budget=None)
            async def status() -> Any:
                return await api.read_namespaced_config_map("x", "default")

            with pytest.raises(Exception) as info:  # kubernetes_asyncio's ApiException
                await status()
            assert getattr(info.value, "status", None) == 503
            assert gets(apiserver) == 3

            async def child() -> Any:
                return await api.read_namespaced_config_map("x", "default")

            @retry_on_k8s_error(max_retries=0, budget=None)
            async def in_background() -> Any:
                # A task started inside the attempt is not part of it: it retries on its own.
                return await asyncio.create_task(child())

            with pytest.raises(Exception, match="Service Unavailable"):
                await in_background()
            assert gets(apiserver) == 3 + 4

    asyncio.run(main())


def test_a_def_that_returns_a_coroutine_is_awaited_and_retried(apiserver: Any) -> None:
    from kubernetes_asyncio import client

    apiserver.objects[("default", "c")] = {"metadata": {"name": "c", "namespace": "default"}}
    apiserver.fault("GET", ("503", None), ("503", None))

    async def main() -> None:
        async with client.ApiClient(client.Configuration(host=apiserver.url)) as api_client:
            core = client.CoreV1Api(api_client)

            @retry_on_k8s_error(max_retries=3, initial_delay=0.001, budget=None)
            def read() -> Any:
                return core.read_namespaced_config_map("c", "default")  # a coroutine

            found = await read()
            assert found.metadata.name == "c"

    asyncio.run(main())
    assert gets(apiserver) == 3


def test_async_req_calls_are_retried_in_the_thread_pool(apiserver: Any, core: Any) -> None:
    apiserver.objects[("default", "t")] = {"metadata": {"name": "t", "namespace": "default"}}
    apiserver.fault("GET", ("503", None), ("429", None))
    api = wrap_client(core, policy=FAST)
    thread = api.read_namespaced_config_map("t", "default", async_req=True)
    assert thread.get(timeout=30).metadata.name == "t"
    assert gets(apiserver) == 3


def test_a_404_from_get_counts_as_what_it_is(apiserver: Any, core: Any) -> None:
    """Not a success: the call's outcome is its final answer, counted when it ends."""

    def outcomes() -> dict[str, int]:
        found: dict[str, int] = {}
        for line in k8sretry.metrics_text().splitlines():
            if line.startswith('k8sretry_calls_total{function="read_namespaced_secret"'):
                outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
                found[outcome] = int(float(line.rsplit(" ", 1)[1]))
        return found

    before = outcomes()
    api = wrap_client(core, policy=FAST)
    thread = api.read_namespaced_secret("missing", "default", async_req=True)
    with pytest.raises(ApiException) as info:
        thread.get(timeout=30)
    assert info.value.status == 404
    after = outcomes()
    assert after.get("success", 0) == before.get("success", 0)
    ended = sum(after.values()) - sum(before.values())
    assert ended == 1 and set(after) - {"success"}, after


def test_aiohttp_does_not_resend_a_lost_put_itself(apiserver: Any) -> None:
    """aiohttp resends a PUT once after a dropped connection; its resend meets the PUT's own write
    as a Conflict, a first-attempt 409 nobody could tell from a real one. wrap_client switches that
    off for the client's session, and k8sretry recovers the lost PUT."""
    from kubernetes_asyncio import client

    apiserver.objects[("default", "p")] = {"metadata": {"name": "p", "namespace": "default"}, "data": {}}
    apiserver.version = 1
    apiserver.objects[("default", "p")]["metadata"]["resourceVersion"] = "1"
    apiserver.objects[("default", "p")]["metadata"]["uid"] = "uid-p"

    async def main() -> None:
        async with client.ApiClient(client.Configuration(host=apiserver.url)) as api_client:
            raw = client.CoreV1Api(api_client)
            api = wrap_client(raw, policy=FAST)
            assert api_client.rest_client.pool_manager._retry_connection is False
            current = await api.read_namespaced_config_map("p", "default")
            current.data = {"new": "1"}
            apiserver.fault("PUT", "drop_after")
            replaced = await api.replace_namespaced_config_map("p", "default", current)
            assert replaced.data == {"new": "1"}

    asyncio.run(main())
    assert [r.split(" ")[0] for r in apiserver.requests] == ["GET", "PUT", "PUT", "GET"]


def test_kubernetes_aio_session_is_made_without_aiohttp_resend(apiserver: Any) -> None:
    """kubernetes 37's own asyncio client makes its session on the first request."""
    from kubernetes.aio import client

    apiserver.objects[("default", "a")] = {"metadata": {"name": "a", "namespace": "default"}}

    async def main() -> None:
        async with client.ApiClient(client.Configuration(host=apiserver.url)) as api_client:
            api = wrap_client(client.CoreV1Api(api_client), policy=FAST)
            wrap_client(client.CoreV1Api(api_client), policy=FAST)  # the same ApiClient again
            assert (await api.read_namespaced_config_map("a", "default")).metadata.name == "a"
            assert api_client.rest_client.pool_manager._retry_connection is False

    asyncio.run(main())


def test_retry_async_returns_what_the_function_returns() -> None:
    async def read(name: str) -> str:
        return name

    assert asyncio.run(retry_async(read, "x", max_retries=1)) == "x"
    assert asyncio.run(retry_async(lambda: 5)) == 5


def test_notes_shown_by_str_where_tracebacks_do_not_print_them() -> None:
    """Python 3.10 prints no __notes__: its tracebacks show str(exc). The class k8sretry gives
    the exception there adds the notes to str() and changes nothing else."""
    from k8sretry import _notes

    exc = ApiException(status=503, reason="Service Unavailable")
    exc.__notes__ = ["k8sretry: gave up after 4 attempt(s): MaxRetries"]  # type: ignore[attr-defined]
    exc.__class__ = _notes._with_notes_shown(ApiException)
    assert isinstance(exc, ApiException) and type(exc).__name__ == "ApiException"
    assert type(exc).__module__ == ApiException.__module__
    assert str(exc).endswith("k8sretry: gave up after 4 attempt(s): MaxRetries")
    assert type(pickle.loads(pickle.dumps(exc))) is ApiException
    with pytest.raises(ApiException):
        raise exc


def _python310() -> str | None:
    candidates = sorted(
        str(p) for p in Path(os.path.expanduser("~/.pyenv/versions")).glob("3.10*/bin/python3")
    )
    candidates += [shutil.which("python3.10") or ""]
    for candidate in filter(None, candidates):
        try:
            done = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except OSError:
            continue
        if done.stdout.strip() == "(3, 10)":
            return candidate
    return None


@pytest.mark.skipif(_python310() is None, reason="no Python 3.10 on this machine")
def test_python_310_tracebacks_show_the_notes(tmp_path: Path) -> None:
    """The abi3 wheel's package under a real Python 3.10: an uncaught give-up prints the notes."""
    python310 = _python310()
    assert python310 is not None
    shutil.copytree(Path(k8sretry.__file__).parent, tmp_path / "k8sretry")
    code = """
import k8sretry, pickle

class ApiError(Exception):
    pass

@k8sretry.retry_on_k8s_error(retry_on=(ApiError,), max_retries=1, budget=None, sleep=lambda d: None)
def flaky():
    raise ApiError("server said no")

@k8sretry.retry_on_k8s_error(max_retries=1, budget=None, sleep=lambda d: None)
def reset():
    raise ConnectionResetError(104, "Connection reset by peer")

try:
    reset()
except ConnectionResetError as exc:
    print("builtin:", str(exc).replace("\\n", " | "))
    assert exc.errno == 104
flaky()
"""
    done = subprocess.run([python310, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "builtin: [Errno 104] Connection reset by peer | k8sretry: earlier attempts:" in done.stdout, (
        done.stdout
    )
    last = done.stderr.rstrip().splitlines()
    assert "__main__.ApiError: server said no" in last, done.stderr
    assert last[-1].startswith("k8sretry: gave up after 2 attempt(s): MaxRetries"), done.stderr
