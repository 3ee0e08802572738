#!/usr/bin/env bash
# Every benchmark the README quotes; results land in bench/results/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/gateway/run.sh"
"$here/deploy/run.sh"
"$here/gpu/run.sh"
"$here/gateway/sse.sh"
"$here/llm-routing-micro/run.sh"
"$here/scheduler/run.sh"
"$here/cache/run.sh"
"$here/lifecycle/run.sh"
"$here/packaging/run.sh"
