#!/usr/bin/env bash
# The packaging test (make test runs it from scripts/run-tests.sh; alone: tests/packaging/run.sh, as root).
#
# Builds the .deb and .rpm packages (packaging/build.sh), checks them (lintian, dpkg-deb, rpm -qpl/-qpR),
# installs the .debs on this machine with apt-get, checks the user, folders, units (systemd-analyze verify)
# and conffiles, checks that each daemon refuses a wrong key or value naming the file, key and rule, starts
# the installed coordinator and agent the way their units would (tests/packaging/unit-exec.sh: same
# ExecStart, User, environment, sandbox, notification socket; journald started here when none runs),
# deploys the quick start with the installed easctl, calls it through the gateway, finds its log lines with
# journalctl and the EAS_* fields, checks READY=1 / WATCHDOG=1 / STOPPING=1, upgrades two packages to a
# newer version with a changed conffile (kept), and purges everything: no file, user, unit, state,
# process, container, bridge or mount is left. Cleans up even when a check fails.
#
# Results: one line per check (PASS/FAIL/SKIP), and TestResults/Packaging.trx for the summary of make test.
#   tests/packaging/run.sh [RESULTS_DIR]
#   SKIP_BUILD=1 tests/packaging/run.sh    reuse dist/ from the last make packages
#   SKIP_PACKAGING=1 make test             every check reported as skipped, with that reason
#   PACKAGING_VERBOSE=1 tests/packaging/run.sh   the output of the checks that pass, too
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/tests/packaging"
results="${1:-$root/TestResults}"
mkdir -p "$results"
work="$(mktemp -d /tmp/eas-packaging.XXXXXX)"
# The notification sockets: outside /tmp, which the units' PrivateTmp=yes hides (systemd's is in /run too).
sockets="$(mktemp -d /run/eas-packaging.XXXXXX)"
chmod 0755 "$sockets"   # the daemons running as eas reach their socket through it
export DEBIAN_FRONTEND=noninteractive
packages=(eas-coordinator eas-agent easctl eas-gateway)
version="$(tr -d '[:space:]' <"$root/VERSION")"
bumped="$version+upgradetest"
outcomes="$work/outcomes.tsv"
: >"$outcomes"
daemon_pids=() listener_pids=() journald_pid="" journald_dirs=() installed=0
coordinator="http://127.0.0.1:9090"
export EAS_COORDINATOR="$coordinator"

# ---- reporting -----------------------------------------------------------------------------------------
now() { date +%s.%N; }
failures=""
fail() { failures+="$*"$'\n'; }
# check NAME FUNCTION: runs FUNCTION (which calls fail for each problem), prints PASS/FAIL, records it.
check() {
  local name="$1" fn="$2" started outcome duration
  failures=""
  started=$(now)
  echo "== packaging: $name"
  "$fn" >"$work/$name.log" 2>&1 || fail "$fn exited with $? (see the output above)"
  duration=$(awk -v a="$started" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
  if [[ -z $failures ]]; then
    outcome=Passed
    [[ -z ${PACKAGING_VERBOSE:-} ]] || sed 's/^/    | /' "$work/$name.log"
    echo "PASS $name (${duration} s)"
  else
    outcome=Failed
    sed 's/^/    | /' "$work/$name.log" | tail -40
    echo "FAIL $name (${duration} s):"
    printf '%s' "$failures" | sed 's/^/    /'
  fi
  printf '%s\t%s\t%s\t%s\n' "$name" "$outcome" "$duration" "$(printf '%s' "$failures" | base64 -w0)" >>"$outcomes"
  [[ $outcome == Passed ]]
}
skip() {
  echo "SKIP $1: $2"
  printf '%s\t%s\t0\t%s\n' "$1" NotExecuted "$(printf '%s' "$2" | base64 -w0)" >>"$outcomes"
}
write_trx() {
  python3 - "$outcomes" "$results/Packaging.trx" <<'PY'
import base64, sys
from xml.sax.saxutils import escape, quoteattr
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
passed = sum(r[1] == "Passed" for r in rows)
failed = sum(r[1] == "Failed" for r in rows)
executed = passed + failed
def duration(s):
    s = float(s); return "%02d:%02d:%09.6f" % (s // 3600, s % 3600 // 60, s % 60)
out = ['<?xml version="1.0" encoding="UTF-8"?>',
       '<TestRun name="packaging" xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">',
       '  <Results>']
for name, outcome, secs, message in rows:
    text = base64.b64decode(message).decode()
    out.append(f'    <UnitTestResult testName={quoteattr("Packaging." + name)} outcome="{outcome}" duration="{duration(secs)}">')
    if text:
        out.append(f'      <Output><ErrorInfo><Message>{escape(text)}</Message></ErrorInfo></Output>')
    out.append('    </UnitTestResult>')
out.append('  </Results>')
out.append(f'  <ResultSummary outcome="{"Failed" if failed else "Completed"}"><Counters total="{len(rows)}" executed="{executed}" passed="{passed}" failed="{failed}" /></ResultSummary>')
out.append('</TestRun>')
open(sys.argv[2], "w").write("\n".join(out) + "\n")
PY
}

# ---- cleanup (always) ------------------------------------------------------------------------------------
stop_pid() {
  local pid="$1" i
  [[ -d /proc/$pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do [[ -d /proc/$pid ]] || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
stop_daemons() {
  local pid
  for pid in "${daemon_pids[@]}"; do stop_pid "$pid"; done
  daemon_pids=()
}
cleanup() {
  set +e
  stop_daemons
  if [[ $installed -eq 1 ]]; then
    # What the prerm would do where the agent is still configured; harmless when the purge already ran.
    [[ -x /usr/lib/eas/eas-agent/eas-agent && -f /etc/eas/agent.json ]] && /usr/lib/eas/eas-agent/eas-agent cleanup --config /etc/eas/agent.json >/dev/null 2>&1
    apt-get purge -y -qq "${packages[@]}" >/dev/null 2>&1
  fi
  for pid in "${listener_pids[@]}"; do stop_pid "$pid"; done
  if [[ -n $journald_pid ]]; then
    stop_pid "$journald_pid"
    rm -rf "${journald_dirs[@]}"
    rmdir /run/log 2>/dev/null
  fi
  journald_pid=""
}
trap 'cleanup; rm -rf "$work" "$sockets"; exit 130' INT TERM

# ---- helpers ---------------------------------------------------------------------------------------------
journald_listening() {
  python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.connect("/run/systemd/journal/socket")' 2>/dev/null
}
# expect_contains TEXT NEEDLE WHAT
expect_contains() { grep -qF -- "$2" <<<"$1" || fail "$3: '$2' missing"; }
# wait_for SECONDS COMMAND...: true once COMMAND succeeds.
wait_for() {
  local deadline=$(($(date +%s) + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [[ $(date +%s) -lt $deadline ]] || return 1
    sleep 0.2
  done
}
# notified LOG PID MESSAGE: true once the notification socket's LOG has MESSAGE from PID.
notified() { awk -v pid="$2" -v msg="$3" '$2 == pid && index("|" $3 "|", "|" msg "|") { found = 1 } END { exit !found }' "$1"; }
start_unit() {
  local name="$1" log="$work/notify-$1.log" socket="$sockets/notify-$1.sock" pid
  python3 "$here/notify-listen.py" "$socket" "$log" &
  listener_pids+=($!)
  wait_for 10 test -S "$socket" || { fail "$name: the notification socket did not come up"; return 1; }
  pid="$("$here/unit-exec.sh" "/lib/systemd/system/$name.service" "$socket" "$work/$name.exec.log")" || { fail "$name: unit-exec.sh failed"; return 1; }
  daemon_pids+=("$pid")
  echo "$pid" >"$work/$name.pid"
  if ! wait_for 60 notified "$log" "$pid" READY=1; then
    fail "$name: no READY=1 from its main process ($pid) within 60 s (Type=notify would time out); start: $(cat "$work/$name.exec.log"); journal: $(journalctl -t "$name" --no-pager -n 20 -o cat 2>&1 | tail -20)"
    return 1
  fi
  echo "$name: READY=1 from pid $pid"
  cat "$work/$name.exec.log"
}

# usec SPAN: a systemd time span (30s, 1min, 500ms) in microseconds.
usec() {
  local value="$1" number
  number="${value%%[a-z]*}"
  case "${value#"$number"}" in
    "" | s | sec) echo $((number * 1000000)) ;;
    ms | msec) echo $((number * 1000)) ;;
    min) echo $((number * 60000000)) ;;
    *) echo 0 ;;
  esac
}

# ---- the checks ------------------------------------------------------------------------------------------
do_build() {
  if [[ -n ${SKIP_BUILD:-} ]]; then
    echo "SKIP_BUILD: using dist/ as it is"
  else
    "$root/packaging/build.sh" || { fail "packaging/build.sh failed"; return; }
  fi
  local p
  for p in "${packages[@]}"; do
    [[ -f $root/dist/${p}_${version}_amd64.deb ]] || fail "dist/${p}_${version}_amd64.deb was not built"
    [[ -f $root/dist/$p-$version-1.x86_64.rpm ]] || fail "dist/$p-$version-1.x86_64.rpm was not built"
  done
  ls -l "$root/dist"
}

do_lintian() {
  # Started in the background after the build (it takes a minute or two); here its result is read.
  wait "$lintian_pid"
  local rc
  rc="$(cat "$work/lintian.rc")"
  cat "$work/lintian.out"
  echo "lintian: exit $rc, $(grep -c '^E: ' "$work/lintian.out") errors, $(grep -c '^W: ' "$work/lintian.out") warnings"
  [[ $rc -eq 0 ]] || fail "lintian reports errors (exit $rc): $(grep -v '^W: \|^I: \|^N: ' "$work/lintian.out" | head -10 | tr '\n' ';')"
}

do_deb_metadata() {
  local p deb fields
  for p in "${packages[@]}"; do
    deb="$root/dist/${p}_${version}_amd64.deb"
    fields="$(dpkg-deb -f "$deb" Package Version Architecture Depends Recommends)"
    echo "$fields"
    expect_contains "$fields" "Version: $version" "$p control"
    expect_contains "$fields" "Architecture: amd64" "$p control"
    expect_contains "$fields" "libstdc++6" "$p Depends"
    dpkg-deb -c "$deb" >"$work/$p.contents"
    expect_contains "$(cat "$work/$p.contents")" "./usr/bin/$p -> ../lib/eas/$p/$p" "$p files"
    expect_contains "$(cat "$work/$p.contents")" "./usr/lib/eas/$p/$p.dll" "$p files"
    expect_contains "$(cat "$work/$p.contents")" "./usr/share/doc/$p/copyright" "$p files"
    if [[ $p != easctl ]]; then
      expect_contains "$(cat "$work/$p.contents")" "./lib/systemd/system/$p.service" "$p files"
      expect_contains "$(dpkg-deb -I "$deb" conffiles)" "/etc/eas/${p#eas-}.json" "$p conffiles"
    fi
  done
  fields="$(dpkg-deb -f "$root/dist/eas-agent_${version}_amd64.deb" Depends Recommends)"
  for dep in runc conmon containernetworking-plugins iptables; do expect_contains "$fields" "$dep" "eas-agent Depends"; done
  for dep in s3fs nfs-common; do expect_contains "$fields" "$dep" "eas-agent Recommends"; done
}

do_rpm() {
  local p rpm files requires
  for p in "${packages[@]}"; do
    rpm="$root/dist/$p-$version-1.x86_64.rpm"
    expect_contains "$(rpm -qp --qf '%{NAME} %{VERSION} %{ARCH}\n' "$rpm")" "$p $version x86_64" "$p rpm header"
    files="$(rpm -qpl "$rpm")"
    requires="$(rpm -qpR "$rpm")"
    echo "== $p requires:"; echo "$requires"
    expect_contains "$files" "/usr/bin/$p" "$p rpm -qpl"
    expect_contains "$files" "/usr/lib/eas/$p/$p" "$p rpm -qpl"
    expect_contains "$files" "/usr/lib/eas/$p/libcoreclr.so" "$p rpm -qpl"
    expect_contains "$requires" "libstdc++" "$p rpm -qpR"
    # The bundled runtime must not claim to provide system libraries.
    if rpm -qp --provides "$rpm" | grep -q '\.so'; then fail "$p rpm provides shared libraries: $(rpm -qp --provides "$rpm" | grep '\.so' | head -3)"; fi
    if [[ $p != easctl ]]; then
      expect_contains "$files" "/usr/lib/systemd/system/$p.service" "$p rpm -qpl"
      expect_contains "$(rpm -qpc "$rpm")" "/etc/eas/${p#eas-}.json" "$p rpm -qpc (config files)"
    fi
  done
  requires="$(rpm -qpR "$root/dist/eas-agent-$version-1.x86_64.rpm")"
  for dep in runc conmon containernetworking-plugins iptables; do expect_contains "$requires" "$dep" "eas-agent rpm -qpR"; done
  expect_contains "$(rpm -qp --recommends "$root/dist/eas-agent-$version-1.x86_64.rpm")" "s3fs-fuse" "eas-agent rpm recommends"
  expect_contains "$(rpm -qp --recommends "$root/dist/eas-agent-$version-1.x86_64.rpm")" "nfs-utils" "eas-agent rpm recommends"
  expect_contains "$(rpm -qp --scripts "$root/dist/eas-coordinator-$version-1.x86_64.rpm")" "useradd --system" "eas-coordinator rpm %pre"
  expect_contains "$(rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILENAMES}\n]' "$root/dist/eas-coordinator-$version-1.x86_64.rpm")" \
    "drwxr-x--- eas eas /var/lib/eas/coordinator" "eas-coordinator rpm state folder"
  expect_contains "$(rpm -qpc "$root/dist/eas-agent-$version-1.x86_64.rpm" | xargs -I{} echo {})" "/etc/eas/agent.json" "eas-agent rpm config"
}

do_install() {
  local debs=() p
  for p in "${packages[@]}"; do debs+=("$root/dist/${p}_${version}_amd64.deb"); done
  installed=1
  if ! apt-get install -y -q "${debs[@]}" </dev/null; then
    fail "apt-get install ${debs[*]} failed"
    return
  fi
  for p in "${packages[@]}"; do
    [[ $(dpkg-query -W -f='${Status} ${Version}' "$p" 2>/dev/null) == "install ok installed $version" ]] || fail "$p is not installed at $version: $(dpkg-query -W -f='${Status} ${Version}' "$p" 2>&1)"
    [[ -x /usr/bin/$p && $(readlink -f "/usr/bin/$p") == /usr/lib/eas/$p/$p ]] || fail "/usr/bin/$p does not lead to /usr/lib/eas/$p/$p"
  done
  local entry
  entry="$(getent passwd eas)" || { fail "no user eas"; return; }
  echo "user: $entry; group: $(getent group eas)"
  IFS=: read -r _ _ uid gid _ home shell <<<"$entry"
  [[ $uid -lt 1000 ]] || fail "user eas has uid $uid; a system user is below 1000"
  [[ $shell == */nologin ]] || fail "user eas has the shell $shell; it should not log in (nologin)"
  [[ $home == /var/lib/eas ]] || fail "user eas has the home $home (expected /var/lib/eas)"
  [[ $(getent group eas | cut -d: -f3) == "$gid" ]] || fail "user eas is not in the group eas"
  local path want_user want_group want_mode got
  for spec in "/var/lib/eas root root 755" "/var/lib/eas/coordinator eas eas 750" "/var/lib/eas/gateway eas eas 750" \
    "/var/lib/eas/agent root root 700" "/etc/eas root root 755" "/etc/eas/agent.json root root 644" \
    "/etc/eas/coordinator.json root root 644" "/etc/eas/gateway.json root root 644"; do
    read -r path want_user want_group want_mode <<<"$spec"
    got="$(stat -c '%U %G %a' "$path" 2>&1)"
    [[ $got == "$want_user $want_group $want_mode" ]] || fail "$path is '$got', expected '$want_user $want_group $want_mode'"
  done
  for p in eas-agent eas-coordinator eas-gateway; do
    [[ -f /lib/systemd/system/$p.service ]] || fail "/lib/systemd/system/$p.service is missing"
    expect_contains "$(dpkg-query -W -f='${Conffiles}' "$p")" "/etc/eas/${p#eas-}.json" "$p conffiles (dpkg-query)"
  done
  cmp -s /etc/eas/agent.json "$root/packaging/config/agent.json" || fail "/etc/eas/agent.json differs from packaging/config/agent.json"
  expect_contains "$(easctl --version 2>&1)" "$version" "easctl --version"
  [[ -f /usr/share/eas/examples/quickstart/service.json && -f /usr/share/eas/examples/quickstart/code/app.py ]] || fail "the quick start is not in /usr/share/eas/examples/quickstart"
}

do_units() {
  local p out
  for p in eas-agent eas-coordinator eas-gateway; do
    out="$(systemd-analyze verify "/lib/systemd/system/$p.service" 2>&1)" || fail "systemd-analyze verify $p.service: $out"
    [[ -z $out ]] || echo "$p: $out"
    for directive in Type=notify NotifyAccess=main WatchdogSec= Restart=on-failure LimitNOFILE=1048576; do
      grep -q "^$directive" "/lib/systemd/system/$p.service" || fail "$p.service has no $directive"
    done
    echo "$p: $(systemd-analyze security --offline=true "/lib/systemd/system/$p.service" 2>/dev/null | tail -1)"
  done
  for directive in KillMode=process Delegate=yes; do
    grep -q "^$directive" /lib/systemd/system/eas-agent.service || fail "eas-agent.service has no $directive"
  done
  grep -q '^User=' /lib/systemd/system/eas-agent.service && fail "eas-agent.service must run as root (no User=)"
  for p in eas-coordinator eas-gateway; do
    for directive in User=eas ProtectSystem=strict "ReadWritePaths=/var/lib/eas/${p#eas-}" NoNewPrivileges=yes PrivateTmp=yes ProtectHome=yes; do
      grep -q "^$directive" "/lib/systemd/system/$p.service" || fail "$p.service has no $directive"
    done
  done
}

# refuses NAME USER CONFIG KEY...: the daemon, run as USER with CONFIG, exits 2 naming CONFIG and each KEY.
refuses() {
  local name="$1" user="$2" config="$3" rc out; shift 3
  chmod 0644 "$config"
  out="$(timeout 30 setpriv --reuid="$user" --regid="$user" --init-groups "/usr/bin/$name" --config "$config" 2>&1)"
  rc=$?
  echo "$name --config $config -> exit $rc:"; echo "$out" | head -5
  [[ $rc -eq 2 ]] || fail "$name with $config exited $rc, expected 2 (refused)"
  expect_contains "$out" "$config" "$name's message names the file"
  local key
  for key in "$@"; do expect_contains "$out" "$key" "$name's message names the key"; done
}
do_config_errors() {
  chmod 0755 "$work"
  jq '.Coordinator.Lisen = "http://127.0.0.1:9090"' /etc/eas/coordinator.json >"$work/coordinator-typo.json"
  refuses eas-coordinator eas "$work/coordinator-typo.json" "Coordinator:Lisen" "not a known setting"
  jq '.Coordinator.NodeGraceSeconds = "ten"' /etc/eas/coordinator.json >"$work/coordinator-type.json"
  refuses eas-coordinator eas "$work/coordinator-type.json" "Coordinator:NodeGraceSeconds" "whole number"
  jq '.Agent.Brige = "eas0"' /etc/eas/agent.json >"$work/agent-typo.json"
  refuses eas-agent root "$work/agent-typo.json" "Agent:Brige" "unknown key"
  jq '.Agent.HeartbeatSeconds = 0' /etc/eas/agent.json >"$work/agent-range.json"
  refuses eas-agent root "$work/agent-range.json" "Agent:HeartbeatSeconds" "1 to 60"
  jq '.Gateway.Listn = "http://127.0.0.1:8080"' /etc/eas/gateway.json >"$work/gateway-typo.json"
  refuses eas-gateway eas "$work/gateway-typo.json" "Listn"
}

do_journald() {
  if journald_listening; then
    echo "journald already listens on /run/systemd/journal/socket; using it"
    return
  fi
  local dir
  for dir in /run/systemd/journal /run/log/journal; do [[ -e $dir ]] || journald_dirs+=("$dir"); done
  cat >"$work/journald.conf" <<'CONF'
[Journal]
Storage=volatile
RuntimeMaxUse=256M
ReadKMsg=no
Audit=no
ForwardToSyslog=no
ForwardToWall=no
RateLimitBurst=0
CONF
  unshare --mount --propagation private sh -c "mount --bind '$work/journald.conf' /etc/systemd/journald.conf && exec /lib/systemd/systemd-journald" \
    >"$work/journald.out" 2>&1 &
  journald_pid=$!
  wait_for 10 journald_listening || fail "systemd-journald did not come up: $(cat "$work/journald.out")"
  echo "started systemd-journald (pid $journald_pid)"
}

do_start() {
  start_unit eas-coordinator || return
  [[ $(stat -c %U "/proc/$(cat "$work/eas-coordinator.pid")") == eas ]] || fail "eas-coordinator does not run as eas"
  start_unit eas-agent || return
  if ! wait_for 60 sh -c 'easctl nodes -o json | jq -e "[.[] | select(.status == \"Ready\")] | length >= 1"'; then
    fail "the agent did not register as a Ready node within 60 s: $(easctl nodes 2>&1)"
  fi
  easctl nodes
}

do_quickstart() {
  local out described token endpoint reply
  out="$(easctl create -f /usr/share/eas/examples/quickstart/service.json --wait --timeout 300 2>&1)" || { fail "easctl create --wait failed: $out"; return; }
  described="$(easctl desc flask_demo -o json)"
  echo "$described" | jq -c '{status, endpoint, replicas}'
  token="$(jq -r .token <<<"$described")" endpoint="$(jq -r .endpoint <<<"$described")"
  reply="$(curl -sS --max-time 10 -H "Authorization: $token" "$endpoint/")" || { fail "curl $endpoint/ failed"; return; }
  echo "reply: $reply"
  expect_contains "$reply" "hello eas!" "the quick start's answer through the gateway"
  [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$endpoint/") == 401 ]] || fail "a call without the token was not refused with 401"
  jq -r '.instances[].id' <<<"$described" >"$work/instances"
  easctl nodes -o json | jq -r '.[0].name' >"$work/node"
}

do_journal() {
  local all lines instance node
  all="$(journalctl --no-pager -o cat -t eas-coordinator -t eas-agent 2>&1 | wc -l)"
  echo "stdout lines captured under the units' identifiers: $all"
  lines="$(journalctl --no-pager EAS_SERVICE=flask_demo -o json 2>&1)"
  if [[ -z $lines || $lines == "-- No entries --" ]]; then
    fail "journalctl EAS_SERVICE=flask_demo finds nothing: the daemons do not write EAS_* fields to journald (issue 6 item 4, the journald logging, is missing from this build)"
    return
  fi
  echo "journalctl EAS_SERVICE=flask_demo: $(wc -l <<<"$lines") entries from $(jq -r .SYSLOG_IDENTIFIER <<<"$lines" | sort -u | tr '\n' ' ')"
  journalctl --no-pager EAS_SERVICE=flask_demo -n 15
  jq -e 'select(.EAS_EVENT != null)' <<<"$lines" >/dev/null || fail "no entry of flask_demo has EAS_EVENT (journalctl EAS_SERVICE=flask_demo EAS_EVENT=…)"
  node="$(cat "$work/node")"
  jq -c '{EAS_SERVICE, EAS_INSTANCE, EAS_NODE, EAS_EVENT}' <<<"$lines" | sort | uniq -c | head -20
  [[ -n $(journalctl --no-pager -o cat EAS_SERVICE=flask_demo EAS_NODE="$node" 2>/dev/null) ]] || fail "journalctl EAS_SERVICE=flask_demo EAS_NODE=$node finds nothing (the scheduling lines name the node)"
  instance="$(head -1 "$work/instances")"
  [[ -n $(journalctl --no-pager -o cat EAS_INSTANCE="$instance" 2>/dev/null) ]] || fail "journalctl EAS_INSTANCE=$instance finds nothing"
  # The instances' own output goes through conmon, under the service's identifier and the instance's
  # CONTAINER_NAME (docs/logging.md); the quick start's flask logs every request.
  if ! wait_for 15 sh -c "journalctl --no-pager -o cat CONTAINER_NAME='$instance' + CONTAINER_NAME='$(tail -1 "$work/instances")' | grep -q 'GET / '"; then
    fail "the instances' output (flask's request lines) is not in journalctl CONTAINER_NAME=<instance> (conmon's journald output, issue 6 item 4); journalctl -t flask_demo: $(journalctl --no-pager -o cat -t flask_demo -n 5 2>&1)"
  fi
  journalctl --no-pager -t flask_demo -n 5
  local logs
  logs="$(easctl logs flask_demo -n 5 2>&1)" || fail "easctl logs flask_demo failed: $logs"
  echo "easctl logs: $logs"
  expect_contains "$logs" "GET / " "easctl logs flask_demo (the instances' output)"
}

do_metrics() {
  local port out
  for port in 9190 9191; do
    out="$(curl -sS --max-time 10 "http://127.0.0.1:$port/metrics" 2>&1)" || {
      fail "no /metrics on 127.0.0.1:$port (MetricsListen in the shipped config; issue 6 item 5): $out; the daemons say: $(journalctl --no-pager -o cat -t eas-agent -t eas-coordinator 2>/dev/null | grep -i metrics | head -3)"
      continue
    }
    echo "127.0.0.1:$port/metrics: $(grep -c '^eas_' <<<"$out") eas_ samples"
  done
  expect_contains "$(curl -s --max-time 10 http://127.0.0.1:9191/metrics)" 'eas_agent_instances{service="flask_demo"' "the agent's metrics"
  expect_contains "$(curl -s --max-time 10 http://127.0.0.1:9190/metrics)" 'eas_gateway_requests_total{service="flask_demo"' "the coordinator's (embedded gateway's) metrics"
}

do_backup() {
  # docs/operations.md, "Back up and restore the coordinator": SQLite's online backup, run as eas.
  command -v sqlite3 >/dev/null || { fail "needs sqlite3 (apt-get install sqlite3) to check the backup recipe"; return; }
  local backup=/var/lib/eas/coordinator/coordinator-backup.db out
  out="$(runuser -u eas -- sqlite3 /var/lib/eas/coordinator/coordinator.db ".backup '$backup'" 2>&1)" || { fail "the online backup failed: $out"; return; }
  [[ $(sqlite3 "$backup" "PRAGMA integrity_check;") == ok ]] || fail "the backup fails PRAGMA integrity_check"
  expect_contains "$(sqlite3 "$backup" "SELECT name FROM services;")" flask_demo "the services in the backup"
  ls -l /var/lib/eas/coordinator
  rm -f "$backup"
  for f in /var/lib/eas/coordinator/coordinator.db*; do
    [[ $(stat -c %U "$f") == eas ]] || fail "$f is owned by $(stat -c %U "$f") after the backup; the coordinator could not write it"
  done
  expect_contains "$(easctl list 2>&1)" flask_demo "easctl list after the backup"
}

do_notify() {
  local name pid log wd first ready
  for name in eas-coordinator eas-agent; do
    pid="$(cat "$work/$name.pid")" log="$work/notify-$name.log"
    echo "== $name ($pid):"; cat "$log"
    wd="$(grep -o 'WatchdogSec=.*' "/lib/systemd/system/$name.service")"
    # WatchdogSec=30s: systemd kills a service that has not pinged for 30 s; the pings start after READY=1.
    ready="$(awk -v pid="$pid" '$2 == pid && index("|" $3 "|", "|READY=1|") { print $1; exit }' "$log")"
    [[ -n $ready ]] || { fail "$name sent no READY=1"; continue; }
    if ! wait_for 35 notified "$log" "$pid" WATCHDOG=1; then
      fail "$name sent no WATCHDOG=1 within 35 s of starting although its unit sets $wd: under systemd it would be killed and restarted (the sd_notify watchdog pings of issue 6 item 2 are missing from this build)"
      continue
    fi
    first="$(awk -v pid="$pid" '$2 == pid && index("|" $3 "|", "|WATCHDOG=1|") { print $1; exit }' "$log")"
    echo "$name: first WATCHDOG=1 $(awk -v a="$ready" -v b="$first" 'BEGIN { printf "%.1f", b - a }') s after READY=1"
    # Every ping within WatchdogSec of the one before, up to now.
    local gap
    gap="$(awk -v pid="$pid" -v now="$(python3 -c 'import time; print(time.monotonic())')" '
      $2 == pid && index("|" $3 "|", "|WATCHDOG=1|") { if (last != "" && $1 - last > max) max = $1 - last; last = $1; n++ }
      END { if (now - last > max) max = now - last; printf "%d %.1f", n, max }' "$log")"
    echo "$name: ${gap% *} WATCHDOG=1 pings, the longest gap ${gap#* } s"
    awk -v g="${gap#* }" -v w="$(usec "${wd#WatchdogSec=}")" 'BEGIN { exit !(g * 1000000 < w) }' \
      || fail "$name: ${gap#* } s passed without WATCHDOG=1 ($wd): systemd would have killed it"
    if awk -v pid="$pid" '$2 != pid && $2 != 0 { bad = 1 } END { exit !bad }' "$log"; then
      fail "$name: a process other than the main one ($pid) notified; NotifyAccess=main would drop it: $(awk -v pid="$pid" '$2 != pid && $2 != 0' "$log" | head -3)"
    fi
  done
}

do_stop() {
  local name pid
  for name in eas-agent eas-coordinator; do
    pid="$(cat "$work/$name.pid")"
    stop_pid "$pid"
    notified "$work/notify-$name.log" "$pid" STOPPING=1 || fail "$name sent no STOPPING=1 on SIGTERM"
  done
  daemon_pids=()
  # KillMode=process: the instances outlive the agent (conmon holds them).
  local alive
  alive="$(pgrep -f -c 'conmon.*/var/lib/eas/agent' || true)"
  echo "conmon processes still holding instances after the agent stopped: $alive"
  [[ $alive -ge 2 ]] || fail "expected the quick start's 2 instances to outlive the agent (conmon), found $alive conmon processes"
}

# bump DEB: DEB repacked as version $bumped (same files), for the upgrade check.
bump() {
  local name="$1" dir="$work/bump-$1"
  dpkg-deb -R "$root/dist/${name}_${version}_amd64.deb" "$dir"
  sed -i "s/^Version: .*/Version: $bumped/" "$dir/DEBIAN/control"
  dpkg-deb --root-owner-group -Zgzip -z1 --build "$dir" "$work/${name}_${bumped}_amd64.deb" >/dev/null
  rm -rf "$dir"
}
do_upgrade() {
  jq '.Coordinator.NodeGraceSeconds = 12' /etc/eas/coordinator.json >"$work/c.json" && cat "$work/c.json" >/etc/eas/coordinator.json
  jq '.Agent.Labels = {"rack": "r1"}' /etc/eas/agent.json >"$work/a.json" && cat "$work/a.json" >/etc/eas/agent.json
  local db_before
  db_before="$(stat -c '%i %s' /var/lib/eas/coordinator/coordinator.db 2>&1)"
  bump eas-coordinator
  bump eas-agent
  # --force-confnew: dpkg would take the package's version of any conffile that changed in the package; the
  # operator's edit must survive because these conffiles did not change.
  if ! apt-get install -y -q -o Dpkg::Options::=--force-confnew "$work/eas-coordinator_${bumped}_amd64.deb" "$work/eas-agent_${bumped}_amd64.deb" </dev/null; then
    fail "apt-get install of the bumped packages failed"
    return
  fi
  for p in eas-coordinator eas-agent; do
    [[ $(dpkg-query -W -f='${Version}' "$p") == "$bumped" ]] || fail "$p is at $(dpkg-query -W -f='${Version}' "$p") after the upgrade, expected $bumped"
  done
  [[ $(jq .Coordinator.NodeGraceSeconds /etc/eas/coordinator.json) == 12 ]] || fail "the edit of /etc/eas/coordinator.json was lost on upgrade"
  [[ $(jq -r .Agent.Labels.rack /etc/eas/agent.json) == r1 ]] || fail "the edit of /etc/eas/agent.json was lost on upgrade"
  [[ $(stat -c '%i %s' /var/lib/eas/coordinator/coordinator.db 2>&1) == "$db_before" ]] || fail "coordinator.db changed on upgrade ($db_before -> $(stat -c '%i %s' /var/lib/eas/coordinator/coordinator.db 2>&1))"
  [[ $(stat -c '%U %a' /var/lib/eas/coordinator) == "eas 750" ]] || fail "/var/lib/eas/coordinator is $(stat -c '%U %a' /var/lib/eas/coordinator) after the upgrade"
  ls /etc/eas
  [[ -z $(find /etc/eas -name '*.dpkg-*') ]] || fail "dpkg left $(find /etc/eas -name '*.dpkg-*') (a conffile prompt)"
}

do_purge() {
  if ! apt-get purge -y -q "${packages[@]}" </dev/null; then
    fail "apt-get purge failed"
    return
  fi
  installed=0
  local p path left
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv 'not-installed' && fail "$p is still known to dpkg: $(dpkg-query -W -f='${Status}' "$p")"
  done
  for path in /usr/lib/eas /etc/eas /var/lib/eas /usr/share/eas /usr/bin/eas-agent /usr/bin/eas-coordinator /usr/bin/eas-gateway /usr/bin/easctl \
    /lib/systemd/system/eas-agent.service /lib/systemd/system/eas-coordinator.service /lib/systemd/system/eas-gateway.service \
    /usr/share/doc/eas-agent /etc/systemd/system/multi-user.target.wants/eas-agent.service; do
    [[ -e $path || -L $path ]] && fail "$path is left after purge"
  done
  getent passwd eas >/dev/null && fail "the user eas is left after purge"
  getent group eas >/dev/null && fail "the group eas is left after purge"
  left="$(pgrep -a -f 'conmon.*/var/lib/eas/agent|(^| )/usr/(lib/eas|bin)/eas' || true)"
  if [[ -n $left ]]; then fail "processes left after purge: $left"; else echo "no process left"; fi
  ip link show eas0 >/dev/null 2>&1 && fail "the bridge eas0 is left after purge"
  awk '$5 ~ "^/var/lib/eas"' /proc/self/mountinfo | grep -q . && fail "mounts left under /var/lib/eas: $(awk '$5 ~ "^/var/lib/eas" { print $5 }' /proc/self/mountinfo)"
  local id
  while read -r id; do
    [[ -n $id ]] || continue
    left="$(find /sys/fs/cgroup -maxdepth 4 -type d -name "*$id*" 2>/dev/null | head -3)"
    [[ -z $left ]] || fail "cgroups of instance $id are left after purge: $left"
  done < <(cat "$work/instances" 2>/dev/null)
}

# ---- run -------------------------------------------------------------------------------------------------
started_all=$(now)
prereq=""
[[ -z ${SKIP_PACKAGING:-} ]] || prereq="SKIP_PACKAGING is set"
[[ -n $prereq || $(id -u) -eq 0 ]] || prereq="needs root (apt-get install, users, runc)"
for tool in apt-get dpkg-deb jq curl python3 setpriv unshare systemd-analyze journalctl systemd-cat; do
  [[ -n $prereq ]] || command -v "$tool" >/dev/null || prereq="needs $tool"
done
[[ -n $prereq || -x /lib/systemd/systemd-journald ]] || prereq="needs /lib/systemd/systemd-journald (apt-get install systemd)"
conflict=""
if [[ -z $prereq ]]; then
  for p in "${packages[@]}"; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv not-installed; then conflict="$p is already installed on this machine; the test installs and purges it: remove it first"; fi
  done
  getent passwd eas >/dev/null && conflict="a user eas exists already; the test creates and removes it: remove it first"
  [[ -e /etc/eas || -e /var/lib/eas ]] && conflict="/etc/eas or /var/lib/eas exists; the test owns them while it runs: move them away first"
  for port in 9090 8080 9190 9191; do
    (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && conflict="port $port is in use; the installed daemons listen there"
  done
fi

steps=(build lintian deb-metadata rpm install units config-errors journald start quickstart journal metrics backup notify stop upgrade purge)
preflight_conflict() { fail "$conflict"; }
if [[ -n $prereq ]]; then
  for step in "${steps[@]}"; do skip "$step" "$prereq"; done
elif [[ -n $conflict ]]; then
  # Not a skip: on a CI machine this means an earlier test left something behind.
  check preflight preflight_conflict
  for step in "${steps[@]}"; do skip "$step" "the machine is not ready for the packaging test (see preflight)"; done
else
  if check build do_build; then
    (cd "$root/dist" && lintian --tag-display-limit 0 ./*_"${version}"_amd64.deb >"$work/lintian.out" 2>&1; echo $? >"$work/lintian.rc") &
    lintian_pid=$!
    check deb-metadata do_deb_metadata
    check rpm do_rpm
    if check install do_install; then
      check units do_units
      check config-errors do_config_errors
      if check journald do_journald && check start do_start; then
        if check quickstart do_quickstart; then
          check journal do_journal
          check metrics do_metrics
          check backup do_backup
        else
          for step in journal metrics backup; do skip "$step" "the quick start did not deploy (see quickstart)"; done
        fi
        check notify do_notify
        check stop do_stop
      else
        for step in quickstart journal metrics backup notify stop; do skip "$step" "the daemons did not start (see start)"; done
      fi
      check upgrade do_upgrade
    else
      for step in units config-errors journald start quickstart journal metrics backup notify stop upgrade; do skip "$step" "the packages did not install (see install)"; done
    fi
    stop_daemons
    check purge do_purge
    check lintian do_lintian
  else
    for step in "${steps[@]:1}"; do skip "$step" "the packages were not built (see build)"; done
  fi
fi
cleanup
write_trx
rm -rf "$work" "$sockets"
summary="$(python3 -c 'import re,sys; t=open(sys.argv[1]).read(); m=re.search(r"<Counters total=\"(\d+)\" executed=\"(\d+)\" passed=\"(\d+)\" failed=\"(\d+)\"", t); print(f"{m[3]} passed, {m[4]} failed, {int(m[1])-int(m[2])} skipped")' "$results/Packaging.trx")"
echo "packaging took $(awk -v a="$started_all" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }') s; results in $results/Packaging.trx"
echo "packaging: $summary"
grep -q ' 0 failed' <<<"$summary"
