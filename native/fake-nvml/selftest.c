/* selftest: repeated init/shutdown (for leak checkers) and concurrent calls (for thread safety) against the
 * fake libnvidia-ml.so.1. test.sh builds it into build/selftest and runs it, under valgrind when installed.
 * Needs EAS_FAKE_NVML_STATE set to an empty folder; sets EAS_FAKE_NVML_PROFILE itself. Exit 0 = passed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvml.h"

static int g_fail;
#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "selftest FAIL (line %d): ", __LINE__);                                                    \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
            __atomic_store_n(&g_fail, 1, __ATOMIC_SEQ_CST);                                                            \
        }                                                                                                              \
    } while (0)

static int g_stop;

static void *querier(void *arg)
{
    (void)arg;
    unsigned iterations = 0;
    while (!__atomic_load_n(&g_stop, __ATOMIC_SEQ_CST) || iterations < 200) {
        unsigned n = 0;
        CHECK(nvmlDeviceGetCount_v2(&n) == NVML_SUCCESS && n == 2, "count");
        for (unsigned i = 0; i < n; i++) {
            nvmlDevice_t d;
            char name[96];
            nvmlMemory_t m;
            unsigned cnt = 8;
            nvmlProcessInfo_t p[8];
            CHECK(nvmlDeviceGetHandleByIndex_v2(i, &d) == NVML_SUCCESS, "handle");
            CHECK(nvmlDeviceGetName(d, name, sizeof name) == NVML_SUCCESS, "name");
            CHECK(nvmlDeviceGetMemoryInfo(d, &m) == NVML_SUCCESS, "memory");
            CHECK(nvmlDeviceGetComputeRunningProcesses_v3(d, &cnt, p) == NVML_SUCCESS, "processes");
            for (unsigned k = 0; k < 7; k++) {
                nvmlDevice_t md;
                if (nvmlDeviceGetMigDeviceHandleByIndex(d, k, &md) == NVML_SUCCESS)
                    CHECK(nvmlDeviceGetName(md, name, sizeof name) == NVML_SUCCESS, "MIG name");
            }
        }
        iterations++;
    }
    return NULL;
}

static void *waiter(void *arg)
{
    nvmlEventSet_t set = arg;
    for (int i = 0; i < 500; i++) { /* up to ~10 s */
        nvmlEventData_t e;
        nvmlReturn_t r = nvmlEventSetWait_v2(set, &e, 20);
        if (r == NVML_SUCCESS) {
            CHECK(e.eventData == 43 && e.eventType == nvmlEventTypeXidCriticalError, "event %llu", e.eventData);
            return NULL;
        }
        CHECK(r == NVML_ERROR_TIMEOUT, "wait returned %d", r);
    }
    CHECK(0, "the waiter never saw XID 43");
    return NULL;
}

int main(void)
{
    const char *state = getenv("EAS_FAKE_NVML_STATE");
    if (!state) {
        fprintf(stderr, "selftest: set EAS_FAKE_NVML_STATE\n");
        return 2;
    }
    setenv("EAS_FAKE_NVML_PROFILE", "2xH100-80GB-MIG", 1);

    /* repeated init/shutdown with sets left open (freed by the last nvmlShutdown) */
    for (int it = 0; it < 30; it++) {
        CHECK(nvmlInit_v2() == NVML_SUCCESS, "init");
        CHECK(nvmlInit_v2() == NVML_SUCCESS, "init 2");
        nvmlEventSet_t set;
        nvmlDevice_t d, md;
        CHECK(nvmlEventSetCreate(&set) == NVML_SUCCESS, "set");
        CHECK(nvmlDeviceGetHandleByIndex_v2(1, &d) == NVML_SUCCESS, "handle");
        CHECK(nvmlDeviceRegisterEvents(d, nvmlEventTypeXidCriticalError, set) == NVML_SUCCESS, "register");
        CHECK(nvmlDeviceGetMigDeviceHandleByIndex(d, 3, &md) == NVML_SUCCESS, "MIG 3");
        char uuid[96];
        CHECK(nvmlDeviceGetUUID(md, uuid, sizeof uuid) == NVML_SUCCESS && strncmp(uuid, "MIG-", 4) == 0, "MIG uuid");
        CHECK(nvmlShutdown() == NVML_SUCCESS, "shutdown 1");
        CHECK(nvmlShutdown() == NVML_SUCCESS, "shutdown 2");
    }
    CHECK(nvmlShutdown() == NVML_ERROR_UNINITIALIZED, "shutdown without init");
    setenv("EAS_FAKE_NVML_PROFILE", "nonsense", 1);
    setenv("EAS_FAKE_NVML_QUIET", "1", 1);
    CHECK(nvmlInit_v2() == NVML_ERROR_DRIVER_NOT_LOADED, "bad profile");
    setenv("EAS_FAKE_NVML_PROFILE", "2xH100-80GB-MIG", 1);

    /* concurrent queries while another thread waits for an event */
    CHECK(nvmlInit_v2() == NVML_SUCCESS, "init");
    nvmlEventSet_t set;
    nvmlDevice_t d0;
    CHECK(nvmlEventSetCreate(&set) == NVML_SUCCESS, "set");
    CHECK(nvmlDeviceGetHandleByIndex_v2(0, &d0) == NVML_SUCCESS, "handle");
    CHECK(nvmlDeviceRegisterEvents(d0, nvmlEventTypeXidCriticalError, set) == NVML_SUCCESS, "register");
    pthread_t q[4], w;
    pthread_create(&w, NULL, waiter, set);
    for (int i = 0; i < 4; i++)
        pthread_create(&q[i], NULL, querier, NULL);
    char path[4096];
    snprintf(path, sizeof path, "%s/events", state);
    FILE *f = fopen(path, "a");
    CHECK(f != NULL, "open %s", path);
    if (f) {
        fputs("0 43\n", f);
        fclose(f);
    }
    pthread_join(w, NULL);
    __atomic_store_n(&g_stop, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 4; i++)
        pthread_join(q[i], NULL);
    CHECK(nvmlEventSetFree(set) == NVML_SUCCESS, "free");
    CHECK(nvmlShutdown() == NVML_SUCCESS, "shutdown");
    if (!g_fail)
        printf("selftest: init/shutdown loop and concurrent calls passed\n");
    return g_fail;
}
