/* Talking to the service manager (sd_notify): READY=1 once the socket listens, STATUS= with
 * the session count (at most once a second, when it changed), WATCHDOG=1 from the event loop
 * at half of WATCHDOG_USEC, STOPPING=1 on the way out. Without NOTIFY_SOCKET it does nothing
 * and sets no timer. */
#pragma once

#include <ev.h>
#include <stdbool.h>

#include "tracker.h"

typedef struct mttd_notify {
        struct ev_loop *loop;
        mttd_tracker *tracker;
        ev_timer status;
        ev_timer watchdog;
        unsigned last_running;
        bool active;
} mttd_notify;

void mttd_notify_start(mttd_notify *n, struct ev_loop *loop, mttd_tracker *tracker,
                       const char *listening_on);
void mttd_notify_stopping(mttd_notify *n);
void mttd_notify_done(mttd_notify *n);
