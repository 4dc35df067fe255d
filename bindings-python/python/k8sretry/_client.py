"""wrap_client: a proxy whose API methods retry by verb (DESIGN §4).

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
import uuid
from collections.abc import Callable
from typing import Any, TypeVar, cast

from . import _native
from ._bound import Hooks, _Bound
from ._configure import default_policy
from ._driver import Reader, Retrier, Sleep, _dispatch, run_nested
from ._methods import _is_stream, _Method, _patch_facts, _verb_of
from ._nesting import nested
from ._policy import Policy
from ._stamp import _meta_field, stamp

T = TypeVar("T")


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
            # Found by the next lookup without a miss (a miss raises and catches AttributeError
            # inside Python, ~1 us); each attempt still looks the client's method up again.
            object.__setattr__(self, name, wrapped)
        return wrapped

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._api, name, value)

    def __dir__(self) -> list[str]:
        return dir(self._api)

    def __repr__(self) -> str:
        return f"wrap_client({self._api!r})"

    def _wrap(self, name: str) -> Callable[..., Any]:
        api, policy, sleep = self._api, self._policy, self._sleep
        method = getattr(api, name)
        known = _verb_of(name)
        if known is None:
            # A method whose verb its name does not tell: a write without recovery (retried only
            # when the failure shows the request was not carried out).
            verb, recovery = "POST", "none"
        elif known[0] in ("GET", "LIST", "DELETE"):
            # What the engine needs to know of reads and deletes does not depend on the arguments.
            verb, recovery = known[0], _native.plan(known[0], resource=name)[0]
        else:
            return self._wrap_write(name, method, _Method(api, name, known[0], known[1]))
        # A request that needs no preparation: its loop and success path are prepared once, the
        # first attempt native (`_native.FirstAttempt`), as for a decorated function.
        hooks = _MethodHooks(api, name, verb, policy)
        bound = _Bound(
            policy,
            lambda chosen: Retrier(chosen, name, verb=verb, recovery=recovery, sleep=sleep),
            api,
            hooks,
            method=name,
            any_awaitable=True,
        )
        run = bound.first.run

        @functools.wraps(method)
        def invoke(*args: Any, **kwargs: Any) -> Any:
            return run(args, kwargs)

        hooks.invoke = invoke
        invoke._k8sretry_unwrapped = method  # type: ignore[attr-defined]
        invoke._k8sretry_policy = policy  # type: ignore[attr-defined]
        return invoke

    def _wrap_write(self, name: str, method: Callable[..., Any], info: _Method) -> Callable[..., Any]:
        """A create, replace or patch: stamped and planned per request (`_write`)."""
        api, policy, adopt_existing, sleep = self._api, self._policy, self._adopt_existing, self._sleep
        to_dict = getattr(getattr(api, "api_client", None), "sanitize_for_serialization", None)

        @functools.wraps(method)
        def invoke(*args: Any, **kwargs: Any) -> Any:
            if kwargs and not _SPECIAL.isdisjoint(kwargs):
                special = _special(api, name, info.verb, policy, invoke, args, kwargs)
                if special is not _PLAIN:
                    return special
            if nested():
                return _nested(api, name, info.verb, policy, args, kwargs)
            return _write(api, name, info, args, kwargs, policy, adopt_existing, sleep, to_dict)

        invoke._k8sretry_unwrapped = method  # type: ignore[attr-defined]
        invoke._k8sretry_policy = policy  # type: ignore[attr-defined]
        return invoke


# The keywords that make a call special: a stream (`watch`, `follow`, `_preload_content=False`),
# never retried, or `async_req=True`, retried in the client's thread pool (`_native.FirstAttempt`
# is given them through the hooks' `special_keywords`).
_SPECIAL = frozenset(("watch", "follow", "_preload_content", "async_req"))
_PLAIN: Any = object()


class _MethodHooks(Hooks):
    """A read's (or delete's): any awaitable result is awaited (kubernetes_asyncio), and the
    `_SPECIAL` keywords are looked for."""

    __slots__ = ("api", "name", "verb", "policy", "invoke")
    plain = _PLAIN
    special_keywords = _SPECIAL

    def __init__(self, api: Any, name: str, verb: str, policy: Policy | None) -> None:
        super().__init__()
        self.api, self.name, self.verb, self.policy = api, name, verb, policy
        self.invoke: Callable[..., Any]

    def again(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[[], Any]:
        return functools.partial(_again, self.api, self.name, args, kwargs)

    def special(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return _special(self.api, self.name, self.verb, self.policy, self.invoke, args, kwargs)

    def nested(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return _nested(self.api, self.name, self.verb, self.policy, args, kwargs)


def _special(
    api: Any,
    name: str,
    verb: str,
    policy: Policy | None,
    invoke: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """A call with one of the `_SPECIAL` keywords: its result, or `_PLAIN` when the values make
    it an ordinary call after all (`watch=False`)."""
    if _is_stream(kwargs):
        return getattr(api, name)(*args, **kwargs)
    if not kwargs.get("async_req"):
        return _PLAIN
    if nested():
        return _nested(api, name, verb, policy, args, kwargs)
    return _in_thread_pool(api, invoke, args, kwargs)


def _nested(
    api: Any, name: str, verb: str, policy: Policy | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Inside another k8sretry retry loop: one attempt, the engine says (Nested)."""
    retrier = Retrier(policy or default_policy(), name, verb=verb)
    return run_nested(retrier, functools.partial(_again, api, name, args, kwargs))


def _again(api: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """One more attempt: the client's method as it is now (a test may have patched it)."""
    return getattr(api, name)(*args, **kwargs)


def _write(
    api: Any,
    name: str,
    info: _Method,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    policy: Policy | None,
    adopt_existing: bool,
    sleep: Sleep | None,
    to_dict: Callable[[Any], Any] | None,
) -> Any:
    """A create, replace or patch: stamped and planned per request, then run by the shared loop."""
    # A retry sends exactly the original request, whatever the caller mutates meanwhile.
    args, kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
    args, kwargs, recovery, reader = _prepare_write(api, info, args, kwargs, adopt_existing, to_dict)
    retrier = Retrier(
        policy or default_policy(), name, verb=info.verb, recovery=recovery, reader=reader, sleep=sleep
    )

    return _dispatch(retrier, functools.partial(_again, api, name, args, kwargs))


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
    context = contextvars.copy_context()  # the caller's context (a trace span) goes with the call
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
