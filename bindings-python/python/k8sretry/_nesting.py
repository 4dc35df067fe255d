"""The nesting guard: whether code runs inside the attempt of another k8sretry retry loop."""

from __future__ import annotations

import asyncio
from typing import Any

from ._native import thread_inside

# Who is inside the attempt of a k8sretry retry loop right now. A thread inside a sync attempt is
# marked natively (`_native.thread_enter` / `thread_leave` / `thread_inside`: a thread-local flag,
# per greenlet under gevent): a blocked thread runs nothing else. An asyncio task inside an async
# attempt is here: tasks interleave on a thread, a task runs one thing at a time. A k8sretry
# wrapper called while its thread or its task is inside begins its call `nested`, and the engine
# makes it a single attempt that leaves the retries to the outer one (docs/design.md "Nesting"):
# attempts never multiply (4 x 4 = 16). Tasks started from inside an attempt are not here: they
# retry on their own.
RUNNING: set[Any] = set()

_running_loop = asyncio._get_running_loop  # None outside a loop, where current_task() would raise


def current_task() -> asyncio.Task[Any] | None:
    """The asyncio task running this code, or None (no loop, or a coroutine driven by hand)."""
    loop = _running_loop()
    return None if loop is None else asyncio.current_task(loop)


def nested() -> bool:
    """Whether this code runs inside the attempt of another k8sretry retry loop (same thread, or
    same asyncio task)."""
    if thread_inside():
        return True
    task = current_task()
    return task is not None and task in RUNNING
