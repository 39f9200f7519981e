/* Talking to the service manager (sd_notify): READY=1 once the socket listens, STATUS= with
 * the session count (when it changes, at most once a second), WATCHDOG=1 from the event loop
 * at half of WATCHDOG_USEC, STOPPING=1 on the way out. Without NOTIFY_SOCKET it does nothing
 * and sets no timer; with it, an idle mttd wakes up for the watchdog alone. */
#pragma once

#include <ev.h>
#include <stdbool.h>

#include "tracker.h"

typedef struct mttd_notify {
        struct ev_loop *loop;
        mttd_tracker *tracker;
        ev_timer status; /* a count that changed within a second of the last one sent */
        ev_timer watchdog;
        unsigned running, last_running;
        ev_tstamp last_sent;
        bool active;
        bool stopping;
} mttd_notify;

void mttd_notify_start(mttd_notify *n, struct ev_loop *loop, mttd_tracker *tracker,
                       const char *listening_on);
/* The number of running sessions changed. */
void mttd_notify_running(mttd_notify *n, unsigned running);
void mttd_notify_stopping(mttd_notify *n);
void mttd_notify_done(mttd_notify *n);
