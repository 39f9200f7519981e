/* NVIDIA's NVML, loaded at run time (dlopen of libnvidia-ml.so.1): no build dependency, and
 * mttd without the driver starts and works. Each GPU's name and memory, and the processes
 * that hold its memory. The reads themselves go through a table of functions, so the unit
 * tests drive them without any library. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MTTD_NVML_LIBRARY "libnvidia-ml.so.1"

/* NVML's own types, as its ABI has them (no NVIDIA header is needed to build mtt). */
enum {
        MTTD_NVML_SUCCESS = 0,
        MTTD_NVML_ERROR_NOT_SUPPORTED = 3,
        MTTD_NVML_ERROR_NOT_FOUND = 6,
        MTTD_NVML_ERROR_INSUFFICIENT_SIZE = 7,
        MTTD_NVML_ERROR_DRIVER_NOT_LOADED = 9,
        MTTD_NVML_ERROR_LIBRARY_NOT_FOUND = 12,
        MTTD_NVML_ERROR_GPU_IS_LOST = 15,
};
typedef struct mttd_nvml_device_ *mttd_nvml_device; /* nvmlDevice_t */
typedef struct mttd_nvml_memory {                   /* nvmlMemory_t */
        unsigned long long total, free, used;
} mttd_nvml_memory;
typedef struct mttd_nvml_process { /* nvmlProcessInfo_t, as the _v3 functions take it */
        unsigned int pid;
        unsigned long long used_bytes; /* MTTD_NVML_VALUE_NOT_AVAILABLE: not known */
        unsigned int gpu_instance_id;
        unsigned int compute_instance_id;
} mttd_nvml_process;
#define MTTD_NVML_VALUE_NOT_AVAILABLE (~0ull)

/* The NVML functions mttd calls, by what they do; the loader fills it by dlsym of their
 * versioned names (nvmlInit_v2, ...). graphics_processes may be NULL (optional). */
typedef struct mttd_nvml_api {
        int (*init)(void);
        int (*shutdown)(void);
        const char *(*error_string)(int r);
        int (*count)(unsigned int *n);
        int (*handle)(unsigned int index, mttd_nvml_device *d);
        int (*name)(mttd_nvml_device d, char *name, unsigned int size);
        int (*memory)(mttd_nvml_device d, mttd_nvml_memory *m);
        int (*compute_processes)(mttd_nvml_device d, unsigned int *n, mttd_nvml_process *p);
        int (*graphics_processes)(mttd_nvml_device d, unsigned int *n, mttd_nvml_process *p);
} mttd_nvml_api;

/* At most this many devices are read: the calls run on mttd's loop, each one bounded only
 * by the driver (NVML has no timeout), so their number is bounded here. */
#define MTTD_NVML_MAX_DEVICES 64
/* ... and at most this many processes listed per device. */
#define MTTD_NVML_MAX_PROCESSES 65536

typedef struct mttd_nvml mttd_nvml;

/* One device's state in a read: its numbers, or error (an NVML code, 0 for none) and
 * why (its words). */
typedef struct mttd_gpu {
        unsigned index;
        char name[96];
        uint64_t used_bytes, total_bytes;
        int error;
        char why[96];
} mttd_gpu;

/* Loads path (NULL: libnvidia-ml.so.1), initialises NVML and counts its devices. 0, or
 * -ENOENT (no library), -ENOSYS (a function is missing), -ENODEV (init failed or no
 * device), -ENOMEM; why gets the reason in words ("libnvidia-ml.so.1 not found (no NVIDIA
 * driver)", "NVML: Driver Not Loaded", "no NVIDIA GPU"). */
int mttd_nvml_open(const char *path, mttd_nvml **out, char *why, size_t why_size);
/* The same over a table of functions (no library: the unit tests'). */
int mttd_nvml_open_api(const mttd_nvml_api *api, mttd_nvml **out, char *why, size_t why_size);
/* Shuts NVML down and unloads it; NULL is fine. */
void mttd_nvml_close(mttd_nvml *n);

unsigned mttd_nvml_count(const mttd_nvml *n);
/* Each device's name and memory into out[0 .. count - 1] (out has room for count). A
 * device that fails (lost, or any error) says so in its own entry: the read goes on. */
void mttd_nvml_read(mttd_nvml *n, mttd_gpu *out);
/* Only the memory of every device (what the read costs per tick): how many failed. */
unsigned mttd_nvml_read_memory(mttd_nvml *n, mttd_gpu *out);

/* A caller's buffer for process lists; it grows as NVML asks. Free with
 * mttd_nvml_processes_free. */
typedef struct mttd_nvml_processes {
        mttd_nvml_process *p;
        unsigned n, cap;
} mttd_nvml_processes;
/* The processes on device index that hold memory, for compute (CUDA) or graphics, into
 * buf (n set). 0, -ENOSYS (this NVML has no such list), -EINVAL (no such device),
 * -ENOMEM, -E2BIG (more than MTTD_NVML_MAX_PROCESSES), or -EIO with *nvml_error set (the
 * device failed). */
int mttd_nvml_list_processes(mttd_nvml *n, unsigned index, bool graphics, mttd_nvml_processes *buf,
                             int *nvml_error);
void mttd_nvml_processes_free(mttd_nvml_processes *buf);

/* Words for an NVML code: NVML's own when it has them, else "NVML error N"; "GPU is
 * lost" for that one. */
const char *mttd_nvml_words(const mttd_nvml_api *api, int r, char *buf, size_t size);

/* mttd's NVML: loaded at the first call that needs it (not at start: mttd without GPUs
 * never pays), a failed load retried at most every MTTD_NVML_RETRY_US, its reason kept. */
#define MTTD_NVML_RETRY_US 5000000ull
typedef struct mttd_nvml_lazy {
        const char *path; /* --nvml; NULL: libnvidia-ml.so.1 */
        mttd_nvml *nvml;
        bool tried;
        uint64_t failed_us; /* when the last load failed */
        char why[160];      /* ... and why */
} mttd_nvml_lazy;
/* NVML, loaded now if it is not and the last failure is old enough; NULL when it is not
 * there, with lazy->why saying why. */
mttd_nvml *mttd_nvml_lazy_get(mttd_nvml_lazy *lazy, uint64_t now_us);
void mttd_nvml_lazy_free(mttd_nvml_lazy *lazy);
