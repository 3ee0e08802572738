#!/usr/bin/env bash
# Placement throughput of the pure scheduler: one InstanceScheduler.Schedule call with 10,000 requests
# on 1,000 simulated nodes with 8 H100-80GB each (GPU-slice mix, CPU only, and an overfull cluster),
# Release build, pinned to one core. Prints the figures and writes bench/results/scheduler.md.
# Env: RUNS (measured calls per case, default 7), CPU (the core to pin to, default 0). About 30 s.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
project="$root/bench/scheduler/Eas.Node.Scheduler.Bench/Eas.Node.Scheduler.Bench.csproj"
dll="$root/bench/scheduler/Eas.Node.Scheduler.Bench/bin/Release/net10.0/Eas.Node.Scheduler.Bench.dll"

dotnet build "$project" -c Release -nologo -clp:ErrorsOnly -v quiet
mkdir -p "$root/bench/results"

pin=()
if command -v taskset >/dev/null 2>&1; then
  pin=(taskset -c "${CPU:-0}")
else
  echo "taskset not found: running unpinned (install util-linux to pin to one core)" >&2
fi

"${pin[@]}" dotnet "$dll" --runs "${RUNS:-7}" --markdown "$root/bench/results/scheduler.md"
echo "wrote $root/bench/results/scheduler.md"
