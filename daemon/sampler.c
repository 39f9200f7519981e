/* Process-tree reads on the sampler's threads. */
#include "sampler.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "common/procfs.h"
#include "log.h"
#include "pool.h"
#include "proctree.h"

/* Threads for groups that are not stuck: reads are short, a few suffice. */
#define SAMPLER_THREADS 2

typedef struct group {
        mttd_pool_job job;      /* first: the pool hands it back */
        LIST_ENTRY(group) link; /* the sampler's groups */
        mttd_sampler *sampler;
        uid_t uid;
        /* The loop's: */
        mttd_source **srcs;
        size_t n_srcs, cap_srcs;
        bool out;         /* a job is with the threads */
        bool delivering;  /* its results are being told: sources that leave wait */
        bool late;        /* ... past the deadline */
        bool changed;     /* sources came or went since the last full read */
        bool again;       /* a read is wanted as soon as the one out is back */
        uint64_t out_us;  /* when the job went out */
        uint64_t full_us; /* when the last full read went out */
        /* The job's, while out (the loop touches it only when the job is back): */
        bool full;
        mttd_tree_root *roots;
        mttd_source **root_srcs;
        size_t n_roots, cap_roots;
        mttd_forest forest;
} group;

struct mttd_sampler {
        const mttd_config *cfg;
        mttd_pool *pool;
        mttd_sampler_answered answered;
        void *ctx;
        LIST_HEAD(, group) groups;
};

static void run(mttd_pool_job *job)
{
        group *g = (group *)job;
        if (g->full)
                mttd_forest_full(&g->forest, g->roots, g->n_roots);
        else
                mttd_forest_fast(&g->forest, g->roots, g->n_roots);
}

static void group_free(group *g)
{
        LIST_REMOVE(g, link);
        mttd_forest_free(&g->forest);
        free(g->srcs);
        free(g->roots);
        free(g->root_srcs);
        free(g);
}

static void send_job(mttd_sampler *s, group *g, uint64_t now_us, bool quiet);

static void on_done(void *ctx, mttd_pool_job *job)
{
        mttd_sampler *s = ctx;
        group *g = (group *)job;
        if (g->late)
                mttd_log(LOG_NOTICE, "the read of uid %u's process trees came back after %.1f s",
                         (unsigned)g->uid, (double)(mttd_pool_now_us() - g->out_us) / 1e6);
        g->out = g->late = false;
        for (size_t i = 0; i < g->n_srcs; i++) /* those that joined meanwhile too */
                g->srcs[i]->late_since_us = 0;
        for (size_t i = 0; i < g->n_roots; i++) {
                mttd_source *src = g->root_srcs[i];
                const mttd_tree_root *r = &g->roots[i];
                if (src->orphan)
                        continue;
                if (r->error == -EAGAIN) /* over the budget: not read this time */
                        continue;
                src->kb = r->kb;
                src->processes = r->processes;
                if (g->full) /* a fast read walks nothing: the last walk says */
                        src->cut = r->cut;
                src->error = r->error;
                src->have_value = true;
                src->read_us = g->out_us;
        }
        /* The sessions hear of their sources after the group's state is whole again. What
         * they do may end sessions and release sources: those wait until all are told. */
        g->delivering = true;
        for (size_t i = 0; i < g->n_roots; i++)
                if (!g->root_srcs[i]->orphan)
                        s->answered(s->ctx, g->root_srcs[i]);
        g->delivering = false;
        for (size_t i = 0; i < g->n_roots; i++)
                if (g->root_srcs[i]->orphan)
                        mttd_source_free(g->root_srcs[i]);
        g->n_roots = 0;
        if (g->n_srcs == 0) {
                group_free(g);
                return;
        }
        if (g->again) /* a read that began before it was asked for: another one now */
                send_job(s, g, mttd_pool_now_us(), false);
}

/* Sends the group's next job: its sources as they are now. A quiet one is collected at the
 * next tick; one that is not (a full read, whose new trees' sessions wait for a first value;
 * a read asked for) is told at once. */
static void send_job(mttd_sampler *s, group *g, uint64_t now_us, bool quiet)
{
        if (g->cap_roots < g->n_srcs) {
                size_t cap = g->n_srcs * 2;
                mttd_tree_root *roots = realloc(g->roots, cap * sizeof(*roots));
                if (roots)
                        g->roots = roots;
                mttd_source **rs = roots ? realloc(g->root_srcs, cap * sizeof(*rs)) : NULL;
                if (!rs)
                        return; /* out of memory: the next tick tries again */
                g->root_srcs = rs;
                g->cap_roots = cap;
        }
        g->full = g->changed || now_us - g->full_us >= MTTD_SAMPLER_FULL_US;
        if (g->full) {
                g->changed = false;
                g->full_us = now_us;
        }
        g->n_roots = g->n_srcs;
        for (size_t i = 0; i < g->n_srcs; i++) {
                g->roots[i] = (mttd_tree_root){.pid = g->srcs[i]->pid, .pidfd = g->srcs[i]->pidfd};
                g->root_srcs[i] = g->srcs[i];
        }
        g->job.run = run;
        g->job.quiet = quiet && !g->full;
        g->again = false;
        if (mttd_pool_submit(s->pool, &g->job) < 0) {
                g->n_roots = 0;
                g->changed = true;
                return;
        }
        g->out = true;
        g->out_us = now_us;
}

int mttd_sampler_new(struct ev_loop *loop, const mttd_config *cfg, mttd_sampler_answered answered,
                     void *ctx, mttd_sampler **out)
{
        mttd_sampler *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->cfg = cfg;
        s->answered = answered;
        s->ctx = ctx;
        int r = mttd_pool_new(loop, SAMPLER_THREADS, on_done, s, &s->pool);
        if (r < 0) {
                free(s);
                return r;
        }
        *out = s;
        return 0;
}

/* Called for jobs the pool still holds when it ends: not yet taken (sources of the group
 * still to be freed with it), or back and not yet handed over. */
static void on_cancel(mttd_pool_job *job, bool ran)
{
        group *g = (group *)job;
        for (size_t i = 0; i < g->n_roots; i++)
                if (g->root_srcs[i]->orphan)
                        mttd_source_free(g->root_srcs[i]);
        g->n_roots = 0;
        g->out = false;
}

void mttd_sampler_free(mttd_sampler *s)
{
        if (!s)
                return;
        mttd_sampler_log_late(s, mttd_pool_now_us());
        mttd_pool_free(s->pool, on_cancel);
        /* A group whose job is stuck on a thread stays allocated, as the thread does. */
        group *g, *next;
        for (g = LIST_FIRST(&s->groups); g; g = next) {
                next = LIST_NEXT(g, link);
                if (!g->out)
                        group_free(g);
        }
        free(s);
}

int mttd_sampler_add(mttd_sampler *s, mttd_source *src, uint64_t now_us)
{
        group *g = LIST_FIRST(&s->groups);
        while (g && g->uid != src->uid)
                g = LIST_NEXT(g, link);
        if (!g) {
                g = calloc(1, sizeof(*g));
                if (!g)
                        return -ENOMEM;
                g->sampler = s;
                g->uid = src->uid;
                mttd_forest_init(&g->forest, src->uid, MTT_PROCFS_ROOT, s->cfg->max_tree_processes);
                LIST_INSERT_HEAD(&s->groups, g, link);
        }
        if (mtt_grow(&g->srcs, &g->cap_srcs, g->n_srcs + 1, sizeof(*g->srcs), 8) < 0) {
                if (g->n_srcs == 0 && !g->out)
                        group_free(g);
                return -ENOMEM;
        }
        g->srcs[g->n_srcs++] = src;
        src->group = g;
        g->changed = true;
        /* A late group's sources are late from the start. */
        src->late_since_us = g->late ? g->out_us : 0;
        if (!g->out) {
                send_job(s, g, now_us, false);
        } else { /* the source is read as soon as the read out (without it) is back */
                g->again = true;
                mttd_pool_hurry(s->pool, &g->job);
        }
        return 0;
}

void mttd_sampler_remove(mttd_sampler *s, mttd_source *src)
{
        group *g = src->group;
        bool in_job = false;
        for (size_t i = 0; i < g->n_srcs; i++) {
                if (g->srcs[i] == src) {
                        g->srcs[i] = g->srcs[--g->n_srcs];
                        break;
                }
        }
        for (size_t i = 0; (g->out || g->delivering) && i < g->n_roots; i++)
                in_job = in_job || g->root_srcs[i] == src;
        g->changed = true;
        if (in_job)
                src->orphan = true;
        else
                mttd_source_free(src);
        if (g->n_srcs == 0 && !g->out && !g->delivering)
                group_free(g);
        else if (g->n_srcs == 0 && g->out) /* back at once, not at a tick that may not come */
                mttd_pool_hurry(s->pool, &g->job);
}

void mttd_sampler_read_now(mttd_sampler *s, mttd_source *src, uint64_t now_us)
{
        group *g = src->group;
        if (!g->out) {
                send_job(s, g, now_us, false);
                return;
        }
        /* The read out goes on; the next is sent once it is back, which must be told at
         * once even if it was to wait for the next tick. */
        g->again = true;
        mttd_pool_hurry(s->pool, &g->job);
}

void mttd_sampler_collect(mttd_sampler *s)
{
        mttd_pool_collect(s->pool);
}

void mttd_sampler_tick(mttd_sampler *s, uint64_t now_us)
{
        group *g, *next;
        for (g = LIST_FIRST(&s->groups); g; g = next) {
                next = LIST_NEXT(g, link);
                if (!g->out) {
                        send_job(s, g, now_us, true);
                        continue;
                }
                if (g->late || now_us - g->out_us < s->cfg->read_timeout_us)
                        continue;
                g->late = true;
                for (size_t i = 0; i < g->n_srcs; i++)
                        g->srcs[i]->late_since_us = g->out_us;
                mttd_log(LOG_WARNING,
                         "the read of uid %u's process trees has not come back for %.1f s "
                         "(a process whose memory map is locked?): their sessions get no rows "
                         "until it does",
                         (unsigned)g->uid, (double)(now_us - g->out_us) / 1e6);
        }
        mttd_pool_poke(s->pool);
}

void mttd_sampler_log_late(mttd_sampler *s, uint64_t now_us)
{
        group *g;
        LIST_FOREACH(g, &s->groups, link)
        if (g->out && now_us - g->out_us >= s->cfg->read_timeout_us)
                mttd_log(LOG_WARNING,
                         "leaving a thread behind that reads uid %u's process trees: "
                         "the kernel has held it for %.1f s (a process's memory map "
                         "lock)",
                         (unsigned)g->uid, (double)(now_us - g->out_us) / 1e6);
}
