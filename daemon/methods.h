/* The io.mtt.Tracker and org.varlink.service methods: one parsed call in, one reply out (or
 * a promise of one, for a Close that waits for its report to be synced). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "proto/frame.h"
#include "proto/message.h"
#include "tracker.h"

typedef struct mttd_request {
        mttd_tracker *tracker;
        const mtt_proto_call *call;
        mtt_proto_frame *frame; /* its fds; a method that keeps one takes it */
        const struct ucred *peer;
        mttd_owner *owner;         /* the connection: owner of the sessions it opens */
        struct mttd_peer **client; /* ... its client process, made at its first Open */
        int conn_fd;               /* its socket, for pidfds of its peer (SO_PEERPIDFD) */
        mttd_session *waiting_on;  /* set when the reply must wait for this session: */
        bool waiting_open;         /* ... its first write (Open), else its end (Close) */
        /* Set when the call must wait for the GPUs' read (gpus.h): no reply, the call is
         * handled again once the read is back (or late). */
        bool waiting_gpus;
        /* ... a read begun since then is wanted (a Sample's): set with waiting_gpus, given
         * back when the call is handled again (0 the first time). */
        uint64_t gpus_since_us;
        /* Set by a Watch that goes on: the connection follows watch_session, or every
         * session its peer may see when that is NULL. */
        bool watch;
        mttd_session *watch_session;
} mttd_request;

/* The reply, or NULL when it must wait (req->waiting_on is set) until that session is
 * finished (or, for an Open, until its first write is back), or for the GPUs' read
 * (req->waiting_gpus). */
json_t *mttd_methods_dispatch(mttd_request *req);

/* The reply to a Close that waited, once its session is finished; with continues, a
 * Watch's message about the session. */
json_t *mttd_methods_session_reply(mttd_tracker *t, const mttd_session *s, bool continues);
/* A Watch's message for one row of s: its delta in microseconds and its ram in GiB. */
json_t *mttd_methods_row_reply(const mttd_session *s, uint64_t t_us, double ram_gib);
/* Whether a peer may see (Status, Watch, List) or act on a session (SPEC 8). */
bool mttd_methods_may_see(const struct ucred *peer, const mttd_session *s);
