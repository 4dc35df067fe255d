"""mitmproxy addon: injects faults between Kubernetes clients and a real kube-apiserver.

Real clients cannot add test headers, so a plan of method + path rules decides. The proxy answers
its own control endpoints (never forwarded), only to requests with the header X-K8sretry-Control-Token
equal to the token in the file $K8SRETRY_PROXY_TOKEN_FILE (mitm.sh writes a random one, 0600; 403
otherwise, and always when no token file was given): another local user cannot change the plan or
read the log.
  PUT /__k8sretry/plan   {"seed": 1, "rules": [rule, ...]}: replaces the plan, clears the log
  GET /__k8sretry/log    every fault injected so far: [{"n", "method", "path", "fault"}]
  GET /__k8sretry/stats  {"requests": n, "faults": {kind: n}, "unreachable": n, "connections": n,
                          "agents": {User-Agent up to its first "/": n}}
                         (connections: client connections opened, each a TLS handshake here)
A rule: {"method": "POST" or "*", "path": regex, "fault": kind, "count": n (optional),
         "probability": p (default 1), "retry_after": "2" | "date:+2" (an HTTP-date 2 s ahead) | null,
         "status": [201, ...] (drop_after only, optional: drop the response only when the apiserver
         answered with one of these statuses, e.g. a create that committed; count and probability
         are spent when the request matches, the log has the drops that happened)}
Kinds: "429", "503", "504": answered by the proxy with a Kubernetes Status body (not forwarded);
       "drop_before": the connection is dropped before forwarding;
       "drop_after": forwarded (the apiserver commits), then the response is dropped;
       "latency:<ms>": forwarded after a delay.
Watches are streamed so they never stall.

While the upstream is unreachable (an apiserver stopped), mitmproxy answers 502 and closes the
client's connection, so every retry of every client would cost a new TLS handshake here, which
2 cores cannot carry for a fleet of clients. So after a failed upstream connection, requests that
no rule faults are answered 502 by this addon instead, on the client's connection kept open, as a
load balancer in front of stopped apiservers does ("unreachable" in the stats), until a TCP
connection to the upstream succeeds again (tried every PROBE_EVERY seconds).
"""

from __future__ import annotations

import asyncio
import email.utils
import hmac
import json
import os
import random
import re
import time
from collections import Counter
from typing import Any

from mitmproxy import http

REASONS = {429: "TooManyRequests", 503: "ServiceUnavailable", 504: "Timeout"}
TOKEN_HEADER = "X-K8sretry-Control-Token"


def control_token() -> str | None:
    """The token the control endpoints require (mitm.sh's DIR/proxy-token), None when not given."""
    path = os.environ.get("K8SRETRY_PROXY_TOKEN_FILE")
    if not path:
        return None
    with open(path) as f:
        return f.read().strip() or None


PROBE_EVERY = 0.2  # seconds


class Rule:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.method = spec.get("method", "*").upper()
        self.path = re.compile(spec.get("path", ".*"))
        self.fault = str(spec["fault"])
        self.count = spec.get("count")
        self.probability = float(spec.get("probability", 1.0))
        self.retry_after = spec.get("retry_after")
        status = spec.get("status")
        statuses = [status] if isinstance(status, int) else status
        self.status = None if statuses is None else {int(x) for x in statuses}

    def matches(self, flow: http.HTTPFlow) -> bool:
        # The path without its query: clients differ in whether they send `?` with nothing after it.
        path = flow.request.path.split("?", 1)[0]
        return (self.method in ("*", flow.request.method)) and bool(self.path.search(path))


def is_watch(flow: http.HTTPFlow) -> bool:
    return "watch=true" in flow.request.path or "/watch/" in flow.request.path


class Faults:
    def __init__(self) -> None:
        self.token = control_token()
        # The upstream's state, not the plan's: kept when a plan is set.
        self.upstream_down = False
        self.upstream_error = ""
        self.set_plan({"seed": 0, "rules": []})

    def set_plan(self, plan: dict[str, Any]) -> None:
        self.rules = [Rule(r) for r in plan.get("rules", [])]
        self.rng = random.Random(plan.get("seed", 0))
        self.log: list[dict[str, Any]] = []
        self.requests = 0
        self.unreachable = 0
        self.connections = 0
        self.agents: Counter[str] = Counter()

    def pick(self, flow: http.HTTPFlow) -> Rule | None:
        for rule in self.rules:
            if not rule.matches(flow) or rule.count == 0:
                continue
            if self.rng.random() >= rule.probability:
                continue
            if rule.count is not None:
                rule.count -= 1
            return rule
        return None

    def control(self, flow: http.HTTPFlow) -> None:
        path = flow.request.path.split("?")[0]
        body: Any
        given = flow.request.headers.get(TOKEN_HEADER, "")
        if self.token is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            flow.response = http.Response.make(403, f"control endpoints need {TOKEN_HEADER}".encode())
            return
        if path == "/__k8sretry/plan" and flow.request.method in ("PUT", "POST"):
            self.set_plan(json.loads(flow.request.get_text() or "{}"))
            body = {"rules": len(self.rules)}
        elif path == "/__k8sretry/log":
            body = self.log
        elif path == "/__k8sretry/stats":
            body = {
                "requests": self.requests,
                "faults": Counter(e["fault"] for e in self.log),
                "unreachable": self.unreachable,
                "connections": self.connections,
                "agents": self.agents,
            }
        else:
            flow.response = http.Response.make(404, b"unknown control endpoint")
            return
        flow.response = http.Response.make(200, json.dumps(body), {"Content-Type": "application/json"})

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.request.path.startswith("/__k8sretry/"):
            self.control(flow)
            return
        self.requests += 1
        self.agents[flow.request.headers.get("User-Agent", "").split("/", 1)[0]] += 1
        rule = self.pick(flow)
        if rule is None:
            if self.upstream_down:
                self.unreachable += 1
                text = f"upstream unreachable: {self.upstream_error}"
                flow.response = http.Response.make(502, text, {"Content-Type": "text/plain"})
            return
        entry = {
            "n": self.requests,
            "method": flow.request.method,
            "path": flow.request.path.split("?")[0],
            "fault": rule.fault,
        }
        if rule.fault == "drop_after" and rule.status is not None:
            # Decided when the answer is known: logged only if it is dropped.
            flow.metadata["k8sretry_drop_after_status"] = (rule.status, entry)
            return
        self.log.append(entry)
        if rule.fault in ("429", "503", "504"):
            code = int(rule.fault)
            headers = {"Content-Type": "application/json"}
            if rule.retry_after is not None:
                value = str(rule.retry_after)
                if value.startswith("date:"):
                    value = email.utils.formatdate(time.time() + float(value[5:]), usegmt=True)
                headers["Retry-After"] = value
            status = {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": f"injected {code}",
                "reason": REASONS[code],
                "code": code,
            }
            flow.response = http.Response.make(code, json.dumps(status), headers)
        elif rule.fault == "drop_before":
            flow.kill()
        elif rule.fault == "drop_after":
            flow.metadata["k8sretry_drop_after"] = True
        elif rule.fault.startswith("latency:"):
            await asyncio.sleep(float(rule.fault.split(":", 1)[1]) / 1000)

    def client_connected(self, client: Any) -> None:
        self.connections += 1

    def server_connect_error(self, data: Any) -> None:
        if not self.upstream_down and data.server.address is not None:
            self.upstream_down = True
            self.upstream_error = str(data.server.error or "")
            self.probe = asyncio.get_running_loop().create_task(self.wait_for_upstream(data.server.address))

    async def wait_for_upstream(self, address: tuple[str, int]) -> None:
        while True:
            await asyncio.sleep(PROBE_EVERY)
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(*address[:2]), timeout=1)
            except (OSError, asyncio.TimeoutError):
                continue
            writer.close()
            self.upstream_down = False
            return

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None and is_watch(flow):
            flow.response.stream = True

    def response(self, flow: http.HTTPFlow) -> None:
        if flow.metadata.get("k8sretry_drop_after"):
            flow.kill()
            return
        pending = flow.metadata.get("k8sretry_drop_after_status")
        if pending is not None and flow.response is not None and flow.response.status_code in pending[0]:
            self.log.append(pending[1])
            flow.kill()


addons = [Faults()]
