"""The nesting guard: whether code runs inside the attempt of another k8sretry retry loop."""

from __future__ import annotations

import asyncio
import contextvars

# Who is retrying right now in this context: `_SYNC` inside a sync retry loop, the asyncio task
# inside an async one. This is Python's "same logical task" marker: a k8sretry wrapper called while
# another one retries (a wrapped client's method inside a decorated function, a decorated function
# inside another) begins its call `nested`, and the engine makes it a single attempt that leaves
# the retries to the outer one (docs/design.md "Nesting"): attempts never multiply (4 x 4 = 16).
_ACTIVE: contextvars.ContextVar[object] = contextvars.ContextVar("k8sretry_active", default=None)
_SYNC = object()


def nested() -> bool:
    """Whether this code runs inside the attempt of another k8sretry retry loop (same thread, or
    same asyncio task: tasks started from inside the attempt retry on their own)."""
    owner = _ACTIVE.get()
    if owner is None:
        return False
    if owner is _SYNC:
        return True
    try:
        return owner is asyncio.current_task()
    except RuntimeError:  # no running loop: a sync call from a thread the task's context was copied to
        return False


def _owner() -> object:
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return _SYNC
    return task if task is not None else _SYNC
