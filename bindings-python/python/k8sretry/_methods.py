"""What an API method of a generated client is: its verb by name, its parameters, how its
object is read back, and what a wrapper knows about a PATCH."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from ._driver import Reader
from ._stamp import REQUEST_ID, _judge_by_label, _judge_by_name

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
