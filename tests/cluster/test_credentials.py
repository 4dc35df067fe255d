"""The cluster's credentials are this user's only, verified TLS all the way, and gone after down.sh.

Starts the cluster and the proxy of this directory (up.sh, proxy.sh; reusing them when they run),
checks that .run is 0700 with every file in it 0600 (tokens.csv, kubeconfig, kubeconfig-proxy, env,
the keys, the proxy's confdir), that no kubeconfig skips verification, that the apiserver and the
proxy answer with their certificates verified against K8S_CA and PROXY_CA, then runs down.sh and
checks that all of it is gone. Needs kube-apiserver and etcd (up.sh builds them once, cached).
Run by `make test-cluster`; it stops the cluster at the end, as `make test-e2e` does.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import stat
import subprocess
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUN = HERE / ".run"


def read_env() -> dict[str, str]:
    """.run/env through local-env.sh, which must find the cluster up.sh started to be the local one."""
    done = subprocess.run([str(HERE / "local-env.sh")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def get(url: str, cafile: str, token: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    context = ssl.create_default_context(cafile=cafile)
    with urllib.request.urlopen(request, context=context, timeout=20) as response:
        return response.status, response.read()


def test_credentials_are_private_verified_and_removed_by_down() -> None:
    try:
        subprocess.run([str(HERE / "up.sh")], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([str(HERE / "proxy.sh")], check=True)
        env = read_env()
        # Every line quoted for `source` (lib.sh's env_line).
        lines = (RUN / "env").read_text().splitlines()
        assert all(re.fullmatch(r"[A-Z0-9_]+='[^']*'", line) for line in lines), lines
        assert subprocess.run([str(HERE / "status.sh")]).returncode == 0

        assert stat.S_IMODE(RUN.stat().st_mode) == 0o700
        for name in ("tokens.csv", "kubeconfig", "kubeconfig-proxy", "env"):
            assert stat.S_IMODE((RUN / name).stat().st_mode) == 0o600, name
        assert stat.S_IMODE((RUN / "mitm").stat().st_mode) == 0o700
        assert (RUN / "mitm" / "mitmproxy-ca.pem").exists()
        # Nothing under .run (etcd's data, logs, keys, mitmproxy's confdir) is open to group or others.
        loose = [
            f"{path.relative_to(RUN)} {stat.S_IMODE(path.stat().st_mode):o}"
            for path in RUN.rglob("*")
            if stat.S_IMODE(path.stat().st_mode) & 0o077
        ]
        assert loose == []

        for name, ca in (("kubeconfig", env["K8S_CA"]), ("kubeconfig-proxy", env["PROXY_CA"])):
            text = (RUN / name).read_text()
            assert "insecure-skip-tls-verify" not in text, name
            assert f'certificate-authority: "{ca}"' in text, name
        assert env["PROXY_CA"] == str(RUN / "mitm" / "mitmproxy-ca-cert.pem")

        # Both answer with the certificate verified (hostname 127.0.0.1 included).
        token = env["K8S_TOKEN"]
        assert get(f"{env['K8S_API']}/readyz", env["K8S_CA"], token) == (200, b"ok")
        status, body = get(f"{env['PROXY']}/api/v1/namespaces/default", env["PROXY_CA"], token)
        assert status == 200 and b'"default"' in body
        pids = [int((RUN / f"{name}.pid").read_text().split()[0]) for name in ("proxy", "apiserver", "etcd")]
    finally:
        subprocess.run([str(HERE / "down.sh")], check=False)

    assert not RUN.exists()
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        # A zombie of a process that has exited is no longer running either.
        assert Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z", f"pid {pid} still running"
