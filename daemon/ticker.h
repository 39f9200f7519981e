/* The tick's clock: a CLOCK_MONOTONIC timerfd armed at absolute microsecond times and
 * watched by libev, because libev's own timers round to milliseconds under epoll and a
 * session's schedule may ask for 100 us. */
#pragma once

#include <ev.h>
#include <stdint.h>

typedef void (*mttd_tick_cb)(void *ctx);

typedef struct mttd_ticker {
        struct ev_loop *loop;
        int fd;
        ev_io io;
        mttd_tick_cb cb;
        void *ctx;
} mttd_ticker;

int mttd_ticker_init(mttd_ticker *t, struct ev_loop *loop, mttd_tick_cb cb, void *ctx);
/* Fires once at the monotonic time at_us (at once if it has passed), replacing any earlier
 * arming. */
void mttd_ticker_arm(mttd_ticker *t, uint64_t at_us);
void mttd_ticker_disarm(mttd_ticker *t);
/* Accepts a ticker that was never initialised (fd -1). */
void mttd_ticker_done(mttd_ticker *t);
