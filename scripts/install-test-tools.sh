#!/usr/bin/env bash
# Installs what the agent's oss storage tests need: s3fs-fuse and Node.js from Debian when missing, and
# s3rver (a local S3 server) into tests/tools/node_modules exactly as tests/tools/package-lock.json pins it
# (npm ci). Does nothing when everything is already in place. Needs root (or sudo) for the Debian packages.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/tests/tools"

packages=()
command -v s3fs >/dev/null || packages+=(s3fs)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
if [[ ${#packages[@]} -gt 0 ]]; then
  "$root/scripts/install-deps.sh" "${packages[@]}"
fi

# node_modules is rebuilt only when the lock file changed since the last install.
stamp="$tools/node_modules/.eas-lock.sha256"
want="$(sha256sum "$tools/package-lock.json" | cut -d' ' -f1)"
if [[ -f $stamp && "$(cat "$stamp")" == "$want" && -f $tools/node_modules/s3rver/bin/s3rver.js ]]; then
  exit 0
fi

echo "installing test tools into tests/tools/node_modules (npm ci)"
(cd "$tools" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
echo "$want" >"$stamp"
