"""The retrying transport under lightkube's and kr8s's httpx clients (`k8sretry._http`), offline:
httpx's MockTransport plays the apiserver, so every attempt and what it carried is counted."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import httpx2
import pytest
from k8sretry import REQUEST_ID, Policy, wrap_client
from k8sretry._http import RetryingTransport, install

FAST = Policy(max_retries=3, initial_delay=0.001, max_delay=0.002, jitter="none", budget=None)
BASE = "https://apiserver.test"
CM = "/api/v1/namespaces/ns/configmaps"


class Server:
    """A tiny apiserver for configmaps: `faults` is a list of what the next requests meet
    (`"503"`, `"lost"`: stored then the connection drops, `"reset"`: dropped before it is read)."""

    def __init__(self, faults: list[str] | None = None) -> None:
        self.faults = list(faults or [])
        self.objects: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []

    def handle(self, request: Any) -> Any:
        module = httpx2 if type(request).__module__.startswith("httpx2") else httpx
        self.requests.append((request.method, str(request.url.path)))
        fault = self.faults.pop(0) if self.faults else None
        if fault == "503":
            return module.Response(503, headers={"Retry-After": "0"}, json={"kind": "Status", "code": 503})
        if fault == "reset":
            raise module.ConnectError("connection refused", request=request)
        response = self.serve(module, request)
        if fault == "lost":
            raise module.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return response

    def serve(self, module: Any, request: Any) -> Any:
        path = request.url.path
        if request.method == "POST" and path == CM:
            body = json.loads(request.content)
            name = body["metadata"].get("name") or body["metadata"]["generateName"] + str(len(self.objects))
            if name in self.objects:
                return module.Response(409, json={"kind": "Status", "code": 409, "reason": "AlreadyExists"})
            body["metadata"]["name"] = name
            self.objects[name] = body
            return module.Response(201, json=body)
        if request.method == "GET" and path == CM:
            selector = request.url.params.get("labelSelector", "")
            key, _, value = selector.partition("=")
            items = [
                o for o in self.objects.values() if (o["metadata"].get("labels") or {}).get(key) == value
            ]
            return module.Response(200, json={"kind": "ConfigMapList", "items": items})
        name = path.rsplit("/", 1)[1]
        if request.method == "GET":
            found = self.objects.get(name)
            if found is None:
                return module.Response(404, json={"kind": "Status", "code": 404, "reason": "NotFound"})
            return module.Response(200, json=found)
        if request.method == "DELETE":
            if self.objects.pop(name, None) is None:
                return module.Response(404, json={"kind": "Status", "code": 404, "reason": "NotFound"})
            return module.Response(200, json={"kind": "Status", "status": "Success"})
        return module.Response(405)


def client(server: Server, module: Any = httpx, policy: Policy = FAST) -> Any:
    made = module.Client(base_url=BASE, transport=module.MockTransport(server.handle))
    install(made, policy, False)
    return made


@pytest.mark.parametrize("module", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_a_read_is_retried_through_503s(module: Any) -> None:
    server = Server(["503", "503"])
    server.objects["a"] = {"metadata": {"name": "a"}}
    response = client(server, module).get(f"{CM}/a")
    assert response.status_code == 200 and len(server.requests) == 3


def test_the_client_gets_the_last_answer_when_the_engine_gives_up() -> None:
    server = Server(["503"] * 10)
    response = client(server).get(f"{CM}/a")
    assert response.status_code == 503 and len(server.requests) == 4  # 1 + max_retries
    with pytest.raises(httpx.HTTPStatusError):
        response.raise_for_status()


def test_a_fatal_answer_is_not_retried() -> None:
    server = Server()
    assert client(server).get(f"{CM}/missing").status_code == 404
    assert len(server.requests) == 1


def test_a_lost_named_create_is_read_back_and_adopted() -> None:
    server = Server(["lost"])
    response = client(server).post(CM, json={"metadata": {"name": "a"}, "data": {"v": "1"}})
    assert response.status_code == 201
    assert response.json()["metadata"]["annotations"][REQUEST_ID]
    # The engine's plan for a named create: resend; its AlreadyExists is read back and is ours.
    assert server.requests == [("POST", CM), ("POST", CM), ("GET", f"{CM}/a")]
    assert list(server.objects) == ["a"]


def test_a_lost_generate_name_create_is_found_by_its_label() -> None:
    server = Server(["lost"])
    response = client(server).post(CM, json={"metadata": {"generateName": "g-"}})
    made = response.json()
    assert response.status_code == 201 and made["metadata"]["name"] == "g-0"
    assert made["metadata"]["labels"][REQUEST_ID] == made["metadata"]["annotations"][REQUEST_ID]
    assert [m for m, _ in server.requests] == ["POST", "GET"] and len(server.objects) == 1


def test_somebody_elses_object_is_not_adopted() -> None:
    server = Server(["reset"])
    server.objects["a"] = {"metadata": {"name": "a", "annotations": {}}}
    response = client(server).post(CM, json={"metadata": {"name": "a"}})
    assert response.status_code == 409  # the resend after a refused connection meets theirs


def test_a_lost_delete_is_done() -> None:
    server = Server(["lost"])
    server.objects["a"] = {"metadata": {"name": "a"}}
    response = client(server).delete(f"{CM}/a")
    assert response.status_code == 200 and response.json()["status"] == "Success"
    assert len(server.requests) == 2 and not server.objects


def test_a_json_patch_with_a_lost_answer_is_not_resent() -> None:
    server = Server(["lost"])
    server.objects["a"] = {"metadata": {"name": "a"}}
    http = client(server)
    with pytest.raises(httpx.RemoteProtocolError):
        http.patch(f"{CM}/a", content=b"[]", headers={"Content-Type": "application/json-patch+json"})
    assert len(server.requests) == 1


def test_a_json_patch_of_an_object_with_a_lost_answer_is_resent() -> None:
    # The engine's object-body rule: a JSON patch must be a list, so an object is refused unapplied.
    server = Server(["lost"])
    server.objects["a"] = {"metadata": {"name": "a"}}
    response = client(server).patch(
        f"{CM}/a", content=b'{"data": {"k": "v"}}', headers={"Content-Type": "application/json-patch+json"}
    )
    assert response.status_code == 405 and len(server.requests) == 2


def test_watches_pass_through_untouched() -> None:
    server = Server(["503"])
    response = client(server).get(CM, params={"watch": "true"})
    assert response.status_code == 503 and len(server.requests) == 1


@pytest.mark.parametrize("module", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_httpx_connect_retries_are_switched_off(module: Any) -> None:
    made = module.Client(transport=module.HTTPTransport(retries=3))
    install(made, FAST, False)
    assert isinstance(made._transport, RetryingTransport)
    assert made._transport.inner._pool._retries == 0
    install(made, FAST, False)  # twice: still one retrying transport
    assert not isinstance(made._transport.inner, RetryingTransport)


def test_async_client() -> None:
    server = Server(["503", "lost"])

    async def run() -> Any:
        async with httpx.AsyncClient(base_url=BASE, transport=httpx.MockTransport(server.handle)) as http:
            install(http, FAST, False)
            return await http.post(CM, json={"metadata": {"name": "a"}})

    response = asyncio.run(run())
    assert response.status_code == 201
    assert [m for m, _ in server.requests] == ["POST", "POST", "POST", "GET"]


def test_wrap_client_of_lightkube_and_kr8s_is_in_place() -> None:
    from lightkube import Client
    from lightkube.config.kubeconfig import SingleConfig
    from lightkube.config.models import Cluster, Context, User

    config = SingleConfig(
        context_name="c",
        context=Context(cluster="c", user="u", namespace="ns"),
        cluster=Cluster(server=BASE),
        user=User(token="t"),
    )
    light = Client(config=config)
    assert wrap_client(light, policy=FAST) is light
    assert isinstance(light._client._client._transport, RetryingTransport)

    from kr8s._api import Api

    api = Api.__new__(Api)
    api._session = None

    async def create_session() -> None:
        api._session = httpx.AsyncClient(transport=httpx.MockTransport(Server().handle))

    api._create_session = create_session  # type: ignore[method-assign]
    assert wrap_client(api, policy=FAST) is api
    asyncio.run(api._create_session())
    assert isinstance(api._session._transport, RetryingTransport)
