/* NVML reads on a thread of their own. */
#include "gpus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ancestry.h"
#include "common/grow.h"
#include "log.h"
#include "pool.h"
#include "target.h"

/* The GPU thread's stack (virtual: what NVML touches is what it costs). */
#define GPU_THREAD_STACK (8u << 20)

/* One process tree of a read: in, its root; out, its bytes on the GPUs and what failed. */
typedef struct tree {
        pid_t pid;
        int pidfd;
        uint64_t bytes;
        int unknown_on; /* the GPU whose unknown figure was added to why, or -1 */
        char why[sizeof(((mttd_source *)0)->gpu_why)];
} tree;

/* The one read: the loop fills its trees and hands it to the thread, which owns it (and
 * NVML) until it is back. */
typedef struct job {
        mttd_pool_job job; /* first: the pool hands it back */
        tree *trees;
        mttd_source **tree_srcs; /* the loop's: whose each tree is */
        size_t n_trees, cap_trees, cap_tree_srcs;
        struct root {
                pid_t pid;
                size_t tree;
        } * roots; /* the thread's: the trees by their roots' pids, in order */
        size_t cap_roots;
        /* The thread's, kept from read to read: */
        mttd_nvml_lazy nvml;
        mttd_ancestry ancestry;
        mttd_nvml_processes compute, graphics;
        /* What it read: */
        bool loaded;
        char why[sizeof(((mttd_nvml_lazy *)0)->why)];
        unsigned count;
        mttd_gpu gpus[MTTD_NVML_MAX_DEVICES];
} job;

struct mttd_gpus {
        struct ev_loop *loop;
        const mttd_config *cfg;
        mttd_gpus_hooks hooks;
        mttd_pool *pool;
        job *job;
        bool out;        /* the job is with the thread */
        bool late;       /* ... past the read timeout */
        bool again;      /* a read is wanted as soon as the one out is back */
        bool waiters;    /* someone asked and got WAIT: tell them */
        bool delivering; /* sources are being told: those that leave wait */
        bool closing;    /* mttd ends: a job back is only taken back */
        uint64_t out_us;
        ev_timer late_timer;
        mttd_source **srcs;
        size_t n_srcs, cap_srcs;
        mttd_source **told; /* srcs as they were when a read came back, told in turn */
        size_t cap_told;
        unsigned n_trees; /* ... of them, gpu (process tree) sources */
        /* The latest reading: */
        bool have_reading;
        uint64_t reading_us; /* when the read began */
        bool loaded;
        char why[sizeof(((mttd_nvml_lazy *)0)->why)];
        char late_why[96];
        unsigned count;
        mttd_gpu gpus[MTTD_NVML_MAX_DEVICES];
        bool logged_loaded;                              /* "NVML loaded" was logged */
        char logged[sizeof(((mttd_nvml_lazy *)0)->why)]; /* the last reason logged */
};

/* ---- on the thread ---- */

static void add_why(char *why, size_t size, unsigned gpu, const char *words)
{
        size_t len = strlen(why);
        if (len + 3 < size)
                snprintf(why + len, size - len, "%sGPU %u: %s", len ? "; " : "", gpu, words);
}

/* p of GPU d counted in tr: its bytes; or, when NVML gives no figure for it
 * (NVML_VALUE_NOT_AVAILABLE: MIG, a virtual GPU), told so: a tree with a process whose memory
 * is unknown has no value, rather than one made without it. */
static void count_in(tree *tr, unsigned d, const mttd_nvml_process *p, uint64_t bytes, bool unknown)
{
        if (tr->pidfd == -2)
                return;
        if (!unknown) {
                tr->bytes += bytes;
        } else if (tr->unknown_on != (int)d) {
                char words[96];
                snprintf(words, sizeof(words),
                         "NVML gives no memory figure for process %u (MIG or a vGPU?)", p->pid);
                add_why(tr->why, sizeof(tr->why), d, words);
                tr->unknown_on = (int)d;
        }
}

static int by_pid(const void *a, const void *b)
{
        pid_t x = ((const struct root *)a)->pid, y = ((const struct root *)b)->pid;
        return (x > y) - (x < y);
}

/* The first of the roots (in order) with pid, or n_trees. */
static size_t first_root(const job *j, pid_t pid)
{
        size_t lo = 0, hi = j->n_trees;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (j->roots[mid].pid < pid)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* p counted in the trees it belongs to: its line of parents walked once, each of its pids
 * looked up among the roots. */
static void add_to_trees(job *j, unsigned d, const mttd_nvml_process *p, uint64_t bytes,
                         bool unknown)
{
        if (!unknown && bytes == 0)
                return;
        const pid_t *line;
        size_t len = mttd_ancestry_line(&j->ancestry, (pid_t)p->pid, &line);
        if (len == 0) { /* out of memory: no tree knows whether p is its */
                for (size_t t = 0; t < j->n_trees; t++)
                        add_why(j->trees[t].why, sizeof(j->trees[t].why), d,
                                "out of memory for its processes' parents");
                return;
        }
        for (size_t k = 0; k < len; k++)
                for (size_t i = first_root(j, line[k]);
                     i < j->n_trees && j->roots[i].pid == line[k]; i++)
                        count_in(&j->trees[j->roots[i].tree], d, p, bytes, unknown);
}

/* The compute list's entry for pid, or NULL. */
static const mttd_nvml_process *in_compute(const job *j, unsigned pid)
{
        for (unsigned k = 0; k < j->compute.n; k++)
                if (j->compute.p[k].pid == pid)
                        return &j->compute.p[k];
        return NULL;
}

/* A process list of GPU d that could not be read (r from mttd_nvml_list_processes): no tree
 * has a value from this read. */
static void list_failed(job *j, unsigned d, int r, int nvml_error)
{
        char words[96];
        if (r == -EIO)
                mttd_nvml_words(NULL, nvml_error, words, sizeof(words));
        else
                snprintf(words, sizeof(words), "cannot list its processes: %s", strerror(-r));
        for (size_t t = 0; t < j->n_trees; t++)
                add_why(j->trees[t].why, sizeof(j->trees[t].why), d, words);
}

/* One GPU's processes, compute and graphics, added to the trees they belong to. A process in
 * both lists counts once, as the larger of the figures NVML gives (unknown if it gives none). */
static void count_processes(job *j, mttd_nvml *n, unsigned d)
{
        int nvml_error = 0;
        int r = mttd_nvml_list_processes(n, d, false, &j->compute, &nvml_error);
        if (r < 0) {
                list_failed(j, d, r, nvml_error);
                return;
        }
        r = mttd_nvml_list_processes(n, d, true, &j->graphics, &nvml_error);
        if (r == -ENOSYS || (r == -EIO && nvml_error == MTTD_NVML_ERROR_NOT_SUPPORTED)) {
                j->graphics.n = 0; /* an NVML or a GPU without graphics lists: compute alone */
        } else if (r < 0) {
                list_failed(j, d, r, nvml_error);
                return;
        }
        const uint64_t na = MTTD_NVML_VALUE_NOT_AVAILABLE;
        for (unsigned i = 0; i < j->compute.n; i++) {
                const mttd_nvml_process *c = &j->compute.p[i];
                if (c->used_bytes != na) {
                        add_to_trees(j, d, c, c->used_bytes, false);
                        continue;
                }
                bool known_as_graphics = false; /* then it counts there, whole */
                for (unsigned k = 0; k < j->graphics.n; k++)
                        if (j->graphics.p[k].pid == c->pid && j->graphics.p[k].used_bytes != na)
                                known_as_graphics = true;
                if (!known_as_graphics)
                        add_to_trees(j, d, c, 0, true);
        }
        for (unsigned i = 0; i < j->graphics.n; i++) {
                const mttd_nvml_process *g = &j->graphics.p[i];
                const mttd_nvml_process *c = in_compute(j, g->pid);
                if (g->used_bytes == na) {
                        if (!c) /* in both lists, the compute entry said it */
                                add_to_trees(j, d, g, 0, true);
                        continue;
                }
                uint64_t had = c && c->used_bytes != na ? c->used_bytes : 0;
                if (g->used_bytes > had)
                        add_to_trees(j, d, g, g->used_bytes - had, false);
        }
}

static void run(mttd_pool_job *pj)
{
        job *j = (job *)pj;
        mttd_nvml *n = mttd_nvml_lazy_get(&j->nvml, mttd_pool_now_us());
        j->loaded = n != NULL;
        snprintf(j->why, sizeof(j->why), "%s", n ? "" : j->nvml.why);
        j->count = n ? mttd_nvml_count(n) : 0;
        for (size_t t = 0; t < j->n_trees; t++) {
                j->trees[t].bytes = 0;
                j->trees[t].unknown_on = -1;
                snprintf(j->trees[t].why, sizeof(j->trees[t].why), "%s", j->why);
                /* A root that ended is another tree's pid from now on: it holds nothing. */
                if (j->trees[t].pidfd >= 0 && mttd_pidfd_ended(j->trees[t].pidfd))
                        j->trees[t].pidfd = -2;
        }
        if (!n)
                return;
        mttd_nvml_read(n, j->gpus);
        if (j->n_trees == 0)
                return;
        if (mtt_grow(&j->roots, &j->cap_roots, j->n_trees, sizeof(*j->roots), 4) < 0) {
                for (size_t t = 0; t < j->n_trees; t++)
                        snprintf(j->trees[t].why, sizeof(j->trees[t].why), "out of memory");
                return;
        }
        for (size_t t = 0; t < j->n_trees; t++)
                j->roots[t] = (struct root){.pid = j->trees[t].pid, .tree = t};
        qsort(j->roots, j->n_trees, sizeof(*j->roots), by_pid);
        mttd_ancestry_forget(&j->ancestry);
        for (unsigned d = 0; d < j->count; d++) {
                if (j->gpus[d].error) {
                        for (size_t t = 0; t < j->n_trees; t++)
                                add_why(j->trees[t].why, sizeof(j->trees[t].why), d,
                                        j->gpus[d].why);
                        continue;
                }
                count_processes(j, n, d);
        }
}

/* ---- on the loop ---- */

static void send_job(mttd_gpus *g, uint64_t now_us, bool quiet);

/* A gpu-device source's value from the reading: its GPU's used memory, or every GPU's. A
 * GPU that cannot be read leaves the value unknown: no rows, and gpu_why says why. */
static void device_value(mttd_gpus *g, mttd_source *src)
{
        src->gpu_why[0] = '\0';
        if (!g->loaded) {
                snprintf(src->gpu_why, sizeof(src->gpu_why), "%s", g->why);
                return;
        }
        uint64_t bytes = 0;
        for (unsigned d = 0; d < g->count; d++) {
                if (src->gpu >= 0 && (unsigned)src->gpu != d)
                        continue;
                if (g->gpus[d].error)
                        add_why(src->gpu_why, sizeof(src->gpu_why), d, g->gpus[d].why);
                bytes += g->gpus[d].used_bytes;
        }
        if (src->gpu >= 0 && (unsigned)src->gpu >= g->count)
                snprintf(src->gpu_why, sizeof(src->gpu_why), "no GPU %d (NVML counts %u)", src->gpu,
                         g->count);
        src->kb = (int64_t)(bytes / 1024);
}

static void log_reading(mttd_gpus *g)
{
        if (g->loaded && !g->logged_loaded) {
                mttd_log(LOG_INFO, "NVML loaded: %u GPU%s", g->count, g->count == 1 ? "" : "s");
                g->logged_loaded = true;
        } else if (!g->loaded && strcmp(g->why, g->logged) != 0) {
                /* Once per reason: a retry every few seconds must not fill the journal. */
                mttd_log(LOG_INFO, "no GPUs: %s", g->why);
                snprintf(g->logged, sizeof(g->logged), "%s", g->why);
        }
}

static void free_orphans(mttd_source **srcs, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (srcs[i]->orphan)
                        mttd_source_free(srcs[i]);
}

static void on_cancel(mttd_pool_job *pj, bool ran);

static void on_done(void *ctx, mttd_pool_job *pj)
{
        mttd_gpus *g = ctx;
        job *j = (job *)pj;
        if (g->closing) {
                on_cancel(pj, true);
                g->out = false;
                return;
        }
        if (g->late)
                mttd_log(LOG_NOTICE, "the GPU read came back after %.1f s",
                         (double)(mttd_pool_now_us() - g->out_us) / 1e6);
        g->out = g->late = false;
        ev_timer_stop(g->loop, &g->late_timer);
        g->have_reading = true;
        g->reading_us = g->out_us;
        g->loaded = j->loaded;
        snprintf(g->why, sizeof(g->why), "%s", j->why);
        /* A GPU that fails, or comes back, is logged once each way. */
        for (unsigned d = 0; j->loaded && d < j->count; d++) {
                bool was = d < g->count && g->gpus[d].error;
                if (j->gpus[d].error && !was)
                        mttd_log(LOG_WARNING,
                                 "GPU %u cannot be read: %s (sessions that need it make no rows "
                                 "meanwhile)",
                                 d, j->gpus[d].why);
                else if (!j->gpus[d].error && was)
                        mttd_log(LOG_NOTICE, "GPU %u can be read again", d);
        }
        g->count = j->count;
        memcpy(g->gpus, j->gpus, sizeof(g->gpus[0]) * j->count);
        log_reading(g);
        /* The trees' sources get their values; those released while the read was out go. */
        for (size_t t = 0; t < j->n_trees; t++) {
                mttd_source *src = j->tree_srcs[t];
                if (src->orphan)
                        continue;
                src->kb = (int64_t)(j->trees[t].bytes / 1024);
                snprintf(src->gpu_why, sizeof(src->gpu_why), "%s", j->trees[t].why);
        }
        free_orphans(j->tree_srcs, j->n_trees);
        j->n_trees = 0;
        /* Every source hears of the reading, after it is whole; what its sessions do may
         * release sources, which wait until all are told. */
        for (size_t i = 0; i < g->n_srcs; i++) {
                mttd_source *src = g->srcs[i];
                /* A tree that came after the read went out has no value from it: the next
                 * read, sent below, is its first. */
                if (src->scope == MTTD_SCOPE_GPU && !src->gpu_in_job)
                        continue;
                src->gpu_in_job = false;
                if (src->scope == MTTD_SCOPE_GPU_DEVICE)
                        device_value(g, src);
                /* What could not be read leaves the value unknown: no rows meanwhile. */
                src->have_value = true;
                src->gpu_unread = src->gpu_why[0] != '\0';
                src->late_since_us = 0;
                src->read_us = g->out_us;
        }
        size_t n = g->n_srcs;
        if (n && mtt_grow(&g->told, &g->cap_told, n, sizeof(*g->told), 8) < 0)
                n = 0; /* out of memory: they hear of the next read */
        if (n)
                memcpy(g->told, g->srcs, n * sizeof(*g->told));
        g->delivering = true;
        for (size_t i = 0; i < n; i++)
                if (!g->told[i]->orphan)
                        g->hooks.answered(g->hooks.ctx, g->told[i]);
        g->delivering = false;
        free_orphans(g->told, n);
        if (g->waiters) {
                g->waiters = false;
                g->hooks.told(g->hooks.ctx);
        }
        if (g->again && !g->out) /* the hooks may have sent one already */
                send_job(g, mttd_pool_now_us(), false);
}

/* Sends the read: every GPU, and the trees of the gpu sources as they are now. A quiet one
 * (a tick's) is collected at the next tick; one asked for is told at once. */
static void send_job(mttd_gpus *g, uint64_t now_us, bool quiet)
{
        job *j = g->job;
        if (mtt_grow(&j->trees, &j->cap_trees, g->n_trees, sizeof(*j->trees), 4) < 0 ||
            mtt_grow(&j->tree_srcs, &j->cap_tree_srcs, g->n_trees, sizeof(*j->tree_srcs), 4) < 0)
                return; /* out of memory: the next tick tries again */
        j->n_trees = 0;
        for (size_t i = 0; i < g->n_srcs; i++) {
                mttd_source *src = g->srcs[i];
                if (src->scope != MTTD_SCOPE_GPU)
                        continue;
                j->trees[j->n_trees] = (tree){.pid = src->pid, .pidfd = src->pidfd};
                j->tree_srcs[j->n_trees++] = src;
                src->gpu_in_job = true;
        }
        j->job.run = run;
        j->job.quiet = quiet;
        g->again = false;
        if (mttd_pool_submit(g->pool, &j->job) < 0) {
                for (size_t t = 0; t < j->n_trees; t++)
                        j->tree_srcs[t]->gpu_in_job = false;
                j->n_trees = 0;
                return;
        }
        g->out = true;
        g->out_us = now_us;
        ev_timer_set(&g->late_timer, (double)g->cfg->read_timeout_us / 1e6, 0.);
        ev_timer_start(g->loop, &g->late_timer);
}

static void on_late(struct ev_loop *loop, ev_timer *w, int revents)
{
        mttd_gpus *g = w->data;
        if (!g->out)
                return;
        g->late = true;
        for (size_t i = 0; i < g->n_srcs; i++)
                g->srcs[i]->late_since_us = g->out_us;
        double s = (double)(mttd_pool_now_us() - g->out_us) / 1e6;
        snprintf(g->late_why, sizeof(g->late_why),
                 "the GPU read (NVML) has not come back for %.1f s", s);
        mttd_log(LOG_WARNING, "%s: the GPU sessions get no rows until it does", g->late_why);
        if (g->waiters) {
                g->waiters = false;
                g->hooks.told(g->hooks.ctx);
        }
}

int mttd_gpus_new(struct ev_loop *loop, const mttd_config *cfg, const char *proc,
                  const mttd_gpus_hooks *hooks, mttd_gpus **out)
{
        mttd_gpus *g = calloc(1, sizeof(*g));
        job *j = calloc(1, sizeof(*j));
        if (!g || !j) {
                free(g);
                free(j);
                return -ENOMEM;
        }
        *g = (mttd_gpus){.loop = loop, .cfg = cfg, .hooks = *hooks, .job = j};
        j->nvml.path = cfg->nvml_path;
        mttd_ancestry_init(&j->ancestry, proc);
        ev_timer_init(&g->late_timer, on_late, 0., 0.);
        g->late_timer.data = g;
        int r = mttd_pool_new(loop, 1, on_done, g, &g->pool);
        if (r < 0) {
                free(j);
                free(g);
                return r;
        }
        /* NVML's code, and the driver's, runs on it: the stack a main thread gets. */
        mttd_pool_set_stack(g->pool, GPU_THREAD_STACK);
        *out = g;
        return 0;
}

static void on_cancel(mttd_pool_job *pj, bool ran)
{
        job *j = (job *)pj;
        free_orphans(j->tree_srcs, j->n_trees);
        j->n_trees = 0;
}

/* NVML closed on its thread: nvmlShutdown may wait on the driver as a read may. */
static void close_nvml(mttd_pool_job *pj)
{
        mttd_nvml_lazy_free(&((job *)pj)->nvml);
}

/* Waits (mttd ends, the loop is done) for the job out to come back, until until_us. */
static void wait_back(mttd_gpus *g, uint64_t until_us)
{
        if (g->out)
                mttd_pool_hurry(g->pool, &g->job->job);
        while (g->out && mttd_pool_now_us() < until_us) {
                mttd_pool_collect(g->pool);
                if (g->out)
                        usleep(1000);
        }
}

void mttd_gpus_free(mttd_gpus *g)
{
        if (!g)
                return;
        ev_timer_stop(g->loop, &g->late_timer);
        /* The read out, then NVML's shutdown, on the thread, each for a read's time at most:
         * a driver that hangs leaves the thread behind, not mttd stuck in its exit. */
        g->closing = true;
        uint64_t until_us = mttd_pool_now_us() + g->cfg->read_timeout_us;
        wait_back(g, until_us);
        if (!g->out && g->job->nvml.nvml) {
                g->job->job.run = close_nvml;
                g->job->job.quiet = true;
                if (mttd_pool_submit(g->pool, &g->job->job) == 0) {
                        g->out = true;
                        g->out_us = mttd_pool_now_us();
                        wait_back(g, until_us + g->cfg->read_timeout_us);
                }
        }
        if (!mttd_pool_free(g->pool, on_cancel)) {
                /* The thread is stuck in NVML with the job: both stay. */
                mttd_log(LOG_WARNING, "leaving a thread behind that is stuck in NVML for %.1f s",
                         (double)(mttd_pool_now_us() - g->out_us) / 1e6);
        } else {
                job *j = g->job;
                mttd_nvml_lazy_free(&j->nvml);
                mttd_ancestry_free(&j->ancestry);
                mttd_nvml_processes_free(&j->compute);
                mttd_nvml_processes_free(&j->graphics);
                free(j->trees);
                free(j->tree_srcs);
                free(j->roots);
                free(j);
        }
        free(g->srcs);
        free(g->told);
        free(g);
}

mttd_gpus_state mttd_gpus_state_now(mttd_gpus *g, uint64_t now_us, uint64_t since_us,
                                    const char **why)
{
        *why = NULL;
        if (g->late) {
                *why = g->late_why;
                return MTTD_GPUS_LATE;
        }
        /* A failed load is not tried again sooner whoever asks: its reason stands. */
        if (g->have_reading && !g->loaded && now_us - g->reading_us < MTTD_NVML_RETRY_US) {
                *why = g->why;
                return MTTD_GPUS_ABSENT;
        }
        if (g->have_reading && g->loaded && g->reading_us >= since_us)
                return MTTD_GPUS_READY;
        g->waiters = true;
        if (!g->out)
                send_job(g, now_us, false);
        else
                mttd_pool_hurry(g->pool, &g->job->job);
        if (!g->out) { /* no thread took it */
                g->waiters = false;
                *why = "no thread for the GPU read";
                return MTTD_GPUS_LATE;
        }
        return MTTD_GPUS_WAIT;
}

unsigned mttd_gpus_reading(const mttd_gpus *g, const mttd_gpu **gpus)
{
        *gpus = g->gpus;
        return g->loaded ? g->count : 0;
}

int mttd_gpus_add(mttd_gpus *g, mttd_source *src, uint64_t now_us)
{
        if (mtt_grow(&g->srcs, &g->cap_srcs, g->n_srcs + 1, sizeof(*g->srcs), 8) < 0)
                return -ENOMEM;
        g->srcs[g->n_srcs++] = src;
        if (src->scope == MTTD_SCOPE_GPU)
                g->n_trees++;
        src->late_since_us = g->late ? g->out_us : 0;
        mttd_gpus_read_now(g, src, now_us);
        return 0;
}

void mttd_gpus_remove(mttd_gpus *g, mttd_source *src)
{
        for (size_t i = 0; i < g->n_srcs; i++) {
                if (g->srcs[i] == src) {
                        g->srcs[i] = g->srcs[--g->n_srcs];
                        break;
                }
        }
        if (src->scope == MTTD_SCOPE_GPU)
                g->n_trees--;
        if (src->gpu_in_job || g->delivering)
                src->orphan = true; /* freed once the read, or its telling, is done */
        else
                mttd_source_free(src);
        /* The last one gone: no tick collects the read out (a quiet one) any more, so it is
         * told when back, and the GPUs' state with it. */
        if (g->n_srcs == 0 && g->out)
                mttd_pool_hurry(g->pool, &g->job->job);
}

void mttd_gpus_read_now(mttd_gpus *g, mttd_source *src, uint64_t now_us)
{
        (void)src;
        if (!g->out && !g->delivering) {
                send_job(g, now_us, false);
                return;
        }
        g->again = true; /* once the read out, or being told, is done */
        if (g->out)
                mttd_pool_hurry(g->pool, &g->job->job);
}

void mttd_gpus_collect(mttd_gpus *g)
{
        mttd_pool_collect(g->pool);
}

void mttd_gpus_tick(mttd_gpus *g, uint64_t now_us)
{
        if (g->n_srcs > 0 && !g->out)
                send_job(g, now_us, true);
        mttd_pool_poke(g->pool);
}

unsigned mttd_gpus_sources(const mttd_gpus *g)
{
        return (unsigned)g->n_srcs;
}
