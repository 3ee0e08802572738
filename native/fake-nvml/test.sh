#!/usr/bin/env bash
# Self-test of the fake NVML: build, struct layouts, exported symbols, the CLI, the API (python3 ctypes),
# init/shutdown + threads (C, under valgrind when installed) and fake-mps-control. Exit 0 = all passed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
B=$HERE/build
TMP=$(mktemp -d /tmp/fake-nvml-test.XXXXXX)
MPS_PIDS=()
cleanup() {
    local p
    for p in "${MPS_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

FAILS=0
PASSES=0
pass() { PASSES=$((PASSES + 1)); }
fail() {
    FAILS=$((FAILS + 1))
    echo "FAIL: $*" >&2
}
expect() { # expect <description> <command...>: the command succeeds
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then pass; else fail "$what"; fi
}
expect_rc() { # expect_rc <rc> <description> <command...>
    local want=$1 what=$2 rc=0
    shift 2
    "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    if [[ $rc == "$want" ]]; then pass; else fail "$what: exit $rc, want $want ($(cat "$TMP/err"))"; fi
}

echo "== build"
make -s -C "$HERE" all build/selftest

echo "== struct layouts (nvml-layout vs the NVML reference table)"
"$B/nvml-layout" >"$TMP/layout.json"
if python3 - "$TMP/layout.json" <<'EOF'; then pass; else fail "nvml-layout differs from the reference layouts"; fi
import json, sys
got = json.load(open(sys.argv[1]))
want = {
    "nvmlMemory_t": (24, {"total": 0, "free": 8, "used": 16}),
    "nvmlMemory_v2_t": (40, {"version": 0, "total": 8, "reserved": 16, "free": 24, "used": 32}),
    "nvmlUtilization_t": (8, {"gpu": 0, "memory": 4}),
    "nvmlProcessInfo_v1_t": (16, {"pid": 0, "usedGpuMemory": 8}),
    "nvmlProcessInfo_t": (24, {"pid": 0, "usedGpuMemory": 8, "gpuInstanceId": 16, "computeInstanceId": 20}),
    "nvmlProcessDetail_v1_t": (32, {"pid": 0, "usedGpuMemory": 8, "gpuInstanceId": 16, "computeInstanceId": 20,
                                    "usedGpuCcProtectedMemory": 24}),
    "nvmlProcessDetailList_v1_t": (24, {"version": 0, "mode": 4, "numProcArrayEntries": 8, "procArray": 16}),
    "nvmlProcessUtilizationSample_t": (32, {"pid": 0, "timeStamp": 8, "smUtil": 16, "memUtil": 20, "encUtil": 24,
                                            "decUtil": 28}),
    "nvmlPciInfo_t": (68, {"busIdLegacy": 0, "domain": 16, "bus": 20, "device": 24, "pciDeviceId": 28,
                           "pciSubSystemId": 32, "busId": 36}),
    "nvmlEventData_t": (32, {"device": 0, "eventType": 8, "eventData": 16, "gpuInstanceId": 24,
                             "computeInstanceId": 28}),
    "nvmlTemperature_v1_t": (12, {"version": 0, "sensorType": 4, "temperature": 8}),
    "nvmlGpuInstanceProfileInfo_t": (48, {"id": 0, "isP2pSupported": 4, "sliceCount": 8, "instanceCount": 12,
                                          "multiprocessorCount": 16, "copyEngineCount": 20, "decoderCount": 24,
                                          "encoderCount": 28, "jpegCount": 32, "ofaCount": 36, "memorySizeMB": 40}),
    "nvmlGpuInstanceProfileInfo_v2_t": (152, {"version": 0, "id": 4, "isP2pSupported": 8, "sliceCount": 12,
                                              "instanceCount": 16, "multiprocessorCount": 20, "copyEngineCount": 24,
                                              "decoderCount": 28, "encoderCount": 32, "jpegCount": 36, "ofaCount": 40,
                                              "memorySizeMB": 48, "name": 56}),
    "nvmlGpuInstanceProfileInfo_v3_t": (152, {"version": 0, "id": 4, "sliceCount": 8, "instanceCount": 12,
                                              "multiprocessorCount": 16, "copyEngineCount": 20, "decoderCount": 24,
                                              "encoderCount": 28, "jpegCount": 32, "ofaCount": 36,
                                              "memorySizeMB": 40, "name": 48, "capabilities": 144}),
    "nvmlGpuInstancePlacement_t": (8, {"start": 0, "size": 4}),
    "nvmlGpuInstanceInfo_t": (24, {"device": 0, "id": 8, "profileId": 12, "placement": 16}),
    "nvmlComputeInstancePlacement_t": (8, {"start": 0, "size": 4}),
    "nvmlComputeInstanceProfileInfo_t": (36, {"id": 0, "sliceCount": 4, "instanceCount": 8, "multiprocessorCount": 12,
                                              "sharedCopyEngineCount": 16, "sharedDecoderCount": 20,
                                              "sharedEncoderCount": 24, "sharedJpegCount": 28, "sharedOfaCount": 32}),
    "nvmlComputeInstanceInfo_t": (32, {"device": 0, "gpuInstance": 8, "id": 16, "profileId": 20, "placement": 24}),
}
bad = [k for k in want if k not in got or (got[k]["size"], got[k]["fields"]) != want[k]]
bad += [k for k in got if k not in want]
for k in bad:
    print(f"layout mismatch: {k}: got {got.get(k)}, want {want.get(k)}", file=sys.stderr)
sys.exit(1 if bad else 0)
EOF

echo "== exported symbols"
if command -v nm >/dev/null; then
    nm -D --defined-only "$B/libnvidia-ml.so.1" | awk '{print $3}' | sort >"$TMP/syms"
    grep -o 'nvml[A-Za-z0-9_]*(' "$HERE/nvml.h" | tr -d '(' | sort -u >"$TMP/want-syms"
    if diff -u "$TMP/want-syms" "$TMP/syms" >"$TMP/symdiff"; then pass; else fail "exports differ from nvml.h: $(cat "$TMP/symdiff")"; fi
    [[ $(wc -l <"$TMP/syms") -eq 52 ]] && pass || fail "expected 52 exported functions, got $(wc -l <"$TMP/syms")"
else
    echo "skipped: nm (binutils) is not installed, so the export list is not checked"
fi
if command -v readelf >/dev/null; then
    readelf -d "$B/libnvidia-ml.so.1" | grep -q 'SONAME.*\[libnvidia-ml.so.1\]' && pass || fail "soname is not libnvidia-ml.so.1"
fi

echo "== CLI"
S=$TMP/cli-state
export EAS_FAKE_NVML_PROFILE=2xH100-80GB
CLI=("$B/fake-nvml" --state "$S")
expect "list" "${CLI[@]}" list
"${CLI[@]}" list >"$TMP/list1"
grep -q '^driver 550.54.15, CUDA 12.4, NVML 12.550.54.15, 2 GPU(s)$' "$TMP/list1" && pass || fail "list header: $(head -2 "$TMP/list1")"
[[ $(grep -c '^GPU [01]: NVIDIA H100 80GB HBM3, GPU-' "$TMP/list1") == 2 ]] && pass || fail "list shows 2 H100s"
"${CLI[@]}" list >"$TMP/list2"
cmp -s "$TMP/list1" "$TMP/list2" && pass || fail "list (and UUIDs) stable across runs"
expect "process" "${CLI[@]}" process --gpu 1 --pid 321 --used-mib 4096 --sm 50
expect "util" "${CLI[@]}" util --gpu 0 --percent 33 --memory-percent 7
expect "xid 79" "${CLI[@]}" xid --gpu 0 --code 79
[[ -f $S/gpu0.lost && $(cat "$S/events") == "0 79" ]] && pass || fail "xid 79 writes the event and gpu0.lost"
"${CLI[@]}" list >"$TMP/list3"
grep -q '^GPU 0: GPU is lost' "$TMP/list3" && pass || fail "list shows GPU 0 lost"
grep -q 'pid 321  4096 MiB' "$TMP/list3" && pass || fail "list shows the process on GPU 1"
grep -q 'memory 81559 MiB total, 4425 MiB used' "$TMP/list3" && pass || fail "GPU 1 memory used = 329 reserved + 4096"
grep -q 'utilization gpu 50%' "$TMP/list3" && pass || fail "GPU 1 utilisation follows the process"
expect "clear" "${CLI[@]}" clear --gpu 0
"${CLI[@]}" list >"$TMP/list4"
grep -q 'utilization gpu 33%, memory 7%' "$TMP/list4" && pass || fail "GPU 0 back, with the utilisation override"
expect_rc 2 "unknown GPU index" "${CLI[@]}" lost --gpu 2
grep -q -- '--gpu: GPU 2 does not exist' "$TMP/err" && pass || fail "unknown GPU message: $(cat "$TMP/err")"
expect_rc 2 "bad number" "${CLI[@]}" xid --gpu 0 --code 7x
grep -q -- '--code: "7x" is not a number' "$TMP/err" && pass || fail "bad number message: $(cat "$TMP/err")"
expect_rc 2 "percent > 100" "${CLI[@]}" util --gpu 0 --percent 150
expect_rc 2 "missing --pid" "${CLI[@]}" process --gpu 0 --used-mib 5
expect_rc 2 "unknown command" "${CLI[@]}" frobnicate
expect_rc 2 "unknown profile" "${CLI[@]}" --profile 1xNOPE list
grep -q 'NOPE.json' "$TMP/err" && pass || fail "unknown profile message: $(cat "$TMP/err")"
expect_rc 0 "--help" "${CLI[@]}" --help
grep -q '^usage: fake-nvml' "$TMP/out" && pass || fail "--help prints usage"
unset EAS_FAKE_NVML_PROFILE
expect_rc 2 "list without a profile" "$B/fake-nvml" --state "$S" list

echo "== API (python3 ctypes)"
if python3 "$HERE/test_api.py" "$B"; then pass; else fail "test_api.py"; fi

echo "== init/shutdown loop and threads (C)"
mkdir -p "$TMP/selftest-state"
if command -v valgrind >/dev/null; then
    if EAS_FAKE_NVML_STATE=$TMP/selftest-state valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --error-exitcode=3 "$B/selftest"; then pass; else fail "selftest under valgrind (leaks or memory errors)"; fi
else
    echo "valgrind is not installed: selftest runs without the leak check"
    if EAS_FAKE_NVML_STATE=$TMP/selftest-state "$B/selftest"; then pass; else fail "selftest"; fi
fi

echo "== fake-mps-control"
export CUDA_MPS_PIPE_DIRECTORY=$TMP/mps-pipe CUDA_MPS_LOG_DIRECTORY=$TMP/mps-log
MPS=$B/fake-mps-control
PIDF=$CUDA_MPS_PIPE_DIRECTORY/nvidia-cuda-mps-control.pid
LOGF=$CUDA_MPS_LOG_DIRECTORY/control.log
wait_for() { # wait_for <condition command...>: up to 5 s
    local i
    for ((i = 0; i < 100; i++)); do
        "$@" && return 0
        sleep 0.05
    done
    return 1
}
expect_rc 1 "client without a daemon" bash -c "echo quit | '$MPS'"
CUDA_VISIBLE_DEVICES=0,1 "$MPS" -f &
FG=$!
MPS_PIDS+=("$FG")
wait_for test -p "$CUDA_MPS_PIPE_DIRECTORY/control" && pass || fail "-f creates the control FIFO"
[[ $(cat "$PIDF" 2>/dev/null) == "$FG" ]] && pass || fail "-f writes its pid to $PIDF"
grep -q '\] startup$' "$LOGF" && grep -q '\] CUDA_VISIBLE_DEVICES=0,1$' "$LOGF" && pass || fail "control.log startup lines"
[[ $(echo get_default_active_thread_percentage | "$MPS") == "100.0" ]] && pass || fail "client gets the default thread percentage"
expect_rc 1 "a second daemon is refused" "$MPS" -d
echo quit | "$MPS"
wait_for bash -c "! kill -0 $FG 2>/dev/null" && pass || fail "quit through the FIFO stops the daemon"
wait "$FG" 2>/dev/null || true
[[ ! -e $PIDF && ! -e $CUDA_MPS_PIPE_DIRECTORY/control ]] && pass || fail "pid file and FIFO removed on quit"
[[ $(tail -1 "$LOGF") == *"] quit" ]] && pass || fail "control.log ends with quit"
expect "-d daemonizes and returns 0" "$MPS" -d
BG=$(cat "$PIDF")
MPS_PIDS+=("$BG")
kill -0 "$BG" && pass || fail "-d daemon runs"
kill -TERM "$BG"
wait_for test ! -e "$PIDF" && pass || fail "SIGTERM stops the daemon and removes its pid file"

echo
if ((FAILS)); then
    echo "fake-nvml self-test: $FAILS FAILED, $PASSES passed"
    exit 1
fi
echo "fake-nvml self-test: all $PASSES checks passed"
