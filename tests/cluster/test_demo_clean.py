"""`make demo-clean` (examples/demo.py clean) deletes what a demo cut short by `kill -9` left behind.

Against the local apiserver (up.sh, reused when it runs; stopped at the end as test-e2e does): two
namespaces labelled k8sretry.dev/demo-run as the demo labels its own, and one without the label.
With $KUBECONFIG naming a cluster and no consent, nothing is deleted; with consent
(K8SRETRY_DEMO_YES=1), and without $KUBECONFIG (the local cluster, no question), exactly the
labelled ones are deleted. A .run-external a run left behind is removed. Needs kube-apiserver and etcd
(up.sh builds them once, cached). Run by `make test-cluster`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

HERE = Path(__file__).resolve().parent
DEMO = HERE.parents[1] / "examples" / "demo.py"
LABEL = "k8sretry.dev/demo-run"


@pytest.fixture
def core() -> Iterator[client.CoreV1Api]:
    subprocess.run([str(HERE / "up.sh")], check=True, stdout=subprocess.DEVNULL)
    try:
        env = json.loads(subprocess.run([str(HERE / "local-env.sh")], check=True, capture_output=True).stdout)
        configuration = client.Configuration()
        config.load_kube_config(config_file=env["KUBECONFIG"], client_configuration=configuration)
        yield client.CoreV1Api(client.ApiClient(configuration))
    finally:
        subprocess.run([str(HERE / "down.sh")], check=False)


def clean(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "K8SRETRY_DEMO_YES")}
    return subprocess.run(
        [sys.executable, str(DEMO), "clean"],
        env={**base, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def deleting(core: client.CoreV1Api, names: list[str]) -> list[bool]:
    return [core.read_namespace(name).metadata.deletion_timestamp is not None for name in names]


def test_demo_clean_deletes_only_labelled_namespaces(core: client.CoreV1Api) -> None:
    run = uuid.uuid4().hex[:8]
    names = [f"demo-python-{run}", f"demo-go-{run}", f"not-demo-{run}"]
    for name in names:
        labels = {LABEL: run} if name.startswith("demo-") else {"app": "mine"}
        core.create_namespace({"metadata": {"name": name, "labels": labels}})
    kubeconfig = str(HERE / ".run" / "kubeconfig")

    refused = clean(KUBECONFIG=kubeconfig)  # a "user's" cluster, nobody said yes
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "deletes every namespace labelled k8sretry.dev/demo-run" in refused.stdout
    assert deleting(core, names) == [False, False, False]

    external = HERE / ".run-external"
    external.mkdir(mode=0o700, exist_ok=True)  # what a run against a user's cluster left
    done = clean()  # the local cluster: no question
    assert done.returncode == 0, done.stdout + done.stderr
    assert deleting(core, names) == [True, True, False]
    assert f"demo-python-{run}" in done.stdout and not external.exists()

    # Namespaces already being deleted (no controller manager here finishes it) are not listed again.
    again = clean(KUBECONFIG=kubeconfig, K8SRETRY_DEMO_YES="1")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"demo-python-{run}" not in again.stdout.split("left behind:", 1)[1]
