/* Runtime state files in $EAS_FAKE_NVML_STATE, re-read when their stat() changes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_nvml_internal.h"

/* Returns 1 when the file's existence, identity, size or mtime differs from *key (and updates *key). */
int fn_filekey_changed(const char *path, fn_filekey *key)
{
    struct stat st;
    fn_filekey now;
    memset(&now, 0, sizeof now);
    if (stat(path, &st) == 0) {
        now.exists = 1;
        now.dev = st.st_dev;
        now.ino = st.st_ino;
        now.size = st.st_size;
        now.mtime = st.st_mtim;
    }
    int changed = now.exists != key->exists || now.dev != key->dev || now.ino != key->ino || now.size != key->size ||
                  now.mtime.tv_sec != key->mtime.tv_sec || now.mtime.tv_nsec != key->mtime.tv_nsec;
    *key = now;
    return changed;
}

int fn_gpu_is_lost(const fn_gpu *g)
{
    struct stat st;
    return stat(g->path_lost, &st) == 0;
}

static char *slurp(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len + 1 == cap) {
            char *nb = cap < (8u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    close(fd);
    if (buf)
        buf[len] = 0;
    return buf;
}

/* gpu<N>.processes: lines "<pid> <used_mib> [<sm_pct> [<gi> <ci>]]"; '#' starts a comment; bad lines are skipped. */
void fn_procs_sync(fn_gpu *g)
{
    if (!fn_filekey_changed(g->path_procs, &g->procs_key))
        return;
    g->n_procs = 0;
    if (!g->procs_key.exists)
        return;
    char *text = slurp(g->path_procs);
    if (!text)
        return;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        unsigned long pid = 0, sm = 0, gi = FN_NO_ID, ci = FN_NO_ID;
        unsigned long long mib = 0;
        char extra[2];
        int n = sscanf(line, "%lu %llu %lu %lu %lu %1s", &pid, &mib, &sm, &gi, &ci, extra);
        if (n < 2 || n == 4 || n > 5 || pid == 0 || pid > 0xFFFFFFFFul || sm > 100 ||
            (n == 5 && (gi >= FN_MAX_GI || ci >= FN_MAX_CI)))
            continue;
        if (n < 3)
            sm = 0;
        if (g->n_procs == g->cap_procs) {
            unsigned nc = g->cap_procs ? g->cap_procs * 2 : 16;
            fn_proc *np = realloc(g->procs, nc * sizeof *np);
            if (!np)
                break;
            g->procs = np;
            g->cap_procs = nc;
        }
        fn_proc *p = &g->procs[g->n_procs++];
        p->pid = (unsigned)pid;
        p->used_mib = mib;
        p->sm = (unsigned)sm;
        p->gi = n == 5 ? (unsigned)gi : FN_NO_ID;
        p->ci = n == 5 ? (unsigned)ci : FN_NO_ID;
    }
    free(text);
}

/* gpu<N>.utilization: "<gpu_pct> [<mem_pct>]". */
void fn_util_sync(fn_gpu *g)
{
    if (!fn_filekey_changed(g->path_util, &g->util_key))
        return;
    g->util_override = 0;
    if (!g->util_key.exists)
        return;
    char *text = slurp(g->path_util);
    if (!text)
        return;
    unsigned long a = 0, b = 0;
    int n = sscanf(text, "%lu %lu", &a, &b);
    if (n >= 1 && a <= 100 && (n == 1 || b <= 100)) {
        g->util_override = 1;
        g->util_override_gpu = (unsigned)a;
        g->util_override_mem = n == 2 ? (unsigned)b : FN_NO_ID;
    }
    free(text);
}

int fn_write_file_atomic(const char *path, const char *data, size_t len)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}
