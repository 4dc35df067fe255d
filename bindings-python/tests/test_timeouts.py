"""Client-side timeouts are retried; only a cancellation of the calling task is a cancellation.

`asyncio.wait_for`, `asyncio.timeout`, `anyio.fail_after` and aiohttp's timeouts (kubernetes_asyncio's
`_request_timeout`) raise a TimeoutError whose `__cause__` is the CancelledError they stopped the
awaited call with: that is a timeout (retried), not the caller cancelling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import k8sretry
import pytest
from k8sretry import Policy, retry_on_connection_error, retry_on_k8s_error, wrap_client

FAST: dict[str, Any] = dict(initial_delay=0.001, max_delay=0.002, budget=None)


async def hang() -> None:
    await asyncio.sleep(3600)


async def with_wait_for() -> None:
    await asyncio.wait_for(hang(), 0.01)


async def with_asyncio_timeout() -> None:
    async with asyncio.timeout(0.01):
        await hang()


async def with_anyio_fail_after() -> None:
    with anyio.fail_after(0.01):
        await hang()


TIMEOUTS: dict[str, Callable[[], Awaitable[None]]] = {
    "asyncio.wait_for": with_wait_for,
    "asyncio.timeout": with_asyncio_timeout,
    "anyio.fail_after": with_anyio_fail_after,
}


@pytest.mark.parametrize("how", list(TIMEOUTS))
@pytest.mark.parametrize("retry_on", [(), (TimeoutError, ConnectionError)])
def test_an_asyncio_timeout_is_retried(how: str, retry_on: tuple[type[BaseException], ...]) -> None:
    attempts: list[int] = []

    @retry_on_k8s_error(retry_on=retry_on, **FAST)
    async def read() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            await TIMEOUTS[how]()
        return "ok"

    async def main() -> None:
        assert await read() == "ok"

    asyncio.run(main())
    assert len(attempts) == 3


def test_a_timeout_is_classified_as_a_timeout_not_a_cancellation() -> None:
    async def main() -> None:
        for how, timeout in TIMEOUTS.items():
            with pytest.raises(TimeoutError) as info:
                await timeout()
            inner = info.value.__cause__ or info.value.__context__  # anyio: the implicit context
            assert isinstance(inner, asyncio.CancelledError), how
            failure = k8sretry.failure_from_exception(info.value)
            assert failure.timeout and not failure.cancelled, how
            assert k8sretry.classify(info.value) == "NetworkAmbiguous", how

    asyncio.run(main())


def test_cancelling_the_calling_task_is_never_retried() -> None:
    attempts: list[int] = []

    @retry_on_k8s_error(retry_on=(TimeoutError, asyncio.CancelledError), **FAST)
    async def read() -> None:
        attempts.append(1)
        await hang()

    async def main() -> None:
        task = asyncio.create_task(read())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert attempts == [1]


def test_a_timeout_while_the_task_is_being_cancelled_is_a_cancellation() -> None:
    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            pass
        # Still cancelling (not uncancelled): whatever fails now is the cancellation.
        assert k8sretry.failure_from_exception(TimeoutError()).cancelled
        task.uncancel()
        assert not k8sretry.failure_from_exception(TimeoutError()).cancelled

    asyncio.run(main())


def test_kubernetes_asyncio_request_timeout_is_retried(apiserver: Any) -> None:
    from kubernetes_asyncio import client

    apiserver.objects[("default", "slow")] = {"metadata": {"name": "slow", "namespace": "default"}}
    apiserver.fault("GET", ("slow", 0.5))

    async def main() -> None:
        configuration = client.Configuration(host=apiserver.url)
        async with client.ApiClient(configuration) as api_client:
            api = wrap_client(client.CoreV1Api(api_client), policy=Policy(**FAST))
            read = await api.read_namespaced_config_map("slow", "default", _request_timeout=0.1)
            assert read.metadata.name == "slow"

    asyncio.run(main())
    assert len(apiserver.requests) == 2


def test_a_bare_connection_error_is_retried_by_retry_on_connection_error() -> None:
    import aiohttp

    for error in (ConnectionError("the connection broke"), aiohttp.ClientConnectionError("closed")):
        attempts: list[int] = []

        @retry_on_connection_error(**FAST)
        def call(error: BaseException = error, attempts: list[int] = attempts) -> str:
            attempts.append(1)
            if len(attempts) < 3:
                raise error
            return "ok"

        assert call() == "ok"
        assert len(attempts) == 3, error
        assert k8sretry.classify(error) == "NetworkAmbiguous"
    # A more precise code found in the chain decides.
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None),
        ConnectionRefusedError(111, "Connection refused"),
    )
    assert k8sretry.classify(refused) == "NetworkNotSent"
