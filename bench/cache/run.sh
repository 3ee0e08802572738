#!/usr/bin/env bash
# The node-local cache (storage `cache`) filling from a loopback S3 server through s3fs, same run:
#   - curl downloading a 1 GiB object to /dev/null: the reference throughput;
#   - instance 1's cache acquire (the fill: CacheStorageDriver walking a fresh s3fs mount of the bucket
#     and copying the object with CacheFillParallelism readers): MB/s and its ratio to curl's (target >= 0.5);
#     curl and fill alternate, ROUNDS times (default 5), and the median ratio is the figure;
#   - then instance 2's acquire (the reuse), its time against the last fill's (target <= 10 %);
#   - what the S3 server sent during each: object GETs and their bytes (target: the object once), plus
#     listings and HEADs (metadata), counted by the server itself (bench/cache/s3-server.js).
# s3fs mounts with the options the agent's oss driver uses (OssMountOptions: parallel_count=8,
# multipart_size=64). Env: SIZE_MIB (default 1024), ROUNDS, PARALLELISM (default: the agent's, 8), PORT.
# Needs root (FUSE), s3fs, node, curl, jq and s3rver (tests/tools, from scripts/install-test-tools.sh, or
# installed into the work dir with npm when missing). Writes bench/results/cache.md; about 1.5 min.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
size_mib="${SIZE_MIB:-1024}"
rounds="${ROUNDS:-5}"
port="${PORT:-19571}"
stats_port=$((port + 1))
work="$(mktemp -d /tmp/eas-bench-cache.XXXXXX)"
project="$root/bench/cache/Eas.Node.Cache.Bench/Eas.Node.Cache.Bench.csproj"
dll="$root/bench/cache/Eas.Node.Cache.Bench/bin/Release/net10.0/Eas.Node.Cache.Bench.dll"
pids=()

cleanup() {
  if mountpoint -q "$work/mnt" 2>/dev/null; then fusermount -u "$work/mnt" 2>/dev/null || umount -l "$work/mnt" || true; fi
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

[[ $(id -u) -eq 0 ]] || { echo "bench/cache needs root (it mounts the bucket with s3fs)" >&2; exit 1; }
for tool in s3fs node curl jq; do
  command -v "$tool" >/dev/null || { echo "bench/cache needs $tool (scripts/install-deps.sh)" >&2; exit 1; }
done
s3rver="$root/tests/tools/node_modules/s3rver"
if [[ ! -f "$s3rver/package.json" ]]; then
  echo "s3rver is not in tests/tools (scripts/install-test-tools.sh); installing it into $work/tools" >&2
  npm install --silent --no-audit --no-fund --prefix "$work/tools" s3rver@3.7.1 >/dev/null
  s3rver="$work/tools/node_modules/s3rver"
fi

dotnet build "$project" -c Release -nologo -clp:ErrorsOnly -v quiet
mkdir -p "$work/s3" "$work/mnt" "$root/bench/results"
node "$root/bench/cache/s3-server.js" "$s3rver" "$work/s3" "$port" "$stats_port" >"$work/s3.log" 2>&1 & pids+=($!)
server_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$stats_port/" >/dev/null 2>&1 && break; sleep 0.1; done
url="http://127.0.0.1:$port"
stats() { curl -sf "http://127.0.0.1:$stats_port/$1"; }

# The model: a 1 GiB weights file and a small config under models/llama/.
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$work/model.safetensors"
echo '{"architectures": ["LlamaForCausalLM"]}' >"$work/config.json"
curl -sf -T "$work/model.safetensors" "$url/models/llama/model.safetensors" -o /dev/null
curl -sf -T "$work/config.json" "$url/models/llama/config.json" -o /dev/null
object_bytes=$(stat -c %s "$work/model.safetensors")
total_bytes=$((object_bytes + $(stat -c %s "$work/config.json")))
sync   # the 2 GiB just written would otherwise be written back during the first round

echo "S3RVER:S3RVER" >"$work/passwd" && chmod 600 "$work/passwd"
mount_bucket() {
  s3fs models "$work/mnt" -o "url=$url,use_path_request_style,passwd_file=$work/passwd,allow_other,umask=0022,mp_umask=0022,parallel_count=8,multipart_size=64,ro"
  for _ in $(seq 1 50); do mountpoint -q "$work/mnt" && return 0; sleep 0.1; done
  echo "s3fs did not mount the bucket" >&2
  return 1
}
acquire() { # instance -> the bench program's output; its last line is "result …"; its CPU seconds in $work/cpu
  timed "$work/cpu" dotnet "$dll" --oss-mount "$work/mnt" --source-path /mnt/oss/llama --state-dir "$work/agent" --instance "$1" ${PARALLELISM:+--parallelism "$PARALLELISM"}
}
# CPU seconds (user + system): of a process so far, and of a command (GNU time; "0" without it).
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
timed() {
  local file="$1"; shift
  if [[ -x /usr/bin/time ]]; then /usr/bin/time -f '%U %S' -o "$file" "$@"; else echo "0 0" >"$file"; "$@"; fi
}
cpu_file() { awk '{ print $1 + $2 }' "$1"; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
sum() { awk -v a="$1" -v b="$2" -v c="${3:-0}" 'BEGIN { printf "%.1f", a + b + c }'; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
mbs() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1e6 }'; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

rows=() ratios=()
for round in $(seq 1 "$rounds"); do
  server0=$(cpu_of "$server_pid")
  curl_bps=$(timed "$work/curl.cpu" curl -sf "$url/models/llama/model.safetensors" -o /dev/null -w '%{speed_download}')
  curl_cpu=$(sum "$(sub "$(cpu_of "$server_pid")" "$server0")" "$(cpu_file "$work/curl.cpu")")
  rm -rf "$work/agent"
  mount_bucket
  s3fs_pid=$(pgrep -n -f "^s3fs models $work/mnt ")
  stats reset >/dev/null
  echo "round $round: curl $(mbs "$curl_bps") MB/s; fill:"
  server0=$(cpu_of "$server_pid") s3fs0=$(cpu_of "$s3fs_pid")
  out=$(acquire bench-1); echo "$out"
  fill_cpu=$(sum "$(sub "$(cpu_of "$server_pid")" "$server0")" "$(sub "$(cpu_of "$s3fs_pid")" "$s3fs0")" "$(cpu_file "$work/cpu")")
  fill_stats=$(stats "")
  result=$(grep '^result' <<<"$out")
  [[ $(field filled "$result") == true ]] || { echo "instance 1 did not fill the cache" >&2; exit 1; }
  fill_s=$(field seconds "$result")
  fill_bps=$(awk -v b="$total_bytes" -v s="$fill_s" 'BEGIN { print b / s }')
  ratio=$(awk -v f="$fill_bps" -v c="$curl_bps" 'BEGIN { printf "%.2f", f / c }')
  ratios+=("$ratio")
  rows+=("$(jq -r --arg r "$round" --arg c "$(mbs "$curl_bps")" --arg cc "$curl_cpu" --arg s "$fill_s" --arg f "$(mbs "$fill_bps")" --arg q "$ratio" --arg fc "$fill_cpu" --arg fl "$(field flush_seconds "$result")" \
    '"| \($r) | \($c) | \($cc) | \($s) | \($f) | \($q) | \($fc) | \(.objectGets) | \(.objectGetBytes) | \(.listings) / \(.heads) | \($fl) |"' <<<"$fill_stats")")
  if [[ $round -eq $rounds ]]; then
    cached="$(field path "$result")"
    cmp -s "$cached/model.safetensors" "$work/model.safetensors" || { echo "the cached file differs from the object" >&2; exit 1; }
    stats reset >/dev/null
    echo "instance 2 (reuse):"
    out=$(acquire bench-2); echo "$out"
    reuse_stats=$(stats "")
    reuse=$(grep '^result' <<<"$out")
    [[ $(field filled "$reuse") == false ]] || { echo "instance 2 did not reuse the entry" >&2; exit 1; }
    reuse_s=$(field seconds "$reuse")
    last_fill_s=$fill_s
  fi
  fusermount -u "$work/mnt"
done

ratio=$(printf '%s\n' "${ratios[@]}" | median)
reuse_pct=$(awk -v a="$reuse_s" -v b="$last_fill_s" 'BEGIN { printf "%.2f", 100 * a / b }')
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == "ge") ? v >= t : v <= t; print ok ? "**met**" : "**missed**" }'; }
readers="${PARALLELISM:-8}"
{
  echo "# Node-local cache: fill and reuse ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)"
  echo
  echo "Written by \`bench/cache/run.sh\`: s3rver on loopback holds models/llama/ (a ${size_mib} MiB model.safetensors"
  echo "and a config.json); s3fs mounts the bucket with the oss driver's options (parallel_count=8, multipart_size=64);"
  echo "instances (separate processes sharing one agent state dir) acquire a \`cache\` entry of /mnt/oss/llama"
  echo "through CacheStorageDriver with ${readers} readers. Times run from the acquire call to its return (the"
  echo "cache's part of an instance's prepare). Each round: one curl GET of the object to /dev/null, then a fill"
  echo "into an empty cache from a fresh s3fs mount; after the last round a second instance acquires the same entry."
  echo
  echo "| figure | value | target |"
  echo "|---|---:|---|"
  printf '| **fill / curl throughput** (median of %d rounds) | **%s** | >= 0.5 — %s |\n' "$rounds" "$ratio" "$(verdict "$ratio" 0.5 ge)"
  printf '| instance 2 (reuse) | %.3f s | |\n' "$reuse_s"
  printf '| **reuse / fill time** (last round) | **%s %%** | <= 10 %% — %s |\n' "$reuse_pct" "$(verdict "$reuse_pct" 10 le)"
  jq -r '"| S3 requests during the reuse: object GETs, bytes, listings / HEADs | \(.objectGets), \(.objectGetBytes), \(.listings) / \(.heads) | 0 GETs |"' <<<"$reuse_stats"
  echo
  echo "| round | curl MB/s | curl CPU s | fill s | fill MB/s | fill / curl | fill CPU s | object GETs | object bytes | listings / HEADs | flush after, s |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "The source is ${total_bytes} bytes (object ${object_bytes} + config); S3 counts are the server's own (bench/cache/s3-server.js,"
  echo "object bytes from Content-Length). The last fill's copy was compared with the object byte for byte (cmp)."
  echo "The flush (syncfs, then the entry's marker says synced) runs in the background after the fill returns."
  echo "CPU seconds (user + system): curl = S3 server + curl; fill = S3 server + s3fs + the cache process (its .NET start"
  echo "included). The fill moves every byte through three processes (server, s3fs with its temporary file, the cache"
  echo "writing the entry) where curl moves it through two, so with few cores and other load the ratio is bounded by CPU."
  echo "In some runs on this VM round 1 was up to 2x slower, with about twice the s3fs and cache CPU of later rounds;"
  echo "the likely cause is guest memory the host backs lazily (that fill is the first to touch the ~2 GiB of pages it"
  echo "writes: s3fs's temporary file, the entry). The median leaves such a round out."
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) CPU(s), load average at the end $(cut -d' ' -f1-3 /proc/loadavg); s3fs $(s3fs --version 2>/dev/null | head -1 | grep -o 'V[0-9.]*')."
} | tee "$root/bench/results/cache.md"
