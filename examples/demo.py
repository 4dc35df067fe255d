"""`make demo`: the same workload in Python, Node, Go and Rust against a real kube-apiserver behind
the fault proxy, then one table. Run by the Makefile after it has built everything (it passes the
commands to run in K8SRETRY_DEMO_*); use the Makefile, not this file directly.

Without $KUBECONFIG it starts the local cluster of tests/cluster; with $KUBECONFIG it puts the fault
proxy in front of that cluster (token, basic or exec credentials: the proxy ends TLS, so client
certificates can't pass it). It stops everything it started, also on failure or Ctrl-C.

A real cluster is only touched after consent: the demo prints the server and context it would write
to and what it creates, and goes ahead on K8SRETRY_DEMO_YES=1 or a "yes" typed on a terminal. The
proxy verifies that cluster's certificate against the CA the kubeconfig names (the system's trust
store when it names none); only K8SRETRY_PROXY_INSECURE_UPSTREAM=1 turns that off. The credentials
copied for the proxy's kubeconfig are 0600 in the 0700 tests/cluster/.run, removed at the end.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml
from kubernetes import client, config

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "tests" / "cluster"
RUN = CLUSTER / ".run"
LANGUAGES = ["python", "node", "go", "rust"]
# About a third of all requests meet a fault; every kind the proxy can inject is in the plan.
FAULTS = [
    {"method": "POST", "path": "/(configmaps|secrets)$", "fault": "drop_after", "probability": 0.15},
    {"method": "POST", "path": "/(configmaps|secrets)$", "fault": "drop_before", "probability": 0.1},
    {"method": "POST", "path": "/(configmaps|secrets)$", "fault": "503", "probability": 0.1},
    {"method": "GET", "path": "/configmaps/", "fault": "503", "probability": 0.2, "retry_after": "1"},
    {"method": "GET", "path": "", "fault": "latency:200", "probability": 0.1},
    {"method": "PATCH", "path": "", "fault": "429", "probability": 0.25, "retry_after": "date:+1"},
    {"method": "DELETE", "path": "", "fault": "drop_after", "probability": 0.2},
    {"method": "DELETE", "path": "", "fault": "504", "probability": 0.05},
]


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def read_env() -> dict[str, str]:
    return dict(line.split("=", 1) for line in (RUN / "env").read_text().split() if "=" in line)


YES = "K8SRETRY_DEMO_YES"
INSECURE_UPSTREAM = "K8SRETRY_PROXY_INSECURE_UPSTREAM"


class Refused(Exception):
    """The demo will not use $KUBECONFIG's cluster (the message says why)."""


@dataclass
class External:
    """The cluster of a user's kubeconfig: its current context, read from the file only."""

    kubeconfig: Path
    context: str
    server: str
    cluster: dict[str, Any]
    user: dict[str, Any]


def read_external(kubeconfig: str) -> External:
    if os.pathsep in kubeconfig:
        raise Refused(f"KUBECONFIG lists several files ({kubeconfig}): set it to the one to use")
    path = Path(kubeconfig).expanduser().resolve()
    try:
        doc = yaml.safe_load(path.read_text()) or {}
        name = doc["current-context"]
        context = next(c["context"] for c in doc["contexts"] if c["name"] == name)
        cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in doc["users"] if u["name"] == context["user"])
        return External(path, name, cluster["server"].rstrip("/"), cluster, user or {})
    except (OSError, yaml.YAMLError, KeyError, TypeError, StopIteration) as e:
        raise Refused(f"cannot read the current context's cluster and user from {path}: {e!r}") from e


def confirm_external(target: External, environ: Mapping[str, str], stdin: TextIO) -> bool:
    """Says what the demo would do to `target`; True only on K8SRETRY_DEMO_YES=1 or a typed "yes"."""
    say(f"$KUBECONFIG ({target.kubeconfig}) points at a real cluster; the demo would write to it:")
    say(f"  server:  {target.server}")
    say(f"  context: {target.context}")
    say(
        "  it creates one namespace per language (demo-python-*, demo-node-*, demo-go-*, demo-rust-*) "
        "holding 20 ConfigMaps and 5 Secrets each, and deletes the namespaces at the end; the requests "
        "go through a fault proxy on 127.0.0.1 that sees this context's credentials"
    )
    if environ.get(YES) == "1":
        say(f"{YES}=1: going ahead")
        return True
    if not stdin.isatty():
        say(f"refusing: set {YES}=1 to go ahead (or unset KUBECONFIG to use a throw-away local cluster)")
        return False
    print("[demo] type yes to go ahead: ", end="", flush=True)
    if stdin.readline().strip().lower() == "yes":
        return True
    say("not confirmed: nothing was touched")
    return False


def write_private(path: Path, data: str | bytes) -> None:
    """Writes a file only this user can read (0600), whatever the umask or an older file's mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def use_external(target: External, environ: Mapping[str, str]) -> None:
    """Writes .run/env and .run/kubeconfig (0600, in a 0700 .run) for proxy.sh.

    K8S_CA is the CA the user's kubeconfig names for the cluster (copied to .run/upstream-ca.crt),
    or empty for the system's trust store: proxy.sh verifies the cluster against it."""
    cluster, user = target.cluster, target.user
    insecure = environ.get(INSECURE_UPSTREAM) == "1"
    if cluster.get("insecure-skip-tls-verify") and not insecure:
        raise Refused(
            f"{target.kubeconfig} skips verifying the cluster's certificate (insecure-skip-tls-verify), "
            f"so the proxy has nothing to verify it against: set {INSECURE_UPSTREAM}=1 to go ahead "
            "without verification anyway"
        )
    if cluster.get("tls-server-name") and not insecure:
        raise Refused(
            f"{target.kubeconfig} verifies the cluster as {cluster['tls-server-name']!r} "
            "(tls-server-name), which the proxy cannot do"
        )
    if {"client-certificate", "client-certificate-data", "client-key", "client-key-data"} & set(user):
        raise Refused(
            "the current context authenticates with a client certificate, which cannot pass the proxy "
            "(it ends TLS): use a context with a token or exec credentials"
        )
    RUN.mkdir(mode=0o700, parents=True, exist_ok=True)
    RUN.chmod(0o700)
    ca = ""
    if not insecure and cluster.get("certificate-authority-data"):
        ca = str(RUN / "upstream-ca.crt")
        write_private(Path(ca), base64.b64decode(cluster["certificate-authority-data"]))
    elif not insecure and cluster.get("certificate-authority"):
        # A relative path is relative to the kubeconfig's directory.
        source = target.kubeconfig.parent / Path(cluster["certificate-authority"]).expanduser()
        ca = str(RUN / "upstream-ca.crt")
        write_private(Path(ca), source.read_bytes())
    entry = {"server": target.server, **({"certificate-authority": ca} if ca else {})}
    write_private(
        RUN / "kubeconfig",
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: demo, cluster: {json.dumps(entry)}}}]\n"
        f"users: [{{name: demo, user: {json.dumps(user)}}}]\n"
        "contexts: [{name: demo, context: {cluster: demo, user: demo}}]\ncurrent-context: demo\n",
    )
    write_private(RUN / "env", f"KUBECONFIG={target.kubeconfig}\nK8S_API={target.server}\nK8S_CA={ca}\n")


class Proxy:
    """The proxy's control endpoints, its certificate verified against mitmproxy's CA."""

    def __init__(self, url: str, cafile: str) -> None:
        self.url, self.ssl = url, ssl.create_default_context(cafile=cafile)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/__k8sretry/{path}", data=data, method=method)
        with urllib.request.urlopen(request, context=self.ssl, timeout=10) as response:
            return json.loads(response.read())


def run_language(
    language: str, env: dict[str, str], proxy: Proxy, direct: client.CoreV1Api, created: list[str]
) -> dict[str, Any]:
    namespace = f"demo-{language}-{uuid.uuid4().hex[:6]}"
    direct.create_namespace({"metadata": {"name": namespace}})
    created.append(namespace)
    proxy.call("PUT", "plan", {"seed": 42, "rules": FAULTS})
    command = shlex.split(os.environ[f"K8SRETRY_DEMO_{language.upper()}"])
    child_env = {**os.environ, "KUBECONFIG": env["KUBECONFIG_PROXY"], "K8SRETRY_NAMESPACE": namespace}
    started = time.monotonic()
    done = subprocess.run(command, env=child_env, capture_output=True, text=True, cwd=ROOT)
    wall = time.monotonic() - started
    faults = Counter(entry["fault"].split(":")[0] for entry in proxy.call("GET", "log"))
    requests = proxy.call("GET", "stats")["requests"]
    proxy.call("PUT", "plan", {"rules": []})
    if done.returncode != 0:
        say(f"{language} workload failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return {"language": language, "ok": False}
    report = json.loads(done.stdout.strip().splitlines()[-1])
    # What the apiserver holds, read past the proxy: exactly the expected objects, nothing twice.
    configmaps = [c.metadata.name for c in direct.list_namespaced_config_map(namespace).items]
    configmaps = [name for name in configmaps if name != "kube-root-ca.crt"]
    secrets = direct.list_namespaced_secret(namespace).items
    ids = {(s.metadata.annotations or {}).get("k8sretry.dev/request-id") for s in secrets}
    duplicates = (len(configmaps) - len(set(configmaps) & set(report["configmaps"]))) + (
        len(secrets) - len(ids)
    )
    exact = sorted(configmaps) == sorted(report["configmaps"]) and len(secrets) == report["secrets"]
    return {
        "language": language,
        "ok": exact and duplicates == 0,
        "operations": report["operations"],
        "requests": requests,
        "faults": faults,
        "retries": int(report["retries"]),
        "recovered": int(report["recovered"]),
        "duplicates": duplicates,
        "exact": exact,
        "wall": wall,
    }


def table(rows: list[dict[str, Any]]) -> str:
    kinds = ["drop_after", "drop_before", "503", "504", "429", "latency"]
    head = ["language", "operations", "requests", *[f"faults {k}" for k in kinds], "retries"]
    head += ["lost responses recovered", "duplicates", "objects exact", "wall time"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        if "operations" not in r:
            lines.append(f"| {r['language']} | failed |" + " |" * (len(head) - 2))
            continue
        cells = [r["language"], r["operations"], r["requests"], *[r["faults"].get(k, 0) for k in kinds]]
        cells += [
            r["retries"],
            r["recovered"],
            r["duplicates"],
            "yes" if r["exact"] else "NO",
            f"{r['wall']:.1f} s",
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def cluster_running() -> bool:
    return (RUN / "env").exists() and subprocess.run([str(CLUSTER / "status.sh")]).returncode == 0


def delete_namespaces(direct: client.CoreV1Api, created: list[str]) -> None:
    for namespace in created:
        try:
            direct.delete_namespace(namespace)
        except Exception as e:  # report every one left behind, and go on
            say(f"could not delete namespace {namespace}: {e}")
    if created:
        say(f"deleted the namespaces {', '.join(created)}")


def main() -> int:
    # A plain `kill` stops the demo through its `finally` too: namespaces deleted, .run removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    external = os.environ.pop("KUBECONFIG", "")
    target = None
    if external:
        # Nothing is written and nothing is contacted before the user has agreed.
        try:
            target = read_external(external)
            if not confirm_external(target, os.environ, sys.stdin):
                return 2
            if cluster_running():
                raise Refused("the local cluster of tests/cluster is running: make cluster-down first")
            use_external(target, os.environ)
        except Refused as e:
            say(f"refusing: {e}")
            return 2
    return run(target)


def run(target: External | None) -> int:
    # A local cluster somebody started before (make cluster-up) is used and left running.
    already = target is None and cluster_running()
    proxy_already = already and "PROXY" in read_env()
    created: list[str] = []
    direct = None
    try:
        if target is not None:
            say(f"using {target.server} (context {target.context}), through the fault proxy")
        elif already:
            say("using the local cluster that is already running")
        else:
            say("starting the local kube-apiserver + etcd (the first run builds them: 10-25 min)")
            subprocess.run([str(CLUSTER / "up.sh")], check=True, stdout=subprocess.DEVNULL)
        say("starting the fault proxy")
        subprocess.run([str(CLUSTER / "proxy.sh")], check=True)
        env = read_env()
        configuration = client.Configuration()
        # The cluster's own kubeconfig: the user's (its own verification), or up.sh's (its CA).
        config.load_kube_config(config_file=env["KUBECONFIG"], client_configuration=configuration)
        direct = client.CoreV1Api(client.ApiClient(configuration))
        proxy = Proxy(env["PROXY"], env["PROXY_CA"])
        rows = []
        for language in LANGUAGES:
            say(f"{language}: 20 ConfigMaps created, read, labelled, 5 deleted; 5 generateName Secrets")
            rows.append(run_language(language, env, proxy, direct, created))
        print()
        print(table(rows))
        print()
        ok = all(r["ok"] for r in rows)
        say("every object exactly once in every language" if ok else "FAILED: see above")
        return 0 if ok else 1
    finally:
        if direct is not None:
            delete_namespaces(direct, created)
        if not already:
            say("stopping everything the demo started")
            subprocess.run([str(CLUSTER / "down.sh")], check=False)
        elif not proxy_already:
            say("stopping the fault proxy the demo started")
            subprocess.run(["kill", (RUN / "proxy.pid").read_text().strip()], check=False)


if __name__ == "__main__":
    sys.exit(main())
