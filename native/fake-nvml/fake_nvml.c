/*
 * libnvidia-ml.so.1 test double: init/shutdown, error strings, system queries and device queries.
 * MIG lives in mig.c, events in events.c, profiles in profile.c, state files in state.c.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_nvml_internal.h"


pthread_mutex_t fn_mu = PTHREAD_MUTEX_INITIALIZER;
fn_machine *fn_m;
unsigned fn_refcount;

/* Why the last nvmlInit failed: nvmlErrorString(code) returns this text for that code. */
static nvmlReturn_t g_init_code = NVML_SUCCESS;
static char g_init_msg[2560];
static char g_init_printed[2560];

/* ---- error strings ---- */
static const char *base_error_string(nvmlReturn_t r)
{
    switch (r) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_ALREADY_INITIALIZED: return "Already Initialized";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_INSUFFICIENT_POWER: return "Insufficient External Power";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_IRQ_ISSUE: return "Interrupt request issue";
    case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML Shared Library Not Found";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
    case NVML_ERROR_CORRUPTED_INFOROM: return "Corrupted infoROM";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_RESET_REQUIRED: return "GPU requires restart";
    case NVML_ERROR_OPERATING_SYSTEM: return "The operating system has blocked the request.";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch.";
    case NVML_ERROR_IN_USE: return "In use by another client";
    case NVML_ERROR_MEMORY: return "Insufficient Memory";
    case NVML_ERROR_NO_DATA: return "No data";
    case NVML_ERROR_VGPU_ECC_NOT_SUPPORTED:
        return "The requested vgpu operation is not available on target device, because ECC is enabled";
    case NVML_ERROR_INSUFFICIENT_RESOURCES: return "Ran out of critical resources, other than memory";
    case NVML_ERROR_FREQ_NOT_SUPPORTED: return "The requested frequency is not supported";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "The provided version is invalid/unsupported";
    case NVML_ERROR_DEPRECATED: return "The requested functionality has been deprecated";
    case NVML_ERROR_NOT_READY: return "The system is not ready for the request";
    case NVML_ERROR_GPU_NOT_FOUND: return "The GPU was not found";
    case NVML_ERROR_INVALID_STATE: return "The resource is in an invalid state";
    case NVML_ERROR_RESET_TYPE_NOT_SUPPORTED: return "The reset type is not supported";
    case NVML_ERROR_UNKNOWN: return "Unknown Error";
    default: return "Unknown Error";
    }
}

EXPORT const char *nvmlErrorString(nvmlReturn_t result)
{
    const char *s;
    LOCK();
    s = (g_init_code != NVML_SUCCESS && result == g_init_code) ? g_init_msg : base_error_string(result);
    UNLOCK();
    return s;
}

/* ---- init / shutdown ---- */
static nvmlReturn_t init(unsigned flags)
{
    LOCK();
    if (fn_refcount > 0) {
        fn_refcount++;
        UNLOCK();
        return NVML_SUCCESS;
    }
    char err[2048];
    nvmlReturn_t r = NVML_SUCCESS;
    fn_machine *m = fn_machine_load(err, sizeof err);
    if (!m) {
        r = NVML_ERROR_DRIVER_NOT_LOADED;
    } else if (m->n_gpus == 0 && !(flags & NVML_INIT_FLAG_NO_GPUS)) {
        snprintf(err, sizeof err,
                 "EAS_FAKE_NVML_PROFILE=%s describes a machine without GPUs; nvmlInitWithFlags(NVML_INIT_FLAG_NO_GPUS) "
                 "accepts that, nvmlInit_v2 does not",
                 getenv("EAS_FAKE_NVML_PROFILE"));
        fn_machine_free(m);
        m = NULL;
        r = NVML_ERROR_GPU_NOT_FOUND;
    }
    if (r != NVML_SUCCESS) {
        g_init_code = r;
        snprintf(g_init_msg, sizeof g_init_msg, "%s (fake NVML: %s)", base_error_string(r), err);
        const char *quiet = getenv("EAS_FAKE_NVML_QUIET");
        if ((!quiet || !*quiet || strcmp(quiet, "0") == 0) &&
            strcmp(g_init_printed, err) != 0) { /* once per distinct reason */
            snprintf(g_init_printed, sizeof g_init_printed, "%s", err);
            fprintf(stderr, "fake NVML (libnvidia-ml.so.1): nvmlInit failed: %s\n", err);
        }
        UNLOCK();
        return r;
    }
    g_init_code = NVML_SUCCESS;
    fn_m = m;
    fn_refcount = 1;
    UNLOCK();
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlInit_v2(void)
{
    return init(0);
}

EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
    return init(flags);
}

EXPORT nvmlReturn_t nvmlShutdown(void)
{
    LOCK();
    if (fn_refcount == 0) {
        UNLOCK();
        return NVML_ERROR_UNINITIALIZED;
    }
    if (--fn_refcount == 0) {
        fn_events_free_all();
        fn_machine_free(fn_m);
        fn_m = NULL;
    }
    UNLOCK();
    return NVML_SUCCESS;
}

/* ---- system ---- */
static nvmlReturn_t copy_string(char *dst, unsigned length, const char *src)
{
    if (!dst)
        return NVML_ERROR_INVALID_ARGUMENT;
    size_t n = strlen(src);
    if ((size_t)length < n + 1)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(dst, src, n + 1);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    LOCKED(fn_refcount ? copy_string(version, length, fn_m->driver_version) : NVML_ERROR_UNINITIALIZED);
}

EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length)
{
    LOCK();
    nvmlReturn_t r = NVML_ERROR_UNINITIALIZED;
    if (fn_refcount) {
        char v[NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE + 16];
        snprintf(v, sizeof v, "%d.%s", NVML_CUDA_DRIVER_VERSION_MAJOR(fn_m->cuda_driver_version), fn_m->driver_version);
        v[NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE - 1] = 0;
        r = copy_string(version, length, v);
    }
    UNLOCK();
    return r;
}

static nvmlReturn_t cuda_version(int *v)
{
    LOCK();
    nvmlReturn_t r = NVML_ERROR_UNINITIALIZED;
    if (fn_refcount) {
        r = v ? NVML_SUCCESS : NVML_ERROR_INVALID_ARGUMENT;
        if (v)
            *v = fn_m->cuda_driver_version;
    }
    UNLOCK();
    return r;
}

EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *cudaDriverVersion)
{
    return cuda_version(cudaDriverVersion);
}

EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion)
{
    return cuda_version(cudaDriverVersion);
}

/* ---- handles ---- */
nvmlReturn_t fn_resolve_device(nvmlDevice_t d, struct nvmlDevice_st **out, int check_lost)
{
    if (!fn_refcount)
        return NVML_ERROR_UNINITIALIZED;
    if (!d)
        return NVML_ERROR_INVALID_ARGUMENT;
    uintptr_t p = (uintptr_t)d;
    for (unsigned i = 0; i < fn_m->n_gpus; i++) {
        fn_gpu *g = &fn_m->gpus[i];
        if (d == &g->dev) {
            if (check_lost && fn_gpu_is_lost(g))
                return NVML_ERROR_GPU_IS_LOST;
            *out = d;
            return NVML_SUCCESS;
        }
        if (p < (uintptr_t)&g->gi[0] || p >= (uintptr_t)&g->gi[FN_MAX_GI])
            continue;
        for (unsigned k = 0; k < FN_MAX_GI; k++) {
            for (unsigned j = 0; j < FN_MAX_CI; j++) {
                if (d != &g->gi[k].ci[j].mig)
                    continue;
                if (check_lost && fn_gpu_is_lost(g))
                    return NVML_ERROR_GPU_IS_LOST;
                fn_mig_sync(g);
                if (!g->mig_mode || !g->gi[k].active || !g->gi[k].ci[j].active)
                    return NVML_ERROR_INVALID_ARGUMENT; /* the MIG device was destroyed: get a new handle */
                *out = d;
                return NVML_SUCCESS;
            }
        }
        return NVML_ERROR_INVALID_ARGUMENT;
    }
    return NVML_ERROR_INVALID_ARGUMENT;
}

EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount)
{
    LOCK();
    nvmlReturn_t r = NVML_ERROR_UNINITIALIZED;
    if (fn_refcount) {
        r = deviceCount ? NVML_SUCCESS : NVML_ERROR_INVALID_ARGUMENT;
        if (deviceCount)
            *deviceCount = fn_m->n_gpus; /* lost GPUs still count */
    }
    UNLOCK();
    return r;
}

static nvmlReturn_t by_index(unsigned index, nvmlDevice_t *device)
{
    if (!fn_refcount)
        return NVML_ERROR_UNINITIALIZED;
    if (!device || index >= fn_m->n_gpus)
        return NVML_ERROR_INVALID_ARGUMENT;
    fn_gpu *g = &fn_m->gpus[index];
    if (fn_gpu_is_lost(g))
        return NVML_ERROR_GPU_IS_LOST;
    *device = &g->dev;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    LOCKED(by_index(index, device));
}

static nvmlReturn_t by_uuid(const char *uuid, nvmlDevice_t *device)
{
    if (!fn_refcount)
        return NVML_ERROR_UNINITIALIZED;
    if (!uuid || !device)
        return NVML_ERROR_INVALID_ARGUMENT;
    for (unsigned i = 0; i < fn_m->n_gpus; i++) {
        fn_gpu *g = &fn_m->gpus[i];
        if (strcmp(g->uuid, uuid) == 0) {
            if (fn_gpu_is_lost(g))
                return NVML_ERROR_GPU_IS_LOST;
            *device = &g->dev;
            return NVML_SUCCESS;
        }
    }
    if (strncmp(uuid, "MIG-", 4) == 0) {
        for (unsigned i = 0; i < fn_m->n_gpus; i++) {
            fn_gpu *g = &fn_m->gpus[i];
            if (!g->mig_capable)
                continue;
            fn_mig_sync(g);
            if (!g->mig_mode)
                continue;
            for (unsigned k = 0; k < FN_MAX_GI; k++)
                for (unsigned j = 0; g->gi[k].active && j < FN_MAX_CI; j++)
                    if (g->gi[k].ci[j].active && strcmp(g->gi[k].ci[j].uuid, uuid) == 0) {
                        if (fn_gpu_is_lost(g))
                            return NVML_ERROR_GPU_IS_LOST;
                        *device = &g->gi[k].ci[j].mig;
                        return NVML_SUCCESS;
                    }
        }
    }
    return NVML_ERROR_NOT_FOUND;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
{
    LOCKED(by_uuid(uuid, device));
}

/* ---- identity ---- */
static nvmlReturn_t get_name(nvmlDevice_t device, char *name, unsigned length)
{
    struct nvmlDevice_st *d;
    nvmlReturn_t r = fn_resolve_device(device, &d, 1);
    if (r != NVML_SUCCESS)
        return r;
    if (!d->ci)
        return copy_string(name, length, d->gpu->name);
    char buf[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
    fn_mig_device_name(d->ci, buf, sizeof buf);
    return copy_string(name, length, buf);
}

EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
    LOCKED(get_name(device, name, length));
}

static nvmlReturn_t get_uuid(nvmlDevice_t device, char *uuid, unsigned length)
{
    struct nvmlDevice_st *d;
    nvmlReturn_t r = fn_resolve_device(device, &d, 1);
    if (r != NVML_SUCCESS)
        return r;
    return copy_string(uuid, length, d->ci ? d->ci->uuid : d->gpu->uuid);
}

EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
    LOCKED(get_uuid(device, uuid, length));
}

/* ---- memory ---- */
static int proc_on(const struct nvmlDevice_st *d, const fn_proc *p)
{
    if (!d->ci)
        return 1;
    return p->gi == d->ci->gi->id && p->ci == d->ci->id;
}

static void memory_numbers(struct nvmlDevice_st *d, unsigned long long *total, unsigned long long *reserved,
                           unsigned long long *used)
{
    fn_gpu *g = d->gpu;
    fn_procs_sync(g);
    unsigned long long sum = 0;
    if (d->ci) {
        /* all compute instances of a GPU instance share its memory */
        for (unsigned i = 0; i < g->n_procs; i++)
            if (g->procs[i].gi == d->ci->gi->id)
                sum += g->procs[i].used_mib;
        *total = fn_mig_memory_mib(d->ci) << 20;
        *reserved = 0;
        *used = sum << 20;
    } else {
        for (unsigned i = 0; i < g->n_procs; i++)
            sum += g->procs[i].used_mib;
        *total = g->memory_mib << 20;
        *reserved = g->reserved_mib << 20;
        *used = (g->reserved_mib + g->baseline_mib + sum) << 20;
    }
    if (*used > *total)
        *used = *total;
}

static nvmlReturn_t mem_v1(nvmlDevice_t device, nvmlMemory_t *m)
{
    struct nvmlDevice_st *d;
    nvmlReturn_t r = fn_resolve_device(device, &d, 1);
    if (r != NVML_SUCCESS)
        return r;
    if (!m)
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned long long total, reserved, used;
    memory_numbers(d, &total, &reserved, &used);
    m->total = total;
    m->used = used;
    m->free = total - used;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
    LOCKED(mem_v1(device, memory));
}

static nvmlReturn_t mem_v2(nvmlDevice_t device, nvmlMemory_v2_t *m)
{
    struct nvmlDevice_st *d;
    nvmlReturn_t r = fn_resolve_device(device, &d, 1);
    if (r != NVML_SUCCESS)
        return r;
    if (!m)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (m->version != nvmlMemory_v2)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    unsigned long long total, reserved, used;
    memory_numbers(d, &total, &reserved, &used);
    m->total = total;
    m->reserved = reserved;
    m->used = used; /* includes reserved, as the NVML header describes */
    m->free = total - used;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
    LOCKED(mem_v2(device, memory));
}

/* ---- utilisation, temperature, power (physical GPUs only, like the real library) ---- */
nvmlReturn_t fn_physical_gpu(nvmlDevice_t device, fn_gpu **g)
{
    struct nvmlDevice_st *d;
    nvmlReturn_t r = fn_resolve_device(device, &d, 1);
    if (r != NVML_SUCCESS)
        return r;
    if (d->ci)
        return NVML_ERROR_NOT_SUPPORTED;
    *g = d->gpu;
    return NVML_SUCCESS;
}

static void utilization(fn_gpu *g, unsigned *gpu, unsigned *mem)
{
    fn_util_sync(g);
    fn_procs_sync(g);
    unsigned sum = 0;
    for (unsigned i = 0; i < g->n_procs; i++)
        sum += g->procs[i].sm;
    if (sum > 100)
        sum = 100;
    *gpu = g->util_override ? g->util_override_gpu : (sum > g->util_gpu ? sum : g->util_gpu);
    *mem = (g->util_override && g->util_override_mem != FN_NO_ID) ? g->util_override_mem : g->util_mem;
}

static nvmlReturn_t util_rates(nvmlDevice_t device, nvmlUtilization_t *u)
{
    fn_gpu *g;
    nvmlReturn_t r = fn_physical_gpu(device, &g);
    if (r != NVML_SUCCESS)
        return r;
    if (!u)
        return NVML_ERROR_INVALID_ARGUMENT;
    utilization(g, &u->gpu, &u->memory);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization)
{
    LOCKED(util_rates(device, utilization));
}

static nvmlReturn_t temperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensor, unsigned *t)
{
    fn_gpu *g;
    nvmlReturn_t r = fn_physical_gpu(device, &g);
    if (r != NVML_SUCCESS)
        return r;
    if (!t || sensor != NVML_TEMPERATURE_GPU)
        return NVML_ERROR_INVALID_ARGUMENT;
    *t = g->temperature_c;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensorType, unsigned int *temp)
{
    LOCKED(temperature(device, sensorType, temp));
}

static nvmlReturn_t temperature_v(nvmlDevice_t device, nvmlTemperature_t *t)
{
    fn_gpu *g;
    nvmlReturn_t r = fn_physical_gpu(device, &g);
    if (r != NVML_SUCCESS)
        return r;
    if (!t)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (t->version != nvmlTemperature_v1)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    if (t->sensorType != NVML_TEMPERATURE_GPU)
        return NVML_ERROR_INVALID_ARGUMENT;
    t->temperature = (int)g->temperature_c;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetTemperatureV(nvmlDevice_t device, nvmlTemperature_t *temperatureOut)
{
    LOCKED(temperature_v(device, temperatureOut));
}

static nvmlReturn_t power(nvmlDevice_t device, unsigned *p)
{
    fn_gpu *g;
    nvmlReturn_t r = fn_physical_gpu(device, &g);
    if (r != NVML_SUCCESS)
        return r;
    if (!p)
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned gu, mu;
    utilization(g, &gu, &mu);
    *p = g->power_mw + (unsigned)((unsigned long long)(g->power_max_mw - g->power_mw) * gu / 100);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *powerOut)
{
    LOCKED(power(device, powerOut));
}

/* ---- processes ---- */
static void proc_ids(const struct nvmlDevice_st *d, const fn_proc *p, unsigned *gi, unsigned *ci)
{
    if (d->gpu->mig_capable && d->gpu->mig_mode) {
        *gi = p->gi;
        *ci = p->ci;
    } else {
        *gi = *ci = FN_NO_ID;
    }
}

static nvmlReturn_t compute_procs(nvmlDevice_t device, unsigned *count, nvmlProcessInfo_t *infos)
{
    struct nvmlDevice_st *d;
    nvmlReturn_t r = fn_resolve_device(device, &d, 1);
    if (r != NVML_SUCCESS)
        return r;
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    fn_gpu *g = d->gpu;
    fn_procs_sync(g);
    unsigned n = 0;
    for (unsigned i = 0; i < g->n_procs; i++)
        n += proc_on(d, &g->procs[i]);
    if (*count < n) {
        *count = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    if (n > 0 && !infos)
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned w = 0;
    for (unsigned i = 0; i < g->n_procs; i++) {
        const fn_proc *p = &g->procs[i];
        if (!proc_on(d, p))
            continue;
        infos[w].pid = p->pid;
        infos[w].usedGpuMemory = p->used_mib << 20;
        proc_ids(d, p, &infos[w].gpuInstanceId, &infos[w].computeInstanceId);
        w++;
    }
    *count = n;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                            nvmlProcessInfo_t *infos)
{
    LOCKED(compute_procs(device, infoCount, infos));
}

static nvmlReturn_t detail_list(nvmlDevice_t device, nvmlProcessDetailList_t *pl)
{
    struct nvmlDevice_st *d;
    nvmlReturn_t r = fn_resolve_device(device, &d, 1);
    if (r != NVML_SUCCESS)
        return r;
    if (!pl)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (pl->version != nvmlProcessDetailList_v1)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    if (pl->mode > NVML_PROCESS_MODE_MPS)
        return NVML_ERROR_INVALID_ARGUMENT;
    fn_gpu *g = d->gpu;
    fn_procs_sync(g);
    unsigned n = 0;
    if (pl->mode == NVML_PROCESS_MODE_COMPUTE) /* the fake has no graphics or MPS processes */
        for (unsigned i = 0; i < g->n_procs; i++)
            n += proc_on(d, &g->procs[i]);
    if (pl->numProcArrayEntries < n) {
        pl->numProcArrayEntries = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    if (n > 0 && !pl->procArray)
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned w = 0;
    for (unsigned i = 0; n && i < g->n_procs; i++) {
        const fn_proc *p = &g->procs[i];
        if (!proc_on(d, p))
            continue;
        nvmlProcessDetail_v1_t *o = &pl->procArray[w++];
        o->pid = p->pid;
        o->usedGpuMemory = p->used_mib << 20;
        proc_ids(d, p, &o->gpuInstanceId, &o->computeInstanceId);
        o->usedGpuCcProtectedMemory = 0;
    }
    pl->numProcArrayEntries = n;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetRunningProcessDetailList(nvmlDevice_t device, nvmlProcessDetailList_t *plist)
{
    LOCKED(detail_list(device, plist));
}

static nvmlReturn_t proc_util(nvmlDevice_t device, nvmlProcessUtilizationSample_t *u, unsigned *count,
                              unsigned long long last_seen)
{
    fn_gpu *g;
    nvmlReturn_t r = fn_physical_gpu(device, &g);
    if (r != NVML_SUCCESS)
        return r;
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    fn_procs_sync(g);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long now_us = (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
    unsigned n = last_seen < now_us ? g->n_procs : 0; /* one fresh sample per process */
    if (n == 0)
        return NVML_ERROR_NOT_FOUND; /* no samples newer than lastSeenTimeStamp */
    if (!u || *count < n) {
        *count = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    for (unsigned i = 0; i < n; i++) {
        u[i].pid = g->procs[i].pid;
        u[i].timeStamp = now_us;
        u[i].smUtil = g->procs[i].sm;
        u[i].memUtil = 0;
        u[i].encUtil = 0;
        u[i].decUtil = 0;
    }
    *count = n;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t device, nvmlProcessUtilizationSample_t *utilizationOut,
                                                    unsigned int *processSamplesCount,
                                                    unsigned long long lastSeenTimeStamp)
{
    LOCKED(proc_util(device, utilizationOut, processSamplesCount, lastSeenTimeStamp));
}

/* ---- PCI, minor, compute capability ---- */
static nvmlReturn_t pci_info(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    fn_gpu *g;
    nvmlReturn_t r = fn_physical_gpu(device, &g);
    if (r != NVML_SUCCESS)
        return r;
    if (!pci)
        return NVML_ERROR_INVALID_ARGUMENT;
    memset(pci, 0, sizeof *pci);
    pci->domain = g->pci_domain;
    pci->bus = g->pci_bus;
    pci->device = 0;
    pci->pciDeviceId = g->pci_device_id;
    pci->pciSubSystemId = g->pci_subsystem_id;
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04X:%02X:%02X.0", g->pci_domain & 0xffff, g->pci_bus & 0xff,
             0u);
    snprintf(pci->busId, sizeof pci->busId, "%08X:%02X:%02X.0", g->pci_domain, g->pci_bus & 0xff, 0u);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    LOCKED(pci_info(device, pci));
}

static nvmlReturn_t minor_number(nvmlDevice_t device, unsigned *minor)
{
    fn_gpu *g;
    nvmlReturn_t r = fn_physical_gpu(device, &g);
    if (r != NVML_SUCCESS)
        return r;
    if (!minor)
        return NVML_ERROR_INVALID_ARGUMENT;
    *minor = g->minor;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device, unsigned int *minorNumber)
{
    LOCKED(minor_number(device, minorNumber));
}

static nvmlReturn_t compute_capability(nvmlDevice_t device, int *major, int *minor)
{
    struct nvmlDevice_st *d;
    nvmlReturn_t r = fn_resolve_device(device, &d, 1);
    if (r != NVML_SUCCESS)
        return r;
    if (!major || !minor)
        return NVML_ERROR_INVALID_ARGUMENT;
    *major = d->gpu->cc_major;
    *minor = d->gpu->cc_minor;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major, int *minor)
{
    LOCKED(compute_capability(device, major, minor));
}
