#!/usr/bin/env bash
# Lifecycle speed on a throwaway two-node cluster (own ports, bridges, subnets and state), default settings:
#   - rolling update: `easctl modify --wait` of a 4-instance service, max_surge 1, app ready at once, from
#     the call to every instance running the new version and Ready (old ones out of the gateway); RUNS times;
#   - the same rolling updates and then a scale-in from 4 to 2 run under `wrk -c4` through the gateway for
#     LOAD_SECONDS (default 60): the non-2xx responses and socket errors it counts must both be 0;
#   - node loss: a node running 2 instances goes silent (agent kill -9, its containers frozen with
#     `runc pause`); time from then until both instances are Ready on the other node; LOSSES times.
# Needs root (runc, CNI), a build (make build), jq and wrk. Writes bench/results/lifecycle.md. Cleans up on exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
runs="${RUNS:-3}"
losses="${LOSSES:-3}"
load_seconds="${LOAD_SECONDS:-60}"
work="$(mktemp -d /tmp/eas-bench-lifecycle.XXXXXX)"
coord_port=19190 gw_port=18180
export EAS_COORDINATOR="http://127.0.0.1:$coord_port"
easctl="$root/bin/easctl"
declare -A agent_pid

start_agent() {
  "$root/bin/eas-agent" --config "$work/$1.json" >>"$work/$1.log" 2>&1 &
  agent_pid[$1]=$!
}

runc_on() { local node="$1"; shift; runc --root "$work/$node/runc" "$@"; }

cleanup() {
  for node in node-a node-b; do
    for id in $(runc_on "$node" list -q 2>/dev/null); do runc_on "$node" resume "$id" 2>/dev/null || true; done
    [[ -n ${agent_pid[$node]:-} ]] || start_agent "$node"
  done
  "$easctl" delete bench_roll >/dev/null 2>&1 || true
  for _ in $(seq 1 200); do "$easctl" desc bench_roll >/dev/null 2>&1 || break; sleep 0.1; done
  for pid in "${agent_pid[@]}" "${coord_pid:-}"; do [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null || true; done
  sleep 2
  for pid in "${agent_pid[@]}" "${coord_pid:-}"; do [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null || true; done
  for node in node-a node-b; do "$root/bin/eas-agent" cleanup --config "$work/$node.json" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/coordinator.json" <<JSON
{ "Coordinator": { "Listen": "http://127.0.0.1:$coord_port", "DataDir": "$work/coordinator", "GatewayListen": "http://127.0.0.1:$gw_port" } }
JSON
i=0
for node in node-a node-b; do
  i=$((i + 1))
  cat >"$work/$node.json" <<JSON
{ "Agent": { "NodeName": "$node", "Coordinator": "http://127.0.0.1:$coord_port", "StateDir": "$work/$node", "Bridge": "easbenchl$i", "Subnet": "10.239.$i.0/24" } }
JSON
done
mkdir -p "$work/app"
cat >"$work/app/server.py" <<'PY'
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(os.environ.get("GREETING", "").encode())
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
PY
spec() { # instances greeting
  cat <<JSON
{
  "metadata": { "name": "bench_roll", "instance": $1, "cpu": 0.1, "memory": 128, "rpc": { "enable_sigterm": true },
                "rolling_strategy": { "max_surge": 1, "max_unavailable": 0 } },
  "containers": [{ "image": "host", "command": ["python3", "/app/server.py"], "port": 8000, "env": [{ "name": "GREETING", "value": "$2" }] }],
  "storage": [{ "mount_path": "/app", "host": { "path": "$work/app", "readOnly": true } }]
}
JSON
}
seconds_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

"$root/bin/eas-coordinator" --config "$work/coordinator.json" >"$work/coordinator.log" 2>&1 &
coord_pid=$!
start_agent node-a
start_agent node-b
for _ in $(seq 1 300); do
  [[ $("$easctl" nodes -o json 2>/dev/null | jq '[.[] | select(.status=="Ready")] | length' 2>/dev/null || echo 0) -ge 2 ]] && break
  sleep 0.1
done

# Rolling updates.
spec 4 v0 >"$work/service.json"
"$easctl" create -f "$work/service.json" --wait --timeout 120 >/dev/null
token=$("$easctl" desc bench_roll -o json | jq -r .token)
wrk -t1 -c4 -d"${load_seconds}s" -H "Authorization: $token" "http://127.0.0.1:$gw_port/api/predict/bench_roll/" >"$work/wrk.txt" 2>&1 &
wrk_pid=$!
roll=()
for r in $(seq 1 "$runs"); do
  spec 4 "v$r" >"$work/service.json"
  start=$(date +%s.%N)
  "$easctl" modify bench_roll -f "$work/service.json" --wait --timeout 120 >/dev/null
  roll+=("$(seconds_since "$start")")
done
"$easctl" scale bench_roll 2 --wait --timeout 120 >/dev/null
wait "$wrk_pid"
load_requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
load_non2xx=$(awk -F': ' '/Non-2xx or 3xx responses/ {print $2}' "$work/wrk.txt")
load_socket=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$work/wrk.txt")
mkdir -p "$root/bench/results"
"$easctl" events bench_roll >"$root/bench/results/lifecycle-rollout-events.txt"
"$easctl" delete bench_roll >/dev/null
for _ in $(seq 1 600); do "$easctl" desc bench_roll >/dev/null 2>&1 || break; sleep 0.1; done

# Node loss: deploy 2 instances on the node that will go silent (the other one cordoned meanwhile).
loss=()
for l in $(seq 1 "$losses"); do
  if [[ $((l % 2)) -eq 1 ]]; then lost=node-a other=node-b; else lost=node-b other=node-a; fi
  "$easctl" cordon "$other" >/dev/null
  spec 2 "loss$l" >"$work/service.json"
  "$easctl" create -f "$work/service.json" --wait --timeout 120 >/dev/null
  "$easctl" uncordon "$other" >/dev/null
  start=$(date +%s.%N)
  kill -KILL "${agent_pid[$lost]}"; unset "agent_pid[$lost]"
  for id in $(runc_on "$lost" list -q); do runc_on "$lost" pause "$id"; done
  for _ in $(seq 1 1200); do
    ready=$("$easctl" desc bench_roll -o json 2>/dev/null | jq --arg n "$other" '[.instances[] | select(.node==$n and .state=="Ready")] | length' 2>/dev/null || echo 0)
    [[ $ready -ge 2 ]] && break
    sleep 0.1
  done
  loss+=("$(seconds_since "$start")")
  for id in $(runc_on "$lost" list -q); do runc_on "$lost" resume "$id"; done
  start_agent "$lost"
  "$easctl" delete bench_roll >/dev/null
  for _ in $(seq 1 600); do "$easctl" desc bench_roll >/dev/null 2>&1 || break; sleep 0.1; done
  for _ in $(seq 1 600); do [[ -z $(runc_on "$lost" list -q) ]] && break; sleep 0.1; done
done

roll_median=$(median "${roll[@]}")
loss_median=$(median "${loss[@]}")
mkdir -p "$root/bench/results"
{
  echo "# Lifecycle ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, default settings: heartbeat 2 s, grace 10 s)"
  echo
  echo "| Measure | Median | Runs | Target | Peer (published defaults) |"
  echo "|---|---|---|---|---|"
  echo "| Rolling update, 4 instances, max_surge 1, ready at once | ${roll_median} s | ${roll[*]} | ≤ 10 s | — |"
  echo "| Under load: ${runs} rolling updates + scale-in 4 → 2, wrk -c4 for ${load_seconds} s | ${load_non2xx:-0} non-2xx, ${load_socket:-0} socket errors | ${load_requests} requests | 0 and 0 | — |"
  echo "| Node loss → both instances Ready on the other node | ${loss_median} s | ${loss[*]} | ≤ 15 s | Nomad 20–30 s ($(awk -v m="$loss_median" 'BEGIN { printf "%.1f–%.1f×", 20 / m, 30 / m }') faster), Kubernetes ~350 s ($(awk -v m="$loss_median" 'BEGIN { printf "%.0f×", 350 / m }') faster) |"
} | tee "$root/bench/results/lifecycle.md"
