#!/usr/bin/env bash
# Deploy latency and agent footprint, measured on a throwaway cluster (own ports, bridge and state):
#   - `easctl create --wait` wall time for a 2-instance service that is ready at once (no pip),
#     repeated RUNS times (default 5); the easctl process start is included, so this is what a user waits;
#   - the agent's resident memory (VmRSS) while 2 instances idle.
# Needs root (runc, CNI), a build (make build) and jq. Writes bench/results/deploy.md. Cleans up on exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
runs="${RUNS:-5}"
work="$(mktemp -d /tmp/eas-bench-deploy.XXXXXX)"
coord_port=19090 gw_port=18080
export EAS_COORDINATOR="http://127.0.0.1:$coord_port"
easctl="$root/bin/easctl"
pids=()

cleanup() {
  "$easctl" delete bench_ready >/dev/null 2>&1 || true
  sleep 1
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  "$root/bin/eas-agent" cleanup --config "$work/agent.json" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/coordinator.json" <<JSON
{ "Coordinator": { "Listen": "http://127.0.0.1:$coord_port", "DataDir": "$work/coordinator", "GatewayListen": "http://127.0.0.1:$gw_port" } }
JSON
cat >"$work/agent.json" <<JSON
{ "Agent": { "NodeName": "bench-node", "Coordinator": "http://127.0.0.1:$coord_port", "StateDir": "$work/agent", "Bridge": "easbench0", "Subnet": "10.237.0.0/24" } }
JSON
mkdir -p "$work/app"
cat >"$work/app/server.py" <<'PY'
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok\n")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
PY
cat >"$work/service.json" <<JSON
{
  "metadata": { "name": "bench_ready", "instance": 2, "cpu": 0.5, "memory": 256 },
  "containers": [{ "image": "host", "command": ["python3", "/app/server.py"], "port": 8000 }],
  "storage": [{ "mount_path": "/app", "host": { "path": "$work/app", "readOnly": true } }]
}
JSON

"$root/bin/eas-coordinator" --config "$work/coordinator.json" >"$work/coordinator.log" 2>&1 & pids+=($!)
"$root/bin/eas-agent" --config "$work/agent.json" >"$work/agent.log" 2>&1 & pids+=($!)
agent_pid=$!
for _ in $(seq 1 300); do
  [[ $("$easctl" nodes -o json 2>/dev/null | jq '[.[] | select(.status=="Ready")] | length' 2>/dev/null || echo 0) -ge 1 ]] && break
  sleep 0.1
done

times=()
for i in $(seq 1 "$runs"); do
  start=$(date +%s.%N)
  "$easctl" create -f "$work/service.json" --wait --timeout 60 >/dev/null
  end=$(date +%s.%N)
  times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')")
  if [[ $i -eq $runs ]]; then
    sleep 5   # let the agent settle with 2 idle instances before reading its memory
    rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$agent_pid/status")
  fi
  "$easctl" delete bench_ready >/dev/null
  for _ in $(seq 1 300); do "$easctl" desc bench_ready >/dev/null 2>&1 || break; sleep 0.1; done
done

sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(echo "$sorted" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
best=$(echo "$sorted" | head -1)
worst=$(echo "$sorted" | tail -1)
mkdir -p "$root/bench/results"
{
  echo "# Deploy latency and agent memory ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)"
  echo
  echo "| figure | value | target |"
  echo "|---|---|---|"
  printf '| create → 2 instances Ready (median of %d) | %.2f s (best %.2f s, worst %.2f s) | ≤ 2 s |\n' "$runs" "$median" "$best" "$worst"
  printf '| agent RSS, idle, 2 instances | %.1f MB | ≤ 80 MB |\n' "$(awk -v k="$rss_kb" 'BEGIN { print k / 1024 }')"
} | tee "$root/bench/results/deploy.md"
