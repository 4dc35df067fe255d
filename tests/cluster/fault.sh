#!/usr/bin/env bash
# fault.sh ACTION: real faults of the etcd and kube-apiserver that up.sh started (by pid, from .run/,
# each pid checked to still be the process up.sh started: lib.sh's owned_pid),
# for the real-fault e2e scenarios (profile-faults.sh starts the cluster they need).
#
#   etcd-pause        SIGSTOP etcd: the apiserver's writes hang and time out (504 Timeout), some commit
#   etcd-resume       SIGCONT etcd
#   etcd-kill         SIGKILL etcd (its data stays): reads and writes get 504s and resets
#   etcd-start        starts etcd again on the same data and ports (.run/etcd.sh); waits for /health
#   apiserver-term    SIGTERM the apiserver and wait until it exited (a graceful shutdown:
#                     --shutdown-delay-duration, --shutdown-send-retry-after); prints the seconds it took
#   apiserver-kill    SIGKILL the apiserver (in-flight requests are cut)
#   apiserver-start   starts the apiserver again (same port, same etcd) and waits for /readyz
#   wait-ready        waits (up to 60 s) until /readyz answers ok
# Every action prints one line "ACTION <unix time with ms>" when it took effect.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
run="$here/.run"
[ -f "$run/env" ] || { echo "no cluster: run up.sh first" >&2; exit 1; }
. "$here/lib.sh"
stamp() { echo "$1 $(date +%s.%3N)"; }
pid_of() { # name: its pid, or stop when the pidfile names no process of ours
  owned_pid "$run/$1.pid" || { echo "$1 is not running (no live process of $run/$1.pid)" >&2; exit 1; }
}
wait_exit() { # name, tenths of a second: until its pidfile names no live process of ours
  for _ in $(seq 1 "$2"); do owned_pid "$run/$1.pid" >/dev/null || return 0; sleep 0.1; done
  return 1
}
ready() { "$here/status.sh" >/dev/null 2>&1; }
wait_ready() {
  for _ in $(seq 1 600); do ready && return 0; sleep 0.1; done
  echo "kube-apiserver not ready after 60 s" >&2; tail -n 20 "$run/apiserver.log" >&2; return 1
}

case "${1:-}" in
  etcd-pause) kill -STOP "$(pid_of etcd)"; stamp "$1" ;;
  etcd-resume) kill -CONT "$(pid_of etcd)"; stamp "$1" ;;
  etcd-kill)
    pid=$(pid_of etcd)
    kill -CONT "$pid" 2>/dev/null || true
    kill -KILL "$pid"; wait_exit etcd 50 || true; stamp "$1" ;;
  etcd-start)
    "$run/etcd.sh" >> "$run/etcd.log" 2>&1 &
    write_pidfile "$run/etcd.pid" $!
    port=$(sed -n 's#.*--listen-client-urls "http://127.0.0.1:\([0-9]*\)".*#\1#p' "$run/etcd.sh")
    for _ in $(seq 1 200); do
      curl -fs "http://127.0.0.1:$port/health" 2>/dev/null | grep -q '"health":"true"' && { stamp "$1"; exit 0; }
      sleep 0.05
    done
    echo "etcd not healthy after 10 s" >&2; tail -n 20 "$run/etcd.log" >&2; exit 1 ;;
  apiserver-term)
    pid=$(pid_of apiserver)
    start=$(date +%s.%N)
    kill -TERM "$pid"
    wait_exit apiserver 600 || { echo "kube-apiserver still running 60 s after SIGTERM" >&2; exit 1; }
    stamp "$1"
    python3 -c "import sys, time; print(f'shutdown took {time.time() - float(sys.argv[1]):.1f} s')" "$start" >&2 ;;
  apiserver-kill)
    pid=$(pid_of apiserver)
    kill -KILL "$pid"; wait_exit apiserver 50 || true; stamp "$1" ;;
  apiserver-start)
    "$run/apiserver.sh" >> "$run/apiserver.log" 2>&1 &
    write_pidfile "$run/apiserver.pid" $!
    wait_ready; stamp "$1" ;;
  wait-ready) wait_ready; stamp "$1" ;;
  *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
