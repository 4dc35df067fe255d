"""`make demo` cleans up after SIGHUP (the terminal closed), SIGTERM, and a second Ctrl-C.

examples/demo.py runs in a process group of its own, as a job on a terminal does, against stand-ins:
a tests/cluster of fake scripts (the local cluster "starts"; down.sh records that it ran), a Kubernetes
client that records namespace creates and deletes (a delete takes a second), and a workload that
sleeps. Once the first namespace exists the whole group gets the signal(s) a terminal sends; the
demo must still delete that namespace and run down.sh. No apiserver, no network.
Run by `make test-cluster`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

DRIVER = """
import importlib.util, sys, time
from pathlib import Path

tmp, root = Path(sys.argv[1]), Path(sys.argv[2])
spec = importlib.util.spec_from_file_location("k8sretry_demo", root / "examples" / "demo.py")
demo = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = demo
spec.loader.exec_module(demo)
demo.CLUSTER = tmp / "cluster"
demo.RUN = demo.CLUSTER / ".run"
demo.RUN_EXTERNAL = demo.CLUSTER / ".run-external"


def note(line):
    with open(tmp / "events", "a") as f:
        f.write(line + "\\n")


class Core:
    def __init__(self, *args, **kwargs):
        pass

    def create_namespace(self, body):
        note("create " + body["metadata"]["name"])

    def delete_namespace(self, name):
        note("deleting " + name)
        time.sleep(1)
        note("deleted " + name)


class Proxy:
    def __init__(self, *args):
        pass

    def call(self, method, path, body=None):
        return {"requests": 0} if path == "stats" else []


demo.client.CoreV1Api = Core
demo.client.ApiClient = lambda *args, **kwargs: None
demo.config.load_kube_config = lambda client_configuration, **kwargs: setattr(
    client_configuration, "host", "http://localhost"
)
demo.Proxy = Proxy
sys.exit(demo.main())
"""

# The local cluster is not running (status.sh), up.sh "starts" it, local-env.sh vouches for it.
ENV = {
    "KUBECONFIG": "x",
    "K8S_API": "http://localhost",
    "PROXY": "https://127.0.0.1:1",
    "PROXY_CA": "/dev/null",
    "KUBECONFIG_PROXY": "x",
    "PROXY_TOKEN": "x",
}
SCRIPTS = {
    "status.sh": "exit 1",
    "up.sh": "mkdir -p $here/.run; "
    f"printf '%s\\n' {' '.join(f'{k}={v}' for k, v in ENV.items())} >$here/.run/env",
    "local-env.sh": f"echo '{json.dumps(ENV)}'",
    "proxy.sh": "true",
    "down.sh": 'sleep 0.5; echo "down.sh $*" >> "$here/../events"',
}


def start_demo(tmp_path: Path) -> subprocess.Popen[str]:
    cluster = tmp_path / "cluster"
    cluster.mkdir()
    for name, body in SCRIPTS.items():
        (cluster / name).write_text(f'#!/usr/bin/env bash\nhere=$(cd "$(dirname "$0")" && pwd)\n{body}\n')
        (cluster / name).chmod(0o755)
    (tmp_path / "driver.py").write_text(DRIVER)
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "K8SRETRY_DEMO_YES")}
    env.update({f"K8SRETRY_DEMO_{lang.upper()}": "sleep 30" for lang in ("python", "node", "go", "rust")})
    demo = subprocess.Popen(
        [sys.executable, str(tmp_path / "driver.py"), str(tmp_path), str(ROOT)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, which the signals go to, as from a terminal
    )
    wait_for(tmp_path, "create demo-python-")
    return demo


def events(tmp_path: Path) -> str:
    path = tmp_path / "events"
    return path.read_text() if path.exists() else ""


def wait_for(tmp_path: Path, text: str) -> None:
    deadline = time.monotonic() + 30
    while text not in events(tmp_path):
        assert time.monotonic() < deadline, f"never saw {text!r}: {events(tmp_path)!r}"
        time.sleep(0.05)


def assert_cleaned_up(tmp_path: Path, demo: subprocess.Popen[str]) -> None:
    output, _ = demo.communicate(timeout=30)
    log = events(tmp_path)
    namespace = log.split("create ", 1)[1].split()[0]
    assert f"deleted {namespace}\n" in log, output + log
    assert "down.sh \n" in log, output + log  # the local cluster the demo started is stopped
    assert demo.returncode != 0


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
def test_a_hangup_or_term_cleans_up(tmp_path: Path, signum: int) -> None:
    demo = start_demo(tmp_path)
    os.killpg(demo.pid, signum)
    assert_cleaned_up(tmp_path, demo)


@pytest.mark.parametrize("second", [signal.SIGINT, signal.SIGHUP])
def test_a_second_signal_during_the_cleanup_does_not_cut_it_short(tmp_path: Path, second: int) -> None:
    demo = start_demo(tmp_path)
    os.killpg(demo.pid, signal.SIGINT)
    wait_for(tmp_path, "deleting ")
    os.killpg(demo.pid, second)  # impatient: Ctrl-C again, or the terminal closed
    time.sleep(0.2)
    os.killpg(demo.pid, signal.SIGINT)
    assert_cleaned_up(tmp_path, demo)
