/* sd_notify from the event loop. */
#include "notify.h"

#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "log.h"

static void send_status(mttd_notify *n)
{
        unsigned running = mttd_tracker_running(n->tracker);
        n->last_running = running;
        sd_notifyf(0, "STATUS=Tracking %u session%s", running, running == 1 ? "" : "s");
}

static void on_status(struct ev_loop *loop, ev_timer *w, int revents)
{
        mttd_notify *n = w->data;
        if (mttd_tracker_running(n->tracker) != n->last_running)
                send_status(n);
}

/* The ping comes from the loop itself: a loop that hangs stops it. */
static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
        sd_notify(0, "WATCHDOG=1");
}

void mttd_notify_start(mttd_notify *n, struct ev_loop *loop, mttd_tracker *tracker,
                       const char *listening_on)
{
        memset(n, 0, sizeof(*n));
        n->loop = loop;
        n->tracker = tracker;
        const char *socket = getenv("NOTIFY_SOCKET");
        n->active = socket && socket[0];
        if (!n->active)
                return;
        sd_notifyf(0, "READY=1\nSTATUS=Listening on %s, no session running", listening_on);
        ev_timer_init(&n->status, on_status, 1., 1.);
        n->status.data = n;
        ev_timer_start(loop, &n->status);
        uint64_t usec = 0;
        if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
                double every = (double)usec / 2e6;
                ev_timer_init(&n->watchdog, on_watchdog, every, every);
                n->watchdog.data = n;
                ev_timer_start(loop, &n->watchdog);
                sd_notify(0, "WATCHDOG=1");
                mttd_log(LOG_INFO, "watchdog: pinging every %.3f s", every);
        }
}

void mttd_notify_stopping(mttd_notify *n)
{
        if (n->active)
                sd_notify(0, "STOPPING=1\nSTATUS=Stopping: flushing every report");
}

void mttd_notify_done(mttd_notify *n)
{
        if (!n->active)
                return;
        ev_timer_stop(n->loop, &n->status);
        ev_timer_stop(n->loop, &n->watchdog);
}
