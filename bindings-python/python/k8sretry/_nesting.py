"""The nesting guard: whether code runs inside the attempt of another k8sretry retry loop."""

from __future__ import annotations

import _thread
import asyncio
import contextvars

# Inside a sync retry loop's attempt: the threads (`threading.get_ident()`, looked up at call time
# so that under gevent it is the greenlet) that run one now, each with the time its first attempt
# started when the policy has a deadline (else None). A dict entry per thread costs the success
# path a fraction of a contextvar's set and reset (each builds a new context), and a blocked
# thread runs nothing else: a wrapper called while its thread is in this dict is nested.
RUNNING: dict[int, float | None] = {}

# Inside an async retry loop's attempt: the asyncio task that owns it (tasks interleave on one
# thread, so the marker is the task's context). `_SYNC` when a coroutine is driven without a task.
# A k8sretry wrapper called while its thread or task is in a retry loop begins its call `nested`,
# and the engine makes it a single attempt that leaves the retries to the outer one
# (docs/design.md "Nesting"): attempts never multiply (4 x 4 = 16).
_ACTIVE: contextvars.ContextVar[object] = contextvars.ContextVar("k8sretry_active", default=None)
_SYNC = object()


def nested() -> bool:
    """Whether this code runs inside the attempt of another k8sretry retry loop (same thread, or
    same asyncio task: tasks started from inside the attempt retry on their own)."""
    return _thread.get_ident() in RUNNING or in_async_attempt(_ACTIVE.get())


def in_async_attempt(owner: object) -> bool:
    """Whether `owner` (the value of `_ACTIVE`) is this code's own task, or a coroutine's loop
    without a task."""
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
