"""What a give-up leaves on the exception it raises unchanged: notes (shown by Python 3.10 too)
and the attributes `k8sretry_give_up`, `k8sretry_attempts` and `k8sretry_retry_after`."""

from __future__ import annotations

import sys
from typing import Any

from . import _native


def _note(exc: BaseException, text: str) -> None:
    add_note = getattr(exc, "add_note", None)
    if add_note is not None:  # Python 3.11+
        add_note(text)
    else:
        notes = getattr(exc, "__notes__", None)
        if not isinstance(notes, list):
            notes = []
        notes.append(text)
        try:
            exc.__notes__ = notes  # type: ignore[attr-defined]
        except AttributeError:
            pass


_SHOWN_NOTES: dict[type, type] = {}


def _with_notes_shown(cls: type[BaseException]) -> type[BaseException]:
    """A subclass of `cls` (same name, module and qualified name) whose `str()` ends with the
    exception's `__notes__`, which Python 3.10 tracebacks do not print; pickled as `cls`."""
    shown = _SHOWN_NOTES.get(cls)
    if shown is None:
        base_str = cls.__str__
        base_reduce = cls.__reduce__

        def __str__(self: BaseException) -> str:
            notes = getattr(self, "__notes__", None)
            text = base_str(self)
            return "\n".join([text, *map(str, notes)]) if isinstance(notes, list) and notes else text

        def __reduce__(self: BaseException) -> Any:
            reduced = base_reduce(self)
            if isinstance(reduced, tuple) and reduced and reduced[0] is type(self):
                return (cls, *reduced[1:])
            return reduced

        namespace = {
            "__slots__": (),
            "__str__": __str__,
            "__reduce__": __reduce__,
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__,
            "_k8sretry_notes_shown": True,
        }
        shown = _SHOWN_NOTES[cls] = type(cls.__name__, (cls,), namespace)
    return shown


def _show_notes(exc: BaseException) -> None:
    """Python 3.10 does not print `__notes__` (3.11+ does): put them where its tracebacks look,
    the exception's `str()`. A class defined in Python gets a subclass of the same name that adds
    the notes to its `str()` (`isinstance`, `except` and `type(exc).__name__` are unchanged); a
    built-in exception gets them in its message (`strerror` of an OSError with an errno, else
    `args`)."""
    if sys.version_info >= (3, 11) or getattr(type(exc), "_k8sretry_notes_shown", False):
        return
    notes = getattr(exc, "__notes__", None)
    if not isinstance(notes, list) or not notes:
        return
    try:
        exc.__class__ = _with_notes_shown(type(exc))
        return
    except TypeError:  # a built-in type: its instances cannot change class
        pass
    text = "\n".join(map(str, notes))
    if isinstance(exc, OSError) and exc.errno is not None and exc.strerror is not None:
        exc.strerror = f"{exc.strerror}\n{text}"
    elif not exc.args:
        exc.args = (text,)
    elif len(exc.args) == 1 and isinstance(exc.args[0], str):
        exc.args = (f"{exc.args[0]}\n{text}",)
    else:
        exc.args = (*exc.args, text)


def _history(errors: list[BaseException], what: str) -> str:
    return "; ".join(f"{what} {i}: {type(e).__name__}: {e}"[:200] for i, e in enumerate(errors, 1))


_OUTCOME_NOTES = {
    "not_ours": "k8sretry: the object read back does not carry this call's request id: not adopted",
    "missing": "k8sretry: the read-back found no such object",
}


def _gave_up(
    exc: BaseException,
    call: _native.Call,
    reason: str | None,
    earlier: list[BaseException],
    last_read: str | None,
    read_errors: list[BaseException],
) -> None:
    """Attaches what happened to the request's last exception, which is then raised unchanged:
    notes, and the attributes `k8sretry_give_up` (the reason), `k8sretry_attempts` and
    `k8sretry_retry_after` (seconds until the whole call may be tried again, after a give-up on a
    retryable failure; else None)."""
    if earlier:
        _note(exc, f"k8sretry: earlier attempts: {_history(earlier, 'attempt')}")
    if read_errors:
        _note(exc, f"k8sretry: read-backs failed: {_history(read_errors, 'read')}")
    if last_read in _OUTCOME_NOTES:
        _note(exc, _OUTCOME_NOTES[last_read])
    again_in = call.retry_after
    again = f"; try the call again in {again_in:.3g} s" if again_in is not None else ""
    _note(exc, f"k8sretry: gave up after {call.attempts} attempt(s): {reason}{again}")
    for attr, value in (
        ("k8sretry_give_up", reason),
        ("k8sretry_attempts", call.attempts),
        ("k8sretry_retry_after", again_in),
    ):
        try:
            setattr(exc, attr, value)
        except (AttributeError, TypeError):
            pass
    _show_notes(exc)


def retry_after(exc: BaseException) -> float | None:
    """Seconds until a call that k8sretry gave up on may be tried again as a whole (the server's
    hint or the next backoff), for a requeue (`kopf.TemporaryError(delay=...)`, a reconciler's
    RequeueAfter). None when the call did not give up on a retryable failure (a 404, a 409, a
    write whose outcome is unknown...) or the exception did not come through k8sretry."""
    value = getattr(exc, "k8sretry_retry_after", None)
    return value if isinstance(value, float) else None
