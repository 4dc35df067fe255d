"""`make demo`: the same workload in Python, Node, Go and Rust against a real kube-apiserver behind
the fault proxy, then one table. Run by the Makefile after it has built everything (it passes the
commands to run in K8SRETRY_DEMO_*); use the Makefile, not this file directly.

Without $KUBECONFIG it starts the local cluster of tests/cluster; with $KUBECONFIG it puts the fault
proxy in front of that cluster (token, basic or exec credentials: the proxy ends TLS, so client
certificates can't pass it). It stops everything it started, also on failure, Ctrl-C (a second
Ctrl-C during the cleanup does not cut it short), SIGTERM or SIGHUP (the terminal closed). After a
`kill -9`, `make demo-clean` (`demo.py clean`) deletes the namespaces left behind: every demo
namespace carries the label k8sretry.dev/demo-run.

The state of a run against $KUBECONFIG's cluster (the proxy, the credentials copied for it) lives in
tests/cluster/.run-external, apart from the local cluster's tests/cluster/.run: nothing that looks
for the local cluster can find that cluster there. The local cluster is only used once
tests/cluster/local-env.sh found it to be the throw-away apiserver up.sh started.

A real cluster is only touched after consent: the demo prints the server and context it would write
to and what it creates, and goes ahead on K8SRETRY_DEMO_YES=1 or a "yes" typed on a terminal. The
demo's own client (it checks what the apiserver holds, past the proxy) uses the context that was
consented to, as read then, and stops unless its server is the one shown. The proxy verifies that
cluster's certificate against the CA the kubeconfig names (the system's trust store when it names
none); only K8SRETRY_PROXY_INSECURE_UPSTREAM=1 turns that off. The credentials copied for the proxy's
kubeconfig are 0600 in the 0700 tests/cluster/.run-external, removed at the end.
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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml
from kubernetes import client, config

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "tests" / "cluster"
# The local cluster's state (up.sh), and a run against $KUBECONFIG's cluster's: kept apart.
RUN = CLUSTER / ".run"
RUN_EXTERNAL = CLUSTER / ".run-external"
# On every namespace the demo creates: the id of its run (demo-clean finds the leftovers by it).
RUN_LABEL = "k8sretry.dev/demo-run"
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
    try:
        print(f"[demo] {message}", flush=True)
    except OSError:  # the terminal is gone (SIGHUP): the cleanup goes on without it
        pass


def read_env(run: Path) -> dict[str, str]:
    """RUN/env, written as KEY='value' lines for `source`."""
    return dict(word.split("=", 1) for word in shlex.split((run / "env").read_text()) if "=" in word)


def local_env() -> dict[str, str]:
    """The local cluster's .run/env, once tests/cluster/local-env.sh found that .run is the
    throw-away apiserver up.sh started (loopback, its own token, live pids); else Refused."""
    done = subprocess.run([str(CLUSTER / "local-env.sh")], capture_output=True, text=True)
    if done.returncode != 0:
        raise Refused(done.stderr.strip())
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def cluster_script(name: str, *args: str, external: bool, cleanup: bool = False) -> None:
    """Runs tests/cluster/NAME on the local cluster's .run, or with `external` on .run-external (a
    user's cluster). A `cleanup` runs in a session of its own, so a Ctrl-C on the terminal cannot cut
    it short, and its failure is reported, not raised."""
    env = {k: v for k, v in os.environ.items() if k != "K8SRETRY_RUN"}
    if external:
        env["K8SRETRY_RUN"] = str(RUN_EXTERNAL)
    done = subprocess.run([str(CLUSTER / name), *args], env=env, start_new_session=cleanup)
    if done.returncode != 0:
        if not cleanup:
            raise subprocess.CalledProcessError(done.returncode, name)
        say(f"{name} {' '.join(args)} failed ({done.returncode})")


@contextmanager
def cleaning_up() -> Iterator[None]:
    """A cleanup that a second Ctrl-C, a SIGHUP (the terminal closed) or a SIGTERM cannot cut short:
    while it runs they are noted, not obeyed."""

    def note(signum: int, _frame: Any) -> None:
        say(f"{signal.Signals(signum).name}: still cleaning up, a moment")

    signals = (signal.SIGINT, signal.SIGHUP, signal.SIGTERM)
    previous = {s: signal.signal(s, note) for s in signals}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


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


DEMO_WRITES = (
    "it creates one namespace per language (demo-python-*, demo-node-*, demo-go-*, demo-rust-*, "
    f"labelled {RUN_LABEL}) holding 20 ConfigMaps and 5 Secrets each, and deletes the namespaces at the "
    "end; the requests go through a fault proxy on 127.0.0.1 that sees this context's credentials"
)
CLEAN_WRITES = f"it deletes every namespace labelled {RUN_LABEL} (what earlier demo runs left behind)"


def confirm_external(
    target: External, environ: Mapping[str, str], stdin: TextIO, writes: str = DEMO_WRITES
) -> bool:
    """Says what the demo would do to `target`; True only on K8SRETRY_DEMO_YES=1 or a typed "yes"."""
    say(f"$KUBECONFIG ({target.kubeconfig}) points at a real cluster; the demo would write to it:")
    say(f"  server:  {target.server}")
    say(f"  context: {target.context}")
    say(f"  {writes}")
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


def ca_file(target: External) -> Path:
    """The file the cluster's certificate-authority names: a relative path is relative to the
    kubeconfig's directory."""
    return target.kubeconfig.parent / Path(target.cluster["certificate-authority"]).expanduser()


def use_external(target: External, environ: Mapping[str, str]) -> None:
    """Writes .run-external/env and .run-external/kubeconfig (0600, in a 0700 .run-external) for
    proxy.sh (K8SRETRY_RUN=.run-external): never the local cluster's .run.

    K8S_CA is the CA the user's kubeconfig names for the cluster (copied to upstream-ca.crt), or
    empty for the system's trust store: proxy.sh verifies the cluster against it."""
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
    RUN_EXTERNAL.mkdir(mode=0o700, parents=True, exist_ok=True)
    RUN_EXTERNAL.chmod(0o700)
    ca = ""
    if not insecure and cluster.get("certificate-authority-data"):
        ca = str(RUN_EXTERNAL / "upstream-ca.crt")
        write_private(Path(ca), base64.b64decode(cluster["certificate-authority-data"]))
    elif not insecure and cluster.get("certificate-authority"):
        ca = str(RUN_EXTERNAL / "upstream-ca.crt")
        write_private(Path(ca), ca_file(target).read_bytes())
    entry = {"server": target.server, **({"certificate-authority": ca} if ca else {})}
    write_private(
        RUN_EXTERNAL / "kubeconfig",
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: demo, cluster: {json.dumps(entry)}}}]\n"
        f"users: [{{name: demo, user: {json.dumps(user)}}}]\n"
        "contexts: [{name: demo, context: {cluster: demo, user: demo}}]\ncurrent-context: demo\n",
    )
    env = {"KUBECONFIG": str(target.kubeconfig), "K8S_API": target.server, "K8S_CA": ca}
    write_private(RUN_EXTERNAL / "env", "".join(f"{k}={shlex.quote(v)}\n" for k, v in env.items()))


def direct_client(target: External | None, env: Mapping[str, str]) -> client.CoreV1Api:
    """The demo's own client, past the proxy: for a user's cluster the context that was consented
    to, as read then (the kubeconfig file may have changed since), and only when it is the server
    the proxy fronts; for the local cluster up.sh's .run/kubeconfig."""
    configuration = client.Configuration()
    if target is None:
        config.load_kube_config(config_file=env["KUBECONFIG"], client_configuration=configuration)
        expected = env["K8S_API"]
    else:
        if env["K8S_API"] != target.server:
            raise Refused(f"the proxy fronts {env['K8S_API']}, not {target.server} that was consented to")
        cluster = dict(target.cluster)
        if cluster.get("certificate-authority"):
            cluster["certificate-authority"] = str(ca_file(target))
        consented = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "consented", "cluster": cluster}],
            "users": [{"name": "consented", "user": target.user}],
            "contexts": [{"name": "consented", "context": {"cluster": "consented", "user": "consented"}}],
            "current-context": "consented",
        }
        config.load_kube_config_from_dict(
            consented, client_configuration=configuration, temp_file_path=str(target.kubeconfig.parent)
        )
        expected = target.server
    if configuration.host.rstrip("/") != expected:
        raise Refused(f"the demo's client would talk to {configuration.host}, not {expected}")
    return client.CoreV1Api(client.ApiClient(configuration))


class Proxy:
    """The proxy's control endpoints, its certificate verified against mitmproxy's CA, called with
    the control token (PROXY_TOKEN)."""

    def __init__(self, url: str, cafile: str, token: str) -> None:
        self.url, self.token, self.ssl = url, token, ssl.create_default_context(cafile=cafile)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/__k8sretry/{path}", data=data, method=method)
        request.add_header("X-K8sretry-Control-Token", self.token)
        with urllib.request.urlopen(request, context=self.ssl, timeout=10) as response:
            return json.loads(response.read())


def run_language(
    language: str,
    env: dict[str, str],
    proxy: Proxy,
    direct: client.CoreV1Api,
    created: list[str],
    run_id: str,
) -> dict[str, Any]:
    namespace = f"demo-{language}-{uuid.uuid4().hex[:6]}"
    created.append(namespace)  # before the create: an interrupted create is deleted too
    direct.create_namespace({"metadata": {"name": namespace, "labels": {RUN_LABEL: run_id}}})
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
    """The local cluster of tests/cluster runs (status.sh: local-env.sh's checks, then /readyz)."""
    return subprocess.run([str(CLUSTER / "status.sh")], stderr=subprocess.DEVNULL).returncode == 0


def delete_namespaces(direct: client.CoreV1Api, created: list[str]) -> None:
    deleted = []
    for namespace in created:
        try:
            direct.delete_namespace(namespace)
            deleted.append(namespace)
        except client.ApiException as e:
            if e.status != 404:  # 404: its create never landed
                say(f"could not delete namespace {namespace}: {e.status} {e.reason} (demo-clean finds it)")
        except Exception as e:  # report every one left behind, and go on
            say(f"could not delete namespace {namespace}: {e} (make demo-clean finds it)")
    if deleted:
        say(f"deleted the namespaces {', '.join(deleted)}")


def stop_on(signum: int, _frame: Any) -> None:
    """SIGTERM and SIGHUP stop the demo as Ctrl-C does: through the cleanup of `run`."""
    raise SystemExit(128 + signum)


def main(args: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, stop_on)
    signal.signal(signal.SIGHUP, stop_on)
    if args == ["clean"]:
        return clean()
    if args:
        say("usage: demo.py [clean]")
        return 2
    external = os.environ.pop("KUBECONFIG", "")
    target = None
    if external:
        # Nothing is written and nothing is contacted before the user has agreed.
        try:
            target = read_external(external)
            if not confirm_external(target, os.environ, sys.stdin):
                return 2
            if RUN_EXTERNAL.exists():  # what a run against a user's cluster cut short left behind
                cluster_script("down.sh", external=True, cleanup=True)
            use_external(target, os.environ)
        except Refused as e:
            say(f"refusing: {e}")
            return 2
    try:
        return run(target)
    except Refused as e:
        say(f"refusing: {e}")
        return 2


def run(target: External | None) -> int:
    external = target is not None
    # A local cluster somebody started before (make cluster-up) is used and left running.
    already = not external and cluster_running()
    proxy_already = already and "PROXY" in local_env()
    run_id = uuid.uuid4().hex[:8]
    created: list[str] = []
    direct = None
    try:
        if external:
            say(f"using {target.server} (context {target.context}), through the fault proxy")
        elif already:
            say("using the local cluster that is already running")
        else:
            say("starting the local kube-apiserver + etcd (the first run builds them: 10-25 min)")
            subprocess.run([str(CLUSTER / "up.sh")], check=True, stdout=subprocess.DEVNULL)
        say("starting the fault proxy")
        cluster_script("proxy.sh", external=external)
        env = read_env(RUN_EXTERNAL) if external else local_env()
        direct = direct_client(target, env)
        proxy = Proxy(env["PROXY"], env["PROXY_CA"], env["PROXY_TOKEN"])
        say(f"this run's namespaces carry the label {RUN_LABEL}={run_id}")
        rows = []
        for language in LANGUAGES:
            say(f"{language}: 20 ConfigMaps created, read, labelled, 5 deleted; 5 generateName Secrets")
            rows.append(run_language(language, env, proxy, direct, created, run_id))
        print()
        print(table(rows))
        print()
        ok = all(r["ok"] for r in rows)
        say("every object exactly once in every language" if ok else "FAILED: see above")
        return 0 if ok else 1
    finally:
        with cleaning_up():
            if direct is not None:
                delete_namespaces(direct, created)
            if external or not already:
                say("stopping everything the demo started")
                cluster_script("down.sh", external=external, cleanup=True)
            elif not proxy_already:
                say("stopping the fault proxy the demo started")
                cluster_script("down.sh", "proxy", external=False, cleanup=True)


def clean() -> int:
    """`make demo-clean`: deletes the demo namespaces (label k8sretry.dev/demo-run) that runs cut
    short (kill -9) left behind: in the local cluster when it runs, in $KUBECONFIG's cluster after
    asking; stops a proxy such a run left for a user's cluster and removes .run-external."""
    kubeconfig = os.environ.pop("KUBECONFIG", "")
    code = 0
    try:
        direct = None
        if kubeconfig:
            target = read_external(kubeconfig)
            if confirm_external(target, os.environ, sys.stdin, CLEAN_WRITES):
                direct = direct_client(target, {"K8S_API": target.server})
            else:
                code = 2
        elif cluster_running():
            say("the local cluster of tests/cluster")
            direct = direct_client(None, local_env())
        else:
            say("the local cluster is not running (its namespaces went with it); set KUBECONFIG for another")
        if direct is not None:
            leftovers = [
                ns.metadata.name
                for ns in direct.list_namespace(label_selector=RUN_LABEL).items
                if ns.metadata.deletion_timestamp is None
            ]
            say(f"{len(leftovers)} demo namespace(s) left behind: {' '.join(leftovers) or '-'}")
            delete_namespaces(direct, leftovers)
    except Refused as e:
        say(f"refusing: {e}")
        code = 2
    if RUN_EXTERNAL.exists():
        say(f"removing {RUN_EXTERNAL} (a proxy and the credentials copied for a user's cluster)")
        cluster_script("down.sh", external=True, cleanup=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
