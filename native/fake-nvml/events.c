/* Event sets: XID events from $EAS_FAKE_NVML_STATE/events, GPU_IS_LOST from gpu<N>.lost. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fake_nvml_internal.h"

#define POLL_MS 50

struct nvmlEventSet_st {
    struct nvmlEventSet_st *next;
    unsigned long long masks[FN_MAX_GPUS];
    unsigned char lost_reported[FN_MAX_GPUS];
    int have_file; /* the events file existed when last looked at */
    dev_t dev;
    ino_t ino;
    off_t offset; /* next unread byte */
};

static struct nvmlEventSet_st *g_sets;

static const unsigned long long SUPPORTED = nvmlEventTypeSingleBitEccError | nvmlEventTypeDoubleBitEccError |
                                            nvmlEventTypePState | nvmlEventTypeXidCriticalError | nvmlEventTypeClock;

static int set_valid(const struct nvmlEventSet_st *s)
{
    for (const struct nvmlEventSet_st *x = g_sets; x; x = x->next)
        if (x == s)
            return 1;
    return 0;
}

void fn_events_free_all(void)
{
    while (g_sets) {
        struct nvmlEventSet_st *n = g_sets->next;
        free(g_sets);
        g_sets = n;
    }
}

static nvmlReturn_t set_create(nvmlEventSet_t *out)
{
    if (!fn_refcount)
        return NVML_ERROR_UNINITIALIZED;
    if (!out)
        return NVML_ERROR_INVALID_ARGUMENT;
    struct nvmlEventSet_st *s = calloc(1, sizeof *s);
    if (!s)
        return NVML_ERROR_MEMORY;
    struct stat st;
    if (stat(fn_m->path_events, &st) == 0) { /* only events appended from now on */
        s->have_file = 1;
        s->dev = st.st_dev;
        s->ino = st.st_ino;
        s->offset = st.st_size;
    }
    s->next = g_sets;
    g_sets = s;
    *out = s;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set)
{
    LOCKED(set_create(set));
}

static nvmlReturn_t supported(nvmlDevice_t device, unsigned long long *types, fn_gpu **gout)
{
    struct nvmlDevice_st *d;
    nvmlReturn_t r = fn_resolve_device(device, &d, 1);
    if (r != NVML_SUCCESS)
        return r;
    if (d->ci)
        return NVML_ERROR_NOT_SUPPORTED; /* no per-MIG-device registration */
    *types = SUPPORTED | (d->gpu->mig_capable ? (unsigned long long)nvmlEventMigConfigChange : 0ULL);
    if (gout)
        *gout = d->gpu;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t device, unsigned long long *eventTypes)
{
    LOCK();
    unsigned long long t = 0;
    nvmlReturn_t r = eventTypes ? supported(device, &t, NULL)
                                : (fn_refcount ? NVML_ERROR_INVALID_ARGUMENT : NVML_ERROR_UNINITIALIZED);
    if (r == NVML_SUCCESS)
        *eventTypes = t;
    UNLOCK();
    return r;
}

static nvmlReturn_t reg(nvmlDevice_t device, unsigned long long types, nvmlEventSet_t set)
{
    unsigned long long sup = 0;
    fn_gpu *g = NULL;
    nvmlReturn_t r = supported(device, &sup, &g);
    if (r != NVML_SUCCESS)
        return r;
    if (!set_valid(set))
        return NVML_ERROR_INVALID_ARGUMENT;
    if (types & ~sup)
        return NVML_ERROR_NOT_SUPPORTED; /* the set stays usable */
    set->masks[g->index] |= types;
    set->lost_reported[g->index] = 0;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long eventTypes, nvmlEventSet_t set)
{
    LOCKED(reg(device, eventTypes, set));
}

/* Looks for the next event of the set (lock held): SUCCESS with *data, GPU_IS_LOST, or TIMEOUT for "nothing yet". */
static nvmlReturn_t poll_once(struct nvmlEventSet_st *s, nvmlEventData_t *data)
{
    int fd = open(fn_m->path_events, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (s->have_file) { /* removed: a new file starts from its beginning */
            s->have_file = 0;
            s->offset = 0;
        }
    } else {
        struct stat st;
        if (fstat(fd, &st) == 0) {
            if (!s->have_file || st.st_ino != s->ino || st.st_dev != s->dev) {
                s->have_file = 1;
                s->dev = st.st_dev;
                s->ino = st.st_ino;
                s->offset = 0; /* created or replaced after the set was */
            }
            if (st.st_size < s->offset)
                s->offset = 0; /* truncated */
            char buf[4096];
            for (;;) {
                ssize_t n = pread(fd, buf, sizeof buf - 1, s->offset);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0)
                    break;
                buf[n] = 0;
                char *nl = memchr(buf, '\n', (size_t)n);
                if (!nl) {
                    if (n == (ssize_t)sizeof buf - 1)
                        s->offset += n; /* an absurdly long line: skip it */
                    break;            /* else a line still being written */
                }
                *nl = 0;
                s->offset += (nl - buf) + 1;
                unsigned long gpu, xid, gi = FN_NO_ID, ci = FN_NO_ID;
                int k = sscanf(buf, "%lu %lu %lu %lu", &gpu, &xid, &gi, &ci);
                if ((k == 2 || k == 4) && gpu < fn_m->n_gpus && (s->masks[gpu] & nvmlEventTypeXidCriticalError)) {
                    fn_gpu *g = &fn_m->gpus[gpu];
                    data->device = &g->dev;
                    data->eventType = nvmlEventTypeXidCriticalError;
                    data->eventData = xid;
                    data->gpuInstanceId = k == 4 ? (unsigned)gi : FN_NO_ID;
                    data->computeInstanceId = k == 4 ? (unsigned)ci : FN_NO_ID;
                    close(fd);
                    return NVML_SUCCESS;
                }
            }
        }
        close(fd);
    }
    for (unsigned i = 0; i < fn_m->n_gpus && i < FN_MAX_GPUS; i++) {
        if (!s->masks[i])
            continue;
        int lost = fn_gpu_is_lost(&fn_m->gpus[i]);
        if (lost && !s->lost_reported[i]) {
            s->lost_reported[i] = 1;
            return NVML_ERROR_GPU_IS_LOST;
        }
        if (!lost)
            s->lost_reported[i] = 0;
    }
    return NVML_ERROR_TIMEOUT;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

EXPORT nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms)
{
    long long deadline = now_ms() + timeoutms;
    for (;;) {
        LOCK();
        nvmlReturn_t r;
        if (!fn_refcount)
            r = NVML_ERROR_UNINITIALIZED;
        else if (!data || !set_valid(set))
            r = NVML_ERROR_INVALID_ARGUMENT; /* also: the set was freed while waiting */
        else
            r = poll_once(set, data);
        UNLOCK(); /* never sleep holding the lock */
        if (r != NVML_ERROR_TIMEOUT)
            return r;
        long long left = deadline - now_ms();
        if (left <= 0)
            return NVML_ERROR_TIMEOUT;
        long long ms = left < POLL_MS ? left : POLL_MS;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
        nanosleep(&ts, NULL); /* EINTR: poll again early */
    }
}

static nvmlReturn_t set_free(nvmlEventSet_t set)
{
    if (!fn_refcount)
        return NVML_ERROR_UNINITIALIZED;
    for (struct nvmlEventSet_st **p = &g_sets; *p; p = &(*p)->next) {
        if (*p == set) {
            *p = set->next;
            free(set);
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_INVALID_ARGUMENT;
}

EXPORT nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set)
{
    LOCKED(set_free(set));
}
