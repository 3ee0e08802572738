#!/usr/bin/env bash
# What NVML polling costs the agent: the CPU time of an idle agent (no instances) that polls 8 fake
# H100-80GB GPUs at 1 Hz, minus that of the same agent without GPUs, on a throwaway cluster (own ports,
# bridge and state). The difference is the agent's side of the polling: the P/Invoke calls (6 per GPU
# per poll), the per-process mapping of each poll, the XID event wait and the GPU usage reports to the
# coordinator (every 5 s, the default).
#   - one coordinator; then one agent at a time, alternating with GPUs / without GPUs, RUNS times each
#     (default 3); each idles WARMUP s (default 10), then its utime+stime from /proc/<pid>/stat is read
#     over WINDOW s (default 60); medians are reported.
#   - a run is valid only if the GPU agent found 8 GPUs (its log has "GPU 7:" and the coordinator lists 8)
#     and the other found none.
# Needs root (the agent sets up its bridge and cgroups), a build (make build), the fake NVML
# (make fake-nvml) and jq. Writes bench/results/gpu.md. Stops what it started and cleans up on exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
window="${WINDOW:-60}" warmup="${WARMUP:-10}" runs="${RUNS:-3}"
coord_port=19190 gw_port=18180
bridge=easbenchg0 subnet=10.239.0.0/24
export EAS_COORDINATOR="http://127.0.0.1:$coord_port"
easctl="$root/bin/easctl" agent="$root/bin/eas-agent" coordinator="$root/bin/eas-coordinator"
fake_nvml="$root/native/fake-nvml/build/libnvidia-ml.so.1"

fail() { echo "bench/gpu/run.sh: $*" >&2; exit 1; }
for v in window warmup runs; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || fail "${v^^}=${!v} is not a whole number of at least 1; set a positive whole number (or unset it for the default)"
done
[[ $EUID -eq 0 ]] || fail "needs root (the agent sets up bridge $bridge and cgroups); run it with sudo"
for f in "$easctl" "$agent" "$coordinator"; do [[ -x $f ]] || fail "$f is missing; run 'make build' first"; done
[[ -f $fake_nvml ]] || fail "$fake_nvml is missing; run 'make fake-nvml' first"
command -v jq >/dev/null || fail "jq is not installed; install it (apt-get install jq)"
if command -v ss >/dev/null && ss -Hltn "( sport = :$coord_port or sport = :$gw_port )" | grep -q .; then
  fail "port $coord_port or $gw_port is already in use (another bench run?); stop that first"
fi
tck=$(getconf CLK_TCK)

work="$(mktemp -d /tmp/eas-bench-gpu.XXXXXX)"
coord_pid="" agent_pid="" agent_log="" sleep_pid=""
configs=()

stop() { # pid: TERM, up to 10 s, then KILL
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 1 100); do [[ -d /proc/$1 ]] || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  if [[ $rc -ne 0 && $rc -ne 130 && $rc -ne 143 && -n $agent_log && -f $agent_log ]]; then
    echo "--- last lines of $(basename "$agent_log") ---" >&2
    tail -n 20 "$agent_log" >&2 || true
  fi
  [[ -n $sleep_pid ]] && kill "$sleep_pid" 2>/dev/null
  [[ -n $agent_pid ]] && stop "$agent_pid"
  [[ -n $coord_pid ]] && stop "$coord_pid"
  for c in "${configs[@]}"; do "$agent" cleanup --config "$c" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A sleep that a signal interrupts at once (bash runs traps only after a foreground command ends).
pause() { sleep "$1" & sleep_pid=$!; wait "$sleep_pid"; sleep_pid=""; }

# utime + stime of a process (all its threads), in clock ticks; fields 14 and 15 of /proc/<pid>/stat,
# counted after the command name, which may hold spaces.
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

node_json() { "$easctl" nodes -o json 2>/dev/null | jq -c --arg n "$1" '.[] | select(.name == $n)' 2>/dev/null || true; }

# One idle agent, measured; sets $result to its CPU % of one core over the window.
measure() {
  local kind=$1 i=$2 name="bench-$1-$2" gpu
  local config="$work/$kind-$i.json"
  agent_log="$work/$kind-$i.log"
  if [[ $kind == gpu ]]; then
    gpu="{ \"NvmlLibrary\": \"$fake_nvml\", \"FakeProfile\": \"8xH100-80GB\", \"FakeState\": \"$work/fake-nvml\", \"PollSeconds\": 1 }"
  else
    gpu="{ \"NvmlLibrary\": \"$work/no-such-libnvidia-ml.so.1\" }"
  fi
  cat >"$config" <<JSON
{ "Agent": { "NodeName": "$name", "Coordinator": "http://127.0.0.1:$coord_port", "Address": "127.0.0.1", "StateDir": "$work/$kind-$i", "Bridge": "$bridge", "Subnet": "$subnet", "Gpu": $gpu } }
JSON
  configs+=("$config")
  "$agent" --config "$config" >"$agent_log" 2>&1 &
  agent_pid=$!

  local want=0 node="" seen=-1
  [[ $kind == gpu ]] && want=8
  for _ in $(seq 1 300); do
    [[ -d /proc/$agent_pid ]] || fail "agent $name exited during start-up (its last log lines follow)"
    node=$(node_json "$name")
    if [[ -n $node ]]; then
      seen=$(jq '.gpus | length' <<<"$node")
      [[ $(jq -r .status <<<"$node") == Ready && $seen -eq $want ]] && break
    fi
    sleep 0.1
  done
  [[ -n $node && $(jq -r .status <<<"$node") == Ready ]] || fail "agent $name did not become Ready within 30 s (its last log lines follow)"
  [[ $seen -eq $want ]] || fail "agent $name: the coordinator lists $seen GPUs, expected $want; the run is not valid (its last log lines follow)"
  if [[ $kind == gpu ]]; then
    grep -q 'GPU 7:' "$agent_log" || fail "agent $name did not log 'GPU 7:' (8 GPUs); the run is not valid (its last log lines follow)"
    ! grep -q 'GPU 8:' "$agent_log" || fail "agent $name logged more than 8 GPUs; the run is not valid (its last log lines follow)"
  else
    ! grep -q 'GPU 0:' "$agent_log" || fail "agent $name found a GPU although it has no NVML library; the run is not valid (its last log lines follow)"
  fi

  pause "$warmup"
  local t0 t1 c0 c1
  t0=$(date +%s.%N); c0=$(cpu_ticks "$agent_pid")
  pause "$window"
  c1=$(cpu_ticks "$agent_pid"); t1=$(date +%s.%N)
  [[ -d /proc/$agent_pid ]] || fail "agent $name exited during the window (its last log lines follow)"
  if [[ $kind == gpu ]] && [[ $(jq '.gpus | length' <<<"$(node_json "$name")") -ne 8 ]]; then
    fail "agent $name: the coordinator no longer lists 8 GPUs after the window; the run is not valid (its last log lines follow)"
  fi
  result=$(awk -v c="$((c1 - c0))" -v hz="$tck" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", c / hz / (b - a) * 100 }')
  printf '  %-14s %6s %% of one core (%d ticks in %.1f s)\n' "$name" "$result" "$((c1 - c0))" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"

  stop "$agent_pid"; agent_pid=""
  "$agent" cleanup --config "$config" >/dev/null 2>&1 || true
}

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

cat >"$work/coordinator.json" <<JSON
{ "Coordinator": { "Listen": "http://127.0.0.1:$coord_port", "DataDir": "$work/coordinator", "GatewayListen": "http://127.0.0.1:$gw_port" } }
JSON
"$coordinator" --config "$work/coordinator.json" >"$work/coordinator.log" 2>&1 &
coord_pid=$!
for _ in $(seq 1 300); do "$easctl" nodes -o json >/dev/null 2>&1 && break; sleep 0.1; done
"$easctl" nodes -o json >/dev/null 2>&1 || { tail -n 20 "$work/coordinator.log" >&2; fail "the coordinator did not answer on port $coord_port within 30 s"; }

echo "agent CPU over ${window} s windows after ${warmup} s warm-up, $runs runs each (about $(( runs * 2 * (window + warmup + 5) )) s):"
with=() without=() diffs=()
for i in $(seq 1 "$runs"); do
  measure gpu "$i"; with+=("$result")
  measure nogpu "$i"; without+=("$result")
  diffs+=("$(awk -v a="${with[-1]}" -v b="${without[-1]}" 'BEGIN { printf "%.3f", a - b }')")
done

m_with=$(median "${with[@]}") m_without=$(median "${without[@]}")
diff=$(awk -v a="$m_with" -v b="$m_without" 'BEGIN { printf "%.3f", a - b }')
met=$(awk -v d="$diff" 'BEGIN { print (d < 1.0) ? "met" : "NOT met" }')
resolution=$(awk -v hz="$tck" -v w="$window" 'BEGIN { printf "%.3f", 100 / (hz * w) }')
model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)

mkdir -p "$root/bench/results"
{
  echo "# NVML polling cost in the agent ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)"
  echo
  echo "Written by \`bench/gpu/run.sh\`: an idle agent (no instances) on a throwaway cluster, CPU time of the agent"
  echo "process (utime + stime of all its threads, \`/proc/<pid>/stat\`) over a ${window} s window after ${warmup} s of warm-up;"
  echo "one agent at a time, alternating with / without GPUs, median of $runs runs each."
  echo
  echo "| figure | CPU, % of one core | target |"
  echo "|---|---:|---|"
  echo "| agent with 8 fake H100-80GB, NVML polled at 1 Hz | $m_with % | |"
  echo "| the same agent without GPUs (no NVML library) | $m_without % | |"
  echo "| **difference: polling 8 GPUs at 1 Hz, reports included** | **$diff %** | < 1 % of one core — **$met** |"
  echo
  echo "| run | with GPUs | without GPUs | difference |"
  echo "|---:|---:|---:|---:|"
  for i in $(seq 1 "$runs"); do
    echo "| $i | ${with[i-1]} % | ${without[i-1]} % | ${diffs[i-1]} % |"
  done
  echo
  echo "The GPU agent uses the fake NVML (\`native/fake-nvml\`, profile \`8xH100-80GB\`), which answers from JSON profiles and"
  echo "files in a state directory. A real driver's NVML calls cost more per call (ioctls into the kernel driver, and on"
  echo "some GPUs more work per query), and that time would show up in the agent as well, so this is not the cost on a"
  echo "real 8-GPU machine. What it does measure is the agent's side of the polling: per poll and GPU 6 P/Invoke calls"
  echo "(device by UUID, memory, utilization, compute processes, temperature, power), the mapping of GPU processes to"
  echo "instances that follows each poll, the XID event wait (1 s timeout) and the GPU usage reports to the coordinator"
  echo "(every 5 s). Each run is checked to be valid: the agent logged \`GPU 7:\` and the coordinator listed 8 GPUs for it;"
  echo "the agent without GPUs found none."
  echo
  echo "Machine: $model, $(nproc) CPU(s), $(uname -sr), clock tick 1/$tck s (resolution ${resolution} % of one core"
  echo "per ${window} s window). Other processes on the machine share the cores; only the agent's own CPU time is counted,"
  echo "so they affect the figures only indirectly (caches, scheduling)."
} | tee "$root/bench/results/gpu.md"
