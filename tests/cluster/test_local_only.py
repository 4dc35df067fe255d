"""Nothing takes another cluster for the local one, and nothing kills a process that is not ours.

The scripts are copied into a temporary tests/cluster (their .run is beside them), so the worktree's
own cluster is never touched. A fake "user" apiserver (HTTPS with a certificate of a throw-away CA)
answers /readyz "ok" to anyone, as a real cluster's anonymous /readyz does:

- a .run/env that `make demo` left for a user's cluster (as it wrote it before: KUBECONFIG the
  user's file, K8S_API the user's server, no token) is not the local cluster for status.sh (which
  up.sh asks before it says "already running"), local-env.sh, or the Python e2e suite's fixture;
- nor is a .run made to look local (loopback URL, tokens.csv with the token, .run's own kubeconfig
  and CA) whose pidfiles name live processes that are not a kube-apiserver and etcd up.sh started;
- down.sh, fault.sh and apiserver.sh leave alone a live process whose pid a stale pidfile names;
- .run/env lines are quoted: `source` reads a value with spaces, `$(...)` and globs back unchanged.

Needs openssl and the py-test venv (the e2e conftest imports k8sretry and kubernetes); no apiserver.
Run by `make test-cluster`.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_proxy_tls import Upstream

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCRIPTS = ["lib.sh", "local-env.sh", "status.sh", "down.sh", "fault.sh", "apiserver.sh"]


@pytest.fixture
def cluster(tmp_path: Path) -> Path:
    """A copy of tests/cluster's scripts in tmp_path/cluster, with an empty 0700 .run."""
    copy = tmp_path / "cluster"
    copy.mkdir()
    for name in SCRIPTS:
        if (HERE / name).exists():
            shutil.copy2(HERE / name, copy / name)
    (copy / ".run").mkdir(mode=0o700)
    return copy


@pytest.fixture(scope="module")
def user_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    """Stands in for a user's real cluster: /readyz says ok to anyone."""
    certs = tmp_path_factory.mktemp("user-ca")
    subprocess.run([str(HERE / "certs.sh"), str(certs), "user-cluster"], check=True)
    server = Upstream(certs)
    yield server
    server.server.shutdown()


def run(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("K8SRETRY_RUN", "KUBECONFIG")}
    return subprocess.run([str(script), *args], capture_output=True, text=True, env=env, timeout=60)


def start_time(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[19]


def assert_not_local(cluster: Path) -> None:
    """status.sh and local-env.sh refuse the .run of `cluster`; so does the Python e2e fixture."""
    status = run(cluster / "status.sh")
    assert status.returncode != 0, (
        "status.sh took it for the local cluster: up.sh would say 'already running'"
    )
    local = run(cluster / "local-env.sh")
    assert local.returncode != 0 and "not the local cluster" in local.stderr, local
    spec = importlib.util.spec_from_file_location("e2e_conftest", ROOT / "tests/e2e/python/conftest.py")
    assert spec is not None and spec.loader is not None
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    conftest.RUN = cluster / ".run"
    with pytest.raises(pytest.exit.Exception):
        env = conftest.cluster_env()
        pytest.fail(f"the e2e suite would run against {env.get('K8S_API')}")


def test_a_user_cluster_the_demo_left_in_env_is_not_the_local_cluster(
    tmp_path: Path, cluster: Path, user_apiserver: Upstream
) -> None:
    kubeconfig = tmp_path / "user-kubeconfig"
    kubeconfig.write_text(f"clusters: [{{name: prod, cluster: {{server: {user_apiserver.url}}}}}]\n")
    # What `make demo` with $KUBECONFIG wrote into .run/env before, left by a kill -9.
    (cluster / ".run" / "env").write_text(
        f"KUBECONFIG={kubeconfig}\nK8S_API={user_apiserver.url}\nK8S_CA={user_apiserver.ca}\n"
    )
    assert_not_local(cluster)


def test_a_run_dressed_as_local_without_our_processes_is_not_the_local_cluster(
    cluster: Path, user_apiserver: Upstream
) -> None:
    """Loopback, its own token in tokens.csv, .run's kubeconfig and CA: still the wrong processes."""
    run_dir = cluster / ".run"
    (run_dir / "certs").mkdir()
    shutil.copy(user_apiserver.ca, run_dir / "certs" / "ca.crt")
    (run_dir / "tokens.csv").write_text('t0ken,k8sretry-e2e,k8sretry-e2e,"system:masters"\n')
    (run_dir / "kubeconfig").write_text(
        f'clusters: [{{name: k8sretry, cluster: {{server: "{user_apiserver.url}"}}}}]\n'
    )
    (run_dir / "env").write_text(
        f"KUBECONFIG='{run_dir}/kubeconfig'\nK8S_API='{user_apiserver.url}'\n"
        f"K8S_CA='{run_dir}/certs/ca.crt'\nK8S_TOKEN='t0ken'\n"
    )
    # Live processes with the right start times, but neither is a kube-apiserver or an etcd.
    me = os.getpid()
    for name in ("apiserver", "etcd"):
        (run_dir / f"{name}.pid").write_text(f"{me} {start_time(me)}\n")
    assert_not_local(cluster)


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not the cluster's (as after a reboot or a reused pid)."""
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


@pytest.mark.parametrize(
    "command",
    [["down.sh"], ["fault.sh", "etcd-kill"], ["fault.sh", "apiserver-kill"], ["apiserver.sh", "stop"]],
)
@pytest.mark.parametrize("pidfile", ["pid only", "another start time"])
def test_a_stale_pidfile_kills_nobody(
    cluster: Path, bystander: subprocess.Popen[bytes], command: list[str], pidfile: str
) -> None:
    run_dir = cluster / ".run"
    (run_dir / "env").write_text("K8S_API='https://127.0.0.1:1'\n")
    stale = f"{bystander.pid}\n" if pidfile == "pid only" else f"{bystander.pid} 1\n"
    for name in ("proxy", "apiserver", "etcd"):
        (run_dir / f"{name}.pid").write_text(stale)

    run(cluster / command[0], *command[1:])

    assert bystander.poll() is None, (
        f"{' '.join(command)} killed pid {bystander.pid}, which was not the cluster's"
    )


def test_our_own_process_is_stopped(cluster: Path) -> None:
    """The other side: a pidfile with the pid's own start time is obeyed, by down.sh and fault.sh."""
    run_dir = cluster / ".run"
    (run_dir / "env").write_text("K8S_API='https://127.0.0.1:1'\n")
    ours = subprocess.Popen(["sleep", "60"])
    (run_dir / "etcd.pid").write_text(f"{ours.pid} {start_time(ours.pid)}\n")
    assert run(cluster / "fault.sh", "etcd-pause").returncode == 0
    assert Path(f"/proc/{ours.pid}/stat").read_text().rsplit(") ", 1)[1][0] == "T"
    assert run(cluster / "fault.sh", "etcd-resume").returncode == 0
    assert run(cluster / "down.sh").returncode == 0
    assert ours.wait(timeout=10) == -15
    assert not run_dir.exists()


def test_env_lines_are_quoted_for_source(tmp_path: Path) -> None:
    value = f"{tmp_path}/a b/$(touch {tmp_path}/ran)/`touch {tmp_path}/ran`/*"
    script = f'set -e; . "{HERE}/lib.sh"; env_line KUBECONFIG "$1" > "$2"; . "$2"; printf %s "$KUBECONFIG"'
    done = subprocess.run(
        ["bash", "-c", script, "-", value, str(tmp_path / "env")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == value
    assert not (tmp_path / "ran").exists()
    refused = subprocess.run(
        ["bash", "-c", script, "-", "it's", str(tmp_path / "env2")], capture_output=True, text=True
    )
    assert refused.returncode != 0 and "refusing" in refused.stderr


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))
