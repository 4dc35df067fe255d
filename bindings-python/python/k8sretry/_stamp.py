"""Stamping a write's body with its request id, and judging what a read-back found by it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from . import _native

REQUEST_ID: str = _native.REQUEST_ID


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
