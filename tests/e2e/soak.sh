#!/usr/bin/env bash
# make soak: each language's soak process in turn (one process per language, one at a time)
# against the real apiserver behind the fault proxy with about 20% of requests faulted, for
# SOAK_SECONDS (default 600) at SOAK_RATE calls per second (default 200). Prints each process's
# RSS and open fds at the start (after 10 s) and the end, its calls and rate, and the engine's
# metrics_text() counts next to the workload's own; fails when they differ, when a call failed or
# an object was left over, or when RSS or fds grew past a bound. Languages: SOAK_LANGS (default
# "python node go rust"). Commands come from the Makefile (SOAK_PYTHON, SOAK_NODE, SOAK_GO,
# SOAK_RUST); the cluster is started and torn down here.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cluster="$here/../cluster"
out=${SOAK_OUT:-$here/../../.cache/build/soak}
export SOAK_SECONDS=${SOAK_SECONDS:-600} SOAK_RATE=${SOAK_RATE:-200}
mkdir -p "$out"

"$cluster/up.sh" >/dev/null && "$cluster/proxy.sh" || { "$cluster/down.sh"; exit 1; }
. "$cluster/.run/env"
control() { curl -fsS --cacert "$PROXY_CA" -H "X-K8sretry-Control-Token: $PROXY_TOKEN" -X "$1" "$PROXY/__k8sretry/$2" ${3:+-d "$3"}; }
# About 20% of all requests: every verb faulted by what the real apiserver or the network does.
PLAN='{"seed": 7, "rules": [
  {"method": "POST", "path": "/configmaps$", "fault": "drop_after", "probability": 0.06},
  {"method": "POST", "path": "/configmaps$", "fault": "drop_before", "probability": 0.05},
  {"method": "POST", "path": "/configmaps$", "fault": "503", "probability": 0.05},
  {"method": "POST", "path": "/configmaps$", "fault": "429", "probability": 0.06},
  {"method": "GET", "path": "/configmaps", "fault": "503", "probability": 0.1},
  {"method": "GET", "path": "/configmaps", "fault": "429", "probability": 0.08},
  {"method": "GET", "path": "/configmaps", "fault": "504", "probability": 0.05},
  {"method": "PATCH", "path": "/configmaps/", "fault": "429", "probability": 0.1},
  {"method": "PATCH", "path": "/configmaps/", "fault": "drop_after", "probability": 0.06},
  {"method": "PATCH", "path": "/configmaps/", "fault": "503", "probability": 0.06},
  {"method": "DELETE", "path": "/configmaps/", "fault": "drop_after", "probability": 0.06},
  {"method": "DELETE", "path": "/configmaps/", "fault": "503", "probability": 0.1},
  {"method": "DELETE", "path": "/configmaps/", "fault": "drop_before", "probability": 0.05}
]}'

export SOAK_PLAN=$PLAN  # for processes that reset the plan when they start (the Go suite's TestMain)
rc=0
for lang in ${SOAK_LANGS:-python node go rust}; do
  var="SOAK_$(echo "$lang" | tr a-z A-Z)"
  cmd=${!var:-}
  [ -n "$cmd" ] || { echo "[soak] no command for $lang ($var)"; rc=1; continue; }
  control PUT plan "$PLAN" >/dev/null
  echo "[soak] $lang: $SOAK_SECONDS s at $SOAK_RATE calls/s through the fault proxy"
  (cd "$here/../.." && eval "$cmd") 2>&1 | tee "$out/$lang.log" | grep --line-buffered -E '^t=' | awk 'NR % 6 == 1'
  control GET stats > "$out/$lang.proxy.json"
  grep '^SOAK ' "$out/$lang.log" | tail -n 1 | cut -c6- > "$out/$lang.json"
  [ -s "$out/$lang.json" ] || { echo "[soak] $lang printed no result (see $out/$lang.log)"; tail -n 20 "$out/$lang.log"; rc=1; }
done
"$cluster/down.sh"

python3 - "$out" ${SOAK_LANGS:-python node go rust} <<'PY' || rc=1
import json, sys
from pathlib import Path
out, langs = Path(sys.argv[1]), sys.argv[2:]
print()
print("| language (client) | seconds (load + drain) | calls | calls/s in the load window | faults / requests at the proxy | failed | left over | retries: events / metrics | calls: workload / metrics (ok / gave up+failed) | RSS MB at 10 s / warm / end (max after warm) | open fds at 10 s / warm / end (max after warm) |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
bad = []
for lang in langs:
    path = out / f"{lang}.json"
    if not path.exists() or not path.read_text().strip():
        bad.append(f"{lang}: no result")
        continue
    r = json.loads(path.read_text())
    proxy = json.loads((out / f"{lang}.proxy.json").read_text())
    faults = sum(proxy["faults"].values())
    m = r["metrics"]
    mc = m["calls"]
    m_ok = mc.get("success", 0) + mc.get("success_after_retry", 0) + mc.get("recovered", 0)
    m_bad = mc.get("gave_up", 0) + mc.get("failed", 0)
    # "warm": the first sample at or after min(60 s, a quarter of the run): runtimes and
    # connection pools grow for a while after the start; flat means no growth after that.
    samples = r["samples"]
    warm_at = min(60, float(r["seconds"]) / 4)
    s10 = next((x for x in samples if x[0] >= 10), samples[0])
    warm = next((x for x in samples if x[0] >= warm_at), samples[0])
    end = samples[-1]
    later = [x for x in samples if x[0] >= warm[0]]
    mb = lambda kb: f"{kb / 1024:.0f}"  # noqa: E731
    rss = {"10s": s10[1], "warm": warm[1], "end": end[1], "max": max(x[1] for x in later)}
    fds = {"10s": s10[2], "warm": warm[2], "end": end[2], "max": max(x[2] for x in later)}
    print(f"| {lang} ({r['client']}) | {r['seconds']:.0f} | {r['calls']} | {r['rate']:.1f} | {faults} / {proxy['requests']} ({100 * faults / max(1, proxy['requests']):.1f}%) "
          f"| {r['failed']} | {r['left_count']} | {r['retries']} / {m['retries']} | {r['calls']} / {m['calls_total']} ({m_ok} / {m_bad}) "
          f"| {mb(rss['10s'])} / {mb(rss['warm'])} / {mb(rss['end'])} ({mb(rss['max'])}) | {fds['10s']:.0f} / {fds['warm']:.0f} / {fds['end']:.0f} ({fds['max']:.0f}) |")
    if m["calls_total"] != r["calls"] or m_ok != r["ok"] or m_bad != r["failed"]:
        bad.append(f"{lang}: metrics calls {mc} != workload calls {r['calls']} (ok {r['ok']}, failed {r['failed']})")
    if m["retries"] != r["retries"]:
        bad.append(f"{lang}: metrics retries {m['retries']} != retry events {r['retries']}")
    if r["failed"] or r["left_count"]:
        bad.append(f"{lang}: {r['failed']} calls failed {r.get('errors')}, {r['left_count']} objects left {r.get('left_in_namespace')}")
    # Flat: after warming up, the end within 10% (+ 10 MB) of the warm RSS; fds back near it.
    if rss["end"] > rss["warm"] * 1.1 + 10_240 or fds["end"] > fds["warm"] + 20:
        bad.append(f"{lang}: RSS {rss} kB, fds {fds}")
for b in bad:
    print(f"[soak] FAIL {b}")
sys.exit(1 if bad else 0)
PY
exit $rc
