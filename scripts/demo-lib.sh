# Shared by demo.sh and demo-stop.sh: where the demo keeps its state, and process helpers.
# shellcheck shell=bash
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
demo="$root/.demo"
easctl="$root/bin/easctl"
export EAS_COORDINATOR="${EAS_COORDINATOR:-http://127.0.0.1:9090}"

# running NAME: true when .demo/NAME.pid names a live process that is still that daemon.
running() {
  local pidfile="$demo/$1.pid" pid
  [[ -f $pidfile ]] || return 1
  pid="$(cat "$pidfile")"
  [[ -d /proc/$pid ]] && grep -qa -- "$2" "/proc/$pid/cmdline" 2>/dev/null
}

# stop_daemon NAME PATTERN: SIGTERM, wait up to 15 s, then SIGKILL.
stop_daemon() {
  local name="$1" pattern="$2" pid i
  if running "$name" "$pattern"; then
    pid="$(cat "$demo/$name.pid")"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
      [[ -d /proc/$pid ]] || break
      sleep 0.1
    done
    [[ -d /proc/$pid ]] && kill -KILL "$pid" 2>/dev/null || true
    echo "stopped $name (pid $pid)"
  fi
  rm -f "$demo/$name.pid"
}
