/* Machine profiles: EAS_FAKE_NVML_PROFILE (<N>x<MODEL> or a machine .json), model files, the state dir. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_nvml_internal.h"

#define DEFAULT_STATE_DIR "/tmp/eas-fake-nvml"
#define DEFAULT_DRIVER_VERSION "550.54.15"
#define DEFAULT_CUDA_DRIVER_VERSION 12040

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- deterministic UUIDs: two mixed FNV-1a 64-bit hashes of the seed ---- */
static unsigned long long fnv1a(const char *s, unsigned long long h)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static unsigned long long mix64(unsigned long long z) /* splitmix64 finalizer: every input bit moves every output bit */
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void fn_uuid_format(char *out, size_t outlen, const char *prefix, const char *seed)
{
    unsigned long long a = mix64(fnv1a(seed, 0xcbf29ce484222325ULL));
    unsigned long long b = mix64(fnv1a(seed, 0x84222325cbf29ce4ULL) ^ a);
    snprintf(out, outlen, "%s%08llx-%04llx-%04llx-%04llx-%012llx", prefix, a >> 32, (a >> 16) & 0xffff, a & 0xffff,
             b >> 48, b & 0xffffffffffffULL);
}

/* ---- small file/dir helpers ---- */
static int mkdir_p(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static char *read_text_file(const char *path, int *err_no)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err_no = errno;
        return NULL;
    }
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
        if (len + 1 == cap) {
            if (cap > (16u << 20)) { /* a profile is never this big */
                free(buf);
                buf = NULL;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    *err_no = (buf == NULL) ? ENOMEM : (ferror(f) ? EIO : 0);
    fclose(f);
    if (buf && *err_no) {
        free(buf);
        return NULL;
    }
    if (buf)
        buf[len] = 0;
    return buf;
}

static cJSON *parse_json_file(const char *path, const char *what, char *err, size_t errlen)
{
    int e = 0;
    char *text = read_text_file(path, &e);
    if (!text) {
        seterr(err, errlen, "%s %s cannot be read: %s", what, path, strerror(e));
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root) {
        int line = 1;
        for (const char *p = text; end && p < end && *p; p++)
            if (*p == '\n')
                line++;
        seterr(err, errlen, "%s %s is not valid JSON (syntax error near line %d); fix the file", what, path, line);
    } else if (!cJSON_IsObject(root)) {
        seterr(err, errlen, "%s %s must hold a JSON object ({...})", what, path);
        cJSON_Delete(root);
        root = NULL;
    }
    free(text);
    return root;
}

static int json_file(const struct dirent *de)
{
    size_t n = strlen(de->d_name);
    return n > 5 && strcmp(de->d_name + n - 5, ".json") == 0;
}

static void list_models(const char *dir, char *out, size_t outlen)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, json_file, alphasort);
    size_t used = 0;
    out[0] = 0;
    if (n < 0) {
        snprintf(out, outlen, "none: the folder cannot be read");
        return;
    }
    for (int i = 0; i < n; i++) {
        if (used + 2 < outlen) {
            int w = snprintf(out + used, outlen - used, "%s%.*s", used ? ", " : "",
                             (int)(strlen(names[i]->d_name) - 5), names[i]->d_name);
            if (w > 0)
                used = used + (size_t)w < outlen ? used + (size_t)w : outlen - 1;
        }
        free(names[i]);
    }
    free(names);
    if (!used)
        snprintf(out, outlen, "none");
}

static void profile_dir(char *out, size_t outlen)
{
    const char *env = getenv("EAS_FAKE_NVML_PROFILE_DIR");
    if (env && *env) {
        snprintf(out, outlen, "%s", env);
        return;
    }
    Dl_info info;
    if (dladdr((void *)&profile_dir, &info) && info.dli_fname && strchr(info.dli_fname, '/')) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s", info.dli_fname);
        char *slash = strrchr(tmp, '/');
        *slash = 0;
        snprintf(out, outlen, "%s/profiles", tmp[0] ? tmp : "/");
        return;
    }
    snprintf(out, outlen, "profiles");
}

/* ---- typed JSON getters; each returns 0, or -1 with err set naming the field ---- */
static int get_uint(const cJSON *o, const char *key, unsigned long long max, int required, unsigned long long *out,
                    const char *ctx, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (required) {
            seterr(err, errlen, "%s: \"%s\" is required", ctx, key);
            return -1;
        }
        return 0;
    }
    if (cJSON_IsString(v)) { /* hex strings for PCI ids: "0x2330" */
        char *end = NULL;
        errno = 0;
        unsigned long long x = strtoull(v->valuestring, &end, 0);
        if (errno || !end || *end || v->valuestring[0] == '-' || v->valuestring[0] == 0 || x > max) {
            seterr(err, errlen, "%s: \"%s\" must be an integer from 0 to %llu (decimal or 0x hex), got \"%s\"", ctx, key,
                   max, v->valuestring);
            return -1;
        }
        *out = x;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > (double)max ||
        v->valuedouble != (double)(unsigned long long)v->valuedouble) {
        seterr(err, errlen, "%s: \"%s\" must be an integer from 0 to %llu", ctx, key, max);
        return -1;
    }
    *out = (unsigned long long)v->valuedouble;
    return 0;
}

static int get_u32(const cJSON *o, const char *key, unsigned max, int required, unsigned *out, const char *ctx,
                   char *err, size_t errlen)
{
    unsigned long long x = *out;
    if (get_uint(o, key, max, required, &x, ctx, err, errlen))
        return -1;
    *out = (unsigned)x;
    return 0;
}

static int get_str(const cJSON *o, const char *key, int required, char *out, size_t outlen, const char *ctx, char *err,
                   size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (required) {
            seterr(err, errlen, "%s: \"%s\" is required", ctx, key);
            return -1;
        }
        return 0;
    }
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= outlen) {
        seterr(err, errlen, "%s: \"%s\" must be a non-empty string of at most %zu characters", ctx, key, outlen - 1);
        return -1;
    }
    snprintf(out, outlen, "%s", v->valuestring);
    return 0;
}

static int get_bool(const cJSON *o, const char *key, int *out, const char *ctx, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return 0;
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v);
        return 0;
    }
    if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1)) {
        *out = (int)v->valuedouble;
        return 0;
    }
    seterr(err, errlen, "%s: \"%s\" must be true or false", ctx, key);
    return -1;
}

static int check_keys(const cJSON *o, const char *const *allowed, const char *ctx, char *err, size_t errlen)
{
    for (const cJSON *c = o->child; c; c = c->next) {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, c->string) == 0)
                ok = 1;
        if (!ok) {
            char list[1024];
            size_t used = 0;
            list[0] = 0;
            for (const char *const *a = allowed; *a; a++) {
                int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", *a);
                if (w < 0 || (size_t)w >= sizeof list - used)
                    break;
                used += (size_t)w;
            }
            seterr(err, errlen, "%s: unknown key \"%s\" (known keys: %s)", ctx, c->string, list);
            return -1;
        }
    }
    return 0;
}

static const char *const GPU_KEYS[] = {"model", "name", "memory_mib", "reserved_mib", "baseline_used_mib",
                                       "compute_capability", "power_mw", "power_max_mw", "temperature_c",
                                       "utilization", "pci", "multiprocessor_count", "driver_version",
                                       "cuda_driver_version", "mig_capable", "mig_mode", "mig", "mig_layout", "uuid",
                                       "minor", "description", NULL};

static int parse_gip(fn_gpu *g, const cJSON *p, unsigned n, const char *ctx, char *err, size_t errlen)
{
    static const char *const keys[] = {"name", "index", "id", "slices", "instances", "memory_mib", "multiprocessors",
                                       "copy_engines", "decoders", "encoders", "jpegs", "ofas", "p2p", "placements",
                                       "placement_size", "gi_ids", NULL};
    char c[512];
    snprintf(c, sizeof c, "%s: mig.gpu_instance_profiles[%u]", ctx, n);
    if (!cJSON_IsObject(p)) {
        seterr(err, errlen, "%s must be an object", c);
        return -1;
    }
    if (check_keys(p, keys, c, err, errlen))
        return -1;
    fn_gip *x = &g->gip[n];
    memset(x, 0, sizeof *x);
    if (get_str(p, "name", 1, x->name, sizeof x->name, c, err, errlen) ||
        get_u32(p, "index", NVML_GPU_INSTANCE_PROFILE_COUNT - 1, 1, &x->index, c, err, errlen) ||
        get_u32(p, "id", 1000, 1, &x->id, c, err, errlen) ||
        get_u32(p, "slices", g->compute_slices, 1, &x->slices, c, err, errlen) ||
        get_u32(p, "instances", FN_MAX_PLACEMENTS, 1, &x->instances, c, err, errlen) ||
        get_uint(p, "memory_mib", 1ULL << 32, 1, &x->memory_mib, c, err, errlen) ||
        get_u32(p, "multiprocessors", 100000, 0, &x->multiprocessors, c, err, errlen) ||
        get_u32(p, "copy_engines", 1000, 0, &x->copy_engines, c, err, errlen) ||
        get_u32(p, "decoders", 1000, 0, &x->decoders, c, err, errlen) ||
        get_u32(p, "encoders", 1000, 0, &x->encoders, c, err, errlen) ||
        get_u32(p, "jpegs", 1000, 0, &x->jpegs, c, err, errlen) ||
        get_u32(p, "ofas", 1000, 0, &x->ofas, c, err, errlen) ||
        get_u32(p, "p2p", 1, 0, &x->p2p, c, err, errlen) ||
        get_u32(p, "placement_size", g->mem_slices, 1, &x->placement_size, c, err, errlen))
        return -1;
    if (x->slices == 0 || x->placement_size == 0 || x->instances == 0) {
        seterr(err, errlen, "%s: \"slices\", \"instances\" and \"placement_size\" must be at least 1", c);
        return -1;
    }
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(p, "placements");
    if (!cJSON_IsArray(pl) || cJSON_GetArraySize(pl) < 1 || cJSON_GetArraySize(pl) > FN_MAX_PLACEMENTS) {
        seterr(err, errlen, "%s: \"placements\" must be an array of 1 to %d start slices", c, FN_MAX_PLACEMENTS);
        return -1;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, pl)
    {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble != (double)(int)e->valuedouble ||
            (unsigned)e->valuedouble + x->placement_size > g->mem_slices) {
            seterr(err, errlen, "%s: \"placements\" entries must be integers with start + placement_size <= %u", c,
                   g->mem_slices);
            return -1;
        }
        x->gi_ids[x->n_placements] = FN_NO_ID;
        x->placements[x->n_placements++] = (unsigned)e->valuedouble;
    }
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(p, "gi_ids");
    if (ids) {
        if (!cJSON_IsArray(ids) || (unsigned)cJSON_GetArraySize(ids) != x->n_placements) {
            seterr(err, errlen, "%s: \"gi_ids\" must be an array with one GPU-instance id per placement", c);
            return -1;
        }
        unsigned k = 0;
        cJSON_ArrayForEach(e, ids)
        {
            if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= FN_MAX_GI ||
                e->valuedouble != (double)(int)e->valuedouble) {
                seterr(err, errlen, "%s: \"gi_ids\" entries must be integers from 0 to %d", c, FN_MAX_GI - 1);
                return -1;
            }
            x->gi_ids[k++] = (unsigned)e->valuedouble;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        if (g->gip[i].index == x->index || g->gip[i].id == x->id || strcmp(g->gip[i].name, x->name) == 0) {
            seterr(err, errlen, "%s: \"%s\" repeats the index, id or name of profile \"%s\"", c, x->name,
                   g->gip[i].name);
            return -1;
        }
    }
    return 0;
}

static int parse_mig(fn_gpu *g, const cJSON *o, const char *ctx, char *err, size_t errlen)
{
    const cJSON *mig = cJSON_GetObjectItemCaseSensitive(o, "mig");
    if (!g->mig_capable) {
        if (g->mig_mode_initial) {
            seterr(err, errlen, "%s: \"mig_mode\" is 1 but \"mig_capable\" is false; set mig_capable or mig_mode 0", ctx);
            return -1;
        }
        return 0;
    }
    static const char *const keys[] = {"memory_slices", "compute_slices", "max_devices", "gpu_instance_profiles", NULL};
    char c[512];
    snprintf(c, sizeof c, "%s: mig", ctx);
    if (!cJSON_IsObject(mig)) {
        seterr(err, errlen, "%s: \"mig_capable\" is true, so the object \"mig\" (memory_slices, compute_slices, "
                            "gpu_instance_profiles) is required",
               ctx);
        return -1;
    }
    if (check_keys(mig, keys, c, err, errlen))
        return -1;
    g->mem_slices = 8;
    g->compute_slices = 7;
    if (get_u32(mig, "memory_slices", 32, 0, &g->mem_slices, c, err, errlen) ||
        get_u32(mig, "compute_slices", FN_MAX_CI, 0, &g->compute_slices, c, err, errlen))
        return -1;
    g->max_mig_devices = g->compute_slices;
    if (get_u32(mig, "max_devices", FN_MAX_GI * FN_MAX_CI, 0, &g->max_mig_devices, c, err, errlen))
        return -1;
    if (g->mem_slices == 0 || g->compute_slices == 0) {
        seterr(err, errlen, "%s: memory_slices and compute_slices must be at least 1", c);
        return -1;
    }
    const cJSON *profs = cJSON_GetObjectItemCaseSensitive(mig, "gpu_instance_profiles");
    if (!cJSON_IsArray(profs) || cJSON_GetArraySize(profs) < 1 || cJSON_GetArraySize(profs) > FN_MAX_GIP) {
        seterr(err, errlen, "%s: \"gpu_instance_profiles\" must be an array of 1 to %d profiles", c, FN_MAX_GIP);
        return -1;
    }
    const cJSON *p;
    cJSON_ArrayForEach(p, profs)
    {
        if (parse_gip(g, p, g->n_gip, ctx, err, errlen))
            return -1;
        g->n_gip++;
    }

    const cJSON *layout = cJSON_GetObjectItemCaseSensitive(o, "mig_layout");
    if (!layout)
        return 0;
    if (!cJSON_IsArray(layout) || cJSON_GetArraySize(layout) > FN_MAX_LAYOUT) {
        seterr(err, errlen, "%s: \"mig_layout\" must be an array of at most %d GPU instances", ctx, FN_MAX_LAYOUT);
        return -1;
    }
    const cJSON *l;
    cJSON_ArrayForEach(l, layout)
    {
        static const char *const lkeys[] = {"profile", "placement", "compute_instances", NULL};
        snprintf(c, sizeof c, "%s: mig_layout[%u]", ctx, g->n_layout);
        fn_layout_gi *lg = &g->layout[g->n_layout];
        memset(lg, 0, sizeof *lg);
        lg->start = -1;
        char pname[32] = "";
        if (cJSON_IsString(l)) {
            snprintf(pname, sizeof pname, "%s", l->valuestring);
        } else if (cJSON_IsObject(l)) {
            if (check_keys(l, lkeys, c, err, errlen) || get_str(l, "profile", 1, pname, sizeof pname, c, err, errlen))
                return -1;
            const cJSON *pl = cJSON_GetObjectItemCaseSensitive(l, "placement");
            if (pl) {
                unsigned s = 0;
                if (get_u32(l, "placement", g->mem_slices - 1, 1, &s, c, err, errlen))
                    return -1;
                lg->start = (int)s;
            }
            const cJSON *cis = cJSON_GetObjectItemCaseSensitive(l, "compute_instances");
            if (cis) {
                if (!cJSON_IsArray(cis) || cJSON_GetArraySize(cis) < 1 || cJSON_GetArraySize(cis) > FN_MAX_CI) {
                    seterr(err, errlen,
                           "%s: \"compute_instances\" must be an array of 1 to %d compute-slice counts, e.g. [1,1]", c,
                           FN_MAX_CI);
                    return -1;
                }
                const cJSON *e;
                cJSON_ArrayForEach(e, cis)
                {
                    if (!cJSON_IsNumber(e) || e->valuedouble < 1 || e->valuedouble > 8 ||
                        e->valuedouble != (double)(int)e->valuedouble) {
                        seterr(err, errlen, "%s: \"compute_instances\" entries must be compute-slice counts 1..8", c);
                        return -1;
                    }
                    lg->ci_slices[lg->n_ci++] = (unsigned)e->valuedouble;
                }
            }
        } else {
            seterr(err, errlen, "%s must be a profile name (\"3g.40gb\") or {\"profile\":..., \"placement\":...}", c);
            return -1;
        }
        const fn_gip *gp = fn_gip_by_name(g, pname);
        if (!gp) {
            char names[512];
            size_t used = 0;
            names[0] = 0;
            for (unsigned i = 0; i < g->n_gip; i++) {
                int w = snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", g->gip[i].name);
                if (w < 0 || (size_t)w >= sizeof names - used)
                    break;
                used += (size_t)w;
            }
            seterr(err, errlen, "%s: unknown GPU-instance profile \"%s\" (this model has: %s)", c, pname, names);
            return -1;
        }
        lg->gip = (unsigned)(gp - g->gip);
        if (lg->n_ci == 0)
            lg->ci_slices[lg->n_ci++] = gp->slices;
        g->n_layout++;
    }
    return 0;
}

/* Fill g from the (merged) model object o. */
static int parse_gpu(fn_machine *m, fn_gpu *g, const cJSON *o, const char *ctx, char *err, size_t errlen)
{
    if (check_keys(o, GPU_KEYS, ctx, err, errlen))
        return -1;
    unsigned long long mem = 0, reserved = 0, baseline = 0;
    if (get_str(o, "name", 1, g->name, NVML_DEVICE_NAME_BUFFER_SIZE, ctx, err, errlen) ||
        get_uint(o, "memory_mib", 1ULL << 32, 1, &mem, ctx, err, errlen) ||
        get_uint(o, "reserved_mib", 1ULL << 32, 0, &reserved, ctx, err, errlen) ||
        get_uint(o, "baseline_used_mib", 1ULL << 32, 0, &baseline, ctx, err, errlen))
        return -1;
    if (mem == 0 || reserved + baseline > mem) {
        seterr(err, errlen, "%s: \"memory_mib\" must be at least 1 and more than reserved_mib + baseline_used_mib", ctx);
        return -1;
    }
    g->memory_mib = mem;
    g->reserved_mib = reserved;
    g->baseline_mib = baseline;

    const cJSON *cc = cJSON_GetObjectItemCaseSensitive(o, "compute_capability");
    if (!cJSON_IsArray(cc) || cJSON_GetArraySize(cc) != 2 || !cJSON_IsNumber(cJSON_GetArrayItem(cc, 0)) ||
        !cJSON_IsNumber(cJSON_GetArrayItem(cc, 1))) {
        seterr(err, errlen, "%s: \"compute_capability\" must be [major, minor], e.g. [9, 0]", ctx);
        return -1;
    }
    g->cc_major = cJSON_GetArrayItem(cc, 0)->valueint;
    g->cc_minor = cJSON_GetArrayItem(cc, 1)->valueint;

    g->temperature_c = 30;
    if (get_u32(o, "power_mw", 10000000, 0, &g->power_mw, ctx, err, errlen))
        return -1;
    g->power_max_mw = g->power_mw;
    if (get_u32(o, "power_max_mw", 10000000, 0, &g->power_max_mw, ctx, err, errlen) ||
        get_u32(o, "temperature_c", 200, 0, &g->temperature_c, ctx, err, errlen))
        return -1;
    if (g->power_max_mw < g->power_mw) {
        seterr(err, errlen, "%s: \"power_max_mw\" must be at least \"power_mw\" (idle power)", ctx);
        return -1;
    }
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, "utilization");
    if (u) {
        static const char *const ukeys[] = {"gpu", "memory", NULL};
        char c[512];
        snprintf(c, sizeof c, "%s: utilization", ctx);
        if (!cJSON_IsObject(u)) {
            seterr(err, errlen, "%s must be {\"gpu\": <percent>, \"memory\": <percent>}", c);
            return -1;
        }
        if (check_keys(u, ukeys, c, err, errlen) || get_u32(u, "gpu", 100, 0, &g->util_gpu, c, err, errlen) ||
            get_u32(u, "memory", 100, 0, &g->util_mem, c, err, errlen))
            return -1;
    }
    const cJSON *pci = cJSON_GetObjectItemCaseSensitive(o, "pci");
    unsigned dev_id = 0, vendor = 0x10DE;
    g->pci_bus = 0x10 + g->index;
    if (pci) {
        static const char *const pkeys[] = {"device_id", "vendor_id", "subsystem_id", "domain", "bus", NULL};
        char c[512];
        snprintf(c, sizeof c, "%s: pci", ctx);
        if (!cJSON_IsObject(pci)) {
            seterr(err, errlen, "%s must be an object {\"device_id\": \"0x2330\", ...}", c);
            return -1;
        }
        if (check_keys(pci, pkeys, c, err, errlen) || get_u32(pci, "device_id", 0xffff, 0, &dev_id, c, err, errlen) ||
            get_u32(pci, "vendor_id", 0xffff, 0, &vendor, c, err, errlen) ||
            get_u32(pci, "subsystem_id", 0xffffffffu, 0, &g->pci_subsystem_id, c, err, errlen) ||
            get_u32(pci, "domain", 0xffff, 0, &g->pci_domain, c, err, errlen) ||
            get_u32(pci, "bus", 0xff, 0, &g->pci_bus, c, err, errlen))
            return -1;
    }
    g->pci_device_id = (dev_id << 16) | vendor;
    unsigned sms = 0;
    if (get_u32(o, "multiprocessor_count", 100000, 0, &sms, ctx, err, errlen))
        return -1;

    char drv[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE] = "";
    unsigned cuda = 0;
    if (get_str(o, "driver_version", 0, drv, sizeof drv, ctx, err, errlen) ||
        get_u32(o, "cuda_driver_version", 99999, 0, &cuda, ctx, err, errlen))
        return -1;
    if (drv[0] && !m->driver_version[0])
        snprintf(m->driver_version, sizeof m->driver_version, "%s", drv);
    if (cuda && !m->cuda_driver_version)
        m->cuda_driver_version = (int)cuda;

    g->minor = g->index;
    if (get_u32(o, "minor", 254, 0, &g->minor, ctx, err, errlen))
        return -1;
    const cJSON *uu = cJSON_GetObjectItemCaseSensitive(o, "uuid");
    if (uu) {
        if (!cJSON_IsString(uu) || strncmp(uu->valuestring, "GPU-", 4) != 0 ||
            strlen(uu->valuestring) >= NVML_DEVICE_UUID_BUFFER_SIZE) {
            seterr(err, errlen, "%s: \"uuid\" must be a string \"GPU-...\" shorter than %d characters", ctx,
                   NVML_DEVICE_UUID_BUFFER_SIZE);
            return -1;
        }
        snprintf(g->uuid, sizeof g->uuid, "%s", uu->valuestring);
    } else {
        char seed[4200];
        snprintf(seed, sizeof seed, "%s\n%u", m->state_dir, g->index);
        fn_uuid_format(g->uuid, sizeof g->uuid, "GPU-", seed);
    }

    if (get_bool(o, "mig_capable", &g->mig_capable, ctx, err, errlen) ||
        get_u32(o, "mig_mode", 1, 0, &g->mig_mode_initial, ctx, err, errlen))
        return -1;
    if (!g->mig_capable && (cJSON_GetObjectItemCaseSensitive(o, "mig_layout") &&
                            cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "mig_layout")) > 0)) {
        seterr(err, errlen, "%s: \"mig_layout\" needs \"mig_capable\": true", ctx);
        return -1;
    }
    if (parse_mig(g, o, ctx, err, errlen))
        return -1;
    if (g->mig_capable) {
        char lerr[512];
        if (fn_mig_apply_layout(g, lerr, sizeof lerr)) {
            seterr(err, errlen, "%s: mig_layout: %s", ctx, lerr);
            return -1;
        }
        fn_mig_reset(g); /* the real state comes from the state file or the layout, at first use */
    }
    return 0;
}

static void gpu_paths(fn_machine *m, fn_gpu *g)
{
    snprintf(g->path_lost, sizeof g->path_lost, "%s/gpu%u.lost", m->state_dir, g->index);
    snprintf(g->path_procs, sizeof g->path_procs, "%s/gpu%u.processes", m->state_dir, g->index);
    snprintf(g->path_util, sizeof g->path_util, "%s/gpu%u.utilization", m->state_dir, g->index);
    snprintf(g->path_mig, sizeof g->path_mig, "%s/gpu%u.mig", m->state_dir, g->index);
    snprintf(g->path_miglock, sizeof g->path_miglock, "%s/gpu%u.mig.lock", m->state_dir, g->index);
}

static int model_name_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_' || *s == '.'))
            return 0;
    return 1;
}

static int overlay(cJSON *dst, const cJSON *src, const char *skip)
{
    for (const cJSON *c = src->child; c; c = c->next) {
        if (strcmp(c->string, skip) == 0)
            continue;
        cJSON *dup = cJSON_Duplicate(c, 1);
        if (!dup || (cJSON_GetObjectItemCaseSensitive(dst, c->string)
                         ? !cJSON_ReplaceItemInObjectCaseSensitive(dst, c->string, dup)
                         : !cJSON_AddItemToObject(dst, c->string, dup))) {
            cJSON_Delete(dup);
            return -1;
        }
    }
    return 0;
}

/* Load profiles/<model>.json as a cJSON object; "base": "<model>" makes it extend another model file. */
static cJSON *load_model_depth(const char *pdir, const char *model, const char *envval, int depth, char *err,
                               size_t errlen);
static cJSON *load_model(const char *pdir, const char *model, const char *envval, char *err, size_t errlen)
{
    return load_model_depth(pdir, model, envval, 0, err, errlen);
}

static cJSON *load_model_depth(const char *pdir, const char *model, const char *envval, int depth, char *err,
                               size_t errlen)
{
    char path[4200];
    if (!model_name_ok(model)) {
        seterr(err, errlen,
               "EAS_FAKE_NVML_PROFILE=%s: model name \"%s\" may hold only letters, digits, '-', '_' and '.'", envval,
               model);
        return NULL;
    }
    snprintf(path, sizeof path, "%s/%s.json", pdir, model);
    struct stat st;
    if (stat(path, &st) != 0) {
        char models[1024];
        list_models(pdir, models, sizeof models);
        seterr(err, errlen,
               "EAS_FAKE_NVML_PROFILE=%s: no model file %s; models in %s: %s (set EAS_FAKE_NVML_PROFILE_DIR to "
               "another folder, or use one of these names)",
               envval, path, pdir, models);
        return NULL;
    }
    char what[256];
    snprintf(what, sizeof what, "model file for %s:", model);
    cJSON *o = parse_json_file(path, what, err, errlen);
    const cJSON *base = o ? cJSON_GetObjectItemCaseSensitive(o, "base") : NULL;
    if (!base)
        return o;
    if (!cJSON_IsString(base) || depth >= 4) {
        seterr(err, errlen, "model file %s: \"base\" must name another model file (at most 4 levels deep)", path);
        cJSON_Delete(o);
        return NULL;
    }
    cJSON *merged = load_model_depth(pdir, base->valuestring, envval, depth + 1, err, errlen);
    if (merged && overlay(merged, o, "base")) {
        seterr(err, errlen, "out of memory");
        cJSON_Delete(merged);
        merged = NULL;
    }
    cJSON_Delete(o);
    return merged;
}

static int alloc_gpus(fn_machine *m, unsigned n)
{
    m->n_gpus = n;
    m->gpus = calloc(n ? n : 1, sizeof(fn_gpu));
    if (!m->gpus)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        fn_gpu *g = &m->gpus[i];
        g->index = i;
        g->dev.gpu = g;
        g->dev.ci = NULL;
        gpu_paths(m, g);
        for (unsigned k = 0; k < FN_MAX_GI; k++) {
            g->gi[k].gpu = g;
            g->gi[k].id = k;
            for (unsigned j = 0; j < FN_MAX_CI; j++) {
                g->gi[k].ci[j].gi = &g->gi[k];
                g->gi[k].ci[j].id = j;
                g->gi[k].ci[j].mig.gpu = g;
                g->gi[k].ci[j].mig.ci = &g->gi[k].ci[j];
            }
        }
    }
    return 0;
}

static int load_n_x_model(fn_machine *m, const char *val, unsigned n, const char *model, const char *pdir, char *err,
                          size_t errlen)
{
    cJSON *mo = load_model(pdir, model, val, err, errlen);
    if (!mo)
        return -1;
    int rc = 0;
    if (alloc_gpus(m, n)) {
        seterr(err, errlen, "out of memory");
        rc = -1;
    }
    char ctx[512];
    snprintf(ctx, sizeof ctx, "model file %s/%s.json", pdir, model);
    for (unsigned i = 0; rc == 0 && i < n; i++)
        rc = parse_gpu(m, &m->gpus[i], mo, ctx, err, errlen);
    cJSON_Delete(mo);
    return rc;
}

static int load_machine_file(fn_machine *m, const char *path, const char *pdir, char *err, size_t errlen)
{
    cJSON *root = parse_json_file(path, "EAS_FAKE_NVML_PROFILE: machine file", err, errlen);
    if (!root)
        return -1;
    int rc = -1;
    char ctx[4400];
    snprintf(ctx, sizeof ctx, "machine file %s", path);
    static const char *const mkeys[] = {"driver_version", "cuda_driver_version", "gpus", "description", NULL};
    unsigned cuda = 0;
    const cJSON *gpus = cJSON_GetObjectItemCaseSensitive(root, "gpus");
    if (check_keys(root, mkeys, ctx, err, errlen) ||
        get_str(root, "driver_version", 0, m->driver_version, sizeof m->driver_version, ctx, err, errlen) ||
        get_u32(root, "cuda_driver_version", 99999, 0, &cuda, ctx, err, errlen))
        goto out;
    m->cuda_driver_version = (int)cuda;
    if (!cJSON_IsArray(gpus) || cJSON_GetArraySize(gpus) > FN_MAX_GPUS) {
        seterr(err, errlen, "%s: \"gpus\" must be an array of at most %d GPUs ({\"model\": \"H100-80GB\"} or a full "
                            "GPU description)",
               ctx, FN_MAX_GPUS);
        goto out;
    }
    if (alloc_gpus(m, (unsigned)cJSON_GetArraySize(gpus))) {
        seterr(err, errlen, "out of memory");
        goto out;
    }
    unsigned i = 0;
    const cJSON *ge;
    cJSON_ArrayForEach(ge, gpus)
    {
        char gctx[4500];
        snprintf(gctx, sizeof gctx, "%s: gpus[%u]", ctx, i);
        if (!cJSON_IsObject(ge)) {
            seterr(err, errlen, "%s must be an object", gctx);
            goto out;
        }
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(ge, "model");
        cJSON *merged;
        if (model) {
            if (!cJSON_IsString(model)) {
                seterr(err, errlen, "%s: \"model\" must be a model name such as \"H100-80GB\"", gctx);
                goto out;
            }
            merged = load_model(pdir, model->valuestring, path, err, errlen);
            if (!merged)
                goto out;
            if (overlay(merged, ge, "model")) {
                cJSON_Delete(merged);
                seterr(err, errlen, "out of memory");
                goto out;
            }
            snprintf(gctx, sizeof gctx, "%s: gpus[%u] (model %s)", ctx, i, model->valuestring);
        } else {
            merged = cJSON_Duplicate(ge, 1);
            if (!merged) {
                seterr(err, errlen, "out of memory");
                goto out;
            }
        }
        int r = parse_gpu(m, &m->gpus[i], merged, gctx, err, errlen);
        cJSON_Delete(merged);
        if (r)
            goto out;
        i++;
    }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

void fn_machine_free(fn_machine *m)
{
    if (!m)
        return;
    if (m->gpus)
        for (unsigned i = 0; i < m->n_gpus; i++)
            free(m->gpus[i].procs);
    free(m->gpus);
    free(m);
}

fn_machine *fn_machine_load(char *err, size_t errlen)
{
    const char *val = getenv("EAS_FAKE_NVML_PROFILE");
    char pdir[4096];
    profile_dir(pdir, sizeof pdir);
    if (!val || !*val) {
        char models[1024];
        list_models(pdir, models, sizeof models);
        seterr(err, errlen,
               "EAS_FAKE_NVML_PROFILE is not set, so the fake NVML has no machine to show; set it to <N>x<MODEL> "
               "(e.g. 2xH100-80GB; models in %s: %s) or to the path of a machine .json file",
               pdir, models);
        return NULL;
    }
    fn_machine *m = calloc(1, sizeof *m);
    if (!m) {
        seterr(err, errlen, "out of memory");
        return NULL;
    }
    const char *sd = getenv("EAS_FAKE_NVML_STATE");
    if (!sd || !*sd)
        sd = DEFAULT_STATE_DIR;
    if (mkdir_p(sd) != 0) {
        seterr(err, errlen, "EAS_FAKE_NVML_STATE=%s: the state folder cannot be created: %s; set it to a writable folder",
               sd, strerror(errno));
        goto fail;
    }
    char abs[PATH_MAX];
    if (!realpath(sd, abs)) {
        seterr(err, errlen, "EAS_FAKE_NVML_STATE=%s: cannot resolve the state folder: %s", sd, strerror(errno));
        goto fail;
    }
    if (strlen(abs) > 3800) {
        seterr(err, errlen, "EAS_FAKE_NVML_STATE=%s: the path is too long (at most 3800 characters)", sd);
        goto fail;
    }
    snprintf(m->state_dir, sizeof m->state_dir, "%s", abs);
    snprintf(m->path_events, sizeof m->path_events, "%s/events", abs);

    size_t vlen = strlen(val);
    const char *x = strchr(val, 'x');
    int is_path = strchr(val, '/') != NULL || (vlen > 5 && strcmp(val + vlen - 5, ".json") == 0);
    if (is_path) {
        if (load_machine_file(m, val, pdir, err, errlen))
            goto fail;
    } else {
        unsigned long n = 0;
        int ok = x && x > val && x[1];
        for (const char *p = val; ok && p < x; p++)
            ok = *p >= '0' && *p <= '9';
        if (ok) {
            n = strtoul(val, NULL, 10);
            ok = n <= FN_MAX_GPUS;
        }
        if (!ok) {
            seterr(err, errlen,
                   "EAS_FAKE_NVML_PROFILE=%s: expected <N>x<MODEL> with N from 0 to %d (e.g. 2xH100-80GB) or the path "
                   "of a machine .json file",
                   val, FN_MAX_GPUS);
            goto fail;
        }
        if (load_n_x_model(m, val, (unsigned)n, x + 1, pdir, err, errlen))
            goto fail;
    }
    if (!m->driver_version[0])
        snprintf(m->driver_version, sizeof m->driver_version, "%s", DEFAULT_DRIVER_VERSION);
    if (!m->cuda_driver_version)
        m->cuda_driver_version = DEFAULT_CUDA_DRIVER_VERSION;
    return m;
fail:
    fn_machine_free(m);
    return NULL;
}
