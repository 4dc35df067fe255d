"""`make demo`: the same workload in Python, Node, Go and Rust against a real kube-apiserver behind
the fault proxy, then one table. Run by the Makefile after it has built everything (it passes the
commands to run in K8SRETRY_DEMO_*); use the Makefile, not this file directly.

Without $KUBECONFIG it starts the local cluster of tests/cluster; with $KUBECONFIG it puts the fault
proxy in front of that cluster (token, basic or exec credentials: the proxy ends TLS, so client
certificates can't pass it). It stops everything it started, also on failure or Ctrl-C.
"""

from __future__ import annotations

import json
import os
import shlex
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client, config

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # the local cluster's own CA

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


def use_external(kubeconfig: str) -> None:
    """Writes .run/env and .run/kubeconfig for proxy.sh from the user's kubeconfig."""
    doc = yaml.safe_load(Path(kubeconfig).read_text())
    context = next(c["context"] for c in doc["contexts"] if c["name"] == doc["current-context"])
    cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in doc["users"] if u["name"] == context["user"])
    server = cluster["server"].rstrip("/")
    RUN.mkdir(parents=True, exist_ok=True)
    (RUN / "kubeconfig").write_text(
        "apiVersion: v1\nkind: Config\n"
        f'clusters: [{{name: demo, cluster: {{server: "{server}", insecure-skip-tls-verify: true}}}}]\n'
        f"users: [{{name: demo, user: {json.dumps(user)}}}]\n"
        "contexts: [{name: demo, context: {cluster: demo, user: demo}}]\ncurrent-context: demo\n"
    )
    (RUN / "env").write_text(f"KUBECONFIG={kubeconfig}\nK8S_API={server}\n")


class Proxy:
    def __init__(self, url: str) -> None:
        self.url, self.ssl = url, ssl._create_unverified_context()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/__k8sretry/{path}", data=data, method=method)
        with urllib.request.urlopen(request, context=self.ssl, timeout=10) as response:
            return json.loads(response.read())


def run_language(
    language: str, env: dict[str, str], proxy: Proxy, direct: client.CoreV1Api
) -> dict[str, Any]:
    namespace = f"demo-{language}-{uuid.uuid4().hex[:6]}"
    direct.create_namespace({"metadata": {"name": namespace}})
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


def main() -> int:
    external = os.environ.pop("KUBECONFIG", "")
    # A local cluster somebody started before (make cluster-up) is used and left running.
    already = not external and cluster_running()
    proxy_already = already and "PROXY" in read_env()
    try:
        if external:
            say(f"using the cluster of {external}, through the fault proxy")
            use_external(external)
        elif already:
            say("using the local cluster that is already running")
        else:
            say("starting the local kube-apiserver + etcd (the first run builds them: 10-25 min)")
            subprocess.run([str(CLUSTER / "up.sh")], check=True, stdout=subprocess.DEVNULL)
        say("starting the fault proxy")
        subprocess.run([str(CLUSTER / "proxy.sh")], check=True)
        env = read_env()
        configuration = client.Configuration()
        config.load_kube_config(config_file=env["KUBECONFIG"], client_configuration=configuration)
        direct = client.CoreV1Api(client.ApiClient(configuration))
        proxy = Proxy(env["PROXY"])
        rows = []
        for language in LANGUAGES:
            say(f"{language}: 20 ConfigMaps created, read, labelled, 5 deleted; 5 generateName Secrets")
            rows.append(run_language(language, env, proxy, direct))
        print()
        print(table(rows))
        print()
        ok = all(r["ok"] for r in rows)
        say("every object exactly once in every language" if ok else "FAILED: see above")
        return 0 if ok else 1
    finally:
        if not already:
            say("stopping everything the demo started")
            subprocess.run([str(CLUSTER / "down.sh")], check=False)
        elif not proxy_already:
            say("stopping the fault proxy the demo started")
            subprocess.run(["kill", (RUN / "proxy.pid").read_text().strip()], check=False)


if __name__ == "__main__":
    sys.exit(main())
