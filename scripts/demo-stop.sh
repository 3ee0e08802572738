#!/usr/bin/env bash
# make demo-stop: stop the demo's daemons, remove every instance, network and cgroup the agents made,
# then the demo's state. Leaves no runc container, conmon, netns, bridge, mount or CNI allocation.
set -euo pipefail
source "$(dirname "$0")/demo-lib.sh"
[[ -d $demo ]] || { echo "no demo state (.demo/); nothing to stop"; exit 0; }

stop_daemon coordinator eas-coordinator
for config in "$demo"/agent-*.json; do
  [[ -f $config ]] || continue
  name="$(basename "$config" .json)"
  stop_daemon "$name" eas-agent
  "$root/bin/eas-agent" cleanup --config "$config"
done

# Unmount anything still mounted below the demo folder (deepest first) before removing it.
{ grep -o " $demo[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
rm -rf "$demo"
echo "demo stopped; nothing left behind"
