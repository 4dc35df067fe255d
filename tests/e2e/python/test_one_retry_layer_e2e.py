"""One retry layer: under `wrap_client`, the official client's own retries and kubernetes_asyncio's
are switched off, so the requests the fault proxy counts equal the engine's attempts (its metrics:
calls + retries). Each client is made the way a user turns its own retries on: `kubernetes` with
urllib3's default `Retry` (`Configuration.retries = None`: 3 connection retries) and
`client_go_retries = True` (GETs resent on a 429 / 5xx with Retry-After), `kubernetes.aio` with
`retries = 3` (aiohttp_retry) and `client_go_retries = True`, kubernetes_asyncio as it comes
(aiohttp's own resend after a dropped connection). lightkube and kr8s: test_httpx_clients_e2e.py.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
from conftest import REPORT, Proxy
from k8sretry import Policy, metrics_text, wrap_client

POLICY = Policy(max_retries=3, initial_delay=0.01, max_delay=0.05, retry_after_cap=0.1, budget=None)
CLIENTS = ["kubernetes", "kubernetes.aio", "kubernetes_asyncio"]


def engine_attempts() -> int:
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in metrics_text().splitlines()
        if line.startswith(("k8sretry_calls_total{", "k8sretry_retries_total{"))
    )


async def done(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


async def core_api(flavour: str, kubeconfig: str) -> tuple[Any, Any]:
    """A CoreV1Api of `flavour` with the client's own retries on, and what closes it."""
    if flavour == "kubernetes":
        from kubernetes import client, config

        configuration = client.Configuration()
        config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        configuration.retries = None  # urllib3's default Retry: connection errors resent 3 times
        configuration.client_go_retries = True
        raw = client.ApiClient(configuration)
        return client.CoreV1Api(raw), raw.close
    if flavour == "kubernetes.aio":
        from kubernetes.aio import client, config  # type: ignore[no-redef]

        configuration = client.Configuration()
        await config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        configuration.retries = 3  # aiohttp_retry's RetryClient
        configuration.client_go_retries = True
        raw = client.ApiClient(configuration)
        return client.CoreV1Api(raw), raw.close
    from kubernetes_asyncio import client, config  # type: ignore[no-redef]

    configuration = client.Configuration()
    await config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    raw = client.ApiClient(configuration)
    return client.CoreV1Api(raw), raw.close


@pytest.mark.parametrize("flavour", CLIENTS)
def test_attempts_at_the_server_equal_the_engines(
    flavour: str, env: dict[str, str], proxy: Proxy, direct: Any, namespace: str
) -> None:
    direct.create_namespaced_config_map(namespace, {"metadata": {"name": "counted"}, "data": {"v": "1"}})
    counted: list[tuple[str, int, int]] = []

    async def run() -> None:
        raw, close = await core_api(flavour, env["KUBECONFIG_PROXY"])
        api = wrap_client(raw, policy=POLICY)
        cases = [
            # three 503s with Retry-After (client_go_retries would resend them), then the answer
            (
                "503 with Retry-After",
                [
                    {
                        "method": "GET",
                        "path": "/configmaps/counted",
                        "fault": "503",
                        "count": 3,
                        "retry_after": "0",
                    }
                ],
                True,
            ),  # fmt: skip
            # every connection closed before an answer (urllib3 / aiohttp_retry would resend)
            (
                "connection closed",
                [{"method": "GET", "path": "/configmaps/counted", "fault": "drop_before"}],
                False,
            ),
            # a PUT whose connection is closed before it is read (aiohttp would resend a PUT)
            ("PUT closed", [{"method": "PUT", "path": "/configmaps/counted", "fault": "drop_before"}], False),
        ]
        for what, rules, succeeds in cases:
            proxy.plan(rules)
            before = engine_attempts()
            try:
                if what.startswith("PUT"):
                    body = {"metadata": {"name": "counted"}, "data": {"v": "2"}}
                    await done(api.replace_namespaced_config_map("counted", namespace, body))
                else:
                    await done(api.read_namespaced_config_map("counted", namespace))
                ok = True
            except Exception:  # noqa: BLE001 - the client's own error after the engine gave up
                ok = False
            assert ok is succeeds, what
            counted.append((what, proxy.stats()["requests"], engine_attempts() - before))
        await done(close())

    asyncio.run(run())
    REPORT["operations"] += len(counted)
    for what, at_proxy, by_engine in counted:
        assert at_proxy == by_engine == 4, (
            f"{flavour}, {what}: {at_proxy} at the proxy, {by_engine} by the engine"
        )
