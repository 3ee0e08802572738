#!/usr/bin/env bash
# bench/llm-sim/run.sh — 4 simulated LLM replicas on loopback + llm-load, client-side spreading only
# (no gateway): a direct single-replica run, then each scenario with round-robin (rr), least-in-flight
# (least) and a prefix/session-affinity oracle (affinity). Fresh replicas (cold caches) for every run.
#
#   bench/llm-sim/run.sh                  # scenarios 1 A B C D, lbs rr least affinity
#   SCENARIOS="A B" LBS="rr affinity" DURATION=30 bench/llm-sim/run.sh
#
# Scenarios (rates are for the default engine, see README.md):
#   1  one replica, shared-prefix at RATE_1 (2.5 req/s)
#   A  shared-prefix, 64 prefixes x 1024 words, RATE_A (11 req/s: just below round-robin's knee, ~12.5)
#   B  shared-prefix at RATE_B (25 req/s: twice round-robin's knee)
#   C  single-prefix (everyone shares one prefix) at RATE_C (16 req/s)
#   D  multi-turn chat, 16 system prompts, 4 turns, at RATE_D (8 req/s)
# Results: bench/results/llm-sim/<scenario>-<lb>.json and a table on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."

SCENARIOS=${SCENARIOS:-"1 A B C D"}
LBS=${LBS:-"rr least affinity"}
DURATION=${DURATION:-60}
SEED=${SEED:-1}
PORT_BASE=${PORT_BASE:-18200}
REPLICAS=${REPLICAS:-4}
SIM_ARGS=${SIM_ARGS:-}
LOAD_ARGS=${LOAD_ARGS:-}
RATE_1=${RATE_1:-2.5} RATE_A=${RATE_A:-11} RATE_B=${RATE_B:-25} RATE_C=${RATE_C:-16} RATE_D=${RATE_D:-8}
OUT=bench/results/llm-sim
SIM=bench/llm-sim/LlmSim/bin/Release/net10.0/LlmSim.dll
LOAD=bench/llm-sim/LlmLoad/bin/Release/net10.0/LlmLoad.dll

command -v jq >/dev/null || { echo "run.sh: needs jq (apt-get install jq)" >&2; exit 1; }
dotnet build bench/llm-sim/LlmSim/LlmSim.csproj -c Release -nologo -clp:ErrorsOnly >/dev/null
dotnet build bench/llm-sim/LlmLoad/LlmLoad.csproj -c Release -nologo -clp:ErrorsOnly >/dev/null
mkdir -p "$OUT"

PIDS=()
stop_replicas() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap stop_replicas EXIT

# start_replicas N: N fresh replicas on PORT_BASE+1.. ; sets URLS (comma list)
start_replicas() {
  stop_replicas
  URLS=""
  for i in $(seq 1 "$1"); do
    local port=$((PORT_BASE + i))
    # shellcheck disable=SC2086
    dotnet "$SIM" --host 127.0.0.1 --port "$port" --name "r$i" $SIM_ARGS >"$OUT/replica-r$i.log" 2>&1 &
    PIDS+=("$!")
    URLS="${URLS:+$URLS,}http://127.0.0.1:$port"
  done
  for i in $(seq 1 "$1"); do
    for _ in $(seq 1 100); do
      curl -sf "http://127.0.0.1:$((PORT_BASE + i))/health" >/dev/null && break
      sleep 0.1
    done
  done
}

sim_cpu_seconds() {
  local ticks=0
  for pid in "${PIDS[@]}"; do ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done
  echo "scale=2; $ticks / $(getconf CLK_TCK)" | bc
}

# run NAME LB REPLICAS ARGS...
run() {
  local name=$1 lb=$2 n=$3; shift 3
  start_replicas "$n"
  local cpu0; cpu0=$(sim_cpu_seconds)
  # shellcheck disable=SC2086
  dotnet "$LOAD" --url "$URLS" --client-lb "$lb" --duration "$DURATION" --seed "$SEED" --prewarm \
    --replica-metrics "$URLS" --label "$name-$lb" --json "$OUT/$name-$lb.json" --quiet "$@" $LOAD_ARGS >/dev/null
  local cpu1; cpu1=$(sim_cpu_seconds)
  local late=0
  for i in $(seq 1 "$n"); do
    late=$(echo "$late + $(curl -s "http://127.0.0.1:$((PORT_BASE + i))/metrics" | awk '/^llm_sim_step_late_seconds_total/ {print $2}')" | bc)
  done
  jq -r --arg cpu "$(echo "$cpu1 - $cpu0" | bc)" --arg late "$late" \
    '[.label, .rate, .ttft_ms.p50, .ttft_ms.p90, .ttft_ms.p99, .tpot_ms.p50, .output_tokens_per_second, .requests_per_second,
      .prefix_cache_hit_rate, .share_max_over_min, .error_count, .send_lateness_ms.p99, .machine_cpu_busy, $cpu, $late]
     | map(tostring) | join("\t")' "$OUT/$name-$lb.json"
}

printf 'run\trate\tttft50\tttft90\tttft99\ttpot50\ttok/s\treq/s\thit\tshare\terrors\tlate99ms\tmachine\tsim_cpu_s\tstep_late_s\n'
for s in $SCENARIOS; do
  case $s in
    1) run one-replica rr 1 --workload shared-prefix --rate "$RATE_1" ;;
    A) for lb in $LBS; do run A "$lb" "$REPLICAS" --workload shared-prefix --rate "$RATE_A"; done ;;
    B) for lb in $LBS; do run B "$lb" "$REPLICAS" --workload shared-prefix --rate "$RATE_B"; done ;;
    C) for lb in $LBS; do run C "$lb" "$REPLICAS" --workload single-prefix --rate "$RATE_C"; done ;;
    D) for lb in $LBS; do run D "$lb" "$REPLICAS" --workload multi-turn --prefixes 16 --rate "$RATE_D"; done ;;
    *) echo "run.sh: unknown scenario \"$s\"; use 1 A B C D" >&2; exit 2 ;;
  esac
done
