# Sourced by the cluster scripts (up.sh, down.sh, fault.sh, apiserver.sh, mitm.sh, local-env.sh):
# process identity for pidfiles, and .run/env lines that `source` reads back unchanged.
#
# A pidfile holds "PID STARTTIME": the pid and its start time (field 22 of /proc/PID/stat, clock
# ticks since boot; exec keeps it). A pid is only ever signalled while it still has that start
# time: after a reboot, or once the process exited and its pid was reused, the pidfile names
# nobody and nothing is killed.

# start_time PID: the process's start time, or fails when there is no such process (or only its
# zombie, which no signal reaches any more).
start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  # Field 2 (comm) may hold spaces and parentheses: the fields after the last ") " are 3, 4, ...
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat
  [ -n "${20:-}" ] && [ "$1" != Z ] && [ "$1" != X ] || return 1
  echo "${20}"
}

# write_pidfile FILE PID: records PID with its start time (empty when it has already exited), 0600
# like everything in .run, whatever the caller's umask.
write_pidfile() {
  local start
  start=$(start_time "$2" || true)
  (umask 077 && printf '%s %s\n' "$2" "$start" > "$1")
}

# owned_pid FILE: prints the pid of FILE when that process is still the one that was started
# (same start time); fails when the file is missing, malformed, or the pid is gone or reused.
owned_pid() {
  local pid="" start=""
  [ -f "$1" ] || return 1
  read -r pid start < "$1" || true
  [[ "$pid" =~ ^[0-9]+$ && -n "$start" ]] || return 1
  [ "$(start_time "$pid" || true)" = "$start" ] || return 1
  echo "$pid"
}

# stop_pidfile FILE [SIGNAL]: SIGNAL (default TERM) to the pid of FILE if owned_pid, then waits up
# to 5 s and KILLs it; removes FILE. Prints the pid it stopped.
stop_pidfile() {
  local pid
  if pid=$(owned_pid "$1"); then
    kill "-${2:-TERM}" "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do owned_pid "$1" >/dev/null || break; sleep 0.1; done
    owned_pid "$1" >/dev/null && kill -9 "$pid" 2>/dev/null
    echo "$pid"
  fi
  rm -f "$1"
}

# env_line KEY VALUE: one line of .run/env, KEY='VALUE', which `source` reads back as VALUE whatever
# it holds (spaces, $, *); VALUE may not hold a single quote or a newline (refused).
env_line() {
  case "$2" in
    *"'"* | *$'\n'*) echo "[cluster] refusing to write $1 with a quote or newline into .run/env" >&2; return 1 ;;
  esac
  printf "%s='%s'\n" "$1" "$2"
}
