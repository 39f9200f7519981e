/* sd_notify from the event loop. */
#include "notify.h"

#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "log.h"

#define STATUS_EVERY_S 1.0

static void send_status(mttd_notify *n)
{
        n->last_running = n->running;
        n->last_sent = ev_now(n->loop);
        sd_notifyf(0, "STATUS=Tracking %u session%s", n->running, n->running == 1 ? "" : "s");
}

static void on_status(struct ev_loop *loop, ev_timer *w, int revents)
{
        mttd_notify *n = w->data;
        if (n->running != n->last_running)
                send_status(n);
}

void mttd_notify_running(mttd_notify *n, unsigned running)
{
        n->running = running;
        if (!n->active || n->stopping || ev_is_active(&n->status))
                return; /* the timer sends the count it finds */
        ev_tstamp wait = n->last_sent + STATUS_EVERY_S - ev_now(n->loop);
        if (wait <= 0) {
                send_status(n);
                return;
        }
        ev_timer_set(&n->status, wait, 0.);
        ev_timer_start(n->loop, &n->status);
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
        n->running = n->last_running = mttd_tracker_running(tracker);
        const char *socket = getenv("NOTIFY_SOCKET");
        n->active = socket && socket[0];
        if (!n->active)
                return;
        sd_notifyf(0, "READY=1\nSTATUS=Listening on %s, no session running", listening_on);
        n->last_sent = ev_now(loop);
        ev_timer_init(&n->status, on_status, STATUS_EVERY_S, 0.);
        n->status.data = n;
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
        if (!n->active)
                return;
        n->stopping = true; /* the sessions that end now do not overwrite this status */
        ev_timer_stop(n->loop, &n->status);
        sd_notify(0, "STOPPING=1\nSTATUS=Stopping: flushing every report");
}

void mttd_notify_done(mttd_notify *n)
{
        if (!n->active)
                return;
        ev_timer_stop(n->loop, &n->status);
        ev_timer_stop(n->loop, &n->watchdog);
}
