"""End-to-end fixtures: the real kube-apiserver of tests/cluster, reached through the fault proxy."""

from __future__ import annotations

import json
import ssl
import subprocess
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import k8sretry
import pytest
from kubernetes import client, config

RUN = Path(__file__).resolve().parents[2] / "cluster" / ".run"
REPORT: dict[str, Any] = {"operations": 0, "faults": Counter(), "duplicates": 0, "started": time.monotonic()}


def cluster_env() -> dict[str, str]:
    """.run/env of the local cluster; stops the session unless tests/cluster/local-env.sh finds that
    .run is the throw-away apiserver up.sh started (loopback, its own token, live pids)."""
    done = subprocess.run([str(RUN.parent / "local-env.sh")], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.exit(f"{done.stderr.strip()}\nrun `make cluster-up` (make test-e2e does)", returncode=2)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


class Proxy:
    def __init__(self, url: str, cafile: str, token: str) -> None:
        """The proxy's control endpoints at `url`, its certificate verified against `cafile`, called
        with the control `token` (PROXY_TOKEN)."""
        self.url, self.token = url, token
        self.ssl = ssl.create_default_context(cafile=cafile)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/__k8sretry/{path}", data=data, method=method)
        request.add_header("X-K8sretry-Control-Token", self.token)
        with urllib.request.urlopen(request, context=self.ssl, timeout=10) as response:
            return json.loads(response.read())

    def plan(self, rules: list[dict[str, Any]], seed: int = 1) -> None:
        """Replaces the plan; the faults of the previous one go into the report first."""
        REPORT["faults"].update(e["fault"] for e in self.log())
        self._call("PUT", "plan", {"seed": seed, "rules": rules})

    def log(self) -> list[dict[str, Any]]:
        return self._call("GET", "log")  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "stats")  # type: ignore[no-any-return]


def api_client(kubeconfig: str) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    configuration.retries = False  # urllib3 would retry connection errors itself, 3 times
    return client.ApiClient(configuration)


@pytest.fixture(scope="session")
def env() -> dict[str, str]:
    return cluster_env()


@pytest.fixture
def proxy(env: dict[str, str]) -> Any:
    p = Proxy(env["PROXY"], env["PROXY_CA"], env["PROXY_TOKEN"])
    p.plan([])
    yield p
    p.plan([])


@pytest.fixture(scope="session")
def direct(env: dict[str, str]) -> client.CoreV1Api:
    """A client that bypasses the proxy: for setting up and checking, never faulted."""
    return client.CoreV1Api(api_client(env["KUBECONFIG"]))


@pytest.fixture(scope="session")
def faulted(env: dict[str, str]) -> client.CoreV1Api:
    """The raw client behind the fault proxy."""
    return client.CoreV1Api(api_client(env["KUBECONFIG_PROXY"]))


@pytest.fixture
def namespace(direct: client.CoreV1Api) -> str:
    """A fresh namespace per test (namespaces never finish deleting without a controller manager)."""
    name = f"e2e-py-{uuid.uuid4().hex[:8]}"
    direct.create_namespace({"metadata": {"name": name}})
    return name


def pytest_terminal_summary(terminalreporter: Any) -> None:
    metrics = k8sretry.metrics_text().splitlines()

    def total(prefix: str, containing: str = "") -> int:
        return sum(
            int(float(line.rsplit(" ", 1)[1]))
            for line in metrics
            if line.startswith(prefix) and containing in line
        )

    faults = ", ".join(f"{k} {v}" for k, v in sorted(REPORT["faults"].items())) or "none"
    terminalreporter.write_sep(
        "=", "k8sretry e2e report (Python: kubernetes, kubernetes_asyncio, lightkube, kr8s)"
    )
    terminalreporter.write_line(f"operations: {REPORT['operations']}")
    terminalreporter.write_line(f"faults injected: {sum(REPORT['faults'].values())} ({faults})")
    terminalreporter.write_line(f"retries: {total('k8sretry_retries_total')}")
    recovered = total("k8sretry_calls_total", 'outcome="recovered"')
    terminalreporter.write_line(f"recovered lost responses: {recovered}")
    terminalreporter.write_line(f"duplicates: {REPORT['duplicates']}")
    if "outage" in REPORT:
        terminalreporter.write_line(REPORT["outage"])
    terminalreporter.write_line(f"time: {time.monotonic() - REPORT['started']:.1f} s")
