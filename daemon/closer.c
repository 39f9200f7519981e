/* fds closed on threads. */
#include "closer.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "pool.h"

struct mttd_closer {
        mttd_pool *pool;
};

typedef struct close_job {
        mttd_pool_job base;
        int fd;
} close_job;

static void run(mttd_pool_job *job)
{
        close(((close_job *)job)->fd);
}

static void on_done(void *ctx, mttd_pool_job *job)
{
        free(job);
}

static void on_cancel(mttd_pool_job *job, bool ran)
{
        if (!ran)
                close(((close_job *)job)->fd);
        free(job);
}

int mttd_closer_new(struct ev_loop *loop, mttd_closer **out)
{
        mttd_closer *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        /* One thread: closes are rare (fds a call carried and nobody took); one that waits
         * makes the pool grow past it. */
        int r = mttd_pool_new(loop, 1, on_done, c, &c->pool);
        if (r < 0) {
                free(c);
                return r;
        }
        *out = c;
        return 0;
}

void mttd_closer_free(mttd_closer *c)
{
        if (!c)
                return;
        if (mttd_pool_free(c->pool, on_cancel))
                free(c);
}

void mttd_closer_close(void *closer, int fd)
{
        mttd_closer *c = closer;
        close_job *job = calloc(1, sizeof(*job));
        if (job) {
                job->base.run = run;
                job->fd = fd;
                if (mttd_pool_submit(c->pool, &job->base) == 0)
                        return;
                free(job);
        }
        close(fd); /* no thread to be had: here, as before */
}
