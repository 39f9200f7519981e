/* A timerfd under libev. */
#include "ticker.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

static void on_expired(struct ev_loop *loop, ev_io *w, int revents)
{
        mttd_ticker *t = w->data;
        uint64_t expirations;
        if (read(t->fd, &expirations, sizeof(expirations)) < 0 && errno == EAGAIN)
                return; /* re-armed meanwhile: not due yet */
        t->cb(t->ctx);
}

int mttd_ticker_init(mttd_ticker *t, struct ev_loop *loop, mttd_tick_cb cb, void *ctx)
{
        memset(t, 0, sizeof(*t));
        t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (t->fd < 0)
                return -errno;
        t->loop = loop;
        t->cb = cb;
        t->ctx = ctx;
        ev_io_init(&t->io, on_expired, t->fd, EV_READ);
        t->io.data = t;
        ev_io_start(loop, &t->io);
        return 0;
}

void mttd_ticker_arm(mttd_ticker *t, uint64_t at_us)
{
        /* An all-zero it_value disarms: the earliest real time is 1 ns. */
        struct itimerspec its = {
            .it_value = {.tv_sec = (time_t)(at_us / 1000000),
                         .tv_nsec = (long)(at_us % 1000000) * 1000 + (at_us ? 0 : 1)},
        };
        timerfd_settime(t->fd, TFD_TIMER_ABSTIME, &its, NULL);
}

void mttd_ticker_disarm(mttd_ticker *t)
{
        struct itimerspec its = {0};
        timerfd_settime(t->fd, 0, &its, NULL);
}

void mttd_ticker_done(mttd_ticker *t)
{
        if (t->fd < 0 || !t->loop)
                return;
        ev_io_stop(t->loop, &t->io);
        close(t->fd);
        t->fd = -1;
}
