/* NVML at run time: the library loaded with dlopen, its functions found by their versioned
 * names, and each device's memory and processes read through them. */
#include "nvml.h"

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mttd_nvml {
        void *lib; /* NULL over a table of the unit tests' */
        mttd_nvml_api api;
        unsigned count;
        struct {
                mttd_nvml_device handle;
                bool have_handle;
                char name[96];
        } dev[MTTD_NVML_MAX_DEVICES];
};

const char *mttd_nvml_words(const mttd_nvml_api *api, int r, char *buf, size_t size)
{
        /* NVML says "GPU is lost" too, but a lost device's line must say it whatever the
         * library's words are. */
        if (r == MTTD_NVML_ERROR_GPU_IS_LOST)
                snprintf(buf, size, "GPU is lost");
        else if (api && api->error_string && api->error_string(r))
                snprintf(buf, size, "%s", api->error_string(r));
        else
                snprintf(buf, size, "NVML error %d", r);
        return buf;
}

int mttd_nvml_open_api(const mttd_nvml_api *api, mttd_nvml **out, char *why, size_t why_size)
{
        char words[96];
        int r = api->init();
        if (r != MTTD_NVML_SUCCESS) {
                snprintf(why, why_size, "NVML: %s", mttd_nvml_words(api, r, words, sizeof(words)));
                return -ENODEV;
        }
        unsigned count = 0;
        r = api->count(&count);
        if (r != MTTD_NVML_SUCCESS || count == 0) {
                if (r != MTTD_NVML_SUCCESS)
                        snprintf(why, why_size, "NVML: %s",
                                 mttd_nvml_words(api, r, words, sizeof(words)));
                else
                        snprintf(why, why_size, "no NVIDIA GPU");
                api->shutdown();
                return -ENODEV;
        }
        mttd_nvml *n = calloc(1, sizeof(*n));
        if (!n) {
                api->shutdown();
                snprintf(why, why_size, "out of memory");
                return -ENOMEM;
        }
        n->api = *api;
        n->count = count < MTTD_NVML_MAX_DEVICES ? count : MTTD_NVML_MAX_DEVICES;
        *out = n;
        return 0;
}

/* glibc keeps a failed dl call's message for the thread until dlerror has been asked twice:
 * the first call hands it out, the second frees it. Asked on a thread that then ends, it would
 * stay allocated (a leak, as LeakSanitizer reports it). */
static void dl_error_done(void)
{
        (void)dlerror();
        (void)dlerror();
}

int mttd_nvml_open(const char *path, mttd_nvml **out, char *why, size_t why_size)
{
        if (!path)
                path = MTTD_NVML_LIBRARY;
        /* RTLD_LOCAL: NVML's symbols stay its own. glibc opens the file close-on-exec. */
        void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
                const char *e = dlerror();
                if (!e || strstr(e, "No such file"))
                        snprintf(why, why_size, "%s not found (no NVIDIA driver)", path);
                else
                        snprintf(why, why_size, "cannot load %s", e);
                dl_error_done();
                return -ENOENT;
        }
        mttd_nvml_api api;
        static const struct {
                const char *name;
                size_t offset;
                bool optional;
        } syms[] = {
            {"nvmlInit_v2", offsetof(mttd_nvml_api, init), false},
            {"nvmlShutdown", offsetof(mttd_nvml_api, shutdown), false},
            {"nvmlErrorString", offsetof(mttd_nvml_api, error_string), false},
            {"nvmlDeviceGetCount_v2", offsetof(mttd_nvml_api, count), false},
            {"nvmlDeviceGetHandleByIndex_v2", offsetof(mttd_nvml_api, handle), false},
            {"nvmlDeviceGetName", offsetof(mttd_nvml_api, name), false},
            {"nvmlDeviceGetMemoryInfo", offsetof(mttd_nvml_api, memory), false},
            {"nvmlDeviceGetComputeRunningProcesses_v3", offsetof(mttd_nvml_api, compute_processes),
             false},
            /* Optional: without it, the graphics list says it is not there. */
            {"nvmlDeviceGetGraphicsRunningProcesses_v3",
             offsetof(mttd_nvml_api, graphics_processes), true},
        };
        for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
                void *f = dlsym(lib, syms[i].name);
                if (!f && !syms[i].optional) {
                        snprintf(why, why_size, "%s has no %s (an NVIDIA driver too old)", path,
                                 syms[i].name);
                        dl_error_done();
                        dlclose(lib);
                        return -ENOSYS;
                }
                /* POSIX: a data pointer from dlsym converts to a function pointer. */
                memcpy((char *)&api + syms[i].offset, &f, sizeof(f));
        }
        dl_error_done(); /* an optional function that is not there */
        int r = mttd_nvml_open_api(&api, out, why, why_size);
        if (r < 0) {
                dlclose(lib);
                return r;
        }
        (*out)->lib = lib;
        return 0;
}

void mttd_nvml_close(mttd_nvml *n)
{
        if (!n)
                return;
        n->api.shutdown();
        if (n->lib)
                dlclose(n->lib);
        free(n);
}

unsigned mttd_nvml_count(const mttd_nvml *n)
{
        return n->count;
}

/* Device i's handle, found once and kept; an NVML code. */
static int handle_of(mttd_nvml *n, unsigned i, mttd_nvml_device *d)
{
        if (!n->dev[i].have_handle) {
                int r = n->api.handle(i, &n->dev[i].handle);
                if (r != MTTD_NVML_SUCCESS)
                        return r;
                n->dev[i].have_handle = true;
        }
        *d = n->dev[i].handle;
        return MTTD_NVML_SUCCESS;
}

static void failed(mttd_nvml *n, mttd_gpu *g, int r)
{
        g->error = r;
        mttd_nvml_words(&n->api, r, g->why, sizeof(g->why));
        g->used_bytes = g->total_bytes = 0;
}

unsigned mttd_nvml_read_memory(mttd_nvml *n, mttd_gpu *out)
{
        unsigned bad = 0;
        for (unsigned i = 0; i < n->count; i++) {
                mttd_gpu *g = &out[i];
                g->index = i;
                g->error = 0;
                g->why[0] = '\0';
                mttd_nvml_device d;
                mttd_nvml_memory m;
                int r = handle_of(n, i, &d);
                if (r == MTTD_NVML_SUCCESS)
                        r = n->api.memory(d, &m);
                if (r != MTTD_NVML_SUCCESS) {
                        failed(n, g, r);
                        bad++;
                        continue;
                }
                g->used_bytes = m.used;
                g->total_bytes = m.total;
        }
        return bad;
}

void mttd_nvml_read(mttd_nvml *n, mttd_gpu *out)
{
        mttd_nvml_read_memory(n, out);
        for (unsigned i = 0; i < n->count; i++) {
                mttd_gpu *g = &out[i];
                mttd_nvml_device d;
                /* A name is asked for once: it does not change, and a lost device that
                 * had one keeps it. */
                if (!n->dev[i].name[0] && handle_of(n, i, &d) == MTTD_NVML_SUCCESS &&
                    n->api.name(d, n->dev[i].name, sizeof(n->dev[i].name)) != MTTD_NVML_SUCCESS)
                        n->dev[i].name[0] = '\0';
                n->dev[i].name[sizeof(n->dev[i].name) - 1] = '\0';
                snprintf(g->name, sizeof(g->name), "%s", n->dev[i].name);
        }
}

int mttd_nvml_list_processes(mttd_nvml *n, unsigned index, bool graphics, mttd_nvml_processes *buf,
                             int *nvml_error)
{
        int (*list)(mttd_nvml_device, unsigned int *, mttd_nvml_process *) =
            graphics ? n->api.graphics_processes : n->api.compute_processes;
        if (!list)
                return -ENOSYS;
        if (index >= n->count)
                return -EINVAL;
        mttd_nvml_device d;
        int r = handle_of(n, index, &d);
        /* Processes come and go between the calls: a list too small is grown to what NVML
         * asks, a few times at most. */
        for (int tries = 0; r == MTTD_NVML_SUCCESS && tries < 4; tries++) {
                unsigned int k = buf->cap;
                r = list(d, &k, buf->p);
                if (r == MTTD_NVML_SUCCESS) {
                        buf->n = k < buf->cap ? k : buf->cap;
                        return 0;
                }
                if (r != MTTD_NVML_ERROR_INSUFFICIENT_SIZE)
                        break;
                if (buf->cap >= MTTD_NVML_MAX_PROCESSES)
                        return -E2BIG;
                /* What NVML asked for and some room, at least twice what failed. */
                unsigned want = k + k / 4 + 8;
                if (want < buf->cap * 2)
                        want = buf->cap * 2;
                if (want > MTTD_NVML_MAX_PROCESSES)
                        want = MTTD_NVML_MAX_PROCESSES;
                mttd_nvml_process *p = realloc(buf->p, want * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                buf->p = p;
                buf->cap = want;
                r = MTTD_NVML_SUCCESS;
        }
        buf->n = 0;
        *nvml_error = r == MTTD_NVML_SUCCESS ? MTTD_NVML_ERROR_INSUFFICIENT_SIZE : r;
        return -EIO;
}

void mttd_nvml_processes_free(mttd_nvml_processes *buf)
{
        free(buf->p);
        *buf = (mttd_nvml_processes){0};
}

mttd_nvml *mttd_nvml_lazy_get(mttd_nvml_lazy *lazy, uint64_t now_us)
{
        if (lazy->nvml)
                return lazy->nvml;
        if (lazy->tried && now_us - lazy->failed_us < MTTD_NVML_RETRY_US)
                return NULL;
        lazy->tried = true;
        if (mttd_nvml_open(lazy->path, &lazy->nvml, lazy->why, sizeof(lazy->why)) < 0) {
                lazy->nvml = NULL;
                lazy->failed_us = now_us;
                return NULL;
        }
        lazy->why[0] = '\0';
        return lazy->nvml;
}

void mttd_nvml_lazy_free(mttd_nvml_lazy *lazy)
{
        mttd_nvml_close(lazy->nvml);
        lazy->nvml = NULL;
}
