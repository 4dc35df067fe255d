"""wrap_client for the httpx-based clients (lightkube over httpx2, kr8s over httpx): one retrying
transport under the client's own HTTP client, so every request the client makes (its reads,
writes, list pages) is one engine call, and the client keeps raising its own errors.

The transport tells the engine what the HTTP request is (`_native.plan`: verb, name /
generateName / resourceVersion in the JSON body, the patch type from Content-Type) and carries out
what it decides, like `wrap_client` over the generated clients: creates are stamped with the
request id and read back by name (GET the object) or, for generateName, by the request-id label
(LIST with a label selector); a PUT with a resourceVersion is stamped and read back; patches are
resent by type; a DELETE that meets NotFound after a lost response is done. An HTTP error answer
is an attempt's failure (read by the same extraction as every other error); when the engine gives
up on one, the answer is handed to the client, which raises its own `ApiError` / `ServerError`.
Watches, log follows and protocol upgrades (exec, port-forward) pass through untouched.

The client's own transport retries (httpx's `HTTPTransport(retries=...)`: connect failures, in
httpcore's pool) are switched off: the engine's attempts are the attempts made.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from . import _native
from ._configure import default_policy
from ._driver import Reader, Retrier, Sleep, run_nested, run_nested_async
from ._nesting import nested
from ._policy import Policy
from ._stamp import REQUEST_ID, _judge_by_label, _judge_by_name, _meta_field, stamp

_JSON = "application/json"
# A delete's answer when it is done without one (NotFound after a lost response).
_DELETED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}


class HTTPAnswer(Exception):
    """An HTTP error answer as an attempt's failure: `.response` (status_code, headers, content) is
    what extraction reads. Never leaves the transport: the client gets the answer itself."""

    def __init__(self, response: Any) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class _Target:
    """Where a request goes in the Kubernetes API: the collection path, the object's name, and
    whether the path goes on past the object (a subresource: status, scale, eviction...)."""

    __slots__ = ("collection", "name", "plural", "subresource")

    def __init__(self, path: str) -> None:
        parts = [p for p in path.split("/") if p]
        head = 2 if parts[:1] == ["api"] else 3 if parts[:1] == ["apis"] else len(parts)
        rest = parts[head:]
        prefix = parts[:head]
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            prefix, rest = prefix + rest[:2], rest[2:]
        self.plural = rest[0] if rest else ""
        self.collection = "/" + "/".join(prefix + rest[:1])
        self.name = rest[1] if len(rest) > 1 else None
        self.subresource = len(rest) > 2


def _streaming(request: Any) -> bool:
    params = request.url.params
    if any(params.get(key) in ("true", "1") for key in ("watch", "follow")):
        return True
    return "upgrade" in request.headers


def _body(request: Any) -> Any:
    """The JSON body of a request, or None (no body, or not JSON)."""
    try:
        content = request.content
    except Exception:  # noqa: BLE001 - a streamed request body: not ours to read
        return None
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return None


def _httpx_of(request: Any) -> Any:
    """The httpx flavour (httpx or httpx2) a request belongs to: its Request and Response classes."""
    return sys.modules[type(request).__module__.split(".")[0]]


def _with_body(request: Any, body: Any) -> Any:
    headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "content-length"]
    return type(request)(
        request.method,
        request.url,
        headers=headers,
        content=json.dumps(body).encode(),
        extensions=request.extensions,
    )


def _read_request(request: Any, path: str, params: dict[str, str] | None = None) -> Any:
    """A GET for `path` with the original request's headers (credentials) and no body."""
    skip = {"content-length", "content-type", "transfer-encoding"}
    headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in skip]
    url = request.url.copy_with(path=path, query=None)
    if params:
        url = url.copy_merge_params(params)
    return type(request)("GET", url, headers=headers, extensions=request.extensions)


def _json_response(request: Any, status: int, body: Any) -> Any:
    module = _httpx_of(request)
    content = json.dumps(body).encode()
    return module.Response(status, headers={"content-type": _JSON}, content=content, request=request)


class _Plan:
    """One request's verb, recovery, the request to send and its read-back (if any)."""

    __slots__ = ("name", "verb", "recovery", "request", "read", "judge", "read_verb")

    def __init__(self, request: Any, adopt_existing: bool) -> None:
        target = _Target(request.url.path)
        method = request.method.upper()
        self.request = request
        self.read: Any = None  # the read-back request
        self.judge: Callable[[Any], tuple[str, Any]] | None = None
        self.read_verb = "GET"
        self.name = f"{method} {target.plural or request.url.path}"
        if method in ("GET", "HEAD", "OPTIONS"):
            self.verb, self.recovery = "GET", _native.plan("GET", resource=self.name)[0]
        elif method == "DELETE":
            self.verb, self.recovery = "DELETE", _native.plan("DELETE", resource=self.name)[0]
        elif method == "PATCH":
            self.verb = "PATCH"
            content_type = request.headers.get("content-type", "").split(";")[0].strip() or None
            # A JSON object body is a fact the engine decides on too (a JSON patch must be a list).
            object_body = isinstance(_body(request), dict)
            try:
                self.recovery = _native.plan(
                    "PATCH", resource=self.name, patch_type=content_type, object_body=object_body
                )[0]
            except ValueError:  # a content type the engine does not know: the body alone tells
                self.recovery = _native.plan("PATCH", resource=self.name, object_body=object_body)[0]
        elif method in ("POST", "PUT"):
            self.verb = method
            self._plan_write(request, target, adopt_existing)
        else:
            # A method the engine has no rule for: retried only when the request was not sent.
            self.verb, self.recovery = "POST", "none"

    def _plan_write(self, request: Any, target: _Target, adopt_existing: bool) -> None:
        body = _body(request)
        obj_name = _meta_field(body, "name", "name") if isinstance(body, dict) else None
        if self.verb == "POST":
            # A create is a POST to a collection; a POST under an object is an action (eviction...).
            collection = target.name is None
            named = bool(obj_name)
            recovery, stamp_as = _native.plan(
                "POST",
                resource=self.name,
                named=named,
                generate_name=not named and bool(_meta_field(body, "generateName", "generate_name")),
                adopt_existing=adopt_existing,
                can_get=collection and isinstance(body, dict),
                can_list=collection and isinstance(body, dict),
            )
            object_path = f"{target.collection}/{obj_name}" if named else None
        else:
            recovery, stamp_as = _native.plan(
                "PUT",
                resource=self.name,
                resource_version=bool(_meta_field(body, "resourceVersion", "resource_version")),
                adopt_existing=adopt_existing,
                can_get=not target.subresource and isinstance(body, dict),
            )
            object_path = request.url.path if not target.subresource else None
        self.recovery = recovery
        if stamp_as == "none" or not isinstance(body, dict):
            return
        request_id = str(uuid.uuid4())
        by_label = stamp_as == "annotation_and_label"
        self.request = _with_body(request, stamp(body, request_id, by_label))
        if by_label:
            selector = {"labelSelector": f"{REQUEST_ID}={request_id}"}
            self.read = _read_request(request, target.collection, selector)
            self.judge, self.read_verb = _judge_by_label(request_id), "LIST"
        elif object_path is not None:
            self.read = _read_request(request, object_path)
            self.judge = _judge_by_name(request_id)

    def answer(self, result: Any) -> Any:
        """The response to give the client for what the call returned: the attempt's response, an
        object recovered by a read-back, or a delete that is done without an answer."""
        if result is None:
            return _json_response(self.request, 200, _DELETED)
        if isinstance(result, dict):
            return _json_response(self.request, 201 if self.verb == "POST" else 200, result)
        return result


def _decoded(response: Any) -> Any:
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise HTTPAnswer(response) from exc


class RetryingTransport:
    """An httpx (or httpx2) transport that runs every request through the engine. Works with the
    sync and the async client (`handle_request` / `handle_async_request`)."""

    def __init__(
        self, inner: Any, policy: Policy | None, adopt_existing: bool, sleep: Sleep | None = None
    ) -> None:
        self.inner = inner
        self.policy = policy
        self.adopt_existing = adopt_existing
        self.sleep = sleep
        no_transport_retries(inner)

    # -------------------------------------------------------------- sync

    def handle_request(self, request: Any) -> Any:
        if _streaming(request):
            return self.inner.handle_request(request)
        if nested():  # inside another k8sretry retry loop: one attempt, the engine says (Nested)
            return self._nested(request, lambda: self.inner.handle_request(request))
        plan = _Plan(request, self.adopt_existing)
        send = self.inner.handle_request

        def attempt() -> Any:
            response = send(plan.request)
            if response.status_code >= 400:
                response.read()
                raise HTTPAnswer(response)
            return response

        def read() -> Any:
            response = attempt_read(plan.read)
            return _decoded(response)

        def attempt_read(req: Any) -> Any:
            response = send(req)
            response.read()
            if response.status_code >= 400:
                raise HTTPAnswer(response)
            return response

        retrier = self._retrier(plan, read)
        started = time.monotonic()
        try:
            try:
                first = attempt()
            except BaseException as exc:  # noqa: BLE001 - the engine decides what to do with it
                failed = exc
            else:
                retrier.record_success()
                return first
            return plan.answer(retrier.after_sync_failure(attempt, failed, started))
        except HTTPAnswer as gave_up:
            return gave_up.response

    # -------------------------------------------------------------- async

    async def handle_async_request(self, request: Any) -> Any:
        if _streaming(request):
            return await self.inner.handle_async_request(request)
        if nested():  # inside another k8sretry retry loop: one attempt, the engine says (Nested)
            send = self.inner.handle_async_request

            async def once() -> Any:
                response = await send(request)
                if response.status_code >= 400:
                    await response.aread()
                    raise HTTPAnswer(response)
                return response

            try:
                return await run_nested_async(self._plain(), once)
            except HTTPAnswer as answered:
                return answered.response
        plan = _Plan(request, self.adopt_existing)
        send = self.inner.handle_async_request

        async def attempt() -> Any:
            response = await send(plan.request)
            if response.status_code >= 400:
                await response.aread()
                raise HTTPAnswer(response)
            return response

        async def read() -> Any:
            response = await send(plan.read)
            await response.aread()
            if response.status_code >= 400:
                raise HTTPAnswer(response)
            return _decoded(response)

        retrier = self._retrier(plan, read)
        try:
            return plan.answer(await retrier.finish_async(attempt(), attempt, time.monotonic()))
        except HTTPAnswer as gave_up:
            return gave_up.response

    def _plain(self) -> Retrier:
        """The retrier of a nested request: sent as it came, one attempt."""
        return Retrier(self.policy or default_policy(), "httpx")

    def _nested(self, request: Any, send: Callable[[], Any]) -> Any:
        def once() -> Any:
            response = send()
            if response.status_code >= 400:
                response.read()
                raise HTTPAnswer(response)
            return response

        try:
            return run_nested(self._plain(), once)
        except HTTPAnswer as answered:
            return answered.response

    def _retrier(self, plan: _Plan, read: Callable[[], Any]) -> Retrier:
        reader = None
        if plan.read is not None and plan.judge is not None:
            reader = Reader(read, plan.judge, plan.read_verb)
        return Retrier(
            self.policy or default_policy(),
            plan.name,
            verb=plan.verb,
            recovery=plan.recovery,
            reader=reader,
            sleep=self.sleep,
        )

    def close(self) -> None:
        self.inner.close()

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __enter__(self) -> RetryingTransport:
        self.inner.__enter__()
        return self

    def __exit__(self, *args: Any) -> None:
        self.inner.__exit__(*args)

    async def __aenter__(self) -> RetryingTransport:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *args: Any) -> None:
        await self.inner.__aexit__(*args)


def no_transport_retries(transport: Any) -> None:
    """Switches off httpx's own connect retries (`HTTPTransport(retries=n)`, kept by httpcore's
    connection pool): under the engine they would multiply its attempts unseen."""
    pool: Any = getattr(transport, "_pool", None)
    if isinstance(getattr(pool, "_retries", None), int):
        pool._retries = 0


def install(
    http_client: Any, policy: Policy | None, adopt_existing: bool, sleep: Sleep | None = None
) -> None:
    """Puts the retrying transport under an httpx / httpx2 `Client` or `AsyncClient` (once)."""
    mounts = getattr(http_client, "_mounts", {})
    for key, transport in [(None, getattr(http_client, "_transport", None)), *mounts.items()]:
        if transport is None:
            continue
        if isinstance(transport, RetryingTransport):
            # Wrapped again (kr8s hands out one cached Api per kubeconfig): the latest settings.
            transport.policy, transport.adopt_existing, transport.sleep = policy, adopt_existing, sleep
            continue
        wrapped = RetryingTransport(transport, policy, adopt_existing, sleep)
        if key is None:
            http_client._transport = wrapped
        else:
            mounts[key] = wrapped


def wrap_httpx_client(
    api: Any, policy: Policy | None, adopt_existing: bool, sleep: Sleep | None = None
) -> bool:
    """Wraps a lightkube `Client` / `AsyncClient` or a kr8s `Api` (sync or async) in place, or
    returns False when `api` is neither."""
    module = type(api).__module__.split(".")[0]
    if module == "lightkube":
        generic = getattr(api, "_client", None)
        http_client = getattr(generic, "_client", None)
        if http_client is None:
            raise TypeError(f"wrap_client: this lightkube client has no HTTP client to wrap: {api!r}")
        install(http_client, policy, adopt_existing, sleep)
        return True
    if module == "kr8s" and callable(getattr(api, "_create_session", None)):
        if getattr(api, "_session", None) is not None:
            install(api._session, policy, adopt_existing, sleep)
        create = api._create_session
        settings = getattr(create, "_k8sretry_settings", None)
        if settings is not None:
            settings[:] = [policy, adopt_existing, sleep]
            return True
        settings = [policy, adopt_existing, sleep]

        async def create_session() -> None:
            # kr8s makes a new httpx.AsyncClient on first use and after re-authenticating.
            await create()
            if api._session is not None:
                install(api._session, *settings)

        create_session._k8sretry_settings = settings  # type: ignore[attr-defined]
        api._create_session = create_session
        return True
    return False
