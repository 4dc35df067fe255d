"""Plots of the fleet simulator's results (make bench-fleet): reads fleet.json, writes SVGs.

Usage: plot.py RESULTS_DIR

- fleet-outage.svg: (a) attempts per second / N*lambda over time, per policy, N = 1,000.
- fleet-restart.svg: (b) the same, and the 429 share at the server, N = 1,000.
- fleet-amplification.svg: (a) attempts per first attempt against lambda, per policy.
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# k8sretry drawn last and thickest, in black; the anchors in a fixed palette.
STYLE = {
    "k8sretry": {"color": "black", "linewidth": 2.2, "zorder": 10},
    "no-retry": {"color": "#999999", "linewidth": 1.0, "linestyle": "--"},
    "seed-decorator": {"color": "#d62728", "linewidth": 1.0},
    "runner-hooks-338": {"color": "#ff7f0e", "linewidth": 1.0},
    "client-go": {"color": "#1f77b4", "linewidth": 1.0},
    "grpc-a6": {"color": "#2ca02c", "linewidth": 1.0},
    "aws-standard": {"color": "#9467bd", "linewidth": 1.0},
    "finagle-budget": {"color": "#8c564b", "linewidth": 1.0},
}
FLEET = 1000
RATES = [0.2, 2.0, 20.0]


def runs(doc, scenario, n=None, lam=None):
    return [
        r
        for r in doc["runs"]
        if r["scenario"] == scenario and (n is None or r["n"] == n) and (lam is None or r["lambda"] == lam)
    ]


def shade(ax, start, end, label):
    ax.axvspan(start, end, color="#f3d6d6", zorder=0)
    ax.text(start + 1, 0.98, label, transform=ax.get_xaxis_transform(), va="top", fontsize=8)


def over_time(doc, scenario, out, title, with_429):
    rows = 2 if with_429 else 1
    fig, axes = plt.subplots(rows, len(RATES), figsize=(15, 4.2 * rows), sharex=True, squeeze=False)
    model = doc["model"]
    start = model["warm_up_s"]
    for col, lam in enumerate(RATES):
        ax = axes[0][col]
        for r in runs(doc, scenario, FLEET, lam):
            series = r["attempts_per_second_over_demand"]
            ax.plot(range(len(series)), series, label=r["policy"], **STYLE[r["policy"]])
        if scenario == "a_outage":
            shade(ax, start, start + model["outage_s"], "every attempt 503")
        else:
            shade(ax, start, start + model["ramp_s"], "capacity ramps up")
            ax.axhline(model["capacity_over_demand"], color="#444444", linewidth=0.6, linestyle=":")
        ax.axhline(1.0, color="#444444", linewidth=0.6)
        ax.set_title(f"N = {FLEET:,}, \u03bb = {lam:g} calls/s per process")
        ax.set_ylabel("attempts per second / N\u00b7\u03bb")
        ax.set_ylim(0, None)
        if with_429:
            ax2 = axes[1][col]
            for r in runs(doc, scenario, FLEET, lam):
                share = r["share_429_per_second"]
                ax2.plot(
                    range(len(share)),
                    [100 * s for s in share],
                    label=r["policy"],
                    **STYLE[r["policy"]],
                )
            shade(ax2, start, start + model["ramp_s"], "")
            ax2.axhline(5, color="#444444", linewidth=0.6, linestyle=":")
            ax2.set_ylabel("429 share at the server (%)")
            ax2.set_xlabel("seconds")
        else:
            ax.set_xlabel("seconds")
    axes[0][0].legend(fontsize=8, loc="upper right")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def amplification(doc, out):
    fig, ax = plt.subplots(figsize=(8, 5))
    for policy, style in STYLE.items():
        cells = runs(doc, "a_outage")
        line = sorted(
            (r["lambda"], r["attempts_per_first_attempt"])
            for r in cells
            if r["policy"] == policy and r["n"] == FLEET
        )
        ax.plot([x for x, _ in line], [y for _, y in line], marker="o", label=policy, **style)
        others = [
            (r["lambda"], r["attempts_per_first_attempt"])
            for r in cells
            if r["policy"] == policy and r["n"] != FLEET
        ]
        ax.scatter(
            [x for x, _ in others],
            [y for _, y in others],
            s=8,
            color=style["color"],
            alpha=0.5,
        )
    ax.axhline(1.3, color="#444444", linewidth=0.6, linestyle=":")
    ax.set_xscale("log")
    ax.set_xticks(RATES, [f"{r:g}" for r in RATES])
    ax.set_xlabel("\u03bb: calls per second per process")
    ax.set_ylabel("attempts per first attempt during the outage")
    ax.set_title("(a) 60 s outage: amplification against \u03bb\n(lines N = 1,000; dots N = 10, 100, 10,000)")
    ax.set_ylim(0, None)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: plot.py RESULTS_DIR (the directory holding fleet.json)")
    results = Path(sys.argv[1])
    doc = json.loads((results / "fleet.json").read_text())
    plt.rcParams["svg.hashsalt"] = "k8sretry-fleet"
    plt.rcParams["svg.fonttype"] = "none"
    over_time(
        doc,
        "a_outage",
        results / "fleet-outage.svg",
        "(a) hard outage 60 s: the fleet's attempts per second / N\u00b7\u03bb, per policy",
        False,
    )
    over_time(
        doc,
        "b_restart",
        results / "fleet-restart.svg",
        "(b) restart, capacity ramps to 1.2 N\u00b7\u03bb over 30 s: "
        "attempts / N\u00b7\u03bb and the 429 share",
        True,
    )
    amplification(doc, results / "fleet-amplification.svg")
    print(f"[bench-fleet] plots written to {results}/fleet-*.svg")


if __name__ == "__main__":
    main()
