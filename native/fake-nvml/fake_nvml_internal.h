/* Internal declarations shared by the fake NVML's .c files. Nothing here is exported. */
#ifndef EAS_FAKE_NVML_INTERNAL_H
#define EAS_FAKE_NVML_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "nvml.h"

#define FN_HIDDEN __attribute__((visibility("hidden")))
#define EXPORT __attribute__((visibility("default")))

/* One mutex guards all state; every exported call that touches it runs its worker under it. */
#define LOCK() pthread_mutex_lock(&fn_mu)
#define UNLOCK() pthread_mutex_unlock(&fn_mu)
#define LOCKED(call)                         \
    do {                                     \
        LOCK();                              \
        nvmlReturn_t locked_result_ = (call); \
        UNLOCK();                            \
        return locked_result_;               \
    } while (0)

#define FN_MAX_GPUS 64
#define FN_MAX_GIP 18           /* GPU-instance profiles per model (one per profile index) */
#define FN_MAX_PLACEMENTS 16    /* placements per GPU-instance profile */
#define FN_MAX_GI 16            /* GPU-instance ids 0..15 */
#define FN_MAX_CI 8             /* compute-instance ids 0..7 per GPU instance */
#define FN_MAX_LAYOUT 16        /* GPU instances in a profile's initial layout */
#define FN_NO_ID 0xFFFFFFFFu

/* A GPU-instance profile of a MIG-capable model (from the model file's "mig.gpu_instance_profiles"). */
typedef struct fn_gip {
    char name[32];               /* "3g.40gb" */
    unsigned index;              /* NVML_GPU_INSTANCE_PROFILE_* */
    unsigned id;                 /* profile id as nvidia-smi shows it (9 for 3g.40gb) */
    unsigned slices;             /* compute slices */
    unsigned instances;          /* max instances */
    unsigned long long memory_mib;
    unsigned multiprocessors, copy_engines, decoders, encoders, jpegs, ofas, p2p;
    unsigned n_placements;
    unsigned placements[FN_MAX_PLACEMENTS]; /* start memory slice of each possible placement */
    unsigned gi_ids[FN_MAX_PLACEMENTS];     /* GPU-instance id a GI at that placement gets */
    unsigned placement_size;                /* memory slices one instance occupies */
} fn_gip;

/* One GPU instance of the initial layout. */
typedef struct fn_layout_gi {
    unsigned gip;                /* index into fn_gpu.gip[] */
    int start;                   /* -1 = first free placement */
    unsigned n_ci;
    unsigned ci_slices[FN_MAX_CI]; /* compute slices of each compute instance (default: one, whole GI) */
} fn_layout_gi;

struct fn_gpu;
struct nvmlGpuInstance_st;

struct nvmlDevice_st {           /* a physical GPU or a MIG device (GI + CI pair) */
    struct fn_gpu *gpu;
    struct nvmlComputeInstance_st *ci; /* NULL for the physical GPU */
};

struct nvmlComputeInstance_st {
    struct nvmlGpuInstance_st *gi;
    int active;
    unsigned id;
    unsigned profile_index;      /* NVML_COMPUTE_INSTANCE_PROFILE_* (= the CI profile id) */
    unsigned slices, start;
    struct nvmlDevice_st mig;    /* the MIG device handle of this GI+CI */
    char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
};

struct nvmlGpuInstance_st {
    struct fn_gpu *gpu;
    int active;
    unsigned id;
    unsigned gip;                /* index into fn_gpu.gip[] */
    unsigned start, size;        /* placement in memory slices */
    struct nvmlComputeInstance_st ci[FN_MAX_CI];
};

/* A stat()-based cache key: a state file is re-read when any of these changed. */
typedef struct fn_filekey {
    int exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} fn_filekey;

typedef struct fn_proc {
    unsigned pid;
    unsigned long long used_mib;
    unsigned sm;                 /* SM utilisation % */
    unsigned gi, ci;             /* FN_NO_ID when not on a MIG device */
} fn_proc;

typedef struct fn_gpu {
    struct nvmlDevice_st dev;
    unsigned index;
    /* from the model file */
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
    char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    unsigned long long memory_mib, reserved_mib, baseline_mib;
    int cc_major, cc_minor;
    unsigned power_mw, power_max_mw, temperature_c, util_gpu, util_mem;
    unsigned pci_device_id, pci_subsystem_id, pci_domain, pci_bus, minor;
    int mig_capable;
    unsigned mig_mode_initial;
    unsigned mem_slices, compute_slices, max_mig_devices;
    unsigned n_gip;
    fn_gip gip[FN_MAX_GIP];
    unsigned n_layout;
    fn_layout_gi layout[FN_MAX_LAYOUT];
    /* state files */
    char path_lost[4096], path_procs[4096], path_util[4096], path_mig[4096], path_miglock[4096];
    /* runtime state */
    unsigned mig_mode;
    struct nvmlGpuInstance_st gi[FN_MAX_GI];
    fn_filekey mig_key;
    int mig_loaded;
    fn_filekey procs_key;
    fn_proc *procs;
    unsigned n_procs, cap_procs;
    fn_filekey util_key;
    int util_override;
    unsigned util_override_gpu, util_override_mem; /* mem FN_NO_ID = keep the profile value */
} fn_gpu;

typedef struct fn_machine {
    char driver_version[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE];
    int cuda_driver_version;
    char state_dir[4096];
    char path_events[4096];
    unsigned n_gpus;
    fn_gpu *gpus;
} fn_machine;

/* Global state (fake_nvml.c); every access holds fn_mu. */
extern FN_HIDDEN pthread_mutex_t fn_mu;
extern FN_HIDDEN fn_machine *fn_m;
extern FN_HIDDEN unsigned fn_refcount;

/* profile.c */
FN_HIDDEN fn_machine *fn_machine_load(char *err, size_t errlen);
FN_HIDDEN void fn_machine_free(fn_machine *m);
FN_HIDDEN void fn_uuid_format(char *out, size_t outlen, const char *prefix, const char *seed);

/* state.c */
FN_HIDDEN int fn_filekey_changed(const char *path, fn_filekey *key);
FN_HIDDEN int fn_gpu_is_lost(const fn_gpu *g);
FN_HIDDEN void fn_procs_sync(fn_gpu *g);
FN_HIDDEN void fn_util_sync(fn_gpu *g);
FN_HIDDEN int fn_write_file_atomic(const char *path, const char *data, size_t len);

/* mig.c */
FN_HIDDEN void fn_mig_sync(fn_gpu *g);
FN_HIDDEN int fn_mig_apply_layout(fn_gpu *g, char *err, size_t errlen);
FN_HIDDEN void fn_mig_reset(fn_gpu *g);
FN_HIDDEN const fn_gip *fn_gip_by_index(const fn_gpu *g, unsigned index);
FN_HIDDEN const fn_gip *fn_gip_by_name(const fn_gpu *g, const char *name);
FN_HIDDEN void fn_mig_device_name(const struct nvmlComputeInstance_st *ci, char *out, size_t outlen);
FN_HIDDEN unsigned long long fn_mig_memory_mib(const struct nvmlComputeInstance_st *ci);
FN_HIDDEN void fn_gpu_set_ci_uuids(fn_gpu *g);

/* fake_nvml.c: resolve a device handle (lock held). Returns SUCCESS, or UNINITIALIZED/INVALID_ARGUMENT/
 * GPU_IS_LOST; *out is the device (a MIG device's parent is out->gpu). */
FN_HIDDEN nvmlReturn_t fn_resolve_device(nvmlDevice_t d, struct nvmlDevice_st **out, int check_lost);
/* The physical GPU behind a handle; NOT_SUPPORTED for a MIG device handle (the parent GPU is needed). */
FN_HIDDEN nvmlReturn_t fn_physical_gpu(nvmlDevice_t device, fn_gpu **gpu);

/* events.c */
FN_HIDDEN void fn_events_free_all(void);

#endif
