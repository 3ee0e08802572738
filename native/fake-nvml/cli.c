/* fake-nvml: drive the fake NVML's runtime state (XIDs, lost GPUs, processes, utilisation) and show what NVML
 * reports. See README.md in this folder. Exit codes: 0 done, 1 I/O failure, 2 bad command line. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nvml.h"

#define DEFAULT_STATE "/tmp/eas-fake-nvml"
#define MAX_GPUS 64

static const char USAGE[] =
    "usage: fake-nvml [--state DIR] [--profile P] <command> [options]\n"
    "\n"
    "Drives the runtime state of the fake libnvidia-ml.so.1 (read by every process that loaded it)\n"
    "and shows what NVML reports. State folder: --state DIR, else $EAS_FAKE_NVML_STATE, else " DEFAULT_STATE ".\n"
    "\n"
    "commands:\n"
    "  xid --gpu N --code C [--gi G --ci C]   append an XID event for GPU N (XID 79, \"fallen off the bus\",\n"
    "                                          also marks the GPU lost)\n"
    "  lost --gpu N                           mark GPU N lost: its NVML calls return GPU_IS_LOST (15)\n"
    "  clear --gpu N                          GPU N answers again\n"
    "  process --gpu N --pid PID --used-mib M [--sm PCT] [--gi G --ci C]\n"
    "                                         add or update a compute process (host pid); --used-mib 0 removes it;\n"
    "                                         --gi/--ci put it on that MIG device\n"
    "  process --gpu N --clear                remove all processes of GPU N\n"
    "  util --gpu N --percent P [--memory-percent Q]\n"
    "                                         override GPU N's utilisation (percent 0..100)\n"
    "  util --gpu N --clear                   back to the profile's utilisation\n"
    "  list                                   load the libnvidia-ml.so.1 beside this program and print what it\n"
    "                                         reports: GPUs, UUIDs, memory, MIG devices, lost GPUs, processes\n"
    "\n"
    "--profile P (or $EAS_FAKE_NVML_PROFILE): <N>x<MODEL> such as 2xH100-80GB, or a machine .json file.\n"
    "When a profile is known, --gpu is checked against its GPU count.\n";

static const char *g_state;
static const char *g_profile;

static void die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fake-nvml: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (code == 2)
        fputs("run 'fake-nvml --help' for usage\n", stderr);
    exit(code);
}

static unsigned parse_uint(const char *opt, const char *s, unsigned long max)
{
    if (!s)
        die(2, "%s needs a value", opt);
    const char *p = s;
    if (!*p)
        die(2, "%s: empty value (expected an integer from 0 to %lu)", opt, max);
    for (; *p; p++)
        if (*p < '0' || *p > '9')
            die(2, "%s: \"%s\" is not a number (expected an integer from 0 to %lu)", opt, s, max);
    errno = 0;
    unsigned long v = strtoul(s, NULL, 10);
    if (errno || v > max)
        die(2, "%s: %s is out of range (expected an integer from 0 to %lu)", opt, s, max);
    return (unsigned)v;
}

/* ---- the library beside this program ---- */
static void *open_lib(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        die(1, "cannot find this program's folder (/proc/self/exe): %s", strerror(errno));
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    *slash = 0;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/libnvidia-ml.so.1", exe);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        die(1, "cannot load %s: %s (build it with make -C native/fake-nvml)", path, dlerror());
    return h;
}

#define SYM(h, name) ((__typeof__(&name))sym((h), #name))
static void *sym(void *h, const char *name)
{
    void *p = dlsym(h, name);
    if (!p)
        die(1, "the library does not export %s", name);
    return p;
}

static void export_env(void)
{
    setenv("EAS_FAKE_NVML_STATE", g_state, 1);
    if (g_profile)
        setenv("EAS_FAKE_NVML_PROFILE", g_profile, 1);
}

/* GPU count of the known profile, or -1 when no profile is set. */
static int profile_gpu_count(void)
{
    if (!g_profile)
        return -1;
    export_env();
    setenv("EAS_FAKE_NVML_QUIET", "1", 1);
    void *h = open_lib();
    nvmlReturn_t r = SYM(h, nvmlInit_v2)();
    if (r != NVML_SUCCESS)
        die(2, "%s", SYM(h, nvmlErrorString)(r));
    unsigned n = 0;
    SYM(h, nvmlDeviceGetCount_v2)(&n);
    SYM(h, nvmlShutdown)();
    dlclose(h);
    unsetenv("EAS_FAKE_NVML_QUIET");
    return (int)n;
}

static unsigned check_gpu(const char *s)
{
    unsigned gpu = parse_uint("--gpu", s, MAX_GPUS - 1);
    int n = profile_gpu_count();
    if (n >= 0 && gpu >= (unsigned)n)
        die(2, "--gpu: GPU %u does not exist; profile %s has %d GPU(s) (indices 0..%d)", gpu, g_profile, n, n - 1);
    return gpu;
}

/* ---- state files ---- */
static void ensure_state_dir(void)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", g_state) >= (int)sizeof tmp)
        die(2, "--state: the path is too long");
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
                die(1, "cannot create the state folder %s: %s", tmp, strerror(errno));
            *p = '/';
        }
    }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        die(1, "cannot create the state folder %s: %s", g_state, strerror(errno));
}

static void state_path(char *out, size_t len, const char *fmt, unsigned gpu)
{
    char name[64];
    snprintf(name, sizeof name, fmt, gpu);
    if (snprintf(out, len, "%s/%s", g_state, name) >= (int)len)
        die(2, "--state: the path is too long");
}

static void write_atomic(const char *path, const char *data)
{
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f || fputs(data, f) < 0 || fclose(f) != 0) {
        int e = errno;
        unlink(tmp);
        die(1, "cannot write %s: %s", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        die(1, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
}

static int lock_state(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/.fake-nvml.lock", g_state);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        die(1, "cannot open %s: %s", path, strerror(errno));
    while (flock(fd, LOCK_EX) != 0 && errno == EINTR)
        ;
    return fd;
}

static void mark_lost(unsigned gpu, const char *why)
{
    char path[PATH_MAX];
    state_path(path, sizeof path, "gpu%u.lost", gpu);
    write_atomic(path, why);
}

/* ---- commands ---- */
typedef struct {
    const char *gpu, *code, *gi, *ci, *pid, *used, *sm, *percent, *mem_percent;
    int clear;
} opts_t;

static void cmd_xid(const opts_t *o)
{
    if (!o->gpu || !o->code)
        die(2, "xid needs --gpu N and --code C");
    unsigned gpu = check_gpu(o->gpu), code = parse_uint("--code", o->code, 0xFFFFFFFFul);
    if (!!o->gi != !!o->ci)
        die(2, "xid: give both --gi and --ci, or neither");
    char line[128];
    if (o->gi)
        snprintf(line, sizeof line, "%u %u %u %u\n", gpu, code, parse_uint("--gi", o->gi, 15),
                 parse_uint("--ci", o->ci, 7));
    else
        snprintf(line, sizeof line, "%u %u\n", gpu, code);
    ensure_state_dir();
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/events", g_state);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        die(1, "cannot open %s: %s", path, strerror(errno));
    size_t len = strlen(line);
    if (write(fd, line, len) != (ssize_t)len) /* one small O_APPEND write: readers never see half a line */
        die(1, "cannot append to %s: %s", path, strerror(errno));
    close(fd);
    printf("GPU %u: XID %u appended to %s\n", gpu, code, path);
    if (code == 79) {
        mark_lost(gpu, "xid 79\n");
        printf("GPU %u: marked lost (XID 79, fallen off the bus)\n", gpu);
    }
}

static void cmd_lost(const opts_t *o)
{
    if (!o->gpu)
        die(2, "lost needs --gpu N");
    unsigned gpu = check_gpu(o->gpu);
    ensure_state_dir();
    mark_lost(gpu, "lost\n");
    printf("GPU %u: marked lost\n", gpu);
}

static void cmd_clear(const opts_t *o)
{
    if (!o->gpu)
        die(2, "clear needs --gpu N");
    unsigned gpu = check_gpu(o->gpu);
    char path[PATH_MAX];
    state_path(path, sizeof path, "gpu%u.lost", gpu);
    if (unlink(path) != 0 && errno != ENOENT)
        die(1, "cannot remove %s: %s", path, strerror(errno));
    printf("GPU %u: not lost\n", gpu);
}

typedef struct {
    unsigned long pid, sm, gi, ci;
    unsigned long long mib;
    int has_mig;
} proc_t;

static void cmd_process(const opts_t *o)
{
    if (!o->gpu)
        die(2, "process needs --gpu N");
    unsigned gpu = check_gpu(o->gpu);
    if (o->clear && (o->pid || o->used || o->sm || o->gi || o->ci))
        die(2, "process --clear takes no --pid/--used-mib/--sm/--gi/--ci");
    if (!o->clear && (!o->pid || !o->used))
        die(2, "process needs --pid PID and --used-mib M (or --clear)");
    if (!!o->gi != !!o->ci)
        die(2, "process: give both --gi and --ci, or neither");
    proc_t add = {0};
    if (!o->clear) {
        add.pid = parse_uint("--pid", o->pid, 0x7FFFFFFF);
        if (add.pid == 0)
            die(2, "--pid: 0 is not a process id");
        add.mib = parse_uint("--used-mib", o->used, 0xFFFFFFFFul);
        add.sm = o->sm ? parse_uint("--sm", o->sm, 100) : 0;
        if (o->gi) {
            add.has_mig = 1;
            add.gi = parse_uint("--gi", o->gi, 15);
            add.ci = parse_uint("--ci", o->ci, 7);
        }
    }
    ensure_state_dir();
    int lock = lock_state();
    char path[PATH_MAX];
    state_path(path, sizeof path, "gpu%u.processes", gpu);
    size_t cap = 64, n = 0;
    proc_t *list = malloc(cap * sizeof *list);
    if (!list)
        die(1, "out of memory");
    FILE *f = o->clear ? NULL : fopen(path, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        proc_t p = {0};
        int k = sscanf(line, "%lu %llu %lu %lu %lu", &p.pid, &p.mib, &p.sm, &p.gi, &p.ci);
        if (k < 2 || p.pid == add.pid)
            continue;
        p.has_mig = k == 5;
        if (n == cap) {
            proc_t *nl = realloc(list, (cap *= 2) * sizeof *list);
            if (!nl)
                die(1, "out of memory");
            list = nl;
        }
        list[n++] = p;
    }
    if (f)
        fclose(f);
    if (!o->clear && add.mib > 0) {
        if (n == cap) {
            proc_t *nl = realloc(list, (cap += 1) * sizeof *list);
            if (!nl)
                die(1, "out of memory");
            list = nl;
        }
        list[n++] = add;
    }
    size_t bufcap = 128 + n * 96, used = 0;
    char *buf = malloc(bufcap);
    if (!buf)
        die(1, "out of memory");
    used += (size_t)snprintf(buf, bufcap, "# <pid> <used_mib> <sm_util_percent> [<gpu_instance_id> <compute_instance_id>]\n");
    for (size_t i = 0; i < n; i++) {
        if (list[i].has_mig)
            used += (size_t)snprintf(buf + used, bufcap - used, "%lu %llu %lu %lu %lu\n", list[i].pid, list[i].mib,
                                     list[i].sm, list[i].gi, list[i].ci);
        else
            used += (size_t)snprintf(buf + used, bufcap - used, "%lu %llu %lu\n", list[i].pid, list[i].mib,
                                     list[i].sm);
    }
    write_atomic(path, buf);
    close(lock);
    free(buf);
    free(list);
    if (o->clear)
        printf("GPU %u: no processes\n", gpu);
    else if (add.mib == 0)
        printf("GPU %u: process %lu removed\n", gpu, add.pid);
    else
        printf("GPU %u: process %lu uses %llu MiB, SM %lu%%\n", gpu, add.pid, add.mib, add.sm);
}

static void cmd_util(const opts_t *o)
{
    if (!o->gpu)
        die(2, "util needs --gpu N");
    unsigned gpu = check_gpu(o->gpu);
    char path[PATH_MAX];
    state_path(path, sizeof path, "gpu%u.utilization", gpu);
    if (o->clear) {
        if (o->percent || o->mem_percent)
            die(2, "util --clear takes no --percent/--memory-percent");
        if (unlink(path) != 0 && errno != ENOENT)
            die(1, "cannot remove %s: %s", path, strerror(errno));
        printf("GPU %u: utilisation from the profile\n", gpu);
        return;
    }
    if (!o->percent)
        die(2, "util needs --percent P (or --clear)");
    unsigned p = parse_uint("--percent", o->percent, 100);
    char text[64];
    if (o->mem_percent)
        snprintf(text, sizeof text, "%u %u\n", p, parse_uint("--memory-percent", o->mem_percent, 100));
    else
        snprintf(text, sizeof text, "%u\n", p);
    ensure_state_dir();
    write_atomic(path, text);
    printf("GPU %u: utilisation %s", gpu, text);
}

/* ---- list ---- */
static const char *mib(unsigned long long bytes, char *buf, size_t len)
{
    snprintf(buf, len, "%llu MiB", bytes >> 20);
    return buf;
}

static void list_processes(void *h, nvmlDevice_t d, const char *indent)
{
    unsigned n = 0;
    nvmlReturn_t r = SYM(h, nvmlDeviceGetComputeRunningProcesses_v3)(d, &n, NULL);
    if (r == NVML_SUCCESS && n == 0) {
        printf("%sprocesses: none\n", indent);
        return;
    }
    if (r != NVML_ERROR_INSUFFICIENT_SIZE) {
        printf("%sprocesses: %s\n", indent, SYM(h, nvmlErrorString)(r));
        return;
    }
    nvmlProcessInfo_t *p = calloc(n + 4, sizeof *p);
    if (!p)
        die(1, "out of memory");
    n += 4;
    r = SYM(h, nvmlDeviceGetComputeRunningProcesses_v3)(d, &n, p);
    if (r != NVML_SUCCESS) {
        printf("%sprocesses: %s\n", indent, SYM(h, nvmlErrorString)(r));
    } else {
        printf("%sprocesses: %u\n", indent, n);
        for (unsigned i = 0; i < n; i++) {
            char b[32];
            printf("%s  pid %u  %s", indent, p[i].pid, mib(p[i].usedGpuMemory, b, sizeof b));
            if (p[i].gpuInstanceId != 0xFFFFFFFFu)
                printf("  GI %u CI %u", p[i].gpuInstanceId, p[i].computeInstanceId);
            printf("\n");
        }
    }
    free(p);
}

static int cmd_list(void)
{
    if (!g_profile)
        die(2, "list needs a profile: --profile P or EAS_FAKE_NVML_PROFILE (e.g. 2xH100-80GB)");
    export_env();
    setenv("EAS_FAKE_NVML_QUIET", "1", 1);
    void *h = open_lib();
    __typeof__(&nvmlErrorString) es = SYM(h, nvmlErrorString);
    nvmlReturn_t r = SYM(h, nvmlInit_v2)();
    if (r != NVML_SUCCESS)
        die(2, "nvmlInit_v2: %s", es(r));
    char drv[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE], ver[NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE];
    int cuda = 0;
    unsigned count = 0;
    SYM(h, nvmlSystemGetDriverVersion)(drv, sizeof drv);
    SYM(h, nvmlSystemGetNVMLVersion)(ver, sizeof ver);
    SYM(h, nvmlSystemGetCudaDriverVersion_v2)(&cuda);
    SYM(h, nvmlDeviceGetCount_v2)(&count);
    printf("profile %s, state %s\n", g_profile, g_state);
    printf("driver %s, CUDA %d.%d, NVML %s, %u GPU(s)\n", drv, NVML_CUDA_DRIVER_VERSION_MAJOR(cuda),
           NVML_CUDA_DRIVER_VERSION_MINOR(cuda), ver, count);
    for (unsigned i = 0; i < count; i++) {
        nvmlDevice_t d;
        r = SYM(h, nvmlDeviceGetHandleByIndex_v2)(i, &d);
        if (r != NVML_SUCCESS) {
            printf("GPU %u: %s%s\n", i, es(r), r == NVML_ERROR_GPU_IS_LOST ? " (LOST; 'fake-nvml clear' revives it)" : "");
            continue;
        }
        char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE], uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE], b1[32], b2[32], b3[32];
        SYM(h, nvmlDeviceGetName)(d, name, sizeof name);
        SYM(h, nvmlDeviceGetUUID)(d, uuid, sizeof uuid);
        printf("GPU %u: %s, %s\n", i, name, uuid);
        nvmlPciInfo_t pci;
        unsigned minor = 0;
        int ccM = 0, ccm = 0;
        SYM(h, nvmlDeviceGetPciInfo_v3)(d, &pci);
        SYM(h, nvmlDeviceGetMinorNumber)(d, &minor);
        SYM(h, nvmlDeviceGetCudaComputeCapability)(d, &ccM, &ccm);
        printf("  pci %s (id 0x%08X), minor %u (/dev/nvidia%u), compute capability %d.%d\n", pci.busId,
               pci.pciDeviceId, minor, minor, ccM, ccm);
        nvmlMemory_v2_t m = {.version = nvmlMemory_v2};
        SYM(h, nvmlDeviceGetMemoryInfo_v2)(d, &m);
        printf("  memory %s total, %s used (%llu MiB reserved), %s free\n", mib(m.total, b1, sizeof b1),
               mib(m.used, b2, sizeof b2), m.reserved >> 20, mib(m.free, b3, sizeof b3));
        nvmlUtilization_t u = {0};
        unsigned temp = 0, pw = 0;
        SYM(h, nvmlDeviceGetUtilizationRates)(d, &u);
        SYM(h, nvmlDeviceGetTemperature)(d, NVML_TEMPERATURE_GPU, &temp);
        SYM(h, nvmlDeviceGetPowerUsage)(d, &pw);
        printf("  utilization gpu %u%%, memory %u%%; temperature %u C; power %.1f W\n", u.gpu, u.memory, temp,
               pw / 1000.0);
        unsigned cur = 0, pend = 0;
        r = SYM(h, nvmlDeviceGetMigMode)(d, &cur, &pend);
        if (r == NVML_ERROR_NOT_SUPPORTED) {
            printf("  MIG: not supported\n");
        } else if (r != NVML_SUCCESS) {
            printf("  MIG: %s\n", es(r));
        } else if (!cur) {
            printf("  MIG: disabled\n");
        } else {
            unsigned max = 0, found = 0;
            SYM(h, nvmlDeviceGetMaxMigDeviceCount)(d, &max);
            for (unsigned k = 0; k < max; k++) {
                nvmlDevice_t md;
                if (SYM(h, nvmlDeviceGetMigDeviceHandleByIndex)(d, k, &md) == NVML_SUCCESS)
                    found++;
            }
            printf("  MIG: enabled, %u MIG device(s) (at most %u)\n", found, max);
            for (unsigned k = 0; k < max; k++) {
                nvmlDevice_t md;
                if (SYM(h, nvmlDeviceGetMigDeviceHandleByIndex)(d, k, &md) != NVML_SUCCESS)
                    continue;
                unsigned gi = 0, ci = 0;
                nvmlMemory_t mm = {0};
                SYM(h, nvmlDeviceGetName)(md, name, sizeof name);
                SYM(h, nvmlDeviceGetUUID)(md, uuid, sizeof uuid);
                SYM(h, nvmlDeviceGetGpuInstanceId)(md, &gi);
                SYM(h, nvmlDeviceGetComputeInstanceId)(md, &ci);
                SYM(h, nvmlDeviceGetMemoryInfo)(md, &mm);
                printf("    MIG %u: %s, %s, GI %u CI %u, memory %s total, %s used\n", k, name, uuid, gi, ci,
                       mib(mm.total, b1, sizeof b1), mib(mm.used, b2, sizeof b2));
            }
        }
        list_processes(h, d, "  ");
    }
    SYM(h, nvmlShutdown)();
    dlclose(h);
    return 0;
}

/* ---- argument parsing ---- */
static const char *take(int argc, char **argv, int *i, const char *name)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (a[n] == '=')
        return a + n + 1;
    if (*i + 1 >= argc)
        die(2, "%s needs a value", name);
    return argv[++*i];
}

static int is_opt(const char *a, const char *name)
{
    size_t n = strlen(name);
    return strncmp(a, name, n) == 0 && (a[n] == 0 || a[n] == '=');
}

int main(int argc, char **argv)
{
    opts_t o = {0};
    const char *cmd = NULL;
    g_state = getenv("EAS_FAKE_NVML_STATE");
    if (!g_state || !*g_state)
        g_state = DEFAULT_STATE;
    g_profile = getenv("EAS_FAKE_NVML_PROFILE");
    if (g_profile && !*g_profile)
        g_profile = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "help") == 0) {
            fputs(USAGE, stdout);
            return 0;
        }
#define OPT(name, field)                                                                                               \
    if (is_opt(a, name)) {                                                                                             \
        o.field = take(argc, argv, &i, name);                                                                          \
        continue;                                                                                                      \
    }
        if (is_opt(a, "--state")) {
            g_state = take(argc, argv, &i, "--state");
            if (!*g_state)
                die(2, "--state: empty folder name");
            continue;
        }
        if (is_opt(a, "--profile")) {
            g_profile = take(argc, argv, &i, "--profile");
            if (!*g_profile)
                die(2, "--profile: empty (use <N>x<MODEL> or a machine .json file)");
            continue;
        }
        OPT("--gpu", gpu)
        OPT("--code", code)
        OPT("--gi", gi)
        OPT("--ci", ci)
        OPT("--pid", pid)
        OPT("--used-mib", used)
        OPT("--sm", sm)
        OPT("--percent", percent)
        OPT("--memory-percent", mem_percent)
#undef OPT
        if (strcmp(a, "--clear") == 0) {
            o.clear = 1;
            continue;
        }
        if (a[0] == '-')
            die(2, "unknown option %s", a);
        if (cmd)
            die(2, "unexpected argument \"%s\" (one command at a time)", a);
        cmd = a;
    }
    if (!cmd) {
        fputs(USAGE, stderr);
        return 2;
    }
    /* options each command takes (--state and --profile go with all) */
    static const struct {
        const char *cmd, *allowed;
    } takes[] = {{"xid", "gpu code gi ci"},
                 {"lost", "gpu"},
                 {"clear", "gpu"},
                 {"process", "gpu pid used sm gi ci clear"},
                 {"util", "gpu percent mem_percent clear"},
                 {"list", ""}};
    const struct {
        const char *key, *opt;
        int given;
    } given[] = {{"gpu", "--gpu", o.gpu != NULL},        {"code", "--code", o.code != NULL},
                 {"gi", "--gi", o.gi != NULL},           {"ci", "--ci", o.ci != NULL},
                 {"pid", "--pid", o.pid != NULL},        {"used", "--used-mib", o.used != NULL},
                 {"sm", "--sm", o.sm != NULL},           {"percent", "--percent", o.percent != NULL},
                 {"mem_percent", "--memory-percent", o.mem_percent != NULL},
                 {"clear", "--clear", o.clear}};
    for (size_t c = 0; c < sizeof takes / sizeof takes[0]; c++) {
        if (strcmp(takes[c].cmd, cmd) != 0)
            continue;
        for (size_t g = 0; g < sizeof given / sizeof given[0]; g++) {
            char word[32];
            snprintf(word, sizeof word, " %s ", given[g].key);
            char allowed[128];
            snprintf(allowed, sizeof allowed, " %s ", takes[c].allowed);
            if (given[g].given && !strstr(allowed, word))
                die(2, "%s does not belong to '%s'", given[g].opt, cmd);
        }
    }
    if (strcmp(cmd, "xid") == 0)
        cmd_xid(&o);
    else if (strcmp(cmd, "lost") == 0)
        cmd_lost(&o);
    else if (strcmp(cmd, "clear") == 0)
        cmd_clear(&o);
    else if (strcmp(cmd, "process") == 0)
        cmd_process(&o);
    else if (strcmp(cmd, "util") == 0)
        cmd_util(&o);
    else if (strcmp(cmd, "list") == 0)
        return cmd_list();
    else
        die(2, "unknown command \"%s\" (xid, lost, clear, process, util, list)", cmd);
    return 0;
}
