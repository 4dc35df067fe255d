"""Faults the real apiserver and etcd make, not the proxy: `kubernetes` (sync, in threads) and
`kubernetes_asyncio` through `wrap_client`, both at once against one kube-apiserver started by
tests/cluster/up-faults.sh (`make test-e2e-faults`), with no proxy in between:

- apf-429: API Priority and Fairness rejects the non-admin user's requests beyond one seat with a
  real 429 (`Retry-After`, a text/plain body, no Status): classified Throttled, the hint honoured.
- etcd-pause: etcd SIGSTOPped under creates; the apiserver answers 504 Timeout after its 2 s
  request timeout and some of those creates were stored anyway (named and generateName).
- etcd-restart: etcd SIGKILLed and started again: 504s and connections closed without an answer.
- apiserver-graceful: SIGTERM with --shutdown-delay-duration and --shutdown-send-retry-after, then
  started again. apiserver-kill: SIGKILL under load, then started again.

Every call must end successfully; afterwards the namespace holds exactly the expected objects:
none lost, none twice (one generateName object per request id). Skipped outside that profile.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import REPORT, RUN, api_client
from k8sretry import REQUEST_ID, Policy, wrap_client
from kubernetes import client

FAULT = Path(RUN).parent / "fault.sh"
CLIENTS = ["kubernetes", "kubernetes_asyncio"]

pytestmark = pytest.mark.skipif(
    not (RUN / "env").exists() or "K8SRETRY_PROFILE='faults'" not in (RUN / "env").read_text(),
    reason="needs the real-fault cluster profile (tests/cluster/up-faults.sh, make test-e2e-faults)",
)


class Stats:
    """What one client met in one scenario, from the engine's own events."""

    def __init__(self, flavour: str) -> None:
        self.flavour = flavour
        self.lock = threading.Lock()
        self.calls = 0
        self.retries = 0
        self.recovered = 0
        self.seen: Counter[str] = Counter()  # failures met, by status or code
        self.throttled_delays: list[float] = []
        self.failed: list[str] = []  # calls that gave up
        self.named: set[str] = set()  # named objects that must exist at the end
        self.deleted: set[str] = set()
        self.generated: dict[str, str] = {}  # generateName object name -> its request id

    def on_event(self, event: dict[str, Any]) -> None:
        with self.lock:
            if event["event"] == "k8s_api_call_failed_retrying":
                self.retries += 1
                what = event.get("status_code") or event.get("code") or event.get("error_type")
                self.seen[str(what)] += 1
                if event.get("class") == "Throttled":
                    self.throttled_delays.append(float(event["delay_seconds"]))
            elif event["event"] == "k8s_api_call_recovered_lost_response":
                self.recovered += 1


def policy(stats: Stats, **overrides: Any) -> Policy:
    """Retries that outlast each fault (about 40 s), no budget: every call must end."""
    keywords: dict[str, Any] = {
        "max_retries": 40,
        "initial_delay": 0.1,
        "max_delay": 1.0,
        "retry_after_cap": 5.0,
        "budget": None,
    }
    keywords.update(overrides)
    return Policy(**keywords, on_event=stats.on_event)


async def fault(action: str) -> float:
    process = await asyncio.create_subprocess_exec(str(FAULT), action, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    assert process.returncode == 0, f"fault.sh {action} failed"
    return float(out.split()[-1])


async def open_clients(
    kubeconfig: str, stats: dict[str, Stats], **overrides: Any
) -> tuple[dict[str, Any], Any]:
    """Both clients behind wrap_client; returns them and what closes them."""
    from kubernetes_asyncio import client as aclient
    from kubernetes_asyncio import config as aconfig

    sync_raw = api_client(kubeconfig)
    sync_raw.configuration.connection_pool_maxsize = 32
    sync_raw.rest_client = type(sync_raw.rest_client)(sync_raw.configuration)  # the pool size above
    configuration = aclient.Configuration()
    await aconfig.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    async_raw = aclient.ApiClient(configuration)
    # aiohttp sends a PUT or DELETE once more by itself when the connection drops (README): off.
    async_raw.rest_client.pool_manager._retry_connection = False
    apis = {
        "kubernetes": wrap_client(
            client.CoreV1Api(sync_raw), policy=policy(stats["kubernetes"], **overrides)
        ),
        "kubernetes_asyncio": wrap_client(
            aclient.CoreV1Api(async_raw), policy=policy(stats["kubernetes_asyncio"], **overrides)
        ),
    }

    async def close() -> None:
        await async_raw.close()
        sync_raw.close()

    return apis, close


async def call(flavour: str, method: Any, *args: Any, **kwargs: Any) -> Any:
    if flavour == "kubernetes":
        return await asyncio.to_thread(method, *args, **kwargs)
    return await method(*args, **kwargs)


async def worker(
    flavour: str, api: Any, namespace: str, w: int, stats: Stats, stop: asyncio.Event, rounds: int | None
) -> None:
    """Creates a named and a generateName ConfigMap, reads and patches the named one, deletes
    every third; until `stop` (or for `rounds`)."""
    k = 0
    while (k < rounds) if rounds is not None else not stop.is_set():
        name = f"n{w}-{k}"
        steps: list[tuple[str, Any, tuple[Any, ...]]] = [
            (
                "create",
                api.create_namespaced_config_map,
                (namespace, {"metadata": {"name": name}, "data": {"v": "1"}}),
            ),
            (
                "generate",
                api.create_namespaced_config_map,
                (namespace, {"metadata": {"generateName": f"g{w}-"}}),
            ),
            ("read", api.read_namespaced_config_map, (name, namespace)),
            ("patch", api.patch_namespaced_config_map, (name, namespace, {"data": {"v": "2"}})),
        ]
        if k % 3 == 2:
            steps.append(("delete", api.delete_namespaced_config_map, (name, namespace)))
        for step, method, args in steps:
            with stats.lock:
                stats.calls += 1
            try:
                result = await call(flavour, method, *args)
            except Exception as exc:  # noqa: BLE001 - a call that gave up is what this counts
                with stats.lock:
                    notes = "; ".join(getattr(exc, "__notes__", []))
                    stats.failed.append(f"{step} {name}: {exc!r} [{notes}]"[:600])
                break
            with stats.lock:
                if step == "create":
                    stats.named.add(name)
                elif step == "generate":
                    stats.generated[result.metadata.name] = result.metadata.annotations[REQUEST_ID]
                elif step == "read":
                    assert result.data == {"v": "1"}, result.data
                elif step == "delete":
                    stats.named.discard(name)
                    stats.deleted.add(name)
        k += 1
        await asyncio.sleep(0.05)


def check(direct: Any, namespace: str, stats: Stats) -> dict[str, Any]:
    """Lost: an object a call succeeded for and that is not there (calls that gave up are counted apart).
    Duplicates: objects beyond one per request id, or made by nobody's successful call."""
    items = direct.list_namespaced_config_map(namespace).items
    present = {cm.metadata.name: cm for cm in items}
    named = {n for n in present if n.startswith("n")}
    generated = {n for n in present if n.startswith("g")}
    ids = Counter(present[n].metadata.annotations.get(REQUEST_ID) for n in generated)
    lost = len(stats.named - named) + len(set(stats.generated) - generated)
    duplicates = sum(c - 1 for c in ids.values()) + len(generated - set(stats.generated))
    unexpected = named - stats.named  # a delete that said done, or a create nobody asked for
    assert all(present[n].data == {"v": "2"} for n in named), "every named object patched"
    return {"lost": lost, "duplicates": duplicates, "unexpected": len(unexpected)}


def run_scenario(
    name: str,
    env: dict[str, str],
    direct: Any,
    sequence: Any,
    *,
    kubeconfig_key: str = "KUBECONFIG",
    workers: int = 6,
    rounds: int | None = None,
    **overrides: Any,
) -> dict[str, tuple[Stats, dict[str, Any]]]:
    """Runs the workload of both clients (each in a namespace of its own) while `sequence` makes
    the fault; then checks every namespace and prints one line per client."""
    stats = {flavour: Stats(flavour) for flavour in CLIENTS}
    namespaces = {}
    for flavour in CLIENTS:
        namespaces[flavour] = (
            f"e2e-rf-{name}-{'sync' if flavour == 'kubernetes' else 'async'}-{uuid.uuid4().hex[:6]}"
        )
        direct.create_namespace({"metadata": {"name": namespaces[flavour]}})

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=4 * workers))
        apis, close = await open_clients(env[kubeconfig_key], stats, **overrides)
        stop = asyncio.Event()
        try:
            tasks = [
                asyncio.create_task(worker(f, apis[f], namespaces[f], w, stats[f], stop, rounds))
                for f in CLIENTS
                for w in range(workers)
            ]
            await sequence()
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
        finally:
            await close()

    started = time.monotonic()
    asyncio.run(main())
    took = time.monotonic() - started
    results = {}
    for flavour in CLIENTS:
        s = stats[flavour]
        figures = check(direct, namespaces[flavour], s)
        results[flavour] = (s, figures)
        REPORT["operations"] += s.calls
        REPORT["duplicates"] += figures["duplicates"]
        seen = ", ".join(f"{k} {v}" for k, v in sorted(s.seen.items())) or "none"
        line = (
            f"real-fault {name} [{flavour}]: calls {s.calls}, attempts {s.calls + s.retries} "
            f"(retries {s.retries}), failures met: {seen}; recovered {s.recovered}, "
            f"lost {figures['lost']}, duplicates {figures['duplicates']}, gave up {len(s.failed)}"
            f" ({took:.1f} s)"
        )
        REPORT.setdefault("real_faults", []).append(line)
        print(line)
    return results


def assert_clean(results: dict[str, tuple[Stats, dict[str, Any]]]) -> None:
    for flavour, (s, figures) in results.items():
        assert s.failed == [], (flavour, s.failed[:5])
        assert figures == {"lost": 0, "duplicates": 0, "unexpected": 0}, (flavour, figures)
        assert s.retries > 0, f"{flavour} met no fault at all"


def test_apf_429_from_the_real_apiserver(env: dict[str, str], direct: Any) -> None:
    # A tiny backoff (0.05 s doubling to 0.2 s): any delay of 1 s or more is APF's Retry-After.
    async def nothing() -> None:
        pass

    results = run_scenario(
        "apf-429",
        env,
        direct,
        nothing,
        kubeconfig_key="KUBECONFIG_USER",
        workers=10,
        rounds=3,
        max_retries=60,
        initial_delay=0.05,
        max_delay=0.2,
    )
    assert_clean(results)
    for flavour, (s, _) in results.items():
        assert s.seen["429"] > 0, f"{flavour}: APF never rejected a request"
        assert s.throttled_delays and min(s.throttled_delays) >= 1.0, (
            flavour,
            sorted(s.throttled_delays)[:5],
        )


def test_apf_429_extraction(env: dict[str, str]) -> None:
    """The real 429's shape (text/plain body, no Status) as each client raises it: Throttled,
    and its Retry-After read."""
    import k8sretry
    from kubernetes.client.exceptions import ApiException

    raw = api_client(env["KUBECONFIG_USER"])
    api = client.CoreV1Api(raw)
    errors: list[ApiException] = []

    def hammer() -> None:
        for _ in range(10):
            try:
                api.list_namespaced_config_map("default")
            except ApiException as exc:
                if exc.status == 429:
                    errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors, "APF never answered 429"
    exc = errors[0]
    body = exc.body.decode() if isinstance(exc.body, bytes) else exc.body
    assert exc.headers["Content-Type"].startswith("text/plain") and not body.lstrip().startswith("{"), body
    assert k8sretry.classify(exc) == "Throttled"
    assert k8sretry.parse_retry_after(exc.headers["Retry-After"]) >= 1.0


def test_etcd_pause_under_creates(env: dict[str, str], direct: Any) -> None:
    async def sequence() -> None:
        await asyncio.sleep(1.0)
        await fault("etcd-pause")
        await asyncio.sleep(3.0)
        await fault("etcd-resume")
        await asyncio.sleep(2.0)

    results = run_scenario("etcd-pause", env, direct, sequence, workers=8)
    assert_clean(results)
    for flavour, (s, _) in results.items():
        assert s.seen["504"] > 0, f"{flavour}: no 504 Timeout met"


def test_etcd_killed_and_restarted(env: dict[str, str], direct: Any) -> None:
    async def sequence() -> None:
        await asyncio.sleep(1.0)
        await fault("etcd-kill")
        await asyncio.sleep(3.0)
        await fault("etcd-start")
        await asyncio.sleep(2.0)

    assert_clean(run_scenario("etcd-restart", env, direct, sequence))


def test_apiserver_graceful_restart(env: dict[str, str], direct: Any) -> None:
    async def sequence() -> None:
        await asyncio.sleep(1.0)
        term = asyncio.create_task(fault("apiserver-term"))
        # Requests held in flight by a paused etcd when the 2 s shutdown delay ends: while the
        # apiserver drains them, new requests get 429 with Retry-After and Connection: close.
        await asyncio.sleep(1.5)
        await fault("etcd-pause")
        await asyncio.sleep(1.5)
        await fault("etcd-resume")
        await term
        await fault("apiserver-start")
        await asyncio.sleep(2.0)

    assert_clean(run_scenario("apiserver-graceful", env, direct, sequence))


def test_apiserver_hard_kill(env: dict[str, str], direct: Any) -> None:
    async def sequence() -> None:
        await asyncio.sleep(1.0)
        await fault("apiserver-kill")
        await asyncio.sleep(1.0)
        await fault("apiserver-start")
        await asyncio.sleep(2.0)

    assert_clean(run_scenario("apiserver-kill", env, direct, sequence))
