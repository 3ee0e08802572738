/* MIG: GPU instances (GI) and compute instances (CI), persisted in $EAS_FAKE_NVML_STATE/gpu<N>.mig. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "fake_nvml_internal.h"


/* ---- profile tables ---- */
const fn_gip *fn_gip_by_index(const fn_gpu *g, unsigned index)
{
    for (unsigned i = 0; i < g->n_gip; i++)
        if (g->gip[i].index == index)
            return &g->gip[i];
    return NULL;
}

const fn_gip *fn_gip_by_name(const fn_gpu *g, const char *name)
{
    for (unsigned i = 0; i < g->n_gip; i++)
        if (strcmp(g->gip[i].name, name) == 0)
            return &g->gip[i];
    return NULL;
}

static const fn_gip *gip_by_id(const fn_gpu *g, unsigned id)
{
    for (unsigned i = 0; i < g->n_gip; i++)
        if (g->gip[i].id == id)
            return &g->gip[i];
    return NULL;
}

/* Compute-instance profile index → compute slices (0 = not a slice profile this fake knows). */
static unsigned ci_profile_slices(unsigned index)
{
    static const unsigned s[NVML_COMPUTE_INSTANCE_PROFILE_COUNT] = {1, 2, 3, 4, 7, 8, 6, 0, 0};
    return index < NVML_COMPUTE_INSTANCE_PROFILE_COUNT ? s[index] : 0;
}

static unsigned ci_profile_for_slices(unsigned c)
{
    for (unsigned i = 0; i < NVML_COMPUTE_INSTANCE_PROFILE_COUNT; i++)
        if (ci_profile_slices(i) == c)
            return i;
    return FN_NO_ID;
}

/* Which compute-instance sizes a GI of S compute slices offers (as nvidia-smi mig -lcip lists them). */
static int ci_size_allowed(unsigned S, unsigned c)
{
    if (c == 0 || c > S)
        return 0;
    if (c == S || c == 1)
        return 1;
    switch (S) {
    case 2: return 0;
    case 3: return c == 2;
    case 4: return c == 2;
    case 6: return c == 2 || c == 3;
    case 7: return c == 2 || c == 3 || c == 4;
    case 8: return c == 2 || c == 4;
    default: return S % c == 0;
    }
}

void fn_mig_device_name(const struct nvmlComputeInstance_st *ci, char *out, size_t outlen)
{
    const struct nvmlGpuInstance_st *gi = ci->gi;
    const fn_gpu *g = gi->gpu;
    const fn_gip *p = &g->gip[gi->gip];
    if (ci->slices < p->slices)
        snprintf(out, outlen, "%s MIG %uc.%s", g->name, ci->slices, p->name);
    else
        snprintf(out, outlen, "%s MIG %s", g->name, p->name);
}

unsigned long long fn_mig_memory_mib(const struct nvmlComputeInstance_st *ci)
{
    return ci->gi->gpu->gip[ci->gi->gip].memory_mib;
}

void fn_gpu_set_ci_uuids(fn_gpu *g)
{
    for (unsigned k = 0; k < FN_MAX_GI; k++) {
        if (!g->gi[k].active)
            continue;
        for (unsigned j = 0; j < FN_MAX_CI; j++) {
            struct nvmlComputeInstance_st *ci = &g->gi[k].ci[j];
            if (!ci->active)
                continue;
            char seed[160];
            snprintf(seed, sizeof seed, "%s/%u/%u", g->uuid, k, j);
            fn_uuid_format(ci->uuid, sizeof ci->uuid, "MIG-", seed);
        }
    }
}

void fn_mig_reset(fn_gpu *g)
{
    for (unsigned k = 0; k < FN_MAX_GI; k++) {
        g->gi[k].active = 0;
        for (unsigned j = 0; j < FN_MAX_CI; j++)
            g->gi[k].ci[j].active = 0;
    }
    g->mig_mode = 0;
    g->mig_loaded = 0;
    memset(&g->mig_key, 0, sizeof g->mig_key);
}

/* ---- occupancy ---- */
static unsigned long long mem_mask(unsigned start, unsigned size)
{
    return ((size >= 64 ? ~0ULL : ((1ULL << size) - 1))) << start;
}

static void occupancy(const fn_gpu *g, unsigned long long *mem, unsigned *slices, unsigned *count_of_gip)
{
    *mem = 0;
    *slices = 0;
    if (count_of_gip)
        memset(count_of_gip, 0, sizeof(unsigned) * FN_MAX_GIP);
    for (unsigned k = 0; k < FN_MAX_GI; k++) {
        const struct nvmlGpuInstance_st *gi = &g->gi[k];
        if (!gi->active)
            continue;
        *mem |= mem_mask(gi->start, gi->size);
        *slices += g->gip[gi->gip].slices;
        if (count_of_gip)
            count_of_gip[gi->gip]++;
    }
}

/* First placement of profile p that fits, or -1. */
static int find_placement(const fn_gpu *g, const fn_gip *p, unsigned long long mem, unsigned slices, unsigned count)
{
    if (count >= p->instances || slices + p->slices > g->compute_slices)
        return -1;
    for (unsigned k = 0; k < p->n_placements; k++)
        if (!(mem & mem_mask(p->placements[k], p->placement_size)))
            return (int)k;
    return -1;
}

static unsigned remaining_capacity(const fn_gpu *g, const fn_gip *p)
{
    unsigned long long mem;
    unsigned slices, counts[FN_MAX_GIP];
    occupancy(g, &mem, &slices, counts);
    unsigned count = counts[p - g->gip], n = 0;
    int k;
    while ((k = find_placement(g, p, mem, slices, count)) >= 0) {
        mem |= mem_mask(p->placements[k], p->placement_size);
        slices += p->slices;
        count++;
        n++;
    }
    return n;
}

/* Create a GI of profile p at placement number k (or the first free one when k < 0). */
static nvmlReturn_t gi_create(fn_gpu *g, const fn_gip *p, int k, struct nvmlGpuInstance_st **out)
{
    unsigned long long mem;
    unsigned slices, counts[FN_MAX_GIP];
    occupancy(g, &mem, &slices, counts);
    unsigned pi = (unsigned)(p - g->gip);
    if (k < 0) {
        k = find_placement(g, p, mem, slices, counts[pi]);
        if (k < 0)
            return NVML_ERROR_INSUFFICIENT_RESOURCES;
    } else if (counts[pi] >= p->instances || slices + p->slices > g->compute_slices ||
               (mem & mem_mask(p->placements[k], p->placement_size))) {
        return NVML_ERROR_INSUFFICIENT_RESOURCES;
    }
    unsigned id = p->gi_ids[k];
    if (id == FN_NO_ID || id >= FN_MAX_GI || g->gi[id].active) {
        unsigned first = (p->slices == g->compute_slices) ? 0 : 1;
        for (id = first; id < FN_MAX_GI && g->gi[id].active; id++)
            ;
        if (id >= FN_MAX_GI)
            for (id = 0; id < FN_MAX_GI && g->gi[id].active; id++)
                ;
        if (id >= FN_MAX_GI)
            return NVML_ERROR_INSUFFICIENT_RESOURCES;
    }
    struct nvmlGpuInstance_st *gi = &g->gi[id];
    gi->active = 1;
    gi->gip = pi;
    gi->start = p->placements[k];
    gi->size = p->placement_size;
    for (unsigned j = 0; j < FN_MAX_CI; j++)
        gi->ci[j].active = 0;
    *out = gi;
    return NVML_SUCCESS;
}

/* Create a CI of `profile_index` in gi at compute slice `start` (or the first free one when start < 0). */
static nvmlReturn_t ci_create(struct nvmlGpuInstance_st *gi, unsigned profile_index, int start,
                              struct nvmlComputeInstance_st **out)
{
    const fn_gip *p = &gi->gpu->gip[gi->gip];
    unsigned c = ci_profile_slices(profile_index), S = p->slices;
    if (!ci_size_allowed(S, c))
        return NVML_ERROR_NOT_SUPPORTED;
    unsigned used = 0, same = 0, id = FN_NO_ID;
    for (unsigned j = 0; j < FN_MAX_CI; j++) {
        const struct nvmlComputeInstance_st *x = &gi->ci[j];
        if (x->active) {
            used |= (unsigned)mem_mask(x->start, x->slices);
            if (x->profile_index == profile_index)
                same++;
        } else if (id == FN_NO_ID) {
            id = j;
        }
    }
    if (id == FN_NO_ID || same >= S / c)
        return NVML_ERROR_INSUFFICIENT_RESOURCES;
    int at = -1;
    for (unsigned s = 0; s + c <= S; s += c) {
        if ((start < 0 || (unsigned)start == s) && !(used & (unsigned)mem_mask(s, c))) {
            at = (int)s;
            break;
        }
    }
    if (at < 0)
        return NVML_ERROR_INSUFFICIENT_RESOURCES;
    struct nvmlComputeInstance_st *ci = &gi->ci[id];
    ci->active = 1;
    ci->profile_index = profile_index;
    ci->slices = c;
    ci->start = (unsigned)at;
    *out = ci;
    return NVML_SUCCESS;
}

int fn_mig_apply_layout(fn_gpu *g, char *err, size_t errlen)
{
    fn_mig_reset(g);
    g->mig_mode = g->mig_mode_initial;
    if (!g->mig_mode)
        return 0;
    for (unsigned i = 0; i < g->n_layout; i++) {
        const fn_layout_gi *l = &g->layout[i];
        const fn_gip *p = &g->gip[l->gip];
        int k = -1;
        if (l->start >= 0) {
            for (unsigned j = 0; j < p->n_placements; j++)
                if (p->placements[j] == (unsigned)l->start)
                    k = (int)j;
            if (k < 0) {
                char starts[128];
                size_t used = 0;
                starts[0] = 0;
                for (unsigned j = 0; j < p->n_placements && used < sizeof starts - 8; j++)
                    used += (size_t)snprintf(starts + used, sizeof starts - used, "%s%u", j ? ", " : "",
                                             p->placements[j]);
                snprintf(err, errlen, "entry %u: %s cannot start at memory slice %d (its placements start at %s)", i,
                         p->name, l->start, starts);
                return -1;
            }
        }
        struct nvmlGpuInstance_st *gi;
        if (gi_create(g, p, k, &gi) != NVML_SUCCESS) {
            snprintf(err, errlen,
                     "entry %u: no room for %s%s after the entries before it (overlapping placements, more than %u "
                     "instances, or more than %u compute slices in all)",
                     i, p->name, l->start >= 0 ? " at that placement" : "", p->instances, g->compute_slices);
            return -1;
        }
        for (unsigned j = 0; j < l->n_ci; j++) {
            unsigned pidx = ci_profile_for_slices(l->ci_slices[j]);
            struct nvmlComputeInstance_st *ci;
            if (pidx == FN_NO_ID || ci_create(gi, pidx, -1, &ci) != NVML_SUCCESS) {
                snprintf(err, errlen,
                         "entry %u: %s cannot hold a compute instance of %u slices after the ones before it", i,
                         p->name, l->ci_slices[j]);
                return -1;
            }
        }
    }
    return 0;
}

/* ---- persistence ---- */
static void mig_parse(fn_gpu *g, char *text)
{
    for (unsigned k = 0; k < FN_MAX_GI; k++) {
        g->gi[k].active = 0;
        for (unsigned j = 0; j < FN_MAX_CI; j++)
            g->gi[k].ci[j].active = 0;
    }
    g->mig_mode = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        unsigned a, b, c, d, e;
        if (sscanf(line, "mode %u", &a) == 1) {
            g->mig_mode = a ? 1 : 0;
        } else if (sscanf(line, "gi %u %u %u %u", &a, &b, &c, &d) == 4) {
            const fn_gip *p = gip_by_id(g, b);
            if (a >= FN_MAX_GI || !p)
                continue;
            struct nvmlGpuInstance_st *gi = &g->gi[a];
            gi->active = 1;
            gi->gip = (unsigned)(p - g->gip);
            gi->start = c;
            gi->size = d;
        } else if (sscanf(line, "ci %u %u %u %u %u", &a, &b, &c, &d, &e) == 5) {
            if (a >= FN_MAX_GI || b >= FN_MAX_CI || !g->gi[a].active || !ci_profile_slices(c))
                continue;
            struct nvmlComputeInstance_st *ci = &g->gi[a].ci[b];
            ci->active = 1;
            ci->profile_index = c;
            ci->start = d;
            ci->slices = e;
        }
    }
    if (!g->mig_mode)
        for (unsigned k = 0; k < FN_MAX_GI; k++)
            g->gi[k].active = 0;
}

void fn_mig_sync(fn_gpu *g)
{
    if (!g->mig_capable)
        return;
    if (!fn_filekey_changed(g->path_mig, &g->mig_key) && g->mig_loaded)
        return;
    g->mig_loaded = 1;
    if (!g->mig_key.exists) {
        char err[256];
        fn_filekey key = g->mig_key;
        fn_mig_apply_layout(g, err, sizeof err); /* validated at load */
        g->mig_key = key;
        g->mig_loaded = 1;
    } else {
        FILE *f = fopen(g->path_mig, "re");
        if (!f) { /* replaced or removed between stat and open: keep the last state, look again next call */
            g->mig_loaded = 0;
            memset(&g->mig_key, 0, sizeof g->mig_key);
            return;
        }
        char buf[16384];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        mig_parse(g, buf);
    }
    fn_gpu_set_ci_uuids(g);
}

static int mig_save(fn_gpu *g)
{
    char buf[16384];
    size_t used = 0;
    used += (size_t)snprintf(buf + used, sizeof buf - used,
                             "# fake NVML MIG state of GPU %u, written by libnvidia-ml.so.1\n"
                             "# mode <0|1>; gi <id> <profile id> <placement start> <placement size>;\n"
                             "# ci <gi id> <ci id> <ci profile id> <placement start> <placement size>\n"
                             "mode %u\n",
                             g->index, g->mig_mode);
    for (unsigned k = 0; k < FN_MAX_GI; k++) {
        const struct nvmlGpuInstance_st *gi = &g->gi[k];
        if (!gi->active)
            continue;
        used += (size_t)snprintf(buf + used, sizeof buf - used, "gi %u %u %u %u\n", k, g->gip[gi->gip].id, gi->start,
                                 gi->size);
        for (unsigned j = 0; j < FN_MAX_CI; j++) {
            const struct nvmlComputeInstance_st *ci = &gi->ci[j];
            if (ci->active)
                used += (size_t)snprintf(buf + used, sizeof buf - used, "ci %u %u %u %u %u\n", k, j, ci->profile_index,
                                         ci->start, ci->slices);
        }
    }
    if (fn_write_file_atomic(g->path_mig, buf, used) != 0)
        return -1;
    fn_filekey_changed(g->path_mig, &g->mig_key);
    g->mig_loaded = 1;
    fn_gpu_set_ci_uuids(g);
    return 0;
}

/* Take the cross-process lock and read the newest state; returns the lock fd (or -1 when it cannot lock). */
static int mig_begin(fn_gpu *g)
{
    int fd = open(g->path_miglock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd >= 0)
        while (flock(fd, LOCK_EX) != 0 && errno == EINTR)
            ;
    g->mig_loaded = 0;
    memset(&g->mig_key, 0, sizeof g->mig_key);
    fn_mig_sync(g);
    return fd;
}

static nvmlReturn_t mig_commit(fn_gpu *g)
{
    if (mig_save(g) == 0)
        return NVML_SUCCESS;
    nvmlReturn_t r = errno == EACCES || errno == EPERM || errno == EROFS ? NVML_ERROR_NO_PERMISSION : NVML_ERROR_UNKNOWN;
    g->mig_loaded = 0; /* back to what the file says */
    memset(&g->mig_key, 0, sizeof g->mig_key);
    fn_mig_sync(g);
    return r;
}

static void mig_end(int fd)
{
    if (fd >= 0)
        close(fd);
}

/* ---- handle resolution (lock held) ---- */
static nvmlReturn_t physical(nvmlDevice_t d, fn_gpu **out)
{
    nvmlReturn_t r = fn_physical_gpu(d, out);
    if (r == NVML_SUCCESS)
        fn_mig_sync(*out);
    return r;
}

static nvmlReturn_t resolve_gi(nvmlGpuInstance_t h, struct nvmlGpuInstance_st **out)
{
    if (!fn_refcount)
        return NVML_ERROR_UNINITIALIZED;
    if (!h)
        return NVML_ERROR_INVALID_ARGUMENT;
    uintptr_t p = (uintptr_t)h;
    for (unsigned i = 0; i < fn_m->n_gpus; i++) {
        fn_gpu *g = &fn_m->gpus[i];
        if (p < (uintptr_t)&g->gi[0] || p >= (uintptr_t)&g->gi[FN_MAX_GI])
            continue;
        for (unsigned k = 0; k < FN_MAX_GI; k++) {
            if (h != &g->gi[k])
                continue;
            if (fn_gpu_is_lost(g))
                return NVML_ERROR_GPU_IS_LOST;
            fn_mig_sync(g);
            if (!g->mig_mode || !h->active)
                return NVML_ERROR_INVALID_ARGUMENT;
            *out = h;
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_INVALID_ARGUMENT;
}

static nvmlReturn_t resolve_ci(nvmlComputeInstance_t h, struct nvmlComputeInstance_st **out)
{
    if (!fn_refcount)
        return NVML_ERROR_UNINITIALIZED;
    if (!h)
        return NVML_ERROR_INVALID_ARGUMENT;
    uintptr_t p = (uintptr_t)h;
    for (unsigned i = 0; i < fn_m->n_gpus; i++) {
        fn_gpu *g = &fn_m->gpus[i];
        if (p < (uintptr_t)&g->gi[0] || p >= (uintptr_t)&g->gi[FN_MAX_GI])
            continue;
        for (unsigned k = 0; k < FN_MAX_GI; k++) {
            for (unsigned j = 0; j < FN_MAX_CI; j++) {
                if (h != &g->gi[k].ci[j])
                    continue;
                if (fn_gpu_is_lost(g))
                    return NVML_ERROR_GPU_IS_LOST;
                fn_mig_sync(g);
                if (!g->mig_mode || !g->gi[k].active || !h->active)
                    return NVML_ERROR_INVALID_ARGUMENT;
                *out = h;
                return NVML_SUCCESS;
            }
        }
    }
    return NVML_ERROR_INVALID_ARGUMENT;
}

static int has_processes(fn_gpu *g, unsigned gi, unsigned ci)
{
    fn_procs_sync(g);
    for (unsigned i = 0; i < g->n_procs; i++)
        if ((gi == FN_NO_ID || g->procs[i].gi == gi) && (ci == FN_NO_ID || g->procs[i].ci == ci))
            return 1;
    return 0;
}

/* ---- exported: MIG mode and MIG device handles ---- */
static nvmlReturn_t get_mig_mode(nvmlDevice_t device, unsigned *cur, unsigned *pending)
{
    fn_gpu *g;
    nvmlReturn_t r = physical(device, &g);
    if (r != NVML_SUCCESS)
        return r;
    if (!cur || !pending)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!g->mig_capable)
        return NVML_ERROR_NOT_SUPPORTED;
    *cur = *pending = g->mig_mode;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode)
{
    LOCKED(get_mig_mode(device, currentMode, pendingMode));
}

static nvmlReturn_t set_mig_mode(nvmlDevice_t device, unsigned mode, nvmlReturn_t *status)
{
    fn_gpu *g;
    nvmlReturn_t r = physical(device, &g);
    if (r != NVML_SUCCESS)
        return r;
    if (!status || mode > NVML_DEVICE_MIG_ENABLE)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!g->mig_capable)
        return NVML_ERROR_NOT_SUPPORTED;
    int fd = mig_begin(g);
    if (g->mig_mode == mode) {
        r = NVML_SUCCESS;
    } else if (has_processes(g, FN_NO_ID, FN_NO_ID)) {
        r = NVML_ERROR_IN_USE; /* the GPU must be idle to reset into the other mode */
    } else {
        int any_gi = 0;
        for (unsigned k = 0; k < FN_MAX_GI; k++)
            any_gi |= g->gi[k].active;
        if (any_gi) {
            r = NVML_ERROR_IN_USE; /* destroy the GPU instances first */
        } else {
            g->mig_mode = mode;
            r = mig_commit(g);
        }
    }
    mig_end(fd);
    *status = r;
    return r;
}

EXPORT nvmlReturn_t nvmlDeviceSetMigMode(nvmlDevice_t device, unsigned int mode, nvmlReturn_t *activationStatus)
{
    LOCKED(set_mig_mode(device, mode, activationStatus));
}

static nvmlReturn_t max_mig(nvmlDevice_t device, unsigned *count)
{
    fn_gpu *g;
    nvmlReturn_t r = physical(device, &g);
    if (r != NVML_SUCCESS)
        return r;
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    *count = (g->mig_capable && g->mig_mode) ? g->max_mig_devices : 0;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count)
{
    LOCKED(max_mig(device, count));
}

static nvmlReturn_t mig_by_index(nvmlDevice_t device, unsigned index, nvmlDevice_t *out)
{
    fn_gpu *g;
    nvmlReturn_t r = physical(device, &g);
    if (r != NVML_SUCCESS)
        return r;
    if (!out)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!g->mig_capable)
        return NVML_ERROR_NOT_SUPPORTED;
    if (index >= g->max_mig_devices)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!g->mig_mode)
        return NVML_ERROR_NOT_FOUND;
    unsigned n = 0;
    for (unsigned k = 0; k < FN_MAX_GI; k++) {
        if (!g->gi[k].active)
            continue;
        for (unsigned j = 0; j < FN_MAX_CI; j++) {
            if (!g->gi[k].ci[j].active)
                continue;
            if (n++ == index) {
                *out = &g->gi[k].ci[j].mig;
                return NVML_SUCCESS;
            }
        }
    }
    return NVML_ERROR_NOT_FOUND;
}

EXPORT nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index, nvmlDevice_t *migDevice)
{
    LOCKED(mig_by_index(device, index, migDevice));
}

static nvmlReturn_t parent_of(nvmlDevice_t mig, nvmlDevice_t *out)
{
    struct nvmlDevice_st *dev;
    nvmlReturn_t r = fn_resolve_device(mig, &dev, 1);
    if (r != NVML_SUCCESS)
        return r;
    if (!out || !dev->ci)
        return NVML_ERROR_INVALID_ARGUMENT;
    *out = &dev->gpu->dev;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t migDevice, nvmlDevice_t *device)
{
    LOCKED(parent_of(migDevice, device));
}

static nvmlReturn_t is_mig(nvmlDevice_t device, unsigned *out)
{
    struct nvmlDevice_st *dev;
    nvmlReturn_t r = fn_resolve_device(device, &dev, 1);
    if (r != NVML_SUCCESS)
        return r;
    if (!out)
        return NVML_ERROR_INVALID_ARGUMENT;
    *out = dev->ci != NULL;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceIsMigDeviceHandle(nvmlDevice_t device, unsigned int *isMigDevice)
{
    LOCKED(is_mig(device, isMigDevice));
}

static nvmlReturn_t instance_id(nvmlDevice_t device, unsigned *out, int want_ci)
{
    struct nvmlDevice_st *dev;
    nvmlReturn_t r = fn_resolve_device(device, &dev, 1);
    if (r != NVML_SUCCESS)
        return r;
    if (!out)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!dev->ci)
        return NVML_ERROR_NOT_SUPPORTED; /* only MIG device handles have GI/CI ids */
    *out = want_ci ? dev->ci->id : dev->ci->gi->id;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t device, unsigned int *id)
{
    LOCKED(instance_id(device, id, 0));
}

EXPORT nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t device, unsigned int *id)
{
    LOCKED(instance_id(device, id, 1));
}

/* ---- exported: GPU-instance profiles and placements ---- */
static nvmlReturn_t gip_for_index(nvmlDevice_t device, unsigned profile, fn_gpu **g, const fn_gip **p)
{
    nvmlReturn_t r = physical(device, g);
    if (r != NVML_SUCCESS)
        return r;
    if (profile >= NVML_GPU_INSTANCE_PROFILE_COUNT)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!(*g)->mig_capable || !(*g)->mig_mode)
        return NVML_ERROR_NOT_SUPPORTED;
    *p = fn_gip_by_index(*g, profile);
    return *p ? NVML_SUCCESS : NVML_ERROR_NOT_SUPPORTED;
}

static nvmlReturn_t gip_info(nvmlDevice_t device, unsigned profile, nvmlGpuInstanceProfileInfo_t *info)
{
    fn_gpu *g;
    const fn_gip *p;
    if (!info)
        return fn_refcount ? NVML_ERROR_INVALID_ARGUMENT : NVML_ERROR_UNINITIALIZED;
    nvmlReturn_t r = gip_for_index(device, profile, &g, &p);
    if (r != NVML_SUCCESS)
        return r;
    memset(info, 0, sizeof *info);
    info->id = p->id;
    info->isP2pSupported = p->p2p;
    info->sliceCount = p->slices;
    info->instanceCount = p->instances;
    info->multiprocessorCount = p->multiprocessors;
    info->copyEngineCount = p->copy_engines;
    info->decoderCount = p->decoders;
    info->encoderCount = p->encoders;
    info->jpegCount = p->jpegs;
    info->ofaCount = p->ofas;
    info->memorySizeMB = p->memory_mib;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfo(nvmlDevice_t device, unsigned int profile,
                                                        nvmlGpuInstanceProfileInfo_t *info)
{
    LOCKED(gip_info(device, profile, info));
}

static nvmlReturn_t gip_info_v(nvmlDevice_t device, unsigned profile, nvmlGpuInstanceProfileInfo_v2_t *info)
{
    fn_gpu *g;
    const fn_gip *p;
    if (!info)
        return fn_refcount ? NVML_ERROR_INVALID_ARGUMENT : NVML_ERROR_UNINITIALIZED;
    unsigned version = info->version;
    nvmlReturn_t r = gip_for_index(device, profile, &g, &p);
    if (r != NVML_SUCCESS && r != NVML_ERROR_NOT_SUPPORTED)
        return r;
    if (version != nvmlGpuInstanceProfileInfo_v2 && version != nvmlGpuInstanceProfileInfo_v3)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    if (r != NVML_SUCCESS)
        return r;
    if (version == nvmlGpuInstanceProfileInfo_v2) {
        memset(info, 0, sizeof *info);
        info->version = version;
        info->id = p->id;
        info->isP2pSupported = p->p2p;
        info->sliceCount = p->slices;
        info->instanceCount = p->instances;
        info->multiprocessorCount = p->multiprocessors;
        info->copyEngineCount = p->copy_engines;
        info->decoderCount = p->decoders;
        info->encoderCount = p->encoders;
        info->jpegCount = p->jpegs;
        info->ofaCount = p->ofas;
        info->memorySizeMB = p->memory_mib;
        snprintf(info->name, sizeof info->name, "MIG %s", p->name);
    } else {
        nvmlGpuInstanceProfileInfo_v3_t *v3 = (nvmlGpuInstanceProfileInfo_v3_t *)info;
        memset(v3, 0, sizeof *v3);
        v3->version = version;
        v3->id = p->id;
        v3->sliceCount = p->slices;
        v3->instanceCount = p->instances;
        v3->multiprocessorCount = p->multiprocessors;
        v3->copyEngineCount = p->copy_engines;
        v3->decoderCount = p->decoders;
        v3->encoderCount = p->encoders;
        v3->jpegCount = p->jpegs;
        v3->ofaCount = p->ofas;
        v3->memorySizeMB = p->memory_mib;
        snprintf(v3->name, sizeof v3->name, "MIG %s", p->name);
        v3->capabilities = 0;
    }
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfoV(nvmlDevice_t device, unsigned int profile,
                                                         nvmlGpuInstanceProfileInfo_v2_t *info)
{
    LOCKED(gip_info_v(device, profile, info));
}

/* Profile *ID* (as returned in info.id) → profile; requires MIG enabled. */
static nvmlReturn_t gip_for_id(nvmlDevice_t device, unsigned id, int need_enabled, fn_gpu **g, const fn_gip **p)
{
    nvmlReturn_t r = physical(device, g);
    if (r != NVML_SUCCESS)
        return r;
    if (!(*g)->mig_capable || (need_enabled && !(*g)->mig_mode))
        return NVML_ERROR_NOT_SUPPORTED;
    *p = gip_by_id(*g, id);
    return *p ? NVML_SUCCESS : NVML_ERROR_INVALID_ARGUMENT;
}

static nvmlReturn_t remaining(nvmlDevice_t device, unsigned id, unsigned *count)
{
    fn_gpu *g;
    const fn_gip *p;
    nvmlReturn_t r = gip_for_id(device, id, 1, &g, &p);
    if (r != NVML_SUCCESS)
        return r;
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    *count = remaining_capacity(g, p);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceRemainingCapacity(nvmlDevice_t device, unsigned int profileId,
                                                              unsigned int *count)
{
    LOCKED(remaining(device, profileId, count));
}

static nvmlReturn_t placements(nvmlDevice_t device, unsigned id, nvmlGpuInstancePlacement_t *out, unsigned *count)
{
    fn_gpu *g;
    const fn_gip *p;
    nvmlReturn_t r = gip_for_id(device, id, 0, &g, &p);
    if (r != NVML_SUCCESS)
        return r;
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!out) {
        *count = p->n_placements;
        return NVML_SUCCESS;
    }
    if (*count < p->n_placements) {
        *count = p->n_placements;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    for (unsigned k = 0; k < p->n_placements; k++) {
        out[k].start = p->placements[k];
        out[k].size = p->placement_size;
    }
    *count = p->n_placements;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstancePossiblePlacements_v2(nvmlDevice_t device, unsigned int profileId,
                                                                  nvmlGpuInstancePlacement_t *placementsOut,
                                                                  unsigned int *count)
{
    LOCKED(placements(device, profileId, placementsOut, count));
}

/* ---- exported: create / list / destroy GPU instances ---- */
static nvmlReturn_t create_gi(nvmlDevice_t device, unsigned id, const nvmlGpuInstancePlacement_t *pl, int with_pl,
                              nvmlGpuInstance_t *out)
{
    fn_gpu *g;
    const fn_gip *p;
    nvmlReturn_t r = gip_for_id(device, id, 1, &g, &p);
    if (r != NVML_SUCCESS)
        return r;
    if (!out || (with_pl && !pl))
        return NVML_ERROR_INVALID_ARGUMENT;
    int k = -1;
    if (with_pl) {
        for (unsigned j = 0; j < p->n_placements; j++)
            if (p->placements[j] == pl->start && p->placement_size == pl->size)
                k = (int)j;
        if (k < 0)
            return NVML_ERROR_INVALID_ARGUMENT; /* not one of nvmlDeviceGetGpuInstancePossiblePlacements_v2 */
    }
    int fd = mig_begin(g);
    struct nvmlGpuInstance_st *gi = NULL;
    if (!g->mig_mode)
        r = NVML_ERROR_NOT_SUPPORTED;
    else
        r = gi_create(g, p, k, &gi);
    if (r == NVML_SUCCESS)
        r = mig_commit(g);
    mig_end(fd);
    if (r == NVML_SUCCESS)
        *out = gi;
    return r;
}

EXPORT nvmlReturn_t nvmlDeviceCreateGpuInstance(nvmlDevice_t device, unsigned int profileId,
                                                nvmlGpuInstance_t *gpuInstance)
{
    LOCKED(create_gi(device, profileId, NULL, 0, gpuInstance));
}

EXPORT nvmlReturn_t nvmlDeviceCreateGpuInstanceWithPlacement(nvmlDevice_t device, unsigned int profileId,
                                                             const nvmlGpuInstancePlacement_t *placement,
                                                             nvmlGpuInstance_t *gpuInstance)
{
    LOCKED(create_gi(device, profileId, placement, 1, gpuInstance));
}

static nvmlReturn_t list_gi(nvmlDevice_t device, unsigned id, nvmlGpuInstance_t *out, unsigned *count)
{
    fn_gpu *g;
    const fn_gip *p;
    nvmlReturn_t r = gip_for_id(device, id, 1, &g, &p);
    if (r != NVML_SUCCESS)
        return r;
    if (!out || !count)
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned n = 0;
    for (unsigned k = 0; k < FN_MAX_GI; k++)
        if (g->gi[k].active && &g->gip[g->gi[k].gip] == p)
            out[n++] = &g->gi[k];
    *count = n;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstances(nvmlDevice_t device, unsigned int profileId,
                                              nvmlGpuInstance_t *gpuInstances, unsigned int *count)
{
    LOCKED(list_gi(device, profileId, gpuInstances, count));
}

static nvmlReturn_t gi_info(nvmlGpuInstance_t h, nvmlGpuInstanceInfo_t *info)
{
    struct nvmlGpuInstance_st *gi;
    nvmlReturn_t r = resolve_gi(h, &gi);
    if (r != NVML_SUCCESS)
        return r;
    if (!info)
        return NVML_ERROR_INVALID_ARGUMENT;
    memset(info, 0, sizeof *info);
    info->device = &gi->gpu->dev;
    info->id = gi->id;
    info->profileId = gi->gpu->gip[gi->gip].id;
    info->placement.start = gi->start;
    info->placement.size = gi->size;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlGpuInstanceGetInfo(nvmlGpuInstance_t gpuInstance, nvmlGpuInstanceInfo_t *info)
{
    LOCKED(gi_info(gpuInstance, info));
}

static nvmlReturn_t destroy_gi(nvmlGpuInstance_t h)
{
    struct nvmlGpuInstance_st *gi;
    nvmlReturn_t r = resolve_gi(h, &gi);
    if (r != NVML_SUCCESS)
        return r;
    fn_gpu *g = gi->gpu;
    int fd = mig_begin(g);
    if (!gi->active) {
        r = NVML_ERROR_INVALID_ARGUMENT; /* destroyed meanwhile by another process */
    } else {
        int cis = 0;
        for (unsigned j = 0; j < FN_MAX_CI; j++)
            cis |= gi->ci[j].active;
        if (cis || has_processes(g, gi->id, FN_NO_ID)) {
            r = NVML_ERROR_IN_USE;
        } else {
            gi->active = 0;
            r = mig_commit(g);
        }
    }
    mig_end(fd);
    return r;
}

EXPORT nvmlReturn_t nvmlGpuInstanceDestroy(nvmlGpuInstance_t gpuInstance)
{
    LOCKED(destroy_gi(gpuInstance));
}

/* ---- exported: compute instances ---- */
static nvmlReturn_t cip_info(nvmlGpuInstance_t h, unsigned profile, unsigned eng, nvmlComputeInstanceProfileInfo_t *info)
{
    struct nvmlGpuInstance_st *gi;
    nvmlReturn_t r = resolve_gi(h, &gi);
    if (r != NVML_SUCCESS)
        return r;
    if (!info || profile >= NVML_COMPUTE_INSTANCE_PROFILE_COUNT || eng >= NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_COUNT)
        return NVML_ERROR_INVALID_ARGUMENT;
    const fn_gip *p = &gi->gpu->gip[gi->gip];
    unsigned c = ci_profile_slices(profile);
    if (!ci_size_allowed(p->slices, c))
        return NVML_ERROR_NOT_SUPPORTED;
    memset(info, 0, sizeof *info);
    info->id = profile;
    info->sliceCount = c;
    info->instanceCount = p->slices / c;
    info->multiprocessorCount = c == p->slices ? p->multiprocessors : p->multiprocessors * c / p->slices;
    info->sharedCopyEngineCount = p->copy_engines;
    info->sharedDecoderCount = p->decoders;
    info->sharedEncoderCount = p->encoders;
    info->sharedJpegCount = p->jpegs;
    info->sharedOfaCount = p->ofas;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstanceProfileInfo(nvmlGpuInstance_t gpuInstance, unsigned int profile,
                                                                 unsigned int engProfile,
                                                                 nvmlComputeInstanceProfileInfo_t *info)
{
    LOCKED(cip_info(gpuInstance, profile, engProfile, info));
}

static nvmlReturn_t create_ci(nvmlGpuInstance_t h, unsigned profile, nvmlComputeInstance_t *out)
{
    struct nvmlGpuInstance_st *gi;
    nvmlReturn_t r = resolve_gi(h, &gi);
    if (r != NVML_SUCCESS)
        return r;
    if (!out || profile >= NVML_COMPUTE_INSTANCE_PROFILE_COUNT)
        return NVML_ERROR_INVALID_ARGUMENT;
    fn_gpu *g = gi->gpu;
    int fd = mig_begin(g);
    struct nvmlComputeInstance_st *ci = NULL;
    if (!gi->active)
        r = NVML_ERROR_INVALID_ARGUMENT;
    else
        r = ci_create(gi, profile, -1, &ci);
    if (r == NVML_SUCCESS)
        r = mig_commit(g);
    mig_end(fd);
    if (r == NVML_SUCCESS)
        *out = ci;
    return r;
}

EXPORT nvmlReturn_t nvmlGpuInstanceCreateComputeInstance(nvmlGpuInstance_t gpuInstance, unsigned int profileId,
                                                         nvmlComputeInstance_t *computeInstance)
{
    LOCKED(create_ci(gpuInstance, profileId, computeInstance));
}

static nvmlReturn_t list_ci(nvmlGpuInstance_t h, unsigned profile, nvmlComputeInstance_t *out, unsigned *count)
{
    struct nvmlGpuInstance_st *gi;
    nvmlReturn_t r = resolve_gi(h, &gi);
    if (r != NVML_SUCCESS)
        return r;
    if (!out || !count || profile >= NVML_COMPUTE_INSTANCE_PROFILE_COUNT)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!ci_size_allowed(gi->gpu->gip[gi->gip].slices, ci_profile_slices(profile)))
        return NVML_ERROR_NOT_SUPPORTED;
    unsigned n = 0;
    for (unsigned j = 0; j < FN_MAX_CI; j++)
        if (gi->ci[j].active && gi->ci[j].profile_index == profile)
            out[n++] = &gi->ci[j];
    *count = n;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstances(nvmlGpuInstance_t gpuInstance, unsigned int profileId,
                                                       nvmlComputeInstance_t *computeInstances, unsigned int *count)
{
    LOCKED(list_ci(gpuInstance, profileId, computeInstances, count));
}

static nvmlReturn_t ci_info(nvmlComputeInstance_t h, nvmlComputeInstanceInfo_t *info)
{
    struct nvmlComputeInstance_st *ci;
    nvmlReturn_t r = resolve_ci(h, &ci);
    if (r != NVML_SUCCESS)
        return r;
    if (!info)
        return NVML_ERROR_INVALID_ARGUMENT;
    memset(info, 0, sizeof *info);
    info->device = &ci->gi->gpu->dev;
    info->gpuInstance = ci->gi;
    info->id = ci->id;
    info->profileId = ci->profile_index;
    info->placement.start = ci->start;
    info->placement.size = ci->slices;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlComputeInstanceGetInfo_v2(nvmlComputeInstance_t computeInstance, nvmlComputeInstanceInfo_t *info)
{
    LOCKED(ci_info(computeInstance, info));
}

static nvmlReturn_t destroy_ci(nvmlComputeInstance_t h)
{
    struct nvmlComputeInstance_st *ci;
    nvmlReturn_t r = resolve_ci(h, &ci);
    if (r != NVML_SUCCESS)
        return r;
    fn_gpu *g = ci->gi->gpu;
    int fd = mig_begin(g);
    if (!ci->active || !ci->gi->active) {
        r = NVML_ERROR_INVALID_ARGUMENT;
    } else if (has_processes(g, ci->gi->id, ci->id)) {
        r = NVML_ERROR_IN_USE;
    } else {
        ci->active = 0;
        r = mig_commit(g);
    }
    mig_end(fd);
    return r;
}

EXPORT nvmlReturn_t nvmlComputeInstanceDestroy(nvmlComputeInstance_t computeInstance)
{
    LOCKED(destroy_ci(computeInstance));
}
