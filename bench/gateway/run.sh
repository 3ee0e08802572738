#!/usr/bin/env bash
# Gateway throughput and latency against nginx, all on loopback.
#
#   direct   wrk → nginx backend (return 200 "ok")
#   nginx    wrk → nginx reverse proxy (1 worker, keep-alive upstream) → backend
#   gateway  wrk → eas-gateway (Release, --static-routes) → backend
#   features wrk → the same eas-gateway, /api/predict/benchgroup: a service group (customized weights 900/100,
#            two members), every limit on (instance and service rate limits, concurrency limit, max_queue_size;
#            set high enough that nothing is refused, so the checks run on every request), round-robin on one
#            member, a file sinker on both members (call records written) → backend
#   floor    wrk → the same eas-gateway, an unknown service: answered 404 by the gateway itself, nothing forwarded
#
# Besides throughput and latency, the CPU time per request of the process doing the work (nginx's worker, the
# gateway's process; from /proc/PID/stat around each run): on a machine whose cores wrk, the backend and the proxy
# share, that is what decides the throughput, and it varies far less between runs than req/s does.
#
# Same wrk settings for all (WRK_THREADS/WRK_CONNS/WRK_DURATION), after a warm-up of each proxy (WRK_WARMUP, 15 s: on
# a busy 2-core machine the JIT takes that long to reach its optimized code). Then "plain" (the gateway row's service)
# and "features" run in the same gateway process, alternating in short runs (FEATURE_ROUNDS, default 10, of
# FEATURE_DURATION, default 3s, each), so that the drift of a shared machine hits both alike; the ratio of their summed
# throughputs is printed with the median of the rounds' ratios (issue 7: features/plain ≥ 0.90).
# Needs: wrk, nginx (apt: wrk nginx-light), dotnet, openssl. Installs nothing. Runs in about three minutes;
# stops everything it started, also on failure or Ctrl+C. Writes bench/results/gateway.md.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
results="$repo/bench/results"

threads="${WRK_THREADS:-1}"
conns="${WRK_CONNS:-32}"
duration="${WRK_DURATION:-10s}"
warmup="${WRK_WARMUP:-15s}"
backend_port="${BACKEND_PORT:-18181}"
nginx_port="${NGINX_PORT:-18182}"
gateway_port="${GATEWAY_PORT:-18183}"
token="bench-token"

missing=()
for tool in wrk nginx dotnet openssl curl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "run.sh: missing ${missing[*]}; install them first (Debian: apt-get install wrk nginx-light curl openssl; dotnet: the .NET 10 SDK)." >&2
  exit 2
fi

for port in "$backend_port" "$nginx_port" "$gateway_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "run.sh: port $port on 127.0.0.1 is taken; set BACKEND_PORT/NGINX_PORT/GATEWAY_PORT to free ports." >&2
    exit 2
  fi
done

work="$(mktemp -d /tmp/eas-gateway-bench.XXXXXX)"
gateway_pid=""
cleanup() {
  set +e
  if [[ -n "$gateway_pid" ]]; then
    kill "$gateway_pid" 2>/dev/null
    wait "$gateway_pid" 2>/dev/null
  fi
  for name in proxy backend; do
    if [[ -f "$work/$name.pid" ]]; then
      kill "$(cat "$work/$name.pid")" 2>/dev/null
    fi
  done
  sleep 0.2
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

cat >"$work/backend.conf" <<EOF
worker_processes 1;
daemon on;
pid $work/backend.pid;
error_log $work/backend-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/tmp-backend;
  server {
    listen 127.0.0.1:$backend_port backlog=4096;
    keepalive_requests 1000000;
    location / { return 200 "ok"; }
  }
}
EOF

cat >"$work/proxy.conf" <<EOF
worker_processes 1;
daemon on;
pid $work/proxy.pid;
error_log $work/proxy-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/tmp-proxy;
  proxy_temp_path $work/tmp-proxy-upstream;
  upstream backend {
    server 127.0.0.1:$backend_port;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$nginx_port backlog=4096;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF

token_sha256="$(printf %s "$token" | openssl dgst -sha256 -binary | base64)"
rounds="${FEATURE_ROUNDS:-10}"
feature_duration="${FEATURE_DURATION:-3s}"
# The featured members' limits: far above what loopback can offer, so every check runs and none refuses.
limits='"instanceRateLimit": 10000000, "serviceRateLimit": 10000000, "concurrencyLimit": 100000, "maxQueueSize": 100000'
sinker='"sinker": {"type": "file"}'
cat >"$work/routes.json" <<EOF
{"revision": 1,
 "groups": [{"name": "benchgroup", "trafficMode": "TRAFFIC_MODE_CUSTOMIZED"}],
 "services": [
  {"name": "bench", "tokenSha256": "$token_sha256", "keepaliveMs": 5000,
   "endpoints": [{"instanceId": "bench-0", "address": "127.0.0.1:$backend_port"}]},
  {"name": "blue", "tokenSha256": "$token_sha256", "keepaliveMs": 5000, "group": "benchgroup", "groupWeight": 900,
   $limits, $sinker,
   "endpoints": [{"instanceId": "blue-0", "address": "127.0.0.1:$backend_port"}]},
  {"name": "green", "tokenSha256": "$token_sha256", "keepaliveMs": 5000, "group": "benchgroup", "groupWeight": 100,
   $limits, $sinker, "routing": "ROUTING_POLICY_ROUND_ROBIN",
   "endpoints": [{"instanceId": "green-0", "address": "127.0.0.1:$backend_port"}]}]}
EOF

echo "== building eas-gateway (Release)"
dotnet build "$repo/gateway/Eas.Node.Gateway/Eas.Node.Gateway.csproj" -c Release --nologo -v quiet >"$work/build.log" 2>&1 || {
  cat "$work/build.log" >&2
  exit 1
}
gateway_dll="$repo/gateway/Eas.Node.Gateway/bin/Release/net10.0/eas-gateway.dll"

nginx -p "$work" -c "$work/backend.conf" -e "$work/backend-error.log"
nginx -p "$work" -c "$work/proxy.conf" -e "$work/proxy-error.log"

# The gateway's runtime settings (inline socket completions, no thread-pool spinning, workstation GC) are its own
# defaults (Program.cs, the csproj); the environment passes through unchanged so that variants can be compared,
# e.g. DOTNET_gcServer=1 or DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0.
dotnet "$gateway_dll" --static-routes "$work/routes.json" --Gateway:Listen="http://127.0.0.1:$gateway_port" \
  --Gateway:Records:Directory="$work/records" >"$work/gateway.log" 2>&1 &
gateway_pid=$!

wait_for() {
  local url="$1" auth="${2:-}"
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null -H "Authorization: $auth" "$url" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "run.sh: $url did not answer 200 in 10 s" >&2
  cat "$work/gateway.log" >&2
  exit 1
}
wait_for "http://127.0.0.1:$backend_port/"
wait_for "http://127.0.0.1:$nginx_port/"
wait_for "http://127.0.0.1:$gateway_port/api/predict/bench/" "$token"
wait_for "http://127.0.0.1:$gateway_port/api/predict/benchgroup/" "$token"

run_wrk() {
  wrk -t"$threads" -c"$conns" -d"$1" --latency -H "Authorization: $token" "$2"
}

# wrk prints latency percentiles in us/ms/s; normalise to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else { printf "%s", v } }'
}

# CPU time (all threads) a process has used so far, in clock ticks: "user system" (utime and stime, fields 14 and 15
# of /proc/<pid>/stat, counted after the command name, which may hold spaces).
cpu_ticks() {
  sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12, $13 }'
}
ticks_per_second="$(getconf CLK_TCK)"

declare -A rps p50 p99 errors cpu_us cpu_split
# measure NAME URL [DURATION] [PID]: one wrk run; with PID, also that process's CPU time per request (µs), in all
# (cpu_us) and as "user + system" (cpu_split).
measure() {
  local name="$1" url="$2" length="${3:-$duration}" pid="${4:-}" out user0 system0 user1 system1
  if [[ -n "$pid" ]]; then
    read -r user0 system0 < <(cpu_ticks "$pid")
  fi
  out="$(run_wrk "$length" "$url")"
  if [[ -n "$pid" ]]; then
    read -r user1 system1 < <(cpu_ticks "$pid")
    read -r "cpu_us[$name]" "cpu_split[$name]" < <(awk -v u=$((user1 - user0)) -v s=$((system1 - system0)) \
      -v hz="$ticks_per_second" '/ requests in / {
        per = 1e6 / hz / $1; printf "%.1f %.1f+%.1f\n", (u + s) * per, u * per, s * per }' <<<"$out")
  fi
  echo "$out" >"$work/wrk-$name.txt"
  rps[$name]="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")"
  p50[$name]="$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")"
  p99[$name]="$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")"
  errors[$name]="$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ { n += 1 } END { print n + 0 }' <<<"$out")"
  printf '   %-8s %10s req/s   p50 %8s ms   p99 %8s ms   errors %s%s\n' "$name" "${rps[$name]}" "${p50[$name]}" "${p99[$name]}" \
    "${errors[$name]}" "${pid:+   CPU ${cpu_us[$name]} µs/request (user+system ${cpu_split[$name]})}"
}

echo "== warm-up ($warmup each for nginx, the gateway and the featured group)"
run_wrk "$warmup" "http://127.0.0.1:$nginx_port/" >/dev/null
run_wrk "$warmup" "http://127.0.0.1:$gateway_port/api/predict/bench/" >/dev/null
run_wrk "$warmup" "http://127.0.0.1:$gateway_port/api/predict/benchgroup/" >/dev/null

echo "== wrk -t$threads -c$conns -d$duration"
# nginx's work is done by its one worker process; the gateway's by its one process.
backend_worker="$(pgrep -P "$(cat "$work/backend.pid")" | head -1)"
proxy_worker="$(pgrep -P "$(cat "$work/proxy.pid")" | head -1)"
measure direct "http://127.0.0.1:$backend_port/" "$duration" "$backend_worker"
measure nginx "http://127.0.0.1:$nginx_port/" "$duration" "$proxy_worker"
measure gateway "http://127.0.0.1:$gateway_port/api/predict/bench/" "$duration" "$gateway_pid"
# The gateway's floor: an unknown service is answered 404 by the gateway itself (Kestrel, the token-free lookup,
# no forwarding, no upstream socket): the CPU that the .NET HTTP server spends on the caller's half of a request.
measure floor "http://127.0.0.1:$gateway_port/api/predict/no-such-service/" "$duration" "$gateway_pid"

# Plain and featured alternate in short runs, so the drift of a shared box hits both alike.
echo "== plain vs group+limits+sinker: $rounds rounds of wrk -d$feature_duration each"
plain_sum=0
features_sum=0
feature_rows=""
round_ratios=""
for round in $(seq 1 "$rounds"); do
  measure "plain$round" "http://127.0.0.1:$gateway_port/api/predict/bench/" "$feature_duration"
  measure "features$round" "http://127.0.0.1:$gateway_port/api/predict/benchgroup/" "$feature_duration"
  plain_sum=$((plain_sum + ${rps[plain$round]}))
  features_sum=$((features_sum + ${rps[features$round]}))
  round_ratios+="$(awk -v f="${rps[features$round]}" -v p="${rps[plain$round]}" 'BEGIN { printf "%.4f", f / p }')"$'\n'
  feature_rows+="| $round | ${rps[plain$round]} | ${p99[plain$round]} | ${errors[plain$round]} | ${rps[features$round]} | ${p99[features$round]} | ${errors[features$round]} |"$'\n'
done

ratio_rps="$(awk -v g="${rps[gateway]}" -v n="${rps[nginx]}" 'BEGIN { printf "%.2f", g / n }')"
ratio_p99="$(awk -v g="${p99[gateway]}" -v n="${p99[nginx]}" 'BEGIN { printf "%.2f", g / n }')"
ratio_cpu="$(awk -v g="${cpu_us[gateway]}" -v n="${cpu_us[nginx]}" 'BEGIN { printf "%.2f", g / n }')"
ratio_floor="$(awk -v f="${cpu_us[floor]}" -v n="${cpu_us[nginx]}" 'BEGIN { printf "%.2f", f / n }')"
ratio_features="$(awk -v f="$features_sum" -v p="$plain_sum" 'BEGIN { printf "%.2f", f / p }')"
median_features="$(sort -n <<<"${round_ratios%$'\n'}" | awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"

table="$(
  cat <<EOF
| target | req/s | p50 (ms) | p99 (ms) | non-2xx/socket errors | CPU per request (µs) | user + system (µs) |
|---|---|---|---|---|---|---|
| direct (nginx backend) | ${rps[direct]} | ${p50[direct]} | ${p99[direct]} | ${errors[direct]} | ${cpu_us[direct]} (backend worker) | ${cpu_split[direct]} |
| nginx reverse proxy (1 worker, keep-alive upstream) | ${rps[nginx]} | ${p50[nginx]} | ${p99[nginx]} | ${errors[nginx]} | ${cpu_us[nginx]} (proxy worker) | ${cpu_split[nginx]} |
| eas-gateway (Release) | ${rps[gateway]} | ${p50[gateway]} | ${p99[gateway]} | ${errors[gateway]} | ${cpu_us[gateway]} | ${cpu_split[gateway]} |
| eas-gateway answering 404 itself (no forwarding) | ${rps[floor]} | ${p50[floor]} | ${p99[floor]} | ${errors[floor]} (its answers are 404s) | ${cpu_us[floor]} | ${cpu_split[floor]} |

gateway/nginx: throughput **${ratio_rps}×**, p99 **${ratio_p99}×** (target: throughput ≥ 1.00×, p99 ≤ 1.00×);
CPU per proxied request **${ratio_cpu}×** nginx's; the gateway's own 404 without any forwarding **${ratio_floor}×**
nginx's whole proxied request

Same gateway process, plain service vs a service group with every limit on and a sinker (call records), alternating
$rounds times, wrk -d$feature_duration each:

| round | plain req/s | plain p99 (ms) | plain errors | group+limits+sinker req/s | p99 (ms) | errors |
|---|---|---|---|---|---|---|
${feature_rows}
group+limits+sinker/plain: throughput **${ratio_features}×** (sum of rounds; median of the rounds' ratios ${median_features}×) (target ≥ 0.90×)
EOF
)"

echo
echo "$table"

mkdir -p "$results"
{
  echo "# Gateway benchmark"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r), $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(dotnet --version) SDK."
  echo "wrk -t$threads -c$conns -d$duration --latency on loopback after a $warmup warm-up; backend: nginx \`return 200 \"ok\"\`."
  echo
  echo "$table"
} >"$results/gateway.md"
echo
echo "written: $results/gateway.md"
