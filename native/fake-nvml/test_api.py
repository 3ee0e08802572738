#!/usr/bin/env python3
"""API checks of the fake libnvidia-ml.so.1 through ctypes, the way a P/Invoke caller sees it.

usage: test_api.py BUILD_DIR   (run by test.sh; needs a fresh library process, so run it as its own program)
Every check prints nothing when it passes; failures are listed and the exit code is 1.
"""
import ctypes as C
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
CLI = os.path.join(BUILD, "fake-nvml")
TMP = tempfile.mkdtemp(prefix="fake-nvml-api-")
STATE = os.path.join(TMP, "state")

os.environ.pop("EAS_FAKE_NVML_PROFILE", None)
os.environ["EAS_FAKE_NVML_STATE"] = STATE
os.environ["EAS_FAKE_NVML_QUIET"] = "1"
os.environ.pop("EAS_FAKE_NVML_PROFILE_DIR", None)

lib = C.CDLL(os.path.join(BUILD, "libnvidia-ml.so.1"))
u32, i32, u64, vp = C.c_uint, C.c_int, C.c_ulonglong, C.c_void_p

# nvmlReturn_t values
SUCCESS, UNINIT, INVALID, NOT_SUPPORTED, NOT_FOUND, INSUFFICIENT_SIZE = 0, 1, 2, 3, 6, 7
DRIVER_NOT_LOADED, TIMEOUT, GPU_IS_LOST, IN_USE, INSUFFICIENT_RESOURCES = 9, 10, 15, 19, 23
VERSION_MISMATCH, GPU_NOT_FOUND = 25, 28
NO_ID = 0xFFFFFFFF


class Memory(C.Structure):
    _fields_ = [("total", u64), ("free", u64), ("used", u64)]


class MemoryV2(C.Structure):
    _fields_ = [("version", u32), ("total", u64), ("reserved", u64), ("free", u64), ("used", u64)]


class Utilization(C.Structure):
    _fields_ = [("gpu", u32), ("memory", u32)]


class ProcessInfo(C.Structure):
    _fields_ = [("pid", u32), ("usedGpuMemory", u64), ("gpuInstanceId", u32), ("computeInstanceId", u32)]


class ProcessDetail(C.Structure):
    _fields_ = [("pid", u32), ("usedGpuMemory", u64), ("gpuInstanceId", u32), ("computeInstanceId", u32),
                ("usedGpuCcProtectedMemory", u64)]


class ProcessDetailList(C.Structure):
    _fields_ = [("version", u32), ("mode", u32), ("numProcArrayEntries", u32), ("procArray", C.POINTER(ProcessDetail))]


class ProcUtilSample(C.Structure):
    _fields_ = [("pid", u32), ("timeStamp", u64), ("smUtil", u32), ("memUtil", u32), ("encUtil", u32),
                ("decUtil", u32)]


class PciInfo(C.Structure):
    _fields_ = [("busIdLegacy", C.c_char * 16), ("domain", u32), ("bus", u32), ("device", u32),
                ("pciDeviceId", u32), ("pciSubSystemId", u32), ("busId", C.c_char * 32)]


class EventData(C.Structure):
    _fields_ = [("device", vp), ("eventType", u64), ("eventData", u64), ("gpuInstanceId", u32),
                ("computeInstanceId", u32)]


class TemperatureV1(C.Structure):
    _fields_ = [("version", u32), ("sensorType", u32), ("temperature", i32)]


class GipInfo(C.Structure):
    _fields_ = [(n, u32) for n in ("id", "isP2pSupported", "sliceCount", "instanceCount", "multiprocessorCount",
                                   "copyEngineCount", "decoderCount", "encoderCount", "jpegCount", "ofaCount")] + \
               [("memorySizeMB", u64)]


class GipInfoV2(C.Structure):
    _fields_ = [("version", u32)] + GipInfo._fields_ + [("name", C.c_char * 96)]


class GipInfoV3(C.Structure):
    _fields_ = [(n, u32) for n in ("version", "id", "sliceCount", "instanceCount", "multiprocessorCount",
                                   "copyEngineCount", "decoderCount", "encoderCount", "jpegCount", "ofaCount")] + \
               [("memorySizeMB", u64), ("name", C.c_char * 96), ("capabilities", u32)]


class Placement(C.Structure):
    _fields_ = [("start", u32), ("size", u32)]


class GiInfo(C.Structure):
    _fields_ = [("device", vp), ("id", u32), ("profileId", u32), ("placement", Placement)]


class CipInfo(C.Structure):
    _fields_ = [(n, u32) for n in ("id", "sliceCount", "instanceCount", "multiprocessorCount", "sharedCopyEngineCount",
                                   "sharedDecoderCount", "sharedEncoderCount", "sharedJpegCount", "sharedOfaCount")]


class CiInfo(C.Structure):
    _fields_ = [("device", vp), ("gpuInstance", vp), ("id", u32), ("profileId", u32), ("placement", Placement)]


def fn(name, *args):
    f = getattr(lib, name)
    f.restype = i32
    f.argtypes = list(args)
    return f


P = C.POINTER
Init = fn("nvmlInit_v2")
InitWithFlags = fn("nvmlInitWithFlags", u32)
Shutdown = fn("nvmlShutdown")
lib.nvmlErrorString.restype = C.c_char_p
lib.nvmlErrorString.argtypes = [i32]
DriverVersion = fn("nvmlSystemGetDriverVersion", C.c_char_p, u32)
NvmlVersion = fn("nvmlSystemGetNVMLVersion", C.c_char_p, u32)
CudaVersion = fn("nvmlSystemGetCudaDriverVersion", P(i32))
CudaVersion2 = fn("nvmlSystemGetCudaDriverVersion_v2", P(i32))
Count = fn("nvmlDeviceGetCount_v2", P(u32))
ByIndex = fn("nvmlDeviceGetHandleByIndex_v2", u32, P(vp))
ByUUID = fn("nvmlDeviceGetHandleByUUID", C.c_char_p, P(vp))
Name = fn("nvmlDeviceGetName", vp, C.c_char_p, u32)
UUID = fn("nvmlDeviceGetUUID", vp, C.c_char_p, u32)
MemInfo = fn("nvmlDeviceGetMemoryInfo", vp, P(Memory))
MemInfo2 = fn("nvmlDeviceGetMemoryInfo_v2", vp, P(MemoryV2))
Util = fn("nvmlDeviceGetUtilizationRates", vp, P(Utilization))
Temp = fn("nvmlDeviceGetTemperature", vp, u32, P(u32))
TempV = fn("nvmlDeviceGetTemperatureV", vp, P(TemperatureV1))
Power = fn("nvmlDeviceGetPowerUsage", vp, P(u32))
Procs = fn("nvmlDeviceGetComputeRunningProcesses_v3", vp, P(u32), P(ProcessInfo))
Detail = fn("nvmlDeviceGetRunningProcessDetailList", vp, P(ProcessDetailList))
ProcUtil = fn("nvmlDeviceGetProcessUtilization", vp, P(ProcUtilSample), P(u32), u64)
Pci = fn("nvmlDeviceGetPciInfo_v3", vp, P(PciInfo))
Minor = fn("nvmlDeviceGetMinorNumber", vp, P(u32))
CC = fn("nvmlDeviceGetCudaComputeCapability", vp, P(i32), P(i32))
GetMig = fn("nvmlDeviceGetMigMode", vp, P(u32), P(u32))
SetMig = fn("nvmlDeviceSetMigMode", vp, u32, P(i32))
MaxMig = fn("nvmlDeviceGetMaxMigDeviceCount", vp, P(u32))
MigByIndex = fn("nvmlDeviceGetMigDeviceHandleByIndex", vp, u32, P(vp))
Parent = fn("nvmlDeviceGetDeviceHandleFromMigDeviceHandle", vp, P(vp))
IsMig = fn("nvmlDeviceIsMigDeviceHandle", vp, P(u32))
GiId = fn("nvmlDeviceGetGpuInstanceId", vp, P(u32))
CiId = fn("nvmlDeviceGetComputeInstanceId", vp, P(u32))
GipInfoFn = fn("nvmlDeviceGetGpuInstanceProfileInfo", vp, u32, P(GipInfo))
GipInfoV = fn("nvmlDeviceGetGpuInstanceProfileInfoV", vp, u32, vp)
Remaining = fn("nvmlDeviceGetGpuInstanceRemainingCapacity", vp, u32, P(u32))
Placements = fn("nvmlDeviceGetGpuInstancePossiblePlacements_v2", vp, u32, P(Placement), P(u32))
CreateGi = fn("nvmlDeviceCreateGpuInstance", vp, u32, P(vp))
CreateGiAt = fn("nvmlDeviceCreateGpuInstanceWithPlacement", vp, u32, P(Placement), P(vp))
GetGis = fn("nvmlDeviceGetGpuInstances", vp, u32, P(vp), P(u32))
GiInfoFn = fn("nvmlGpuInstanceGetInfo", vp, P(GiInfo))
CipInfoFn = fn("nvmlGpuInstanceGetComputeInstanceProfileInfo", vp, u32, u32, P(CipInfo))
CreateCi = fn("nvmlGpuInstanceCreateComputeInstance", vp, u32, P(vp))
GetCis = fn("nvmlGpuInstanceGetComputeInstances", vp, u32, P(vp), P(u32))
CiInfoFn = fn("nvmlComputeInstanceGetInfo_v2", vp, P(CiInfo))
DestroyCi = fn("nvmlComputeInstanceDestroy", vp)
DestroyGi = fn("nvmlGpuInstanceDestroy", vp)
SetCreate = fn("nvmlEventSetCreate", P(vp))
Supported = fn("nvmlDeviceGetSupportedEventTypes", vp, P(u64))
Register = fn("nvmlDeviceRegisterEvents", vp, u64, vp)
Wait = fn("nvmlEventSetWait_v2", vp, P(EventData), u32)
SetFree = fn("nvmlEventSetFree", vp)

failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def eq(got, want, what):
    check(got == want, f"{what}: got {got!r}, want {want!r}")


def cli(*args, ok=True):
    p = subprocess.run([CLI, "--state", os.environ["EAS_FAKE_NVML_STATE"], *args], capture_output=True, text=True)
    if ok and p.returncode != 0:
        failures.append(f"fake-nvml {' '.join(args)} failed: {p.stderr}")
    return p


def err(r):
    return lib.nvmlErrorString(r).decode()


def handle(i):
    h = vp()
    eq(ByIndex(i, C.byref(h)), SUCCESS, f"GetHandleByIndex({i})")
    return h


def sname(h):
    b = C.create_string_buffer(96)
    r = Name(h, b, 96)
    return b.value.decode() if r == SUCCESS else r


def suuid(h):
    b = C.create_string_buffer(96)
    r = UUID(h, b, 96)
    return b.value.decode() if r == SUCCESS else r


def count():
    n = u32()
    eq(Count(C.byref(n)), SUCCESS, "GetCount_v2")
    return n.value


def init(profile, flags=None):
    os.environ["EAS_FAKE_NVML_PROFILE"] = profile
    return Init() if flags is None else InitWithFlags(flags)


def procs(h):
    n = u32(0)
    r = Procs(h, C.byref(n), None)
    if r == SUCCESS:
        return []
    check(r == INSUFFICIENT_SIZE, f"processes count query: {r}")
    arr = (ProcessInfo * n.value)()
    eq(Procs(h, C.byref(n), arr), SUCCESS, "processes")
    return [(p.pid, p.usedGpuMemory >> 20, p.gpuInstanceId, p.computeInstanceId) for p in arr[:n.value]]


# ---------------------------------------------------------------- before init / bad profiles
n = u32()
eq(Count(C.byref(n)), UNINIT, "GetCount before init")
eq(Shutdown(), UNINIT, "Shutdown before init")
eq(Init(), DRIVER_NOT_LOADED, "Init without EAS_FAKE_NVML_PROFILE")
check("EAS_FAKE_NVML_PROFILE" in err(DRIVER_NOT_LOADED), "ErrorString(9) explains the missing profile")
eq(init("2xNOSUCH"), DRIVER_NOT_LOADED, "Init with an unknown model")
check("NOSUCH.json" in err(DRIVER_NOT_LOADED) and "H100-80GB" in err(DRIVER_NOT_LOADED),
      "ErrorString names the missing model file and the known models")
eq(init("two-H100"), DRIVER_NOT_LOADED, "Init with an unparseable profile")
bad = os.path.join(TMP, "bad.json")
with open(bad, "w") as f:
    f.write('{"gpus": [\n {"model": "H100-80GB",}\n]}')
eq(init(bad), DRIVER_NOT_LOADED, "Init with a JSON syntax error")
check("line 2" in err(DRIVER_NOT_LOADED), f"syntax error names the line: {err(DRIVER_NOT_LOADED)}")
with open(bad, "w") as f:
    json.dump({"gpus": [{"model": "H100-80GB", "memroy_mib": 5}]}, f)
eq(init(bad), DRIVER_NOT_LOADED, "Init with an unknown key")
check('"memroy_mib"' in err(DRIVER_NOT_LOADED), "unknown key is named")
with open(bad, "w") as f:
    json.dump({"gpus": [{"model": "H100-80GB", "mig_mode": 1,
                         "mig_layout": ["7g.80gb", "1g.10gb"]}]}, f)
eq(init(bad), DRIVER_NOT_LOADED, "Init with an impossible MIG layout")
check("no room for 1g.10gb" in err(DRIVER_NOT_LOADED), f"layout error explained: {err(DRIVER_NOT_LOADED)}")
eq(err(GPU_IS_LOST), "GPU is lost", "ErrorString(15)")
eq(init("0xH100-80GB"), GPU_NOT_FOUND, "nvmlInit_v2 on a machine without GPUs")
eq(init("0xH100-80GB", 1), SUCCESS, "nvmlInitWithFlags(NO_GPUS) on a machine without GPUs")
eq(count(), 0, "no GPUs")
eq(Shutdown(), SUCCESS, "Shutdown")

# ---------------------------------------------------------------- basics on 2xH100-80GB
eq(init("2xH100-80GB"), SUCCESS, "Init 2xH100-80GB")
eq(Init(), SUCCESS, "second Init (refcount 2)")
eq(count(), 2, "GPU count")
b = C.create_string_buffer(80)
eq(DriverVersion(b, 80), SUCCESS, "driver version")
eq(b.value, b"550.54.15", "driver version value")
eq(DriverVersion(b, 5), INSUFFICIENT_SIZE, "driver version into a short buffer")
eq(NvmlVersion(b, 80), SUCCESS, "NVML version")
eq(b.value, b"12.550.54.15", "NVML version value")
v = i32()
eq(CudaVersion(C.byref(v)), SUCCESS, "CUDA version")
eq(v.value, 12040, "CUDA version value")
eq(CudaVersion2(C.byref(v)), SUCCESS, "CUDA version v2")
h0, h1 = handle(0), handle(1)
h = vp()
eq(ByIndex(2, C.byref(h)), INVALID, "handle of index 2")
eq(sname(h0), "NVIDIA H100 80GB HBM3", "name")
eq(Name(h0, C.create_string_buffer(8), 8), INSUFFICIENT_SIZE, "name into a short buffer")
u0, u1 = suuid(h0), suuid(h1)
UUID_RE = r"^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
check(re.match(UUID_RE, u0) and re.match(UUID_RE, u1), f"UUID format: {u0} {u1}")
check(u0 != u1, "UUIDs differ per GPU")
eq(ByUUID(u1.encode(), C.byref(h)), SUCCESS, "handle by UUID")
eq(h.value, h1.value, "handle by UUID is GPU 1's handle")
eq(ByUUID(b"GPU-00000000-0000-0000-0000-000000000000", C.byref(h)), NOT_FOUND, "unknown UUID")

m = Memory()
eq(MemInfo(h0, C.byref(m)), SUCCESS, "memory info")
eq(m.total, 81559 << 20, "memory total")
eq(m.used, 329 << 20, "idle memory used = reserved")
eq(m.free, m.total - m.used, "free = total - used")
m2 = MemoryV2()
eq(MemInfo2(h0, C.byref(m2)), VERSION_MISMATCH, "memory v2 without the version word")
m2.version = 0x02000028
eq(MemInfo2(h0, C.byref(m2)), SUCCESS, "memory v2")
eq((m2.total, m2.reserved), (81559 << 20, 329 << 20), "memory v2 total/reserved")

t = u32()
eq(Temp(h0, 0, C.byref(t)), SUCCESS, "temperature")
eq(t.value, 31, "temperature value")
eq(Temp(h0, 5, C.byref(t)), INVALID, "temperature of an unknown sensor")
tv = TemperatureV1(version=0x0100000C, sensorType=0)
eq(TempV(h0, C.byref(tv)), SUCCESS, "temperatureV")
eq(tv.temperature, 31, "temperatureV value")
tv.version = 1
eq(TempV(h0, C.byref(tv)), VERSION_MISMATCH, "temperatureV with a wrong version")
p = u32()
eq(Power(h0, C.byref(p)), SUCCESS, "power")
eq(p.value, 72000, "idle power (mW)")

pci0, pci1 = PciInfo(), PciInfo()
eq(Pci(h0, C.byref(pci0)), SUCCESS, "PCI info")
Pci(h1, C.byref(pci1))
eq(pci0.pciDeviceId, 0x233010DE, "PCI device id")
check(pci0.busId != pci1.busId and pci0.bus != pci1.bus, "PCI bus ids differ per GPU")
check(re.match(rb"^00000000:[0-9A-F]{2}:00\.0$", pci0.busId), f"busId format {pci0.busId}")
check(re.match(rb"^0000:[0-9A-F]{2}:00\.0$", pci0.busIdLegacy), f"busIdLegacy format {pci0.busIdLegacy}")
mn = u32()
eq(Minor(h1, C.byref(mn)), SUCCESS, "minor number")
eq(mn.value, 1, "minor number = index")
ma, mi = i32(), i32()
eq(CC(h0, C.byref(ma), C.byref(mi)), SUCCESS, "compute capability")
eq((ma.value, mi.value), (9, 0), "compute capability value")

# ---------------------------------------------------------------- processes and utilisation (state written by the CLI)
eq(procs(h0), [], "no processes")
cli("process", "--gpu", "0", "--pid", "4242", "--used-mib", "1024", "--sm", "30")
cli("process", "--gpu", "0", "--pid", "4343", "--used-mib", "512", "--sm", "90")
cli("process", "--gpu", "1", "--pid", "77", "--used-mib", "100")
n = u32(1)
arr = (ProcessInfo * 4)()
eq(Procs(h0, C.byref(n), arr), INSUFFICIENT_SIZE, "processes into a 1-entry array")
eq(n.value, 2, "needed process count")
eq(procs(h0), [(4242, 1024, NO_ID, NO_ID), (4343, 512, NO_ID, NO_ID)], "processes of GPU 0")
eq(procs(h1), [(77, 100, NO_ID, NO_ID)], "processes of GPU 1")
MemInfo(h0, C.byref(m))
eq(m.used >> 20, 329 + 1024 + 512, "memory used = reserved + processes")
ut = Utilization()
eq(Util(h0, C.byref(ut)), SUCCESS, "utilisation")
eq((ut.gpu, ut.memory), (100, 0), "utilisation = sum of SM % capped at 100")
Util(h1, C.byref(ut))
eq((ut.gpu, ut.memory), (0, 0), "utilisation of an idle GPU = profile value")
cli("util", "--gpu", "1", "--percent", "55", "--memory-percent", "20")
Util(h1, C.byref(ut))
eq((ut.gpu, ut.memory), (55, 20), "utilisation override")
Power(h1, C.byref(p))
eq(p.value, 72000 + (700000 - 72000) * 55 // 100, "power follows utilisation")
cli("util", "--gpu", "1", "--clear")
Util(h1, C.byref(ut))
eq(ut.gpu, 0, "utilisation override cleared")

dl = ProcessDetailList(version=0x01000018, mode=0, numProcArrayEntries=0)
eq(Detail(h0, C.byref(dl)), INSUFFICIENT_SIZE, "detail list count query")
eq(dl.numProcArrayEntries, 2, "detail list needed count")
darr = (ProcessDetail * 2)()
dl.procArray = darr
eq(Detail(h0, C.byref(dl)), SUCCESS, "detail list")
eq([(d.pid, d.usedGpuMemory >> 20) for d in darr], [(4242, 1024), (4343, 512)], "detail list entries")
dl.version = 0x01000020
eq(Detail(h0, C.byref(dl)), VERSION_MISMATCH, "detail list with a wrong version")
dl.version, dl.mode, dl.numProcArrayEntries = 0x01000018, 1, 0
eq(Detail(h0, C.byref(dl)), SUCCESS, "graphics processes: none")

cnt = u32(0)
eq(ProcUtil(h0, None, C.byref(cnt), 0), INSUFFICIENT_SIZE, "process utilisation count query")
eq(cnt.value, 2, "process utilisation samples")
samples = (ProcUtilSample * 2)()
eq(ProcUtil(h0, samples, C.byref(cnt), 0), SUCCESS, "process utilisation")
eq([(s.pid, s.smUtil) for s in samples], [(4242, 30), (4343, 90)], "process utilisation samples")
future = samples[0].timeStamp + 3600 * 10**6
eq(ProcUtil(h0, samples, C.byref(cnt), future), NOT_FOUND, "no samples newer than lastSeenTimeStamp")
cli("process", "--gpu", "0", "--pid", "4343", "--used-mib", "0")
eq([x[0] for x in procs(h0)], [4242], "--used-mib 0 removes a process")
cli("process", "--gpu", "0", "--clear")
eq(procs(h0), [], "--clear removes all processes")
cli("process", "--gpu", "1", "--clear")

# ---------------------------------------------------------------- lost GPUs
cli("lost", "--gpu", "1")
eq(Name(h1, b, 80), GPU_IS_LOST, "name of a lost GPU")
eq(MemInfo(h1, C.byref(m)), GPU_IS_LOST, "memory of a lost GPU")
eq(ByIndex(1, C.byref(h)), GPU_IS_LOST, "handle of a lost GPU")
eq(count(), 2, "a lost GPU still counts")
eq(MemInfo(h0, C.byref(m)), SUCCESS, "the other GPU still answers")
cli("clear", "--gpu", "1")
eq(sname(h1), "NVIDIA H100 80GB HBM3", "a cleared GPU answers again")

# ---------------------------------------------------------------- events
with open(os.path.join(STATE, "events"), "a") as f:
    f.write("0 48\n")  # before the set exists: never delivered
es = vp()
eq(SetCreate(C.byref(es)), SUCCESS, "event set create")
types = u64()
eq(Supported(h0, C.byref(types)), SUCCESS, "supported event types")
check(types.value & 0x8, "XID events supported")
eq(Register(h0, 0x8, es), SUCCESS, "register XID on GPU 0")
eq(Register(h1, 0x8, es), SUCCESS, "register XID on GPU 1")
eq(Register(h0, 0x4000, es), NOT_SUPPORTED, "register an unsupported type")
ed = EventData()
eq(Wait(es, C.byref(ed), 0), TIMEOUT, "wait with nothing pending")
cli("xid", "--gpu", "1", "--code", "31")
eq(Wait(es, C.byref(ed), 2000), SUCCESS, "wait for the XID")
eq((ed.device, ed.eventType, ed.eventData, ed.gpuInstanceId, ed.computeInstanceId),
   (h1.value, 0x8, 31, NO_ID, NO_ID), "XID event data")
eq(Wait(es, C.byref(ed), 100), TIMEOUT, "each event is delivered once")

# a waiter does not hold the library lock while it sleeps
result = {}


def waiter():
    d = EventData()
    result["r"] = Wait(es, C.byref(d), 5000)
    result["xid"] = d.eventData


th = threading.Thread(target=waiter)
th.start()
time.sleep(0.2)
eq(count(), 2, "query while another thread waits")
check(th.is_alive(), "the query returned while the waiter still waits")
cli("xid", "--gpu", "0", "--code", "79")  # 79 also marks GPU 0 lost
th.join(10)
eq((result.get("r"), result.get("xid")), (SUCCESS, 79), "the waiting thread got XID 79")
eq(Wait(es, C.byref(ed), 2000), GPU_IS_LOST, "GPU_IS_LOST after XID 79")
eq(Wait(es, C.byref(ed), 100), TIMEOUT, "GPU_IS_LOST once per transition")
cli("clear", "--gpu", "0")
eq(Wait(es, C.byref(ed), 100), TIMEOUT, "clear: no event")
cli("lost", "--gpu", "0")
eq(Wait(es, C.byref(ed), 2000), GPU_IS_LOST, "lost again: GPU_IS_LOST again")
cli("clear", "--gpu", "0")
es2 = vp()
SetCreate(C.byref(es2))
eq(Wait(es2, C.byref(ed), 50), TIMEOUT, "a set without registrations gets nothing")
eq(SetFree(es2), SUCCESS, "event set free")
eq(SetFree(es), SUCCESS, "event set free")
eq(SetFree(es), INVALID, "double free is refused")

# ---------------------------------------------------------------- refcount, UUID stability, other state dir
eq(Shutdown(), SUCCESS, "Shutdown 1 of 2")
eq(count(), 2, "still initialised after one of two shutdowns")
eq(Shutdown(), SUCCESS, "Shutdown 2 of 2")
eq(Count(C.byref(n)), UNINIT, "uninitialised after the last shutdown")
eq(MemInfo(h0, C.byref(m)), UNINIT, "stale handle after shutdown")
eq(init("2xH100-80GB"), SUCCESS, "re-init")
eq(suuid(handle(0)), u0, "UUID stable across re-init with the same state dir")
Shutdown()
os.environ["EAS_FAKE_NVML_STATE"] = STATE + "-other"
eq(init("2xH100-80GB"), SUCCESS, "init with another state dir")
check(suuid(handle(0)) != u0, "another state dir gives other UUIDs")
Shutdown()
os.environ["EAS_FAKE_NVML_STATE"] = STATE

# ---------------------------------------------------------------- MIG: pre-partitioned profile
eq(init("1xH100-80GB-MIG"), SUCCESS, "init 1xH100-80GB-MIG")
g = handle(0)
cur, pend = u32(), u32()
eq(GetMig(g, C.byref(cur), C.byref(pend)), SUCCESS, "MIG mode")
eq((cur.value, pend.value), (1, 1), "MIG enabled")
mx = u32()
eq(MaxMig(g, C.byref(mx)), SUCCESS, "max MIG devices")
eq(mx.value, 7, "max MIG devices = 7")
migs = []
for i in range(7):
    md = vp()
    r = MigByIndex(g, i, C.byref(md))
    if r == SUCCESS:
        migs.append(md)
    else:
        eq(r, NOT_FOUND, f"empty MIG slot {i}")
eq(MigByIndex(g, 7, C.byref(h)), INVALID, "MIG index beyond the maximum")
eq([sname(x) for x in migs], ["NVIDIA H100 80GB HBM3 MIG 3g.40gb", "NVIDIA H100 80GB HBM3 MIG 2g.20gb",
                             "NVIDIA H100 80GB HBM3 MIG 1g.10gb", "NVIDIA H100 80GB HBM3 MIG 1g.10gb"], "MIG devices")
mu = [suuid(x) for x in migs]
check(all(re.match(UUID_RE.replace("GPU-", "MIG-"), x) for x in mu) and len(set(mu)) == 4, f"MIG UUIDs {mu}")
eq(ByUUID(mu[1].encode(), C.byref(h)), SUCCESS, "handle by MIG UUID")
eq(h.value, migs[1].value, "handle by MIG UUID is that MIG device")
MemInfo(migs[0], C.byref(m))
eq((m.total >> 20, m.used), (40192, 0), "MIG device memory = 3g.40gb profile memory")
eq(Minor(migs[0], C.byref(mn)), NOT_SUPPORTED, "minor number of a MIG device")
eq(Util(migs[0], C.byref(ut)), NOT_SUPPORTED, "utilisation of a MIG device")
im = u32()
eq(IsMig(migs[0], C.byref(im)), SUCCESS, "IsMigDeviceHandle")
eq(im.value, 1, "MIG handle is a MIG handle")
IsMig(g, C.byref(im))
eq(im.value, 0, "GPU handle is not a MIG handle")
eq(Parent(migs[0], C.byref(h)), SUCCESS, "parent of a MIG device")
eq(h.value, g.value, "parent is GPU 0")
gi_id, ci_id = u32(), u32()
eq((GiId(migs[0], C.byref(gi_id)), CiId(migs[0], C.byref(ci_id))), (SUCCESS, SUCCESS), "GI/CI ids")
eq((gi_id.value, ci_id.value), (2, 0), "3g.40gb at placement 4 is GI 2, CI 0")
eq(GiId(g, C.byref(gi_id)), NOT_SUPPORTED, "GI id of a GPU handle")

# processes on a MIG device
cli("process", "--gpu", "0", "--pid", "500", "--used-mib", "2000", "--gi", "2", "--ci", "0")
eq(procs(migs[0]), [(500, 2000, 2, 0)], "process on the MIG device")
eq(procs(migs[1]), [], "no process on the other MIG device")
eq(procs(g), [(500, 2000, 2, 0)], "the parent lists it with its GI/CI")
MemInfo(migs[0], C.byref(m))
eq(m.used >> 20, 2000, "MIG memory used")

# profiles
gip = GipInfo()
eq(GipInfoFn(g, 2, C.byref(gip)), SUCCESS, "GI profile info 3_SLICE")
eq((gip.id, gip.sliceCount, gip.instanceCount, gip.memorySizeMB), (9, 3, 2, 40192), "3g.40gb profile")
eq(GipInfoFn(g, 5, C.byref(gip)), NOT_SUPPORTED, "8_SLICE not on H100")
eq(GipInfoFn(g, 0x12, C.byref(gip)), INVALID, "profile index beyond COUNT")
ids = {}
for idx in (0, 9, 1, 2, 3, 4):
    GipInfoFn(g, idx, C.byref(gip))
    ids[idx] = (gip.id, gip.sliceCount, gip.instanceCount)
eq(ids, {0: (19, 1, 7), 9: (15, 1, 4), 1: (14, 2, 3), 2: (9, 3, 2), 3: (5, 4, 1), 4: (0, 7, 1)}, "H100 GI profiles")
g2 = GipInfoV2(version=0x02000098)
eq(GipInfoV(g, 0, C.byref(g2)), SUCCESS, "GI profile info V (v2)")
eq((g2.id, g2.name, g2.memorySizeMB), (19, b"MIG 1g.10gb", 9856), "v2 values")
g3 = GipInfoV3(version=0x03000098)
eq(GipInfoV(g, 1, C.byref(g3)), SUCCESS, "GI profile info V (v3)")
eq((g3.id, g3.sliceCount, g3.name), (14, 2, b"MIG 2g.20gb"), "v3 values")
g2.version = 0x01000030
eq(GipInfoV(g, 0, C.byref(g2)), VERSION_MISMATCH, "GI profile info V with a wrong version")

# full GPU: no capacity left
rc = u32()
for pid_, want in ((19, 0), (9, 0), (0, 0)):
    eq(Remaining(g, pid_, C.byref(rc)), SUCCESS, f"remaining capacity of profile {pid_}")
    eq(rc.value, want, f"remaining capacity of profile {pid_} on a full GPU")
gih = vp()
eq(CreateGi(g, 19, C.byref(gih)), INSUFFICIENT_RESOURCES, "create GI on a full GPU")
gis = (vp * 8)()
eq(GetGis(g, 19, gis, C.byref(rc)), SUCCESS, "GPU instances of 1g.10gb")
eq(rc.value, 2, "two 1g.10gb instances")
eq(GetGis(g, 9, gis, C.byref(rc)), SUCCESS, "GPU instances of 3g.40gb")
gi3 = vp(gis[0])
gii = GiInfo()
eq(GiInfoFn(gi3, C.byref(gii)), SUCCESS, "GI info")
eq((gii.device, gii.id, gii.profileId, gii.placement.start, gii.placement.size), (g.value, 2, 9, 4, 4), "GI info values")
cis = (vp * 8)()
eq(GetCis(gi3, 2, cis, C.byref(rc)), SUCCESS, "compute instances of the 3g GI")
eq(rc.value, 1, "one full compute instance")
ci3 = vp(cis[0])
cii = CiInfo()
eq(CiInfoFn(ci3, C.byref(cii)), SUCCESS, "CI info")
eq((cii.device, cii.gpuInstance, cii.id, cii.profileId, cii.placement.size), (g.value, gi3.value, 0, 2, 3),
   "CI info values")
eq(DestroyGi(gi3), IN_USE, "destroy a GI that has a CI")
eq(DestroyCi(ci3), IN_USE, "destroy a CI with a process")
cli("process", "--gpu", "0", "--clear")
eq(DestroyCi(ci3), SUCCESS, "destroy the CI")
eq(Name(migs[0], b, 80), INVALID, "the destroyed MIG device's handle is invalid")
eq(DestroyGi(gi3), SUCCESS, "destroy the GI")
eq(Remaining(g, 9, C.byref(rc)), SUCCESS, "remaining 3g.40gb")
eq(rc.value, 1, "one 3g.40gb fits again")
eq(Remaining(g, 19, C.byref(rc)), SUCCESS, "remaining 1g.10gb")
eq(rc.value, 3, "three 1g.10gb fit in slices 4..6")
pc = u32(0)
eq(Placements(g, 19, None, C.byref(pc)), SUCCESS, "placement count query")
eq(pc.value, 7, "1g.10gb has 7 placements")
pls = (Placement * 7)()
pc.value = 2
eq(Placements(g, 19, pls, C.byref(pc)), INSUFFICIENT_SIZE, "placements into a short array")
pc.value = 7
eq(Placements(g, 19, pls, C.byref(pc)), SUCCESS, "placements")
eq([(x.start, x.size) for x in pls], [(i, 1) for i in range(7)], "1g.10gb placements")
eq(CreateGiAt(g, 19, C.byref(Placement(0, 1)), C.byref(gih)), INSUFFICIENT_RESOURCES, "placement 0 is taken")
eq(CreateGiAt(g, 19, C.byref(Placement(5, 2)), C.byref(gih)), INVALID, "not a possible placement")
eq(CreateGiAt(g, 19, C.byref(Placement(5, 1)), C.byref(gih)), SUCCESS, "create 1g.10gb at placement 5")
GiInfoFn(gih, C.byref(gii))
eq((gii.id, gii.placement.start), (12, 5), "1g.10gb at 5 is GI 12")
cip = CipInfo()
eq(CipInfoFn(gih, 0, 0, C.byref(cip)), SUCCESS, "CI profile info 1_SLICE")
eq((cip.id, cip.sliceCount, cip.instanceCount), (0, 1, 1), "CI profile values")
eq(CipInfoFn(gih, 1, 0, C.byref(cip)), NOT_SUPPORTED, "2-slice CI in a 1-slice GI")
cih = vp()
eq(CreateCi(gih, 0, C.byref(cih)), SUCCESS, "create CI")
eq(CreateCi(gih, 0, C.byref(h)), INSUFFICIENT_RESOURCES, "second CI does not fit")

# another process (the CLI) sees the new layout through the state file
out = cli("list", "--profile", "1xH100-80GB-MIG").stdout
check("MIG: enabled, 4 MIG device(s)" in out and "GI 12 CI 0" in out and "3g.40gb" not in out,
      f"the CLI sees the API's MIG changes:\n{out}")
Shutdown()
eq(init("1xH100-80GB-MIG"), SUCCESS, "re-init: MIG layout persisted")
g = handle(0)
names = []
for i in range(7):
    md = vp()
    if MigByIndex(g, i, C.byref(md)) == SUCCESS:
        names.append(sname(md))
eq(names, ["NVIDIA H100 80GB HBM3 MIG 2g.20gb", "NVIDIA H100 80GB HBM3 MIG 1g.10gb",
           "NVIDIA H100 80GB HBM3 MIG 1g.10gb", "NVIDIA H100 80GB HBM3 MIG 1g.10gb"], "persisted MIG devices")
st = i32()
eq(SetMig(g, 0, C.byref(st)), IN_USE, "disable MIG while GPU instances exist")
Shutdown()

# MIG mode switch on a plain H100, in a fresh state dir
os.environ["EAS_FAKE_NVML_STATE"] = STATE + "-mig"
eq(init("1xH100-80GB"), SUCCESS, "init 1xH100-80GB")
g = handle(0)
GetMig(g, C.byref(cur), C.byref(pend))
eq(cur.value, 0, "MIG disabled by default")
eq(MaxMig(g, C.byref(mx)), SUCCESS, "max MIG devices while disabled")
eq(mx.value, 0, "0 MIG devices while disabled")
eq(MigByIndex(g, 0, C.byref(h)), NOT_FOUND, "no MIG device while disabled")
eq(GipInfoFn(g, 0, C.byref(gip)), NOT_SUPPORTED, "GI profiles need MIG mode")
eq(SetMig(g, 1, C.byref(st)), SUCCESS, "enable MIG")
eq(st.value, SUCCESS, "activation status")
GetMig(g, C.byref(cur), C.byref(pend))
eq(cur.value, 1, "MIG enabled")
eq(CreateGi(g, 0, C.byref(gih)), SUCCESS, "create 7g.80gb")
eq(CreateCi(gih, 4, C.byref(cih)), SUCCESS, "create the 7-slice CI")
md = vp()
eq(MigByIndex(g, 0, C.byref(md)), SUCCESS, "MIG device 0")
eq(sname(md), "NVIDIA H100 80GB HBM3 MIG 7g.80gb", "7g.80gb MIG device")
eq(DestroyCi(cih), SUCCESS, "destroy CI")
eq(DestroyGi(gih), SUCCESS, "destroy GI")
cli("process", "--gpu", "0", "--pid", "9", "--used-mib", "1")
eq(SetMig(g, 0, C.byref(st)), IN_USE, "disable MIG while a process runs")
cli("process", "--gpu", "0", "--clear")
eq(SetMig(g, 0, C.byref(st)), SUCCESS, "disable MIG")
Shutdown()

# A10 has no MIG; a machine file mixes models
eq(init("1xA10-24GB"), SUCCESS, "init 1xA10-24GB")
a = handle(0)
eq(GetMig(a, C.byref(cur), C.byref(pend)), NOT_SUPPORTED, "MIG mode on an A10")
eq(MaxMig(a, C.byref(mx)), SUCCESS, "max MIG on an A10")
eq(mx.value, 0, "A10 has no MIG devices")
MemInfo(a, C.byref(m))
eq(m.total >> 20, 23028, "A10 memory")
CC(a, C.byref(ma), C.byref(mi))
eq((ma.value, mi.value), (8, 6), "A10 compute capability")
Shutdown()
machine = os.path.join(TMP, "machine.json")
with open(machine, "w") as f:
    json.dump({"driver_version": "535.104.05", "cuda_driver_version": 12020,
               "gpus": [{"model": "A10-24GB"}, {"model": "H100-80GB", "temperature_c": 45, "minor": 7}]}, f)
eq(init(machine), SUCCESS, "init a machine file")
eq(count(), 2, "machine file GPU count")
eq((sname(handle(0)), sname(handle(1))), ("NVIDIA A10", "NVIDIA H100 80GB HBM3"), "machine file models")
Temp(handle(1), 0, C.byref(t))
eq(t.value, 45, "per-GPU override")
Minor(handle(1), C.byref(mn))
eq(mn.value, 7, "minor override")
DriverVersion(b, 80)
eq(b.value, b"535.104.05", "machine driver version")
Shutdown()

print(f"test_api.py: {checks - len(failures)}/{checks} checks passed")
subprocess.run(["rm", "-rf", TMP])
sys.exit(1 if failures else 0)
