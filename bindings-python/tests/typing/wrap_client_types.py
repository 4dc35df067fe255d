"""Checked by `mypy --strict` in tests/test_typing.py, never run: what a user's type checker and
editor see of `wrap_client(CoreV1Api())` and `retry_async`."""

import asyncio
from typing import reveal_type

from k8sretry import retry_async, wrap_client
from kubernetes.client import CoreV1Api, V1ConfigMap

core = wrap_client(CoreV1Api())
reveal_type(core)
reveal_type(core.read_namespaced_config_map)
config_map: V1ConfigMap = core.read_namespaced_config_map("a", "default")
core.read_namespaced_config_mapp("a", "default")  # misspelt: an error


async def read() -> int:
    return 1


async def main() -> None:
    reveal_type(await retry_async(read, max_retries=2))
    reveal_type(await retry_async(lambda: "x"))


asyncio.run(main())
