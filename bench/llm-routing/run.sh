#!/usr/bin/env bash
# LLM-aware routing end to end (issue 7, Done-when A B C F): a throwaway coordinator (embedded gateway) + one agent
# with its own state dir, CNI bridge/subnet and ports; three services of REPLICAS (4) simulated vLLM replicas each
# (bench/llm-sim LlmSim, deployed THROUGH THE PLATFORM as image "host" instances), identical but for
# metadata.routing: llm_rr "round_robin", llm_lr "least_requests", llm_px "llm". For every scenario the workload
# generator (LlmLoad) runs against each service in turn, through the gateway (/api/predict/<svc>, the service's
# token), with --replica-metrics on that service's 4 instance addresses (prefix-cache hit rate from the engines).
#
#   A  shared-prefix, 64 prefixes x 1024 words, RATE_A req/s (11: just below round-robin's knee)
#        -> TTFT p90 px/rr <= 0.1, px/lr <= 0.2, px prefix-cache hit rate >= 0.85
#   B  shared-prefix at RATE_B (25: twice round-robin's saturation, ~12.5 req/s)
#        -> output tok/s px/rr >= 1.8, px errors = 0
#   C  single-prefix (one prefix for everyone) at RATE_C (16)
#        -> TTFT p90 px/lr <= 1.25, px per-replica share max/min <= 1.25
#   F  shared-prefix at RATE_F (11) on llm_px; one replica's process is killed (kill -9) half-way through the
#        arrivals -> no request that arrived at the gateway after kill + 1 s was served by it; the only errors
#        are the streams it had in flight. Per-request instance, arrival time, latency and status come from the
#        gateway's call records (sinker "file" on every service), LlmLoad gives the client's view.
#
# Fresh prefixes per run: every run uses its own --seed (the prefixes are derived from the seed), so no run
# finds another run's prefixes cached; the caches are full of older prefixes, which the engines' LRU evicts
# first: the same as cold for hits, without restarting 12 replicas (a rolling restart per service per run would
# cost ~20 s each and a fresh JIT). Each run uses --prewarm (each prefix sent once before the measured window),
# as bench/llm-sim/run.sh. Services carry runtime.enable_crash_block so that the replica killed in F stays dead
# (the agent would otherwise restart it after 1 s and it would rightly take traffic again).
# metadata.cpu is a hard cgroup quota (cpu.max), not a share: 0.1 would throttle a replica serving ~6 req/s of
# SSE and distort the engine's wall-clock timing, so each replica gets SIM_CPU (0.5) and the agent offers
# CpuMillis 8000 on this 2-core host (12 replicas, only 4 busy at a time).
#
#   bench/llm-routing/run.sh                       # all scenarios, DURATION 40 s (about 14 minutes)
#   SCENARIOS="A F" DURATION=30 bench/llm-routing/run.sh
#
# Needs root (runc, CNI), a build (make build; run first when bin/ is missing), jq, curl. Writes
# bench/results/llm-routing.md and the raw reports to bench/results/llm-routing/. Cleans up on exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

SCENARIOS=${SCENARIOS:-"A B C F"}
DURATION=${DURATION:-40}
SEED=${SEED:-1}
REPLICAS=${REPLICAS:-4}
RATE_A=${RATE_A:-11} RATE_B=${RATE_B:-25} RATE_C=${RATE_C:-16} RATE_F=${RATE_F:-11}
SIM_ARGS=${SIM_ARGS:-}
SIM_CPU=${SIM_CPU:-0.5}
LOAD_ARGS=${LOAD_ARGS:-}
BUILD=${BUILD:-1}
coord_port=${COORD_PORT:-19390} gw_port=${GW_PORT:-18390} coord_metrics=${COORD_METRICS_PORT:-19391}
agent_metrics=${AGENT_METRICS_PORT:-19392}
bridge=easbenchlr0 subnet=10.245.1.0/24
out="$root/bench/results/llm-routing"
result="$root/bench/results/llm-routing.md"
sim_dir="$root/bench/llm-sim/LlmSim/bin/Release/net10.0"
load_dll="$root/bench/llm-sim/LlmLoad/bin/Release/net10.0/LlmLoad.dll"
services=(llm_rr llm_lr llm_px)
declare -A routing=([llm_rr]=round_robin [llm_lr]=least_requests [llm_px]=llm)
declare -A short=([llm_rr]=rr [llm_lr]=lr [llm_px]=px)

[[ $(id -u) -eq 0 ]] || { echo "llm-routing: run as root (runc and CNI need it)" >&2; exit 1; }
for tool in jq curl runc awk; do
  command -v "$tool" >/dev/null || { echo "llm-routing: needs $tool (apt-get install $tool)" >&2; exit 1; }
done
[[ -x $root/bin/eas-coordinator && -x $root/bin/eas-agent && -x $root/bin/easctl ]] || make -C "$root" build
if [[ $BUILD == 1 || ! -f $sim_dir/LlmSim.dll || ! -f $load_dll ]]; then
  dotnet build bench/llm-sim/LlmSim/LlmSim.csproj -c Release -nologo -clp:ErrorsOnly >/dev/null
  dotnet build bench/llm-sim/LlmLoad/LlmLoad.csproj -c Release -nologo -clp:ErrorsOnly >/dev/null
fi

work="$(mktemp -d /tmp/eas-bench-llmr.XXXXXX)"
export EAS_COORDINATOR="http://127.0.0.1:$coord_port"
easctl="$root/bin/easctl"
coord_pid="" agent_pid="" load_pid=""

cleanup() {
  local rc=$?
  if [[ -n $load_pid ]]; then kill -TERM "$load_pid" 2>/dev/null || true; fi
  for s in "${services[@]}"; do "$easctl" delete "$s" >/dev/null 2>&1 || true; done
  for s in "${services[@]}"; do
    for _ in $(seq 1 300); do "$easctl" desc "$s" >/dev/null 2>&1 || break; sleep 0.1; done
  done
  mkdir -p "$out"
  cp "$work"/*.log "$out/" 2>/dev/null || true
  for pid in "$agent_pid" "$coord_pid"; do if [[ -n $pid ]]; then kill -TERM "$pid" 2>/dev/null || true; fi; done
  sleep 2
  for pid in "$agent_pid" "$coord_pid"; do if [[ -n $pid ]]; then kill -KILL "$pid" 2>/dev/null || true; fi; done
  "$root/bin/eas-agent" cleanup --config "$work/agent.json" >/dev/null 2>&1 || true
  rm -rf "$work"
  [[ $rc -eq 0 ]] || echo "llm-routing: failed (exit $rc); logs in $out/*.log" >&2
}
trap cleanup EXIT

mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.log "$out"/*.txt
cat >"$work/coordinator.json" <<JSON
{ "Coordinator": { "Listen": "http://127.0.0.1:$coord_port", "DataDir": "$work/coordinator",
                   "GatewayListen": "http://127.0.0.1:$gw_port", "MetricsListen": "http://127.0.0.1:$coord_metrics" } }
JSON
cat >"$work/agent.json" <<JSON
{ "Agent": { "NodeName": "llmr-node", "Coordinator": "http://127.0.0.1:$coord_port", "StateDir": "$work/agent",
             "Bridge": "$bridge", "Subnet": "$subnet", "CpuMillis": 8000, "MetricsListen": "http://127.0.0.1:$agent_metrics" } }
JSON

spec() { # name routing
  cat <<JSON
{
  "metadata": { "name": "$1", "instance": $REPLICAS, "cpu": $SIM_CPU, "memory": 256, "routing": "$2",
                "rpc": { "keepalive": 600000, "max_queue_size": 1000 } },
  "runtime": { "enable_crash_block": true },
  "sinker": { "type": "file", "config": { "max_body_bytes": 64 } },
  "containers": [{
    "image": "host",
    "script": "exec dotnet /mnt/sim/LlmSim.dll $SIM_ARGS",
    "port": 8000,
    "readiness_check": { "http_get": { "path": "/health", "port": 8000 }, "period_seconds": 1 }
  }],
  "storage": [{ "mount_path": "/mnt/sim", "host": { "path": "$sim_dir", "readOnly": true } }]
}
JSON
}

# Seconds the service's replicas spent throttled by their cgroup CPU quota (cpu.stat throttled_usec), summed.
throttled() {
  local total=0 id pid cg
  for id in $(runc --root "$work/agent/runc" list -q 2>/dev/null | grep "^eas-$1-" || true); do
    pid=$(runc --root "$work/agent/runc" state "$id" 2>/dev/null | jq -r .pid) || continue
    cg=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup" 2>/dev/null) || continue
    total=$((total + $(awk '$1 == "throttled_usec" { print $2 }' "/sys/fs/cgroup$cg/cpu.stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

# Gateway counters of the LLM router for llm_px, as "name{labels} value" lines.
llm_counters() {
  curl -s "http://127.0.0.1:$coord_metrics/metrics" | grep -E '^eas_gateway_llm_(decisions|fallbacks|retries)_total\{.*service="llm_px"' || true
}
# Difference of two llm_counters snapshots: "outcome=N ..." for the non-zero ones.
counter_delta() {
  awk 'FILENAME == ARGV[1] { a[$1] = $2; next } { d = $2 - a[$1]; if (d > 0) { m = $1; sub(/^eas_gateway_llm_/, "", m);
       sub(/_total\{.*(outcome|reason)="/, ":", m); sub(/".*/, "", m); sub(/_total\{.*/, "", m); printf "%s%s=%d", sep, m, d; sep = " " } }
       END { print "" }' "$1" "$2"
}

"$root/bin/eas-coordinator" --config "$work/coordinator.json" >"$work/coordinator.log" 2>&1 &
coord_pid=$!
"$root/bin/eas-agent" --config "$work/agent.json" >"$work/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 300); do
  [[ $("$easctl" nodes -o json 2>/dev/null | jq '[.[] | select(.status=="Ready")] | length' 2>/dev/null || echo 0) -ge 1 ]] && break
  sleep 0.1
done

declare -A token urls
for s in "${services[@]}"; do
  spec "$s" "${routing[$s]}" >"$work/$s.json"
  "$easctl" create -f "$work/$s.json" --wait --timeout 180 >/dev/null
  desc=$("$easctl" desc "$s" -o json)
  token[$s]=$(jq -r .token <<<"$desc")
  urls[$s]=$(jq -r '[.instances[] | select(.state=="Ready") | "http://\(.ip):\(.port)"] | join(",")' <<<"$desc")
  [[ $(tr ',' '\n' <<<"${urls[$s]}" | grep -c .) -eq $REPLICAS ]] || { echo "llm-routing: $s has not $REPLICAS Ready instances: ${urls[$s]}" >&2; exit 1; }
done
echo "llm-routing: 3 services x $REPLICAS replicas Ready; coordinator $EAS_COORDINATOR, gateway http://127.0.0.1:$gw_port" >&2

# run SCENARIO SERVICE SEED LLMLOAD-ARGS... -> $out/SCENARIO-<rr|lr|px>.json (+ .txt with the text report)
run() {
  local sc=$1 s=$2 seed=$3; shift 3
  local tag="$sc-${short[$s]}" c0="$work/c0" c1="$work/c1"
  llm_counters >"$c0"
  local t0; t0=$(throttled "$s")
  # shellcheck disable=SC2086
  dotnet "$load_dll" --url "http://127.0.0.1:$gw_port/api/predict/$s" --token "${token[$s]}" \
    --duration "$DURATION" --seed "$seed" --prewarm --replica-metrics "${urls[$s]}" --drain 180 \
    --label "$tag" --json "$out/$tag.json" --quiet "$@" $LOAD_ARGS >"$out/$tag.txt"
  llm_counters >"$c1"
  awk -v a="$t0" -v b="$(throttled "$s")" 'BEGIN { printf "%.2f\n", (b - a) / 1e6 }' >"$out/$tag.throttled"
  if [[ $s == llm_px ]]; then counter_delta "$c0" "$c1" >"$out/$tag.router"; fi
  jq -r '[.label, .rate, .ttft_ms.p50, .ttft_ms.p90, .ttft_ms.p99, .output_tokens_per_second, .prefix_cache_hit_rate,
          .share_max_over_min, .error_count, .send_lateness_ms.p99, .machine_cpu_busy] | map(tostring) | join("\t")' \
    "$out/$tag.json" >&2
}

# Value of a jq path in a run's report ("-" when absent).
val() { jq -r "($2) // \"-\" | tostring" "$out/$1.json" 2>/dev/null || echo -; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.3f", a / b }'; }
judge() { # value op target
  awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { if (v == "-" || v == "") { print "n/a"; exit }
    ok = (op == "<=") ? v <= t : (op == ">=") ? v >= t : v == t; print ok ? "pass" : "**FAIL**" }'
}

echo -e "run\trate\tttft50\tttft90\tttft99\ttok/s\thit\tshare\terrors\tlate99\tcpu" >&2
sn=0
for sc in $SCENARIOS; do
  sn=$((sn + 1))
  case $sc in
    A | B | C)
      ln=0
      for s in "${services[@]}"; do
        ln=$((ln + 1))
        seed=$((SEED * 1000 + sn * 10 + ln))
        case $sc in
          A) run A "$s" "$seed" --workload shared-prefix --rate "$RATE_A" ;;
          B) run B "$s" "$seed" --workload shared-prefix --rate "$RATE_B" ;;
          C) run C "$s" "$seed" --workload single-prefix --rate "$RATE_C" ;;
        esac
      done
      ;;
    F)
      # LlmLoad in the background (progress on stderr tells when the prewarm is over), then kill one replica.
      s=llm_px seed=$((SEED * 1000 + sn * 10 + 9))
      desc=$("$easctl" desc "$s" -o json)
      victim=$(jq -r '[.instances[] | select(.state=="Ready")][0].id' <<<"$desc")
      victim_ip=$(jq -r --arg v "$victim" '.instances[] | select(.id==$v) | .ip' <<<"$desc")
      llm_counters >"$work/c0"
      t0=$(throttled "$s")
      records="$work/coordinator/records/$s.jsonl"
      skip_records=$( [[ -f $records ]] && wc -l <"$records" || echo 0)
      # shellcheck disable=SC2086
      dotnet "$load_dll" --url "http://127.0.0.1:$gw_port/api/predict/$s" --token "${token[$s]}" \
        --duration "$DURATION" --seed "$seed" --prewarm --replica-metrics "${urls[$s]}" --drain 180 \
        --workload shared-prefix --rate "$RATE_F" --label F-px --json "$out/F-px.json" $LOAD_ARGS \
        >"$out/F-px.txt" 2>"$work/F-progress.log" &
      load_pid=$!
      for _ in $(seq 1 1200); do grep -q 'prewarm:' "$work/F-progress.log" && break; sleep 0.1; done
      sleep "$(awk -v d="$DURATION" 'BEGIN { print d / 2 }')"
      # The instance's main process: its container's init (the script execs dotnet), from runc's state.
      pid=""
      for id in $(runc --root "$work/agent/runc" list -q 2>/dev/null); do
        p=$(runc --root "$work/agent/runc" state "$id" 2>/dev/null | jq -r .pid)
        if [[ -r /proc/$p/environ ]] && tr '\0' '\n' <"/proc/$p/environ" | grep -qx "EAS_INSTANCE_ID=$victim"; then pid=$p container=$id; fi
      done
      [[ -n $pid ]] || { echo "llm-routing: F: no runc container runs instance $victim" >&2; exit 1; }
      kill_time=$(date +%s.%N)
      kill -KILL "$pid"
      echo "llm-routing: F: killed $victim ($victim_ip, container $container, pid $pid) at $(date -u -d "@$kill_time" +%H:%M:%S.%3N)" >&2
      # When the platform took it out (its state leaves Ready), polled while the run goes on.
      unready=""
      for _ in $(seq 1 100); do
        st=$("$easctl" desc "$s" -o json | jq -r --arg v "$victim" '.instances[] | select(.id==$v) | .state')
        [[ $st != Ready ]] && { unready=$(awk -v a="$kill_time" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'); break; }
        sleep 0.1
      done
      wait "$load_pid"
      load_pid=""
      cp "$work/F-progress.log" "$out/F-progress.log"
      llm_counters >"$work/c1"
      counter_delta "$work/c0" "$work/c1" >"$out/F-px.router"
      awk -v a="$t0" -v b="$(throttled "$s")" 'BEGIN { printf "%.2f\n", (b - a) / 1e6 }' >"$out/F-px.throttled"
      sleep 2 # the file sink writes at least once a second
      # Records of this run: arrival (epoch s), instance, status, latency ms.
      tail -n +"$((skip_records + 1))" "$records" | jq -r '[(.time | capture("^(?<s>[^.]+)\\.(?<ms>[0-9]+)Z$") | ((.s + "Z" | fromdateiso8601) + (.ms | tonumber) / 1000)),
          .instance, .status, .latency_ms] | map(tostring) | join(" ")' >"$out/F-records.txt"
      jq -r '.label + "\t" + (.rate|tostring) + "\t" + (.error_count|tostring) + " errors " + (.errors|tostring)' "$out/F-px.json" >&2
      f_total=$(wc -l <"$out/F-records.txt")
      read -r f_after f_last f_inflight f_bad f_victim_total < <(awk -v k="$kill_time" -v v="$victim" '
        $2 == v { n++; if ($1 > k + 1) after++; if ($1 <= k && $1 + $4 / 1000 >= k) inflight++; if ($1 > last) last = $1 }
        $2 != v && ($3 >= 400 || $2 == "") { bad++ }
        END { printf "%d %s %d %d %d\n", after, (last == "" ? "-" : sprintf("%.3f", last - k)), inflight, bad, n }' "$out/F-records.txt")
      echo "$kill_time $victim $victim_ip ${unready:--} $f_total $f_after $f_last $f_inflight $f_bad $f_victim_total" >"$out/F-summary.txt"
      ;;
    *) echo "llm-routing: unknown scenario \"$sc\"; use A B C F" >&2; exit 2 ;;
  esac
done

# ---- the table ----
{
  echo "# LLM-aware routing through the platform ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)"
  echo
  echo "3 services × $REPLICAS LlmSim replicas (default engine${SIM_ARGS:+, $SIM_ARGS}) deployed by the coordinator/agent, routed by the"
  echo "embedded gateway (default \`Gateway:Llm\` settings): rr = \`round_robin\`, lr = \`least_requests\`, px = \`llm\`."
  echo "LlmLoad through \`/api/predict/<service>\`, $DURATION s of Poisson arrivals per run, --prewarm, a fresh seed (fresh prefixes) per run."
  echo
  echo "| Scenario | Figure | rr | lr | px | Measured | Target | Result |"
  echo "|---|---|---|---|---|---|---|---|"
  for sc in $SCENARIOS; do
    case $sc in
      A)
        rr=$(val A-rr .ttft_ms.p90) lr=$(val A-lr .ttft_ms.p90) px=$(val A-px .ttft_ms.p90)
        r1=$(ratio "$px" "$rr") r2=$(ratio "$px" "$lr") hit=$(val A-px .prefix_cache_hit_rate)
        echo "| A: 64 prefixes, $RATE_A req/s | TTFT p90 ms, px/rr | $rr | $lr | $px | $r1 | ≤ 0.1 | $(judge "$r1" '<=' 0.1) |"
        echo "| A | TTFT p90, px/lr | | | | $r2 | ≤ 0.2 | $(judge "$r2" '<=' 0.2) |"
        echo "| A | prefix-cache hit rate (engines) | $(val A-rr .prefix_cache_hit_rate) | $(val A-lr .prefix_cache_hit_rate) | $hit | $hit | ≥ 0.85 | $(judge "$hit" '>=' 0.85) |"
        ;;
      B)
        rr=$(val B-rr .output_tokens_per_second) lr=$(val B-lr .output_tokens_per_second) px=$(val B-px .output_tokens_per_second)
        r1=$(ratio "$px" "$rr") e=$(val B-px .error_count)
        echo "| B: 64 prefixes, $RATE_B req/s | output tok/s, px/rr | $rr | $lr | $px | $r1 | ≥ 1.8 | $(judge "$r1" '>=' 1.8) |"
        echo "| B | errors | $(val B-rr .error_count) | $(val B-lr .error_count) | $e | $e | 0 | $(judge "$e" '==' 0) |"
        ;;
      C)
        rr=$(val C-rr .ttft_ms.p90) lr=$(val C-lr .ttft_ms.p90) px=$(val C-px .ttft_ms.p90)
        r2=$(ratio "$px" "$lr") sh=$(val C-px .share_max_over_min)
        # max/min is null when a replica served nothing: unbounded, a hot spot.
        [[ $sh == - && -f $out/C-px.json ]] && sh=$(jq -r '"inf (\(.replicas_seen) of \(.replicas_expected) replicas served)"' "$out/C-px.json")
        echo "| C: 1 prefix, $RATE_C req/s | TTFT p90 ms, px/lr | $rr | $lr | $px | $r2 | ≤ 1.25 | $(judge "$r2" '<=' 1.25) |"
        echo "| C | per-replica share max/min | $(val C-rr .share_max_over_min) | $(val C-lr .share_max_over_min) | $sh | $sh | ≤ 1.25 | $(judge "${sh/inf*/1e9}" '<=' 1.25) |"
        ;;
      F)
        read -r _ victim _ unready f_total f_after f_last f_inflight f_bad f_victim_total <"$out/F-summary.txt"
        e=$(val F-px .error_count) kinds=$(jq -r '.errors | to_entries | map("\(.key) \(.value)") | join(", ")' "$out/F-px.json")
        others=$(jq -r '.errors | to_entries | map(select(.key != "stream_broken") | .value) | add // 0' "$out/F-px.json")
        echo "| F: kill 1 of 4 px replicas at mid-run, $RATE_F req/s | requests arriving after kill + 1 s served by the killed replica (gateway records) | | | $f_after | $f_after | 0 | $(judge "$f_after" '==' 0) |"
        echo "| F | last request served by it arrived at kill + … s; it left Ready at kill + … s | | | | ${f_last} s; ${unready} s | ≤ 1 s | $(judge "$f_last" '<=' 1) |"
        echo "| F | client errors (LlmLoad) vs the killed replica's streams in flight at the kill (records) | | | $e (${kinds:-none}) | $e ≤ $f_inflight, non-stream errors $others | errors ≤ in-flight, only broken streams | $(awk -v e="$e" -v i="$f_inflight" -v o="$others" 'BEGIN { print (e <= i && o == 0) ? "pass" : "**FAIL**" }') |"
        retries=$(grep -o 'retries=[0-9]*' "$out/F-px.router" | cut -d= -f2 || true)
        echo "| F | requests the router sent to a refused connection and moved before the first byte (retries) | | | ${retries:-0} | ${retries:-0} | — | info |"
        echo "| F | gateway records of other replicas or the gateway itself with status ≥ 400 | | | $f_bad | $f_bad | 0 | $(judge "$f_bad" '==' 0) |"
        ;;
    esac
  done
  echo
  echo "Per run (TTFT ms; tok/s over the arrival window; hit = engines' prefix-cache hit rate; late99 = LlmLoad's send lateness p99 ms, suspect > 5; cpu = machine busy, suspect > 0.7; thr s = seconds the 4 replicas were throttled by their cgroup CPU quota; router = llm_px's decisions by outcome, fallbacks, retries in that run):"
  echo
  echo "| run | rate | TTFT p50 | TTFT p90 | TTFT p99 | TPOT p50 | tok/s | req/s | hit | share max/min | errors | late99 | cpu | thr s | router |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for tag in $(for sc in $SCENARIOS; do for l in rr lr px; do echo "$sc-$l"; done; done); do
    f="$out/$tag.json"
    [[ -f $f ]] || continue
    router=$(cat "$out/$tag.router" 2>/dev/null || true)
    thr=$(cat "$out/$tag.throttled" 2>/dev/null || echo -)
    jq -r --arg router "$router" --arg thr "$thr" '[.label, .rate, .ttft_ms.p50, .ttft_ms.p90, .ttft_ms.p99, .tpot_ms.p50, .output_tokens_per_second,
        .requests_per_second, .prefix_cache_hit_rate, .share_max_over_min,
        ((.error_count | tostring) + (if .error_count > 0 then " (" + (.errors | to_entries | map("\(.key) \(.value)") | join(", ")) + ")" else "" end)),
        .send_lateness_ms.p99, .machine_cpu_busy, $thr, $router] | map(. // "-" | tostring) | "| " + join(" | ") + " |"' "$f"
  done
  if [[ -f $out/F-summary.txt ]]; then
    read -r kt victim vip unready f_total f_after f_last f_inflight f_bad f_victim_total <"$out/F-summary.txt"
    echo
    echo "F: killed instance $victim ($vip) with kill -9 at $(date -u -d "@$kt" +%H:%M:%S.%3N) UTC; $f_total gateway records in the run,"
    echo "$f_victim_total served by it, $f_inflight of them in flight at the kill, $f_after arriving after kill + 1 s."
  fi
} | tee "$result"
