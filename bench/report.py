# ruff: noqa: E501 - the table rows read best one per line
"""`make bench`'s last step: reads the JSON each benchmark wrote to bench/results/raw/, writes
bench/results/results.json (all of it, with the machine) and bench/results/results.md (the table
the top README links to)."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "node": node,
        "rustc": rustc,
    }


def criterion(raw: str) -> dict[str, float]:
    """Median estimates (ns) from criterion's plain output: 'name ... time: [low mid high]'."""
    out: dict[str, float] = {}
    name = None
    units = {"ps": 1e-3, "ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6}
    for line in raw.splitlines():
        m = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", line)
        head = line.split("time:")[0].strip()
        if head:
            name = head
        if m and name:
            out[name] = float(m.group(1)) * units[m.group(2)]
    return out


def ratio(x: float) -> str:
    return f"{x:.2f}"


def main() -> None:
    raw = RESULTS / "raw"
    py = json.loads((raw / "python.json").read_text())
    node = json.loads((raw / "node.json").read_text())
    rust = criterion((raw / "rust.txt").read_text())
    c = json.loads((raw / "c.json").read_text())
    chaos = json.loads((raw / "chaos.json").read_text())
    budget = json.loads((raw / "budget.json").read_text())
    results = {
        "machine": machine(),
        "python": py,
        "node": node,
        "rust": rust,
        "c": c,
        "chaos": chaos,
        "budget": budget,
    }
    (RESULTS / "results.json").write_text(json.dumps(results, indent=2) + "\n")

    m = results["machine"]
    po, pm, no = py["sync_overhead_ns"], py["method_overhead_ns"], node["overhead_ns"]
    r_bare = rust["success path, async/bare call"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}; "
        f"Python {m['python']}, Node {m['node']}, {m['rustc']}. All figures from one `make bench` run; "
        "overheads are per call minus a bare call, side by side in the same run.",
        "",
        "| what | k8sretry | alternative | ratio | goal |",
        "|---|---|---|---|---|",
        f"| Python sync success overhead vs tenacity | {po['k8sretry retry_on_k8s_error']:.0f} ns | "
        f"{po['tenacity']:.0f} ns | {ratio(py['goals']['sync overhead / tenacity (goal <= 1/30)'])} | ≤ 0.033 |",
        f"| Python sync success overhead vs a plain try/except wrapper | {po['k8sretry retry_on_k8s_error']:.0f} ns | "
        f"{po['plain try/except wrapper']:.0f} ns | {ratio(py['goals']['sync overhead / plain wrapper (goal <= 2)'])} | ≤ 2 |",
        f"| Python sync success overhead vs backoff | {po['k8sretry retry_on_k8s_error']:.0f} ns | "
        f"{po['backoff']:.0f} ns | {ratio(po['k8sretry retry_on_k8s_error'] / po['backoff'])} | |",
        f"| Python async success overhead vs tenacity | {py['async_overhead_ns']['k8sretry retry_on_k8s_error']:.0f} ns | "
        f"{py['async_overhead_ns']['tenacity']:.0f} ns | {ratio(py['goals']['async overhead / tenacity (goal <= 1/30)'])} | ≤ 0.033 |",
        f"| Python `wrap_client` method overhead vs a plain try/except proxy | "
        f"{pm['k8sretry wrap_client method']:.0f} ns | {pm['plain try/except proxy method']:.0f} ns | "
        f"{ratio(py['goals']['wrap_client method overhead / plain proxy (goal <= 2)'])} | ≤ 2 |",
        f"| Python `wrap_client` method overhead vs a tenacity proxy | "
        f"{pm['k8sretry wrap_client method']:.0f} ns | {pm['tenacity proxy method']:.0f} ns | "
        f"{ratio(py['goals']['wrap_client method overhead / tenacity (goal <= 1/30)'])} | ≤ 0.033 |",
        f"| Python 2 failures then success (sleeps 0) vs tenacity | "
        f"{py['two_failures_then_success_ns']['k8sretry retry_on_k8s_error'] / 1000:.1f} µs | "
        f"{py['two_failures_then_success_ns']['tenacity'] / 1000:.1f} µs | "
        f"{ratio(py['two_failures_then_success_ns']['k8sretry retry_on_k8s_error'] / py['two_failures_then_success_ns']['tenacity'])} | |",
        f"| Node `withRetry` success overhead vs cockatiel | {no['k8sretry withRetry']:.0f} ns | "
        f"{no['cockatiel']:.0f} ns | {ratio(node['goals']['withRetry overhead / cockatiel (goal <= 0.6)'])} | ≤ 0.6 |",
        f"| Node `withRetryClient` method overhead vs cockatiel | {no['k8sretry withRetryClient method']:.0f} ns | "
        f"{no['cockatiel']:.0f} ns | {ratio(node['goals']['withRetryClient method overhead / cockatiel (goal <= 0.6)'])} | ≤ 0.6 |",
        f"| Node `withRetry` overhead vs p-retry / async-retry | {no['k8sretry withRetry']:.0f} ns | "
        f"{no['p-retry']:.0f} / {no['async-retry']:.0f} ns | "
        f"{ratio(no['k8sretry withRetry'] / no['p-retry'])} / {ratio(no['k8sretry withRetry'] / no['async-retry'])} | |",
        f"| Rust `retry` success path vs backon | {rust['success path, async/k8sretry retry'] - r_bare:.0f} ns | "
        f"{rust['success path, async/backon'] - r_bare:.0f} ns | "
        f"{ratio((rust['success path, async/k8sretry retry'] - r_bare) / (rust['success path, async/backon'] - r_bare))} | |",
        f"| Rust decision (`on_failure`, a 503 on a GET) | {rust['decision alone: on_failure for a 503 on a GET']:.0f} ns | | | ≤ 100 ns |",
        f"| Rust `Call::new` + decision, shared budget | {rust['decision with the shared budget']:.0f} ns | | | |",
        f"| C decision through the FFI | {c['decision alone (on_failure) ns']:.0f} ns | | | ≤ 300 ns |",
        f"| Python decision through the binding | {py['decision_through_binding_ns']:.0f} ns | | | ≤ 300 ns |",
        f"| Node decision through the binding | {node['decision_through_binding_ns']:.0f} ns | | | ≤ 300 ns |",
        f"| Node decision on a 503 with client-node's Status body and message | "
        f"{node['decision_with_status_body_ns']:.0f} ns | | | |",
        *failure_path_rows(node["failure_path"]),
        "",
        "Chaos (the e2e workload through the fault proxy, `kubernetes` + `wrap_client`, 8 retries from 50 ms):",
        "",
        "| faults planned | injected | operations | success rate | attempts / operation | added latency p50 | p99 |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in chaos["rates"]:
        lines.append(
            f"| {run['fault_rate_planned']:.0%} | {run['fault_rate_injected']:.0%} | {run['operations']} | "
            f"{run['success_rate']:.1%} | {run['attempts_per_operation']:.2f} | "
            f"{run['added_latency_ms_p50']:.0f} ms | {run['added_latency_ms_p99']:.0f} ms |"
        )
    # Per kind of operation (chaos.py's OPERATIONS), one column per fault rate.
    runs = [run for run in chaos["rates"] if "kinds" in run]
    if runs:
        head = " | ".join(f"{run['fault_rate_planned']:.0%}" for run in runs)
        lines += [
            "",
            "Success per kind of operation (50 each per fault rate; a JSON patch whose outcome is unknown is "
            "raised, never resent):",
            "",
            f"| operation | {head} |",
            "|---|" + "---|" * len(runs),
        ]
        for kind in runs[0]["kinds"]:
            cells = " | ".join(f"{run['kinds'][kind]['success_rate']:.0%}" for run in runs)
            lines.append(f"| {kind.replace('_', ' ')} | {cells} |")
        rows = [
            (
                "all but JSON patches (goal: ≥ 99.5% at 30%, ≥ 99% at 50%)",
                lambda r: f"{r['success_rate_without_json_patch']:.1%}",
            ),
            ("JSON patches applied twice (goal: 0)", lambda r: str(r["json_patch"]["applied_twice_or_more"])),
            (
                "JSON patches applied once / not applied",
                lambda r: f"{r['json_patch']['applied_once']} / {r['json_patch']['not_applied']}",
            ),
            ("generateName creates made twice (goal: 0)", lambda r: str(r["duplicates"])),
        ]
        for label, cell in rows:
            lines.append(f"| {label} | " + " | ".join(cell(run) for run in runs) + " |")
    o = chaos.get("outage")
    if o is not None:
        lines += [
            "",
            f"Outage (apiserver stopped 10 s under 100 new calls/s): {o['amplification_with_budget']:.2f} "
            f"attempts per first attempt with the default retry budget, "
            f"{o['amplification_without_budget']:.2f} without.",
        ]
    lines += budget_table(budget)
    (RESULTS / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def failure_path_rows(fp: dict[str, Any]) -> list[str]:
    """bench/node/failure.mjs: N concurrent calls, each failing once with client-node's 503, then
    succeeding; k8sretry with the default retry budget (or, when that refused some calls, none)."""
    rows = []
    for n, sides in fp["by_calls"].items():
        used = sides["k8sretry_policy_used"]
        k, c = sides[f"k8sretry (budget: {used})"], sides["cockatiel"]
        default = sides["k8sretry (budget: default)"]
        refused = f" (default budget: {default['failed']} of {default['calls']} calls refused)"
        rows.append(
            f"| Node failure path, {int(n):,} concurrent calls × one 503, per call (budget: {used})"
            f"{'' if used == 'default' else refused} | "
            f"{k['ns_per_call'] / 1000:.1f} µs | {c['ns_per_call'] / 1000:.1f} µs | "
            f"{ratio(k['ns_per_call'] / c['ns_per_call'])} | ≤ 1 |"
        )
    n = max(fp["by_calls"], key=int)
    sides = fp["by_calls"][n]
    k, c = sides[f"k8sretry (budget: {sides['k8sretry_policy_used']})"], sides["cockatiel"]
    rows.append(
        f"| Node failure path, RSS kept after a forced GC, {int(n):,} calls | {k['rss_growth_mib']:+.0f} MiB | "
        f"{c['rss_growth_mib']:+.0f} MiB | | |"
    )
    return rows


def budget_table(budget: dict[str, Any]) -> list[str]:
    """bench/budget.py: a blip (N calls failing twice at once) and an outage, per budget."""
    sizes = list(next(iter(budget["blip"].values())))
    head = ["budget", *[f"blip N={n}: calls succeeded" for n in sizes], "outage: attempts per first attempt"]
    lines = [
        "",
        "Retry budget, decided by the engine on a simulated timeline (bench/budget.py): a blip of N "
        "concurrent calls that each fail twice and then succeed, and a 10 s outage at 100 new calls/s "
        "(goals: every blip call succeeds; the outage stays <= 1.3):",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for name, blips in budget["blip"].items():
        cells = [f"{blips[n]['succeeded']}/{blips[n]['calls']}" for n in sizes]
        cells.append(f"{budget['outage'][name]['per_first_attempt']:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    main()
