#!/usr/bin/env bash
# Decision latency of the gateway's LLM router (issue 7, target p99 <= 0.5 ms): prompt extraction, block hashing,
# prefix-index lookup on 4 replicas, scoring and lease bookkeeping for a 16 KiB chat prompt. Release build; a short
# in-process BenchmarkDotNet job (mean, allocations) and a per-decision latency histogram (p50..p99.9, 1 and 2 threads).
# Prints the figures and writes bench/results/llm-routing-micro.md.
# Env: DECISIONS (timed decisions per thread count, default 200000); extra arguments go to the program
# (--latency-only, --bdn-only). About 1 minute.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
project="$root/bench/llm-routing-micro/Eas.Node.LlmRouting.Bench/Eas.Node.LlmRouting.Bench.csproj"
dll="$root/bench/llm-routing-micro/Eas.Node.LlmRouting.Bench/bin/Release/net10.0/Eas.Node.LlmRouting.Bench.dll"

dotnet build "$project" -c Release -nologo -clp:ErrorsOnly -v quiet
mkdir -p "$root/bench/results"
dotnet "$dll" --decisions "${DECISIONS:-200000}" --markdown "$root/bench/results/llm-routing-micro.md" "$@"
