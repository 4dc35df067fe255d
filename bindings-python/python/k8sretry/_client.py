"""wrap_client and the idempotent-write helpers (DESIGN §2.5).

Creates are stamped with annotation `k8sretry.dev/request-id` (and a label of the same key for
`generateName`), so that after a lost response the object can be read back and recognised; an
object without our id is never adopted. Deletes finish on NotFound after an ambiguous attempt.
"""

from __future__ import annotations

import copy
import inspect
import time
import uuid
from collections.abc import Callable
from typing import Any

from ._policy import Policy
from ._retry import Retrier

REQUEST_ID = "k8sretry.dev/request-id"

_VERBS: tuple[tuple[str, str, str], ...] = (
    # method-name prefix, verb, recovery
    ("read_", "GET", "none"),
    ("get_", "GET", "none"),
    ("list_", "LIST", "none"),
    ("create_", "POST", "create"),
    ("replace_", "PUT", "none"),
    ("patch_", "PATCH", "none"),
    ("delete_", "DELETE", "delete"),
)


def _is_stream(kwargs: dict[str, Any]) -> bool:
    """Watches, log follows and raw responses are streams: never retried by the wrappers."""
    return bool(kwargs.get("watch") or kwargs.get("follow")) or kwargs.get("_preload_content") is False


def _metadata(obj: Any) -> Any:
    return obj.get("metadata") if isinstance(obj, dict) else getattr(obj, "metadata", None)


def _field(meta: Any, name: str) -> Any:
    if meta is None:
        return None
    return meta.get(name) if isinstance(meta, dict) else getattr(meta, name, None)


def request_id_of(obj: Any) -> str | None:
    """The request id an object carries, if any."""
    annotations = _field(_metadata(obj), "annotations") or {}
    value = annotations.get(REQUEST_ID) if isinstance(annotations, dict) else None
    return value if isinstance(value, str) else None


def stamp(body: Any, request_id: str, to_dict: Callable[[Any], Any] | None = None) -> Any:
    """A copy of `body` carrying `request_id` (a label too when it uses generateName)."""
    body = to_dict(body) if to_dict is not None else copy.deepcopy(body)
    if isinstance(body, dict):
        meta = body.setdefault("metadata", {})
        meta.setdefault("annotations", {})
        meta["annotations"] = {**(meta["annotations"] or {}), REQUEST_ID: request_id}
        if meta.get("generateName") and not meta.get("name"):
            meta["labels"] = {**(meta.get("labels") or {}), REQUEST_ID: request_id}
        return body
    meta = _metadata(body)
    if meta is None:
        raise TypeError("create body has no metadata to stamp; pass a dict or a model with metadata")
    meta.annotations = {**(meta.annotations or {}), REQUEST_ID: request_id}
    if getattr(meta, "generate_name", None) and not getattr(meta, "name", None):
        meta.labels = {**(meta.labels or {}), REQUEST_ID: request_id}
    return body


class _ClientProxy:
    """Retries every API method of `api` by the verb its name says; everything else passes through."""

    def __init__(self, api: Any, policy: Policy, ownership: bool) -> None:
        object.__setattr__(self, "_api", api)
        object.__setattr__(self, "_policy", policy)
        object.__setattr__(self, "_ownership", ownership)
        object.__setattr__(self, "_methods", {})

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._api, name)
        if name.startswith(("_", "connect_")) or not callable(attr):
            return attr
        wrapped = self._methods.get(name)
        if wrapped is None:
            wrapped = self._wrap(name)
            self._methods[name] = wrapped
        return wrapped

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._api, name, value)

    def __dir__(self) -> list[str]:
        return dir(self._api)

    def __repr__(self) -> str:
        return f"wrap_client({self._api!r})"

    def _wrap(self, name: str) -> Callable[..., Any]:
        api, policy = self._api, self._policy
        method = getattr(api, name)
        known = next(((v, r) for p, v, r in _VERBS if name.startswith(p)), None)
        if known is None:
            return method  # not an API verb we know: called as is
        verb, recovery = known
        if recovery == "create" and not self._ownership:
            recovery = "create_adopt"
        to_dict = getattr(getattr(api, "api_client", None), "sanitize_for_serialization", None)

        def invoke(*args: Any, **kwargs: Any) -> Any:
            if _is_stream(kwargs):
                return getattr(api, name)(*args, **kwargs)
            read_back = None
            if verb in ("POST", "PUT", "PATCH"):
                # A retry sends exactly the original request, whatever the caller mutates meanwhile.
                args, kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
            call_recovery = recovery
            if recovery in ("create", "create_adopt"):
                args, kwargs, read_back, generated = _prepare_create(
                    api, name, args, kwargs, recovery == "create", to_dict
                )
                if generated:
                    call_recovery = "create_generated"  # look for ours by label before each retry
            retrier = Retrier(policy, name, verb=verb, recovery=call_recovery, read_back=read_back)

            def attempt() -> Any:
                return getattr(api, name)(*args, **kwargs)

            return _dispatch(retrier, attempt)

        invoke.__name__ = name
        invoke.__doc__ = getattr(method, "__doc__", None)
        return invoke


def _prepare_create(
    api: Any,
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    ownership: bool,
    to_dict: Callable[[Any], Any] | None,
) -> tuple[tuple[Any, ...], dict[str, Any], Callable[[BaseException], Any], bool]:
    """Stamps the body and builds the read-back for `create_<rest>(…, body)`; also says whether the
    name is generated by the server (then the read-back lists by the request-id label)."""
    rest = name[len("create_") :]
    in_kwargs = "body" in kwargs
    body = kwargs["body"] if in_kwargs else args[-1]
    namespace = kwargs.get("namespace", args[0] if len(args) >= 2 and not in_kwargs else None)
    if in_kwargs and namespace is None and args:
        namespace = args[0]
    request_id = str(uuid.uuid4())
    if ownership:
        body = stamp(body, request_id, to_dict)
        if in_kwargs:
            kwargs = {**kwargs, "body": body}
        else:
            args = (*args[:-1], body)
    obj_name = _field(_metadata(body), "name")
    scope = (namespace,) if namespace is not None and rest.startswith("namespaced_") else ()

    def mine(obj: Any) -> Any:
        return obj if not ownership or request_id_of(obj) == request_id else None

    def read_back(_exc: BaseException) -> Any:
        if obj_name:
            found = getattr(api, "read_" + rest)(obj_name, *scope)
            if inspect.isawaitable(found):

                async def check() -> Any:
                    return mine(await found)

                return check()
            return mine(found)
        listed = getattr(api, "list_" + rest)(*scope, label_selector=f"{REQUEST_ID}={request_id}")

        def pick(result: Any) -> Any:
            items = (
                getattr(result, "items", None)
                or (result.get("items") if isinstance(result, dict) else None)
                or []
            )
            return next((item for item in items if mine(item) is not None), None)

        if inspect.isawaitable(listed):

            async def check_list() -> Any:
                return pick(await listed)

            return check_list()
        return pick(listed)

    return args, kwargs, read_back, ownership and not obj_name


def wrap_client(api: Any, *, policy: Policy | None = None, ownership: bool = True) -> Any:
    """A proxy over a `kubernetes` / `kubernetes_asyncio` API object (e.g. `CoreV1Api`) whose
    methods retry by verb: `read_`/`list_` GET, `create_` POST with ownership read-back,
    `replace_` PUT, `patch_` PATCH, `delete_` DELETE (NotFound after a lost response is success,
    returning None). `connect_*`, `watch=True`, `follow=True` and `_preload_content=False` calls
    are streams and are never retried."""
    return _ClientProxy(api, policy or Policy.preset("default"), ownership)


def create_idempotent(
    create: Callable[[Any], Any],
    read: Callable[[str], Any],
    body: Any,
    *,
    policy: Policy | None = None,
    ownership: bool = True,
) -> Any:
    """`create(body)` with retries; after a lost response, `read(name)` and return the object if it
    carries this call's request id. Works with sync and async callables (await the result)."""
    request_id = str(uuid.uuid4())
    sent = stamp(body, request_id) if ownership else copy.deepcopy(body)
    name = _field(_metadata(sent), "name")
    if not name:
        raise ValueError("create_idempotent needs metadata.name (use wrap_client for generateName)")

    def read_back(_exc: BaseException) -> Any:
        found = read(name)

        def mine(obj: Any) -> Any:
            return obj if not ownership or request_id_of(obj) == request_id else None

        if inspect.isawaitable(found):

            async def check() -> Any:
                return mine(await found)

            return check()
        return mine(found)

    retrier = Retrier(
        policy or Policy.preset("mutation"),
        getattr(create, "__name__", "create"),
        verb="POST",
        recovery="create" if ownership else "create_adopt",
        read_back=read_back,
    )
    return _dispatch(retrier, lambda: create(sent))


def delete_idempotent(
    delete: Callable[..., Any],
    *args: Any,
    missing_ok: bool = False,
    policy: Policy | None = None,
    **kwargs: Any,
) -> Any:
    """`delete(*args, **kwargs)` with retries; NotFound after a lost response (or any NotFound with
    `missing_ok`) is success and returns None. Pass `body=V1DeleteOptions(preconditions=...)` with a
    UID so a retried delete never removes a newer object of the same name."""
    retrier = Retrier(
        policy or Policy.preset("mutation"),
        getattr(delete, "__name__", "delete"),
        verb="DELETE",
        recovery="delete_missing_ok" if missing_ok else "delete",
    )
    return _dispatch(retrier, lambda: delete(*args, **kwargs))


def retry_on_conflict(fn: Callable[[], Any], *, policy: Policy | None = None) -> Any:
    """Re-runs a read-modify-write `fn` when it fails with Conflict (client-go's RetryOnConflict:
    5 attempts, 10 ms apart, jitter 0.1 by default). Other failures follow the usual rules."""
    retrier = Retrier(
        policy or Policy.preset("conflict"),
        getattr(fn, "__name__", "retry_on_conflict"),
        verb="PUT",
        recovery="retry_conflict",
    )
    return _dispatch(retrier, fn)


def _dispatch(retrier: Retrier, attempt: Callable[[], Any]) -> Any:
    """Runs sync, or returns a coroutine when the first attempt returns an awaitable
    (kubernetes_asyncio methods return a coroutine)."""
    started = time.monotonic()
    try:
        first = attempt()
    except BaseException as exc:
        return retrier.after_sync_failure(attempt, exc, started)
    if inspect.isawaitable(first):
        return retrier.finish_async(first, attempt, started)
    retrier.policy._native.succeeded(retrier.name)
    return first
