#!/usr/bin/env bash
# bench/gateway/sse.sh — the delay eas-gateway adds to each chunk of a streamed (SSE) response.
#
# A Python SSE backend on loopback sends an event every GAP_MS (default 20 ms) carrying its CLOCK_MONOTONIC send
# time; a Python client reads the stream (CONCURRENCY streams at once, default 8, each EVENTS events, default 250)
# directly and through eas-gateway (Release, --static-routes), same run, and records each event's arrival minus its
# send time. The gateway's added delay is the through-gateway delay minus the direct one, compared at p50 and p99
# (the clocks are the same clock: one machine). Prints a Markdown table; writes bench/results/gateway-sse.md.
# Needs python3, openssl; builds the gateway when missing.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
gap_ms="${GAP_MS:-20}" events="${EVENTS:-250}" concurrency="${CONCURRENCY:-8}"
work="$(mktemp -d /tmp/eas-sse-bench.XXXXXX)"
pids=()
cleanup() {
  set +e
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
backend_port="$(free_port)" gateway_port="$(free_port)"
token="bench-sse-token"

cat >"$work/backend.py" <<'PY'
import sys, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
port, gap, events = int(sys.argv[1]), float(sys.argv[2]) / 1000, int(sys.argv[3])
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for _ in range(events):
            data = f"data: {time.monotonic_ns()}\n\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            time.sleep(gap)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY

cat >"$work/client.py" <<'PY'
import sys, time, threading, http.client
host, port, path, token, streams = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
delays, lock = [], threading.Lock()
def one():
    c = http.client.HTTPConnection(host, port, timeout=60)
    c.request("GET", path, headers={"Authorization": token})
    r = c.getresponse()
    assert r.status == 200, r.status
    mine, buf = [], b""
    while True:
        chunk = r.read1(65536)
        if not chunk:
            break
        now = time.monotonic_ns()
        buf += chunk
        while b"\n\n" in buf:
            event, buf = buf.split(b"\n\n", 1)
            mine.append((now - int(event[6:])) / 1e6)
    with lock:
        delays.extend(mine)
threads = [threading.Thread(target=one) for _ in range(streams)]
[t.start() for t in threads]
[t.join() for t in threads]
delays.sort()
pct = lambda p: delays[min(len(delays) - 1, int(p / 100 * len(delays)))]
print(f"{len(delays)} {pct(50):.3f} {pct(90):.3f} {pct(99):.3f}")
PY

dll="$repo/gateway/Eas.Node.Gateway/bin/Release/net10.0/eas-gateway.dll"
[[ -f $dll ]] || dotnet build "$repo/gateway/Eas.Node.Gateway/Eas.Node.Gateway.csproj" -c Release -nologo -clp:ErrorsOnly >/dev/null
python3 "$work/backend.py" "$backend_port" "$gap_ms" "$events" 2>"$work/backend.log" & pids+=($!)
sha="$(printf %s "$token" | openssl dgst -sha256 -binary | base64)"
cat >"$work/routes.json" <<JSON
{"revision": 1, "services": [{"name": "sse", "tokenSha256": "$sha", "keepaliveMs": 5000,
  "endpoints": [{"instanceId": "sse-0", "address": "127.0.0.1:$backend_port"}]}]}
JSON
dotnet "$dll" --static-routes "$work/routes.json" --Gateway:Listen="http://127.0.0.1:$gateway_port" --Gateway:MetricsListen= \
  >"$work/gateway.log" 2>&1 & pids+=($!)
# Ready when the gateway answers with the stream's headers (the stream itself is cut off by -m).
for _ in $(seq 100); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -m 0.5 -H "Authorization: $token" "http://127.0.0.1:$gateway_port/api/predict/sse/" || true)
  [[ $code == 200 ]] && break
  sleep 0.2
done

# Warm-up, then direct and gateway alternately (twice each); the last pair is reported.
python3 "$work/client.py" 127.0.0.1 "$gateway_port" /api/predict/sse/ "$token" 2 >/dev/null
for round in 1 2; do
  read -r n_d p50_d p90_d p99_d < <(python3 "$work/client.py" 127.0.0.1 "$backend_port" / "$token" "$concurrency")
  read -r n_g p50_g p90_g p99_g < <(python3 "$work/client.py" 127.0.0.1 "$gateway_port" /api/predict/sse/ "$token" "$concurrency")
done
added50=$(awk -v a="$p50_g" -v b="$p50_d" 'BEGIN { printf "%.3f", a - b }')
added99=$(awk -v a="$p99_g" -v b="$p99_d" 'BEGIN { printf "%.3f", a - b }')
table=$(cat <<MD
SSE: $concurrency streams × $events events, one every $gap_ms ms; delay = arrival − send (ms), $(nproc) cores, $(date -u +%F)

| path | events | p50 | p90 | p99 |
|---|---|---|---|---|
| direct | $n_d | $p50_d | $p90_d | $p99_d |
| through eas-gateway | $n_g | $p50_g | $p90_g | $p99_g |
| **added by the gateway** | | $added50 | | **$added99** (target ≤ 2 ms) |
MD
)
echo "$table"
mkdir -p "$repo/bench/results"
echo "$table" >"$repo/bench/results/gateway-sse.md"
