"""The idempotent-write helpers: `create_idempotent`, `delete_idempotent`, `retry_on_conflict`
and `apply` (DESIGN §4)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

from . import _native
from ._driver import Reader, Retrier, RetryIf, Sleep, _dispatch
from ._policy import Policy
from ._stamp import _judge_by_name, _meta_field, stamp

APPLY_PATCH: str = _native.APPLY_PATCH


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
