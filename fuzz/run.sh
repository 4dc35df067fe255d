#!/usr/bin/env bash
# Runs the fuzz targets one after another (one core each; the machine is shared) and prints one
# line per target: executions, time, exec/s, corpus size, crashes. Used by `make fuzz` and
# `make test-fuzz` (mk/fuzz.mk), which build the targets first.
#
#   fuzz/run.sh [--fresh] [--seconds N] [--runs N] [TARGET...]
#
# --seconds N  stop each target after N seconds (default 300)
# --runs N     stop each target after N executions (whichever comes first)
# --fresh      start from the committed seeds (fuzz/corpus/<target>) only and write what the run
#              finds to a scratch directory; without it, a working corpus in
#              fuzz/target/work/corpus/<target> grows from run to run, the seeds read alongside.
#
# Targets: retry_after status_body policy_json decisions (cargo-fuzz, stable, -s none) and
# abi_fuzz (the C ABI, clang libFuzzer + ASan/UBSan). Crash inputs go to fuzz/artifacts/<target>/;
# logs to fuzz/target/logs/<target>.log; the summary also to fuzz/target/logs/summary.txt.
# Exit status 1 when any target crashed, leaked, timed out or failed to start.
set -uo pipefail

cd "$(dirname "$0")/.."
seconds=300
runs=
fresh=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --fresh) fresh=1; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(retry_after status_body policy_json decisions abi_fuzz)

FLAGS=(-s none -O -a)
logs=fuzz/target/logs
mkdir -p "$logs"
failed=()
for t in "${targets[@]}"; do
  if [ "$fresh" = 1 ]; then
    work=fuzz/target/work/fresh/$t
    rm -rf "$work"
  else
    work=fuzz/target/work/corpus/$t
  fi
  mkdir -p "$work" "fuzz/artifacts/$t" "fuzz/corpus/$t"
  args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048)
  [ -n "$runs" ] && args+=(-runs="$runs")
  [ -f "fuzz/dict/$t.dict" ] && args+=(-dict="fuzz/dict/$t.dict")
  log=$logs/$t.log
  start=$(date +%s)
  if [ "$t" = abi_fuzz ]; then
    # Inputs of up to 2 KB (~100 calls); a smaller ASan quarantine and shorter allocation stacks
    # keep the rate up (leak detection stays on).
    ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=32:malloc_context_size=8} \
      fuzz/target-c/abi_fuzz "$work" "fuzz/corpus/$t" "${args[@]}" -max_len=2048 \
      -artifact_prefix="fuzz/artifacts/$t/" >"$log" 2>&1
  else
    cargo fuzz run "${FLAGS[@]}" "$t" "$work" "fuzz/corpus/$t" -- "${args[@]}" >"$log" 2>&1
  fi
  rc=$?
  elapsed=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  execs=${execs:-0}
  rate=$(( execs / (elapsed > 0 ? elapsed : 1) ))
  files=$(find "$work" -type f | wc -l)
  if [ $rc -eq 0 ]; then
    crashes=0
  else
    crashes=1
    failed+=("$t")
  fi
  line=$(printf '%-12s %12s executions in %5s s (%7s exec/s), corpus %5s files, crashes %s' \
    "$t" "$execs" "$elapsed" "$rate" "$files" "$crashes")
  echo "[fuzz] $line"
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $(git rev-parse --short HEAD 2>/dev/null) $line" >>"$logs/summary.txt"
  if [ $rc -ne 0 ]; then
    echo "[fuzz] $t failed (exit $rc); the end of $log:"
    tail -n 40 "$log"
    ls -l "fuzz/artifacts/$t/" 2>/dev/null
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "[fuzz] FAILED: ${failed[*]} (inputs in fuzz/artifacts/<target>/; reproduce with fuzz/README.md)"
  exit 1
fi
