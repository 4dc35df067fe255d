"""The process-wide settings that `configure(...)` sets and every call reads."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

EventHandler = Callable[[dict[str, Any]], object]

logger = logging.getLogger("k8sretry")
# The decorator k8sretry replaces logged its successes after a retry at INFO, and its users see
# them under `logging.basicConfig()` (root at WARNING): INFO unless the application set a level.
if logger.level == logging.NOTSET:
    logger.setLevel(logging.INFO)


class Settings:
    """The process-wide settings of `configure` that every call reads (the default policy is
    `_configure`'s)."""

    __slots__ = ("logger", "on_event")

    def __init__(self) -> None:
        self.logger: Any = None  # None: structlog when the application configured it, else `logger`
        self.on_event: EventHandler | None = None


SETTINGS = Settings()
