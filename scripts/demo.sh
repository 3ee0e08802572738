#!/usr/bin/env bash
# make demo: start eas-coordinator (gateway embedded) and AGENTS eas-agent processes in the background,
# state under .demo/, then deploy examples/quickstart/service.json and wait until it is Ready.
# Safe to run again: running daemons are kept, dead ones restarted, the service is created once.
set -euo pipefail
source "$(dirname "$0")/demo-lib.sh"
agents="${AGENTS:-1}"
fake_gpus="${FAKE_GPUS:-}"

if [[ $(id -u) -ne 0 ]]; then
  echo "make demo: the agent runs instances with runc, cgroups and network namespaces and needs root; run it as root (sudo make demo)" >&2
  exit 1
fi

mkdir -p "$demo/logs"

if [[ ! -f $demo/coordinator.json ]]; then
  cat > "$demo/coordinator.json" <<JSON
{
  "Coordinator": {
    "Listen": "http://127.0.0.1:9090",
    "DataDir": "$demo/coordinator",
    "EmbeddedGateway": true,
    "GatewayListen": "http://127.0.0.1:8080"
  }
}
JSON
fi

# FAKE_GPUS=2xH100-80GB: the agents load native/fake-nvml's libnvidia-ml.so.1 with that machine profile;
# bin/fake-nvml injects XIDs, lost GPUs and GPU processes (agent 1's state in .demo/fake-nvml, agent N's in .demo/fake-nvml-N).
gpu_config() {
  local i="$1" state="$demo/fake-nvml"
  [[ $i -gt 1 ]] && state="$demo/fake-nvml-$i"
  [[ -n $fake_gpus ]] || { echo "{}"; return; }
  cat <<JSON
{
      "NvmlLibrary": "$root/native/fake-nvml/build/libnvidia-ml.so.1",
      "FakeProfile": "$fake_gpus",
      "FakeState": "$state",
      "MpsControl": "$root/native/fake-nvml/build/fake-mps-control",
      "XidHoldSeconds": 5
    }
JSON
}

for ((i = 1; i <= agents; i++)); do
  if running "agent-$i" eas-agent; then
    # Its config is in use; a different FAKE_GPUS needs make demo-stop first.
    if [[ -n $fake_gpus ]] && ! grep -q "\"FakeProfile\": \"$fake_gpus\"" "$demo/agent-$i.json"; then
      echo "eas-agent demo-node-$i is running without FAKE_GPUS=$fake_gpus; run make demo-stop first" >&2
      exit 1
    fi
    continue
  fi
  cat > "$demo/agent-$i.json" <<JSON
{
  "Agent": {
    "NodeName": "demo-node-$i",
    "Coordinator": "http://127.0.0.1:9090",
    "Address": "127.0.0.1",
    "StateDir": "$demo/agent-$i",
    "Bridge": "easdemo$i",
    "Subnet": "10.233.$i.0/24",
    "MetricsListen": "http://127.0.0.1:$((9190 + i))",
    "Gpu": $(gpu_config "$i")
  }
}
JSON
done
if [[ -n $fake_gpus ]]; then
  echo "$fake_gpus" >"$demo/fake-gpus"
else
  rm -f "$demo/fake-gpus"
fi

if running coordinator eas-coordinator; then
  echo "eas-coordinator is running (pid $(cat "$demo/coordinator.pid"))"
else
  nohup "$root/bin/eas-coordinator" --config "$demo/coordinator.json" >>"$demo/logs/coordinator.log" 2>&1 &
  echo $! >"$demo/coordinator.pid"
  echo "started eas-coordinator (pid $!), log: .demo/logs/coordinator.log"
fi

for _ in $(seq 1 300); do
  "$easctl" list >/dev/null 2>&1 && break
  sleep 0.1
done
"$easctl" list >/dev/null || { echo "eas-coordinator did not come up; see .demo/logs/coordinator.log" >&2; tail -20 "$demo/logs/coordinator.log" >&2; exit 1; }

for ((i = 1; i <= agents; i++)); do
  if running "agent-$i" eas-agent; then
    echo "eas-agent demo-node-$i is running (pid $(cat "$demo/agent-$i.pid"))"
  else
    nohup "$root/bin/eas-agent" --config "$demo/agent-$i.json" >>"$demo/logs/agent-$i.log" 2>&1 &
    echo $! >"$demo/agent-$i.pid"
    echo "started eas-agent demo-node-$i (pid $!), log: .demo/logs/agent-$i.log"
  fi
done

ready_nodes() { "$easctl" nodes -o json 2>/dev/null | jq '[.[] | select(.status == "Ready")] | length' 2>/dev/null || echo 0; }
for _ in $(seq 1 300); do
  [[ $(ready_nodes) -ge $agents ]] && break
  sleep 0.1
done
[[ $(ready_nodes) -ge $agents ]] || { echo "the agent(s) did not register; see .demo/logs/agent-*.log" >&2; tail -20 "$demo"/logs/agent-*.log >&2; exit 1; }

if "$easctl" desc flask_demo >/dev/null 2>&1; then
  # Already deployed: only read until every desired instance is Ready (no write, no event).
  echo "flask_demo is deployed; waiting until it is Ready"
  for _ in $(seq 1 3000); do
    "$easctl" desc flask_demo -o json | jq -e '.replicas.ready >= .replicas.desired' >/dev/null && break
    sleep 0.1
  done
else
  "$easctl" create -f "$root/examples/quickstart/service.json" --wait --timeout 300 >/dev/null
fi

"$easctl" desc flask_demo
described="$("$easctl" desc flask_demo -o json)"
token="$(jq -r .token <<<"$described")"
endpoint="$(jq -r .endpoint <<<"$described")"
cat <<TEXT

The quick start is up. Call it:

  curl -H "Authorization: $token" $endpoint/

More: bin/easctl desc flask_demo | bin/easctl logs flask_demo | bin/easctl scale flask_demo 3 | make demo-stop
TEXT
if [[ -n $fake_gpus ]]; then
  cat <<TEXT

Fake GPUs ($fake_gpus): bin/easctl nodes shows them. Try examples/gpu/ (docs/gpus.md):

  bin/easctl create -f examples/gpu/whole.json --wait      # gpu: 1, 2 instances
  bin/fake-nvml xid --gpu 0 --code 79                      # GPU 0 falls off the bus; its work moves
  bin/fake-nvml clear --gpu 0                              # and it comes back
TEXT
fi
