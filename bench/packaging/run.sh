#!/usr/bin/env bash
# The packaged programs' figures: the agent's time from start to READY=1 (sd_notify) and its resident memory
# when idle, for the self-contained ReadyToRun build in dist/eas-agent_*.deb, run as its unit runs it
# (ExecStart and Environment= of eas-agent.service, NOTIFY_SOCKET and WATCHDOG_USEC set); the same for the
# coordinator; and the size of every package. For contrast, the same agent from `make build` (the dotnet
# host, JIT, no ReadyToRun) when bin/eas-agent exists.
#
# Needs root, python3, jq and the packages (make packages; it builds them when dist/ has none). Nothing is
# installed: the .debs are unpacked into a temporary folder. A throwaway coordinator and agent use their own
# ports, bridge and state. RUNS (default 5) starts each; the median is reported. IDLE (default 30) seconds
# after READY=1 the agent's VmRSS is read (connected to the coordinator, no instance). Writes
# bench/results/packaging.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
runs="${RUNS:-5}" idle="${IDLE:-30}"
version="$(tr -d '[:space:]' <"$root/VERSION")"
work="$(mktemp -d /tmp/eas-bench-packaging.XXXXXX)"
coord_port=19590 gw_port=19580 coord_metrics=19591 agent_metrics=19592
pids=()

cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  [[ -x $work/root/usr/lib/eas/eas-agent/eas-agent ]] && "$work/root/usr/lib/eas/eas-agent/eas-agent" cleanup --config "$work/agent.json" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

[[ $(id -u) -eq 0 ]] || { echo "bench/packaging: run as root (the agent needs it)" >&2; exit 1; }
if ! ls "$root"/dist/eas-agent_"$version"_amd64.deb >/dev/null 2>&1; then
  echo "no packages for $version in dist/: running make packages"
  make -C "$root" --no-print-directory packages
fi
for p in eas-agent eas-coordinator; do dpkg-deb -x "$root/dist/${p}_${version}_amd64.deb" "$work/root"; done

cat >"$work/coordinator.json" <<JSON
{ "Coordinator": { "Listen": "http://127.0.0.1:$coord_port", "DataDir": "$work/coordinator", "GatewayListen": "http://127.0.0.1:$gw_port", "MetricsListen": "http://127.0.0.1:$coord_metrics" } }
JSON
jq --arg c "http://127.0.0.1:$coord_port" --arg s "$work/agent" --arg m "http://127.0.0.1:$agent_metrics" \
  '.Agent.Coordinator = $c | .Agent.StateDir = $s | .Agent.MetricsListen = $m | .Agent.NodeName = "bench-pkg" | .Agent.Bridge = "easbenchpkg0" | .Agent.Subnet = "10.238.0.0/24"' \
  "$work/root/etc/eas/agent.json" >"$work/agent.json"

# start_ready LABEL COMMAND...: starts COMMAND with the unit's environment and a notification socket; prints
# "<seconds from the fork to READY=1> <pid>" and leaves the process running (its pid in pids).
start_ready() {
  local label="$1"; shift
  python3 - "$work/$label" "$@" <<'PY'
import os, socket, subprocess, sys, time
base, command = sys.argv[1], sys.argv[2:]
path = base + ".sock"
if os.path.exists(path):
    os.unlink(path)
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
sock.settimeout(60)
env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root",
       "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000",
       "DOTNET_EnableWriteXorExecute": "0", "DOTNET_GCgen0size": "0x400000"}
log = open(base + ".log", "ab")
started = time.monotonic()
# sh sets WATCHDOG_PID to its own pid and execs the daemon, which keeps that pid (as systemd's main process).
child = subprocess.Popen(["/bin/sh", "-c", 'export WATCHDOG_PID=$$; exec "$@"', "sh"] + command,
                         env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
while True:
    try:
        data = sock.recv(4096).decode()
    except socket.timeout:
        print(f"no READY=1 from {command[0]} within 60 s", file=sys.stderr)
        child.kill()
        sys.exit(1)
    if "READY=1" in data.split("\n"):
        print(f"{time.monotonic() - started:.3f} {child.pid}")
        sys.exit(0)
PY
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
rss_mb() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
stop() { kill -TERM "$1" 2>/dev/null || true; for _ in $(seq 1 100); do [[ -d /proc/$1 ]] || return 0; sleep 0.1; done; kill -KILL "$1" 2>/dev/null || true; }

# The coordinator: RUNS starts to READY=1 (the last one stays up for the agents).
coordinator_times=()
for i in $(seq 1 "$runs"); do
  read -r seconds pid < <(start_ready coordinator "$work/root/usr/lib/eas/eas-coordinator/eas-coordinator" --config "$work/coordinator.json")
  coordinator_times+=("$seconds")
  pids+=("$pid")
  if [[ $i -lt $runs ]]; then stop "$pid"; fi
done
coordinator_rss="$(sleep 2; rss_mb "$pid")"

# agent LABEL BINARY...: RUNS starts to READY=1; the last one idles IDLE s, then its VmRSS is read.
agent() {
  local label="$1" times=() i seconds pid rss; shift
  for i in $(seq 1 "$runs"); do
    read -r seconds pid < <(start_ready "$label" "$@" --config "$work/agent.json")
    times+=("$seconds")
    pids+=("$pid")
    if [[ $i -lt $runs ]]; then stop "$pid"; fi
  done
  sleep "$idle"
  rss="$(rss_mb "$pid")"
  stop "$pid"
  echo "$(printf '%s\n' "${times[@]}" | median) $(printf '%s\n' "${times[@]}" | sort -n | head -1) $(printf '%s\n' "${times[@]}" | sort -n | tail -1) $rss"
}
read -r agent_ready agent_best agent_worst agent_rss < <(agent agent "$work/root/usr/lib/eas/eas-agent/eas-agent")
jit=""
if [[ -f $root/agent/Eas.Node.Agent/bin/Release/net10.0/eas-agent.dll ]]; then
  read -r jit_ready jit_best jit_worst jit_rss < <(agent agent-jit dotnet "$root/agent/Eas.Node.Agent/bin/Release/net10.0/eas-agent.dll")
  jit="yes"
fi
coordinator_ready="$(printf '%s\n' "${coordinator_times[@]}" | median)"

# A trimmed publish turns startup hooks off (packaging/build.sh trims the agent unless TRIM_AGENT=0).
trimmed=""
grep -q '"System.StartupHookProvider.IsSupported": false' "$work/root/usr/lib/eas/eas-agent/eas-agent.runtimeconfig.json" && trimmed=", trimmed (partial)"
mkdir -p "$root/bench/results"
{
  echo "# Packaged programs ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, version $version)"
  echo
  echo "| figure | value | target |"
  echo "|---|---|---|"
  echo "| agent start → READY=1, self-contained, ReadyToRun${trimmed} as packaged (median of $runs; best, worst) | ${agent_ready} s (${agent_best}, ${agent_worst}) | ≤ 1 s |"
  echo "| agent resident memory, idle ${idle} s after READY=1, connected, no instance | ${agent_rss} MB | ≤ 60 MB |"
  if [[ -n $jit ]]; then
    echo "| the same agent from make build (dotnet host, JIT): start → READY=1 (median; best, worst) | ${jit_ready} s (${jit_best}, ${jit_worst}) | — |"
    echo "| the same agent from make build: resident memory, idle | ${jit_rss} MB | — |"
  fi
  echo "| coordinator start → READY=1 (median of $runs) | ${coordinator_ready} s | — |"
  echo "| coordinator resident memory just after READY=1 | ${coordinator_rss} MB | — |"
  echo
  echo "| package | .deb | .rpm | installed |"
  echo "|---|---|---|---|"
  for p in eas-agent eas-coordinator eas-gateway easctl; do
    deb="$root/dist/${p}_${version}_amd64.deb" rpm="$root/dist/$p-$version-1.x86_64.rpm"
    printf '| %s | %s | %s | %s |\n' "$p" \
      "$(du -k "$deb" | awk '{ printf "%.1f MB", $1 / 1024 }')" \
      "$([[ -f $rpm ]] && du -k "$rpm" | awk '{ printf "%.1f MB", $1 / 1024 }' || echo —)" \
      "$(dpkg-deb -f "$deb" Installed-Size | awk '{ printf "%.1f MB", $1 / 1024 }')"
  done
  echo
  command -v ar >/dev/null && echo "Payload of the .debs: $(ar t "$root/dist/eas-agent_${version}_amd64.deb" | grep data) (make packages COMPRESSION=xz for xz)."
} | tee "$root/bench/results/packaging.md"
