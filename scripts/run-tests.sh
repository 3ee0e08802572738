#!/usr/bin/env bash
# make test: the style gate, then every test project, one at a time (the functional tiers start real
# runc containers, CNI networks and daemons, so they don't run side by side). Prints one summary line.
set -uo pipefail
configuration="${1:-Release}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
results="$root/TestResults"
rm -rf "$results"
mkdir -p "$results"

echo "== dotnet format --verify-no-changes"
if ! dotnet format Eas.Node.sln --verify-no-changes --no-restore; then
  echo "code style: run 'make format' and commit the result" >&2
  exit 1
fi

# The oss storage tests mount a real S3 server (s3rver, pinned in tests/tools) with s3fs.
scripts/install-test-tools.sh

status=0
for project in tests/*/*.csproj; do
  name="$(basename "$project" .csproj)"
  echo "== $name"
  dotnet test "$project" -c "$configuration" --no-build --nologo \
    --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=normal" \
    --results-directory "$results" || status=1
done

# The packages: built, installed, run and purged on this machine (tests/packaging/run.sh); it writes
# Packaging.trx, which the summary below counts with the others.
echo "== Packaging (tests/packaging/run.sh)"
tests/packaging/run.sh "$results" || status=1

total_passed=0 total_failed=0 total_skipped=0
for trx in "$results"/*.trx; do
  [[ -f $trx ]] || continue
  counters="$(grep -o '<Counters [^>]*>' "$trx" | head -1)"
  passed="$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")"
  failed="$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")"
  total="$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters")"
  executed="$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$counters")"
  total_passed=$((total_passed + ${passed:-0}))
  total_failed=$((total_failed + ${failed:-0}))
  total_skipped=$((total_skipped + ${total:-0} - ${executed:-0}))
done
# The failures again at the very end, where a truncated CI log still shows them.
if [[ $total_failed -gt 0 ]]; then
  echo
  echo "== failed tests"
  python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
for trx in sorted(glob.glob(sys.argv[1] + "/*.trx")):
    for result in ET.parse(trx).getroot().iterfind(".//t:UnitTestResult", ns):
        if result.get("outcome") != "Failed":
            continue
        message = result.find("t:Output/t:ErrorInfo/t:Message", ns)
        text = (message.text or "").strip() if message is not None else ""
        print(f"FAILED {result.get('testName')} ({result.get('duration')})")
        for line in text.splitlines()[:40]:
            print("    " + line[:300])
PY
fi
echo
echo "${total_passed} passed, ${total_failed} failed, ${total_skipped} skipped"
[[ $total_passed -gt 0 ]] || status=1
exit $status
