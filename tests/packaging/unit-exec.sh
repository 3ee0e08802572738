#!/usr/bin/env bash
# Starts the main process of an installed systemd unit the way systemd would, on a machine where PID 1 is
# not systemd (a container, a CI runner), and prints its PID. For the packaging test and bench/packaging.
#
#   unit-exec.sh UNIT_FILE NOTIFY_SOCKET [ERROR_LOG]
#
# ERROR_LOG (default /dev/null) gets what goes wrong before the daemon runs (a mount, setpriv, systemd-cat).
# NOTIFY_SOCKET must lie outside /tmp and /var/tmp, which PrivateTmp=yes replaces (systemd's own is in /run).
#
# From the unit's [Service] section it applies: ExecStart= (run as is), User=/Group= (setpriv, with the
# user's supplementary groups), Environment=, LimitNOFILE=, NoNewPrivileges=yes, an empty
# CapabilityBoundingSet=, StateDirectory=/StateDirectoryMode= (created and owned as systemd does),
# ProtectSystem=strict with ReadWritePaths= and StateDirectory= (in a private mount namespace: / is
# remounted read-only except those paths), PrivateTmp=yes (fresh /tmp and /var/tmp), ProtectHome=yes
# (empty, inaccessible /home, /root and /run/user), WorkingDirectory / (the default), and the process
# environment systemd gives a service: a clean one with PATH, LANG, HOME, USER, LOGNAME, SHELL (for
# User=), INVOCATION_ID, NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (for WatchdogSec=). stdout and
# stderr go to journald's stream with SyslogIdentifier= (systemd-cat), like StandardOutput=journal.
# LimitNOFILE= above the current hard limit needs CAP_SYS_RESOURCE; without it the hard limit is used (said
# in ERROR_LOG). Not emulated: the unit's own cgroup (Delegate=, KillMode=), PrivateDevices=, the Protect{Kernel*,
# ControlGroups,Clock,Hostname}= and Restrict*= sandboxing, SystemCallArchitectures=, Restart=.
set -euo pipefail
unit="$1" notify="$2" errors="${3:-/dev/null}"
[[ -f $unit ]] || { echo "unit-exec.sh: $unit does not exist" >&2; exit 1; }

# setting KEY: the value of KEY= in [Service] (the last one wins; empty when absent).
setting() {
  awk -v key="$1" '
    /^\[/ { section = $0; next }
    section == "[Service]" && index($0, key "=") == 1 { value = substr($0, length(key) + 2) }
    END { print value }' "$unit"
}
# all KEY: every value of KEY= in [Service], one per line.
all() {
  awk -v key="$1" '
    /^\[/ { section = $0; next }
    section == "[Service]" && index($0, key "=") == 1 { print substr($0, length(key) + 2) }' "$unit"
}
# seconds VALUE: a systemd time span (30s, 1min, 2min 30s, 500ms, 10) in microseconds.
usec() {
  local value="$1" total=0 part number
  for part in $value; do
    number="${part%%[a-z]*}"
    case "${part#"$number"}" in
      "" | s | sec) total=$((total + number * 1000000)) ;;
      ms | msec) total=$((total + number * 1000)) ;;
      m | min) total=$((total + number * 60000000)) ;;
      h | hr) total=$((total + number * 3600000000)) ;;
      *) echo "unit-exec.sh: cannot read the time span '$value'" >&2; exit 1 ;;
    esac
  done
  echo "$total"
}

exec_start="$(setting ExecStart)"
exec_start="${exec_start#[-@:+!]}"
user="$(setting User)" group="$(setting Group)"
identifier="$(setting SyslogIdentifier)"
[[ -n $identifier ]] || identifier="$(basename "${exec_start%% *}")"

environment=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
  "INVOCATION_ID=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" "NOTIFY_SOCKET=$notify")
if [[ -n $user ]]; then
  home="$(getent passwd "$user" | cut -d: -f6)" shell="$(getent passwd "$user" | cut -d: -f7)"
  environment+=("HOME=$home" "USER=$user" "LOGNAME=$user" "SHELL=$shell")
else
  environment+=(HOME=/root USER=root LOGNAME=root SHELL=/bin/sh)
fi
while read -r line; do
  [[ -n $line ]] || continue
  read -r -a words <<<"$line"
  environment+=("${words[@]}")
done < <(all Environment)
watchdog="$(setting WatchdogSec)"
if [[ -n $watchdog && $watchdog != 0 ]]; then
  environment+=("WATCHDOG_USEC=$(usec "$watchdog")")
fi

# StateDirectory=: created below /var/lib, owned by User=/Group=, with StateDirectoryMode= (default 0755).
writable=()
mode="$(setting StateDirectoryMode)"
for dir in $(setting StateDirectory); do
  path="/var/lib/$dir"
  install -d -m 0755 "$(dirname "$path")"
  install -d -m "${mode:-0755}" "$path"
  chmod "${mode:-0755}" "$path"
  [[ -z $user ]] || chown "$user:${group:-$user}" "$path"
  writable+=("$path")
done
for path in $(setting ReadWritePaths); do writable+=("${path#-}"); done

sandbox=""
if [[ $(setting ProtectSystem) == strict ]]; then
  for path in "${writable[@]}"; do
    sandbox+="mount --bind '$path' '$path'; "
  done
  sandbox+="mount -o remount,bind,ro /; "
fi
if [[ $(setting PrivateTmp) == yes ]]; then
  sandbox+="mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp; mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp; "
fi
if [[ $(setting ProtectHome) == yes ]]; then
  for path in /home /root /run/user; do
    [[ -d $path ]] && sandbox+="mount -t tmpfs -o ro,mode=000 tmpfs '$path'; "
  done
fi

privileges=()
if [[ -n $user ]]; then
  privileges=(setpriv "--reuid=$user" "--regid=${group:-$user}" --init-groups)
  [[ $(setting NoNewPrivileges) == yes ]] && privileges+=(--no-new-privs)
  if grep -q '^CapabilityBoundingSet=$' "$unit"; then
    privileges+=(--bounding-set=-all --inh-caps=-all)
  fi
fi
limit="$(setting LimitNOFILE)"

# One process from here to the daemon: the subshell execs unshare, sh, setpriv, systemd-cat and the
# daemon in turn, so the PID printed is the daemon's (WATCHDOG_PID, and NotifyAccess=main's main PID).
(
  cd /
  # systemd (PID 1) may raise the hard limit; here that needs CAP_SYS_RESOURCE, which a sandbox may lack.
  if [[ -n $limit ]] && ! ulimit -n "$limit" 2>/dev/null; then
    echo "unit-exec.sh: LimitNOFILE=$limit is not permitted here (hard limit $(ulimit -Hn), no CAP_SYS_RESOURCE); using $(ulimit -Hn)" >&2
    ulimit -n "$(ulimit -Hn)"
  fi
  environment+=("WATCHDOG_PID=$BASHPID")
  # ExecStart is split on spaces ($exec_start unquoted), as systemd does for these units' command lines.
  # shellcheck disable=SC2086
  if [[ -n $sandbox ]]; then
    exec unshare --mount --propagation private sh -c "${sandbox}exec \"\$@\"" unit-exec \
      env -i "${environment[@]}" "${privileges[@]}" systemd-cat -t "$identifier" $exec_start
  fi
  # shellcheck disable=SC2086
  exec env -i "${environment[@]}" "${privileges[@]}" systemd-cat -t "$identifier" $exec_start
) </dev/null >/dev/null 2>>"$errors" &
echo $!
