"""One Python client process of the fleet scenario (tests/e2e/go/fleet_e2e_test.go starts 20 of
these beside 20 Go ones): the `kubernetes` client through k8sretry's `wrap_client`, its own
process-wide retry budget, reading one ConfigMap through the fault proxy at FLEET_RATE calls per
second (a random phase), each call in a thread of its own with the policy FLEET_POLICY (JSON, with
the deadline that must outlast the outage).

Protocol on stdin/stdout: prints `READY` once the client is built, waits for a line `GO <unix time>`,
makes calls from then on for FLEET_SECONDS, waits for every call to end, and prints one line
`FLEET {json}`: the calls as `[start, end, ok, give_up reason or null, attempts]` (unix seconds), the requests
it sent (counted at its REST client, one per attempt), and the engine's events by name."""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import k8sretry
from kubernetes import client, config


def main() -> None:
    kubeconfig = os.environ["FLEET_KUBECONFIG"]
    namespace = os.environ["FLEET_NAMESPACE"]
    rate = float(os.environ["FLEET_RATE"])
    seconds = float(os.environ["FLEET_SECONDS"])
    events: Counter[str] = Counter()
    lock = threading.Lock()

    def on_event(event: dict[str, Any]) -> None:
        with lock:
            events[event["event"]] += 1

    # The engine's lines would be thousands of warnings on stderr: counted, not logged.
    k8sretry.configure(logger=False)
    policy = k8sretry.Policy.from_json(os.environ["FLEET_POLICY"], on_event=on_event)
    configuration = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    configuration.retries = False  # urllib3 would retry connection errors itself
    configuration.connection_pool_maxsize = 128  # calls wait in parallel during the outage
    api_client = client.ApiClient(configuration)
    rest = api_client.rest_client
    sent = [0]
    plain_request = rest.request
    mine = threading.local()  # the attempts of the call running on this thread

    def counting_request(*args: Any, **kwargs: Any) -> Any:
        with lock:
            sent[0] += 1
        mine.attempts += 1
        return plain_request(*args, **kwargs)

    rest.request = counting_request  # one per attempt: what the proxy should count from us
    api = k8sretry.wrap_client(client.CoreV1Api(api_client), policy=policy)
    calls: list[list[Any]] = []

    def one() -> None:
        record: list[Any] = [time.time(), None, False, None, 0]
        mine.attempts = 0
        with lock:
            calls.append(record)
        try:
            api.read_namespaced_config_map("target", namespace)
            record[2] = True
        except Exception as exc:  # noqa: BLE001 - the outcome is what is measured
            record[3] = getattr(exc, "k8sretry_give_up", None) or type(exc).__name__
        record[1] = time.time()
        record[4] = mine.attempts

    print("READY", flush=True)
    line = sys.stdin.readline().split()
    if len(line) != 2 or line[0] != "GO":
        raise SystemExit(f"fleet_client: expected `GO <unix time>`, got {line!r}")
    start = float(line[1]) + random.random() / rate
    total = int(seconds * rate)
    with ThreadPoolExecutor(max_workers=256) as pool:
        for i in range(total):
            delay = start + i / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one)
    api_client.close()
    report = {"lang": "python", "calls": calls, "sent": sent[0], "events": events}
    print("FLEET " + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
