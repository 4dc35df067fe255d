"""wrap_client, apply and the idempotent-write helpers (DESIGN §2.5).

Every wrapper tells the engine what it knows about a request (`_native.plan`: verb, the method
name, name / generateName / resourceVersion in the body, the patch type the caller chose with
`_content_type` and whether a patch's body is a JSON object, whether the object can be read back)
and gets back the recovery to begin the call with and how to stamp the body. Stamped bodies carry
annotation `k8sretry.dev/request-id` (and a label of the same key for `generateName`), so that
after a lost response the object can be read back and recognised; an object without our id is never
adopted. What happens next is the engine's: this module only stamps, reads back when asked, and
reports what it found.
"""

from __future__ import annotations

import contextvars
import copy
import functools
import inspect
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from . import _native
from ._events import default_policy
from ._policy import Policy
from ._retry import _ACTIVE, _SYNC, Reader, Retrier, RetryIf, Sleep, nested, run_nested

T = TypeVar("T")

REQUEST_ID: str = _native.REQUEST_ID

APPLY_PATCH: str = _native.APPLY_PATCH

_VERBS: tuple[tuple[str, str], ...] = (
    # method-name prefix, verb
    ("read_", "GET"),
    ("get_", "GET"),
    ("list_", "LIST"),
    ("create_", "POST"),
    ("replace_", "PUT"),
    ("patch_", "PATCH"),
    ("delete_", "DELETE"),
)

# Arguments a read-back takes from the write it checks (the object's scope).
_SCOPE = ("namespace", "group", "version", "plural")


def _is_stream(kwargs: dict[str, Any]) -> bool:
    """Watches, log follows and raw responses are never retried by the wrappers."""
    return bool(kwargs.get("watch") or kwargs.get("follow")) or kwargs.get("_preload_content") is False


def _metadata(obj: Any) -> Any:
    return obj.get("metadata") if isinstance(obj, dict) else getattr(obj, "metadata", None)


def _meta_field(obj: Any, camel: str, snake: str) -> Any:
    """A metadata field of a dict body (`generateName`) or a model (`generate_name`)."""
    meta = _metadata(obj)
    if meta is None:
        return None
    return meta.get(camel) if isinstance(meta, dict) else getattr(meta, snake, None)


def request_id_of(obj: Any) -> str | None:
    """The request id an object carries, if any."""
    annotations = _meta_field(obj, "annotations", "annotations") or {}
    value = annotations.get(REQUEST_ID) if isinstance(annotations, dict) else None
    return value if isinstance(value, str) else None


def stamp(body: Any, request_id: str, label: bool, to_dict: Callable[[Any], Any] | None = None) -> Any:
    """A copy of `body` carrying `request_id` as an annotation (and as a label with `label`)."""
    body = to_dict(body) if to_dict is not None else copy.deepcopy(body)
    if isinstance(body, dict):
        meta = body.get("metadata")
        if not isinstance(meta, dict):
            meta = body["metadata"] = {}
        meta["annotations"] = {**(meta.get("annotations") or {}), REQUEST_ID: request_id}
        if label:
            meta["labels"] = {**(meta.get("labels") or {}), REQUEST_ID: request_id}
        return body
    meta = _metadata(body)
    if meta is None:
        raise TypeError("the body has no metadata to stamp; pass a dict or a model with metadata")
    meta.annotations = {**(meta.annotations or {}), REQUEST_ID: request_id}
    if label:
        meta.labels = {**(meta.labels or {}), REQUEST_ID: request_id}
    return body


def _unwrap(result: Any) -> Any:
    """The object of a `*_with_http_info` result: `ApiResponse.data` (kubernetes) or the first of
    `(data, status, headers)` (kubernetes_asyncio); any other result as it is."""
    if isinstance(result, tuple):
        return result[0] if result else None
    if hasattr(result, "status_code") and hasattr(result, "data"):
        return result.data
    return result


def _judge_by_name(request_id: str) -> Callable[[Any], tuple[str, Any]]:
    """What a GET by name found: ours when it carries `request_id`."""

    def judge(result: Any) -> tuple[str, Any]:
        obj = _unwrap(result)
        if obj is None:
            return "missing", None
        return ("ours" if request_id_of(obj) == request_id else "not_ours"), result

    return judge


def _judge_by_label(request_id: str) -> Callable[[Any], tuple[str, Any]]:
    """What a LIST by the request-id label found: ours when an item carries `request_id`."""

    def judge(result: Any) -> tuple[str, Any]:
        listed = _unwrap(result)  # a model, or a dict (custom objects)
        items = listed.get("items") if isinstance(listed, dict) else getattr(listed, "items", None)
        items = list(items or [])
        ours = next((item for item in items if request_id_of(item) == request_id), None)
        if ours is not None:
            return "ours", ours
        return ("not_ours", items[0]) if items else ("missing", None)

    return judge


# ---------------------------------------------------------------------------- what a method is


def _required(fn: Any) -> tuple[str, ...] | None:
    """The required positional parameters of `fn` (a bound method), or None without a signature."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return tuple(p.name for p in parameters if p.kind in kinds and p.default is inspect.Parameter.empty)


def _patch_facts(body: Any, kwargs: dict[str, Any]) -> tuple[str | None, bool]:
    """What a wrapper knows about a PATCH, for the engine to decide on: the content type the caller
    gave (`_content_type`; without it the client picks one from the method's declared types, which
    is not guessed at here) and whether the body is a JSON object (a dict or a generated model, not
    a list or text). The engine resends a PATCH of an object body whatever its type (`plan`'s
    `object_body`: a JSON patch must be a list, and `kubernetes` 37 sends an object labelled as one
    as a strategic merge patch)."""
    content_type = kwargs.get("_content_type")
    if not isinstance(content_type, str) or not content_type:
        content_type = None
    is_object = isinstance(body, Mapping) or (
        not isinstance(body, (str, bytes, list, tuple)) and hasattr(body, "openapi_types")
    )
    return content_type, is_object


class _Method:
    """What a wrapper knows about one API method of one client, found once: its verb, its
    parameters, and the read by name and the list by label that can read its object back."""

    __slots__ = ("name", "verb", "parameters", "reader", "reader_needs", "lister", "lister_needs")

    def __init__(self, api: Any, name: str, verb: str, rest: str) -> None:
        self.name = name
        self.verb = verb
        try:
            self.parameters: tuple[str, ...] = tuple(inspect.signature(getattr(api, name)).parameters)
        except (TypeError, ValueError):
            self.parameters = ()
        self.reader: str | None = None
        self.reader_needs: tuple[str, ...] = ()
        self.lister: str | None = None
        self.lister_needs: tuple[str, ...] = ()
        # `read_<rest>` for built-in resources, `get_<rest>` for custom objects; `list_<rest>`.
        for prefix in ("read_", "get_"):
            needs = self._needs(api, prefix + rest, ("name",))
            if needs is not None:
                self.reader, self.reader_needs = prefix + rest, needs
                break
        needs = self._needs(api, "list_" + rest, ())
        if needs is not None:
            self.lister, self.lister_needs = "list_" + rest, needs

    def _needs(self, api: Any, method: str, own: tuple[str, ...]) -> tuple[str, ...] | None:
        """The scope arguments `method` needs from the write, if it exists and this method has them."""
        if not callable(getattr(api, method, None)):
            return None
        required = _required(getattr(api, method))
        if required is None:
            return None
        needs = tuple(p for p in required if p not in own)
        if any(p not in _SCOPE or p not in self.parameters for p in needs):
            return None
        return needs

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments by parameter name."""
        bound = dict(zip(self.parameters, args, strict=False))
        bound.update(kwargs)
        return bound

    def with_body(self, args: tuple[Any, ...], kwargs: dict[str, Any], body: Any) -> Any:
        """`(args, kwargs)` with the body replaced."""
        if "body" in kwargs or "body" not in self.parameters:
            return args, {**kwargs, "body": body}
        i = self.parameters.index("body")
        if i < len(args):
            return (*args[:i], body, *args[i + 1 :]), kwargs
        return args, {**kwargs, "body": body}

    def read_back(
        self, api: Any, bound: dict[str, Any], obj_name: Any, request_id: str, by_label: bool
    ) -> Reader:
        """The read-back of a write with these arguments: a LIST by the request-id label, or a GET by name."""
        if by_label:
            lister, scope = getattr(api, self.lister or ""), {p: bound[p] for p in self.lister_needs}
            selector = f"{REQUEST_ID}={request_id}"
            return Reader(
                lambda: lister(**scope, label_selector=selector), _judge_by_label(request_id), "LIST"
            )
        reader, scope = getattr(api, self.reader or ""), {p: bound[p] for p in self.reader_needs}
        return Reader(lambda: reader(**scope, name=obj_name), _judge_by_name(request_id), "GET")


def _verb_of(name: str) -> tuple[str, str] | None:
    return next(((v, name[len(p) :]) for p, v in _VERBS if name.startswith(p)), None)


# ---------------------------------------------------------------------------- wrap_client


class _ClientProxy:
    """Retries every API method of `api` by the verb its name says; everything else passes through.
    `isinstance(proxy, type(api))` holds (its `__class__` is the client's)."""

    def __init__(
        self, api: Any, policy: Policy | None, adopt_existing: bool, sleep: Sleep | None = None
    ) -> None:
        object.__setattr__(self, "_api", api)
        object.__setattr__(self, "_policy", policy)
        object.__setattr__(self, "_adopt_existing", adopt_existing)
        object.__setattr__(self, "_sleep", sleep)
        object.__setattr__(self, "_methods", {})

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # noqa: D105 - isinstance(proxy, CoreV1Api), as for the client
        return type(object.__getattribute__(self, "_api"))

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._api, name)
        raw = name.startswith(("_", "connect_")) or name.endswith("_without_preload_content")
        if raw or not callable(attr):
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
        api, policy, adopt_existing, sleep = self._api, self._policy, self._adopt_existing, self._sleep
        method = getattr(api, name)
        known = _verb_of(name)
        to_dict = getattr(getattr(api, "api_client", None), "sanitize_for_serialization", None)
        info: _Method | None = None
        if known is None:
            # A method whose verb its name does not tell: a write without recovery (retried only
            # when the failure shows the request was not carried out).
            verb, recovery = "POST", "none"
        elif known[0] in ("GET", "LIST", "DELETE"):
            # What the engine needs to know of reads and deletes does not depend on the arguments.
            verb, recovery = known[0], _native.plan(known[0], resource=name)[0]
        else:
            verb, recovery = known[0], ""
            info = _Method(api, name, verb, known[1])

        @functools.wraps(method)
        def invoke(*args: Any, **kwargs: Any) -> Any:
            if _is_stream(kwargs):
                return getattr(api, name)(*args, **kwargs)
            if nested():
                # Inside another k8sretry retry loop: one attempt, the engine says (Nested).
                retrier = Retrier(policy or default_policy(), name, verb=verb)
                return run_nested(retrier, lambda: getattr(api, name)(*args, **kwargs))
            if kwargs.get("async_req"):
                return _in_thread_pool(api, invoke, args, kwargs)
            reader, call_recovery = None, recovery
            if info is not None:
                # A retry sends exactly the original request, whatever the caller mutates meanwhile.
                args, kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
                args, kwargs, call_recovery, reader = _prepare_write(
                    api, info, args, kwargs, adopt_existing, to_dict
                )
            retrier = Retrier(
                policy or default_policy(),
                name,
                verb=verb,
                recovery=call_recovery,
                reader=reader,
                sleep=sleep,
            )

            def attempt() -> Any:
                return getattr(api, name)(*args, **kwargs)

            return _dispatch(retrier, attempt)

        invoke._k8sretry_unwrapped = method  # type: ignore[attr-defined]
        invoke._k8sretry_policy = policy  # type: ignore[attr-defined]
        return invoke


def _in_thread_pool(
    api: Any, invoke: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """`async_req=True` (kubernetes): the whole retried call runs in the client's thread pool, and
    the `ApplyResult` the client would return gives its outcome: `.get()` returns what the call
    finally returned or raises its final error (counted in the metrics as that, not as a success)."""
    pool = getattr(getattr(api, "api_client", None), "pool", None)
    if pool is None:
        raise TypeError(f"async_req=True needs a client with a thread pool (api_client.pool), not {api!r}")
    kwargs = {key: value for key, value in kwargs.items() if key != "async_req"}
    context = contextvars.copy_context()  # a retry loop around this call stays the only one
    return pool.apply_async(context.run, (invoke, *args), kwargs)


def _prepare_write(
    api: Any,
    info: _Method,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    adopt_existing: bool,
    to_dict: Callable[[Any], Any] | None,
) -> tuple[tuple[Any, ...], dict[str, Any], str, Reader | None]:
    """Asks the engine how to make this POST / PUT / PATCH safe to resend, stamps the body as told
    and builds the read-back. Returns the arguments to send, the recovery and the reader."""
    bound = info.bind(args, kwargs)
    body = bound.get("body")
    name = info.name
    if info.verb == "PATCH":
        content_type, object_body = _patch_facts(body, kwargs)
        try:
            recovery, _ = _native.plan(
                "PATCH", resource=name, patch_type=content_type, object_body=object_body
            )
        except ValueError:  # a content type the engine does not know: the body alone tells
            recovery, _ = _native.plan("PATCH", resource=name, object_body=object_body)
        return args, kwargs, recovery, None
    obj_name = bound.get("name") or _meta_field(body, "name", "name")
    if info.verb == "POST":
        recovery, stamp_as = _native.plan(
            "POST",
            resource=name,
            named=bool(obj_name),
            generate_name=not obj_name and bool(_meta_field(body, "generateName", "generate_name")),
            adopt_existing=adopt_existing,
            can_get=info.reader is not None,
            can_list=info.lister is not None,
        )
    else:  # PUT
        recovery, stamp_as = _native.plan(
            "PUT",
            resource=name,
            resource_version=bool(_meta_field(body, "resourceVersion", "resource_version")),
            adopt_existing=adopt_existing,
            can_get=info.reader is not None,
        )
    request_id = str(uuid.uuid4())
    by_label = stamp_as == "annotation_and_label"
    if stamp_as != "none":
        args, kwargs = info.with_body(args, kwargs, stamp(body, request_id, by_label, to_dict))
    reader = None
    if (by_label and info.lister is not None) or (not by_label and obj_name and info.reader is not None):
        reader = info.read_back(api, bound, obj_name, request_id, by_label)
    return args, kwargs, recovery, reader


def wrap_client(
    api: T, *, policy: Policy | None = None, adopt_existing: bool = False, sleep: Sleep | None = None
) -> T:
    """A proxy over a `kubernetes` / `kubernetes_asyncio` API object (e.g. `CoreV1Api`) whose
    methods retry by verb: `read_`/`get_`/`list_` GET, `create_` POST (stamped and read back after
    a lost response), `replace_` PUT (stamped and read back when it carries a resourceVersion),
    `patch_` PATCH (resent when its patch type is idempotent: merge, strategic merge, apply),
    `delete_` DELETE (NotFound after a lost response is success, returning None). A method whose
    verb its name does not tell is retried only when the request certainly was not carried out.
    `connect_*`, `watch=True`, `follow=True` and `_preload_content=False` calls are never retried;
    `async_req=True` calls are retried in the client's thread pool.

    Typed as the client itself: each method keeps its signature, return annotation and docstring.
    `sleep` does every wait between attempts (`time.sleep`, or `asyncio.sleep` for async clients,
    by default).
    `policy` defaults to `configure(policy=...)`'s, else the `default` preset. Over
    `kubernetes_asyncio`, aiohttp's own resend of a PUT or DELETE after a dropped connection is
    switched off for the client's session (it turns a lost PUT into a first-attempt Conflict that
    cannot be told from a real one): k8sretry resends what is safe to resend. The official
    client's own retries (urllib3's `Configuration.retries`, `client_go_retries`, `kubernetes.aio`'s
    aiohttp_retry) are switched off for the client's `ApiClient` too: one retry layer.

    A lightkube `Client` / `AsyncClient` or a kr8s `Api` (sync or async) is wrapped in place and
    returned: a retrying transport goes under its httpx client, so each HTTP request it makes is
    one engine call with the same recovery by verb (see `k8sretry._http`); the client raises its
    own errors. httpx's own connect retries are switched off under it."""
    from ._http import wrap_httpx_client

    if wrap_httpx_client(api, policy, adopt_existing, sleep):
        return api  # lightkube / kr8s: the retrying transport is now under its HTTP client
    if type(api) is _ClientProxy:
        api = cast(Any, api)._api  # wrapping twice would retry twice
    _no_aiohttp_resend(api)
    _no_client_retries(api)
    return cast(T, _ClientProxy(api, policy, adopt_existing, sleep))


def _no_client_retries(api: Any) -> None:
    """One retry layer: the retries the official client and kubernetes_asyncio make on their own
    are switched off for this API object's `ApiClient` (its REST client), so the attempts made are
    the engine's. `Configuration.client_go_retries` (kubernetes 37, `kubernetes.aio`: GETs resent
    on a 429 / 5xx with Retry-After): the REST client gets its own copy of the configuration with
    it off (the caller's `Configuration` is not changed). `Configuration.retries` (urllib3's `Retry`,
    3 connection retries by default, under `kubernetes`): the pool manager's pools get
    `retries=False` (errors raised as they are, as `Configuration.retries = False` does).
    `Configuration.retries` under `kubernetes.aio` (an aiohttp_retry `RetryClient`): not used."""
    rest: Any = getattr(getattr(api, "api_client", None), "rest_client", None)
    if rest is None:
        return
    configuration: Any = getattr(rest, "configuration", None)
    if getattr(configuration, "client_go_retries", False):
        own = copy.copy(configuration)
        own.client_go_retries = False
        rest.configuration = own
    if getattr(rest, "_effective_retry_options", None) is not None:
        rest._effective_retry_options = None
        rest.retry_client = None
    pools: Any = getattr(rest, "pool_manager", None)
    pool_kw = getattr(pools, "connection_pool_kw", None)
    if isinstance(pool_kw, dict) and pool_kw.get("retries") is not False:
        pool_kw["retries"] = False
        pools.clear()  # pools made with the old setting; idle connections only


def _no_aiohttp_resend(api: Any) -> None:
    """Switches off aiohttp's resend of idempotent methods on a dropped connection
    (`ClientSession._retry_connection`) for the session of a kubernetes_asyncio client, or of a
    `kubernetes.aio` client when it makes its session (on its first request)."""
    rest: Any = getattr(getattr(api, "api_client", None), "rest_client", None)
    session = getattr(rest, "pool_manager", None)
    if session is not None:
        if type(getattr(session, "_retry_connection", None)) is bool:
            session._retry_connection = False
        return
    create = getattr(rest, "_create_pool_manager", None)
    if callable(create) and not getattr(create, "_k8sretry_no_resend", False):

        def create_without_resend() -> Any:
            made = create()
            if type(getattr(made, "_retry_connection", None)) is bool:
                made._retry_connection = False
            return made

        create_without_resend._k8sretry_no_resend = True  # type: ignore[attr-defined]
        rest._create_pool_manager = create_without_resend


# ---------------------------------------------------------------------------- helpers


def create_idempotent(
    create: Callable[[Any], Any],
    read: Callable[[str], Any],
    body: Any,
    *,
    policy: Policy | None = None,
    adopt_existing: bool = False,
    sleep: Sleep | None = None,
) -> Any:
    """`create(body)` with retries; after a lost response, `read(name)` and return the object if it
    carries this call's request id. Works with sync and async callables (await the result)."""
    name = _meta_field(body, "name", "name")
    if not name:
        raise ValueError("create_idempotent needs metadata.name (use wrap_client for generateName)")
    function = getattr(create, "__name__", "create")
    recovery, stamp_as = _native.plan(
        "POST", resource=function, named=True, adopt_existing=adopt_existing, can_get=True
    )
    request_id = str(uuid.uuid4())
    sent = stamp(body, request_id, False) if stamp_as != "none" else copy.deepcopy(body)
    reader = Reader(lambda: read(name), _judge_by_name(request_id), "GET")
    retrier = Retrier(
        policy or Policy.preset("mutation"),
        function,
        verb="POST",
        recovery=recovery,
        reader=reader,
        sleep=sleep,
    )
    return _dispatch(retrier, lambda: create(sent))


def delete_idempotent(
    delete: Callable[..., Any],
    *args: Any,
    missing_ok: bool = False,
    policy: Policy | None = None,
    sleep: Sleep | None = None,
    **kwargs: Any,
) -> Any:
    """`delete(*args, **kwargs)` with retries; NotFound after a lost response (or any NotFound with
    `missing_ok`) is success and returns None. Pass `body=V1DeleteOptions(preconditions=...)` with a
    UID so a retried delete never removes a newer object of the same name."""
    function = getattr(delete, "__name__", "delete")
    recovery, _ = _native.plan("DELETE", resource=function, missing_ok=missing_ok)
    retrier = Retrier(
        policy or Policy.preset("mutation"), function, verb="DELETE", recovery=recovery, sleep=sleep
    )
    return _dispatch(retrier, lambda: delete(*args, **kwargs))


def retry_on_conflict(
    fn: Callable[[], Any],
    *,
    policy: Policy | None = None,
    sleep: Sleep | None = None,
    retry_if: RetryIf | None = None,
) -> Any:
    """Re-runs a read-modify-write `fn` when it fails with Conflict (client-go's RetryOnConflict:
    5 attempts, 10 ms apart, jitter 0.1 by default). After a failure that leaves the write's outcome
    unknown (a lost response) it is not re-run: the change may have landed already.
    `retry_if(exc)` returning False vetoes a re-run; `sleep` does the waits."""
    retrier = Retrier(
        policy or Policy.preset("conflict"),
        getattr(fn, "__name__", "retry_on_conflict"),
        verb="PUT",
        recovery="retry_conflict",
        exclusive=False,  # wrapped calls in `fn` keep their own retries and recoveries
        sleep=sleep,
        retry_if=retry_if,
    )
    return _dispatch(retrier, fn)


def apply(
    patch_method: Callable[..., Any],
    *args: Any,
    body: Any,
    field_manager: str,
    force: bool = True,
    policy: Policy | None = None,
    sleep: Sleep | None = None,
    **kwargs: Any,
) -> Any:
    """Server-side apply: `patch_method(*args, body=body, field_manager=..., force=...,
    _content_type="application/apply-patch+yaml", **kwargs)` with retries. An apply is idempotent,
    so it is resent after a lost response too. `patch_method` is a client's patch method
    (`core.patch_namespaced_config_map`, `custom.patch_namespaced_custom_object`, or the same
    method of a `wrap_client` proxy); `body` is the whole intent with `apiVersion`, `kind` and
    `metadata.name`. The recommended create-or-update for named objects. Works with sync and async
    clients (await the result)."""
    if not field_manager:
        raise ValueError("apply needs a field_manager (the name that owns the applied fields)")
    method = getattr(patch_method, "_k8sretry_unwrapped", patch_method)  # retried here, not twice
    if policy is None:
        policy = getattr(patch_method, "_k8sretry_policy", None) or Policy.preset("mutation")
    function = getattr(method, "__name__", "apply")
    recovery, _ = _native.plan("PATCH", resource=function, patch_type="apply")
    args, kwargs, sent = copy.deepcopy(args), copy.deepcopy(kwargs), copy.deepcopy(body)
    kwargs.update(body=sent, field_manager=field_manager, force=force, _content_type=APPLY_PATCH)
    retrier = Retrier(policy, function, verb="PATCH", recovery=recovery, sleep=sleep)
    return _dispatch(retrier, lambda: method(*args, **kwargs))


def _dispatch(retrier: Retrier, attempt: Callable[[], Any]) -> Any:
    """Runs sync, or returns a coroutine when the first attempt returns an awaitable
    (kubernetes_asyncio methods return a coroutine)."""
    if retrier.exclusive and nested():  # inside another k8sretry retry loop: one attempt (Nested)
        return run_nested(retrier, attempt)
    started = time.monotonic()
    token = _ACTIVE.set(_SYNC) if retrier.exclusive else None
    try:
        first = attempt()
    except BaseException as exc:
        failed = exc
    else:
        if inspect.isawaitable(first):
            return retrier.finish_async(first, attempt, started)
        retrier.policy._native.succeeded(retrier.name)
        return first
    finally:
        if token is not None:
            _ACTIVE.reset(token)
    # Outside the `except` block: see Retrier.finish_async.
    return retrier.after_sync_failure(attempt, failed, started)
