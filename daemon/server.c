/* Connections: non-blocking sockets, buffered input and output, one call at a time. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "closer.h"
#include "keep.h"
#include "log.h"
#include "methods.h"
#include "peer.h"
#include "proto/frame.h"
#include "proto/interface.h"
#include "proto/message.h"

#define READS_PER_WAKEUP 16

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

typedef struct mttd_conn {
        LIST_ENTRY(mttd_conn) link; /* the server's connections */
        mttd_server *srv;
        int fd;
        ev_io io;
        struct ucred peer;
        mtt_proto_inbuf in;
        mtt_proto_outbuf out;
        mttd_session *waiting_on;    /* a Close whose reply waits for this session's report */
        bool waiting_open;           /* ... an Open whose reply waits for its first write */
        ev_timer open_wait;          /* ... at most until that write is reported stalled */
        bool watching;               /* a Watch streams to it (handles no call until it ends) */
        mttd_session *watched;       /* ... this session; NULL: every session it may see */
        LIST_ENTRY(mttd_conn) wlink; /* the server's watching connections */
        mttd_owner owner;            /* what the tracker counts of its sessions */
        struct mttd_peer *client;    /* its client process, once it opened a session */
        bool hup_watched;            /* in the server's hangup set (while a reply waits) */
        /* A call that waits for the GPUs' read (an Open of a GPU scope, a Sample): its frame
         * stays in the input buffer, which is not read meanwhile, and is handled again once
         * the read is back (unpark). */
        bool parked, unpark;
        mtt_proto_frame parked_frame;
        uint64_t parked_since_us; /* the call's mttd_request.gpus_since_us */
        bool kept;                /* in systemd's store (keep.h), under kept_name */
        char kept_name[MTTD_KEEP_NAME_MAX];
        bool closing;          /* close once the output is sent */
        uint64_t last_call_us; /* when it last sent anything */
        bool dead;             /* free at the end of the current callback */
} mttd_conn;

struct mttd_server {
        struct ev_loop *loop;
        const mttd_config *cfg;
        mttd_tracker *tracker;
        int listen_fd;
        ev_io accept_io;
        ev_timer accept_retry; /* after EMFILE: wait instead of spinning */
        ev_timer idle_check;   /* closes connections that hold nothing and say nothing */
        int hup_fd;            /* an epoll set of connections whose reply waits: hangups only */
        mttd_closer *closer;   /* the fds calls carried and nobody took are closed there */
        ev_io hup_io;
        LIST_HEAD(, mttd_conn) conns;
        LIST_HEAD(, mttd_conn) watchers;
        unsigned n_conns;
        unsigned n_watching; /* ... of them, those a Watch streams to */
        mttd_shares conns_per_uid;
        unsigned n_waiting; /* connections with a deferred reply */
        uint64_t last_conn_id;
        bool handing_over;  /* no more calls: a new mttd takes the connections up */
        bool warned_full;   /* the connection limit was logged */
        bool warned_accept; /* running out of fds was logged */
};

/* A connection that holds sessions or watches is kept for the next mttd, under a name that
 * says what it watches (keep.h). */
static void keep(mttd_conn *c)
{
        uint64_t watch = c->watched ? c->watched->id : 0;
        char name[MTTD_KEEP_NAME_MAX];
        mttd_keep_conn_name(name, c->owner.id, c->watching ? &watch : NULL);
        if (c->kept && strcmp(name, c->kept_name) == 0)
                return;
        if (c->kept)
                mttd_keep_unstore(c->kept_name);
        c->kept = (c->watching || c->owner.running > 0) &&
                  mttd_keep_conn(c->owner.id, c->fd, c->watching ? &watch : NULL);
        c->owner.kept = c->kept;
        if (c->kept)
                snprintf(c->kept_name, sizeof(c->kept_name), "%s", name);
}

static void watch_start(mttd_conn *c, mttd_session *s)
{
        mttd_server *srv = c->srv;
        c->watching = true;
        c->watched = s;
        LIST_INSERT_HEAD(&srv->watchers, c, wlink);
        srv->n_watching++;
        mttd_tracker_watch(srv->tracker, s, +1);
        keep(c);
}

static void watch_stop(mttd_conn *c)
{
        mttd_server *srv = c->srv;
        if (!c->watching)
                return;
        mttd_tracker_watch(srv->tracker, c->watched, -1);
        LIST_REMOVE(c, wlink);
        srv->n_watching--;
        c->watching = false;
        c->watched = NULL;
        c->last_call_us = mttd_now_us(); /* idle from now on, not from the Watch call */
        if (c->kept && !srv->handing_over)
                keep(c);
}

/* While a reply waits, a connection handles no call and is not read (calls queue in its
 * socket), yet a hangup must be seen at once, whatever is queued, so its other sessions
 * crash at once: the connection sits in an epoll set that reports hangups alone
 * (EPOLLRDHUP, and EPOLLHUP), never readable data. */
static void hup_watch(mttd_conn *c, bool on)
{
        if (c->hup_watched == on)
                return;
        struct epoll_event e = {.events = EPOLLRDHUP, .data.ptr = c};
        if (epoll_ctl(c->srv->hup_fd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, c->fd, &e) == 0)
                c->hup_watched = on;
}

static void conn_free(mttd_conn *c)
{
        mttd_server *srv = c->srv;
        hup_watch(c, false);
        if (c->waiting_on)
                srv->n_waiting--;
        ev_timer_stop(srv->loop, &c->open_wait);
        watch_stop(c); /* first: the hangup below may make rows for watchers */
        mttd_tracker_hangup(srv->tracker, &c->owner);
        mttd_peer_unref(c->client);
        ev_io_stop(srv->loop, &c->io);
        close(c->fd);
        mtt_proto_inbuf_free(&c->in);
        mtt_proto_outbuf_free(&c->out);
        LIST_REMOVE(c, link);
        srv->n_conns--;
        mttd_shares_remove(&srv->conns_per_uid, c->peer.uid);
        if (c->kept && !srv->handing_over)
                mttd_keep_unstore(c->kept_name);
        free(c);
}

static void conn_put(mttd_conn *c, const json_t *msg)
{
        if (!msg || c->dead)
                return;
        int r = mtt_proto_outbuf_put_json(&c->out, msg);
        if (r < 0) {
                /* A client that does not read its replies is dropped, not waited for. */
                mttd_log(LOG_NOTICE, "dropping client pid %d: %s", (int)c->peer.pid, strerror(-r));
                c->dead = true;
        }
}

static void conn_send(mttd_conn *c, json_t *msg)
{
        conn_put(c, msg);
        json_decref(msg);
}

static void protocol_error(mttd_conn *c, const char *reason)
{
        conn_send(
            c, mtt_proto_error_new(MTT_PROTO_ERROR_PROTOCOL, json_pack("{s:s}", "reason", reason)));
        c->closing = true;
}

static void conn_handle(mttd_conn *c, mtt_proto_frame *f)
{
        mtt_proto_call call;
        const char *why;
        if (mtt_proto_call_parse(f->data, f->len, &call, &why) < 0) {
                protocol_error(c, why);
                return;
        }
        mttd_request req = {
            .tracker = c->srv->tracker,
            .call = &call,
            .frame = f,
            .peer = &c->peer,
            .owner = &c->owner,
            .client = &c->client,
            .conn_fd = c->fd,
            .gpus_since_us = c->parked_since_us,
        };
        c->parked_since_us = 0;
        json_t *reply = mttd_methods_dispatch(&req);
        if (req.waiting_gpus) {
                c->parked = true;
                c->parked_frame = *f;
                c->parked_since_us = req.gpus_since_us;
        } else if (req.waiting_on) {
                c->waiting_on = req.waiting_on;
                c->waiting_open = req.waiting_open;
                c->srv->n_waiting++;
                if (c->waiting_open) {
                        /* A little past the bound, so that the status says write_stalled. */
                        ev_timer_set(&c->open_wait,
                                     (double)c->srv->cfg->stall_after_us / 1e6 + 0.05, 0.);
                        ev_timer_start(c->srv->loop, &c->open_wait);
                }
        } else if (call.oneway) {
                json_decref(reply);
        } else {
                conn_send(c, reply);
                if (req.watch && !c->dead)
                        watch_start(c, req.watch_session);
        }
        if (!c->kept && c->owner.running > 0 && mttd_keep_storing())
                keep(c);
        mtt_proto_call_done(&call);
}

/* Handles whole calls already buffered, one reply at a time: while a reply is unsent, later
 * calls wait in the input buffer, so a client that does not read cannot make us buffer more
 * than one reply for it. Returns the number of calls handled. */
static int conn_process(mttd_conn *c)
{
        int handled = 0;
        if (c->parked && c->unpark && !c->dead && !c->srv->handing_over) {
                c->parked = c->unpark = false;
                mtt_proto_frame f = c->parked_frame;
                conn_handle(c, &f);
                handled++;
        }
        while (!c->parked && !c->waiting_on && !c->watching && !c->closing && !c->dead &&
               !c->srv->handing_over && !mtt_proto_outbuf_pending(&c->out)) {
                mtt_proto_frame f;
                int r = mtt_proto_inbuf_next(&c->in, &f);
                if (r == -EAGAIN)
                        break;
                if (r < 0) {
                        protocol_error(c, "message larger than the limit");
                        break;
                }
                conn_handle(c, &f);
                handled++;
        }
        return handled;
}

static bool conn_busy(const mttd_conn *c)
{
        return (c->parked && !c->unpark) || c->waiting_on || c->watching || c->closing || c->dead ||
               c->srv->handing_over || mtt_proto_outbuf_pending(&c->out);
}

static void conn_read(mttd_conn *c)
{
        c->last_call_us = mttd_now_us();
        for (int i = 0; i < READS_PER_WAKEUP && !conn_busy(c) && !c->parked; i++) {
                long n = mtt_proto_inbuf_recv(&c->in, c->fd);
                if (n == -EAGAIN || n == -EINTR)
                        return;
                if (n == 0 || n == -ECONNRESET) {
                        c->dead = true;
                        return;
                }
                if (n == -EMSGSIZE) {
                        protocol_error(c, "message larger than the limit");
                        return;
                }
                if (n < 0) {
                        protocol_error(c, "malformed message or file descriptors");
                        return;
                }
                conn_process(c);
        }
}

/* Sends what is pending, handles calls that were waiting for that, and sets the interest:
 * read while calls may be handled, write while output waits. Frees a finished connection;
 * call it last in a callback. */
static void conn_update(mttd_conn *c)
{
        for (;;) {
                if (!c->dead && mtt_proto_outbuf_pending(&c->out) &&
                    mtt_proto_outbuf_flush(&c->out, c->fd) < 0)
                        c->dead = true;
                if (conn_busy(c) || conn_process(c) == 0)
                        break;
        }
        bool pending = mtt_proto_outbuf_pending(&c->out);
        if (c->dead || (c->closing && !pending)) {
                conn_free(c);
                return;
        }
        /* While a reply waits, nothing is read: the hangup set watches (hup_watch). */
        hup_watch(c, c->waiting_on != NULL || c->parked);
        int events = pending                                                            ? EV_WRITE
                     : c->closing || c->waiting_on || c->parked || c->srv->handing_over ? 0
                                                                                        : EV_READ;
        if (events != (c->io.events & (EV_READ | EV_WRITE))) {
                ev_io_stop(c->srv->loop, &c->io);
                ev_io_set(&c->io, c->fd, events);
                if (events)
                        ev_io_start(c->srv->loop, &c->io);
        }
}

static void on_conn_io(struct ev_loop *loop, ev_io *w, int revents)
{
        mttd_conn *c = w->data;
        if (revents & EV_READ) {
                /* A call (or a hangup) during a Watch ends the stream. */
                watch_stop(c);
                conn_read(c);
        }
        conn_update(c);
}

/* Whether a watching connection follows s. */
static bool watches(const mttd_conn *c, const mttd_session *s)
{
        return c->watched ? c->watched == s : mttd_methods_may_see(&c->peer, s);
}

static bool anyone_watches(const mttd_server *srv, const mttd_session *s)
{
        const mttd_conn *c;
        LIST_FOREACH(c, &srv->watchers, wlink)
        if (watches(c, s))
                return true;
        return false;
}

/* Messages to watchers are queued here and sent by each connection in a callback of its own
 * (a fed event), so none is freed under the tracker's feet; one that does not read is
 * dropped once its buffer is full. */
static void tell_watchers(mttd_server *srv, const mttd_session *s, json_t *msg)
{
        mttd_conn *c;
        LIST_FOREACH(c, &srv->watchers, wlink)
        {
                if (!watches(c, s))
                        continue;
                conn_put(c, msg);
                ev_feed_event(srv->loop, &c->io, EV_CUSTOM);
        }
        json_decref(msg);
}

void mttd_server_session_opened(mttd_server *srv, mttd_session *s)
{
        if (anyone_watches(srv, s))
                tell_watchers(srv, s, mttd_methods_session_reply(srv->tracker, s, true));
}

void mttd_server_row(mttd_server *srv, const mttd_session *s, uint64_t t_us, double ram_gib)
{
        if (anyone_watches(srv, s))
                tell_watchers(srv, s, mttd_methods_row_reply(s, t_us, ram_gib));
}

/* The reply that waited: the session as it is now. */
static void answer(mttd_conn *c)
{
        mttd_server *srv = c->srv;
        const mttd_session *s = c->waiting_on;
        c->waiting_on = NULL;
        c->waiting_open = false;
        srv->n_waiting--;
        ev_timer_stop(srv->loop, &c->open_wait);
        conn_send(c, mttd_methods_session_reply(srv->tracker, s, false));
}

/* An Open whose report's first write stalls (a hung network file system) is answered
 * anyway, once the session's status says write_stalled: the session goes on. */
static void on_open_wait(struct ev_loop *loop, ev_timer *w, int revents)
{
        mttd_conn *c = w->data;
        if (c->waiting_on)
                answer(c);
        conn_update(c);
}

/* An Open waits on its own connection, the session's owner: no search. */
void mttd_server_session_written(mttd_server *srv, mttd_session *s)
{
        mttd_conn *c = s->owner ? container_of(s->owner, mttd_conn, owner) : NULL;
        if (!c || c->waiting_on != s || !c->waiting_open)
                return;
        answer(c);
        ev_feed_event(srv->loop, &c->io, EV_CUSTOM);
}

/* Sends the replies that waited for s (Closes, and an Open whose session ended first), and
 * its end to those who watch it: for a Watch of s alone that is the stream's last reply. */
void mttd_server_session_finished(mttd_server *srv, mttd_session *s)
{
        mttd_conn *c, *next;
        LIST_FOREACH(c, &srv->conns, link)
        {
                if (srv->n_waiting == 0)
                        break;
                if (c->waiting_on != s)
                        continue;
                answer(c);
                ev_feed_event(srv->loop, &c->io, EV_CUSTOM);
        }
        for (c = LIST_FIRST(&srv->watchers); c; c = next) {
                next = LIST_NEXT(c, wlink);
                if (c->watched == s) {
                        conn_send(c, mttd_methods_session_reply(srv->tracker, s, false));
                        watch_stop(c);
                        ev_feed_event(srv->loop, &c->io, EV_CUSTOM);
                }
        }
        if (anyone_watches(srv, s)) /* those who watch every session */
                tell_watchers(srv, s, mttd_methods_session_reply(srv->tracker, s, true));
}

static void refuse(int fd, unsigned limit, const char *scope)
{
        json_t *msg = mtt_proto_error_new(MTT_PROTO_ERROR_TOO_MANY_CONNECTIONS,
                                          json_pack("{s:i, s:s}", "limit", limit, "scope", scope));
        size_t len;
        char *text = msg ? mtt_proto_encode(msg, &len) : NULL;
        if (text)
                (void)!send(fd, text, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        free(text);
        json_decref(msg);
}

/* A connection on fd: buffers, the idle check, reading. */
static void conn_init(mttd_server *srv, mttd_conn *c, int fd, uint64_t id)
{
        c->srv = srv;
        c->fd = fd;
        c->owner.id = id;
        c->last_call_us = mttd_now_us();
        if (!ev_is_active(&srv->idle_check))
                ev_timer_again(srv->loop, &srv->idle_check);
        mtt_proto_inbuf_init(&c->in, srv->cfg->max_frame);
        c->in.close_fd = mttd_closer_close;
        c->in.close_ctx = srv->closer;
        mtt_proto_outbuf_init(&c->out, srv->cfg->max_output);
        ev_io_init(&c->io, on_conn_io, fd, EV_READ);
        c->io.data = c;
        ev_io_start(srv->loop, &c->io);
        LIST_INSERT_HEAD(&srv->conns, c, link);
        srv->n_conns++;
}

static void accept_one(mttd_server *srv)
{
        int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                        /* The listening socket stays readable: stop watching it a while
                         * (logged once until an accept succeeds again). */
                        if (!srv->warned_accept)
                                mttd_log(LOG_WARNING, "cannot accept: %s; retrying every 100 ms",
                                         strerror(errno));
                        srv->warned_accept = true;
                        ev_io_stop(srv->loop, &srv->accept_io);
                        ev_timer_set(&srv->accept_retry, 0.1, 0.);
                        ev_timer_start(srv->loop, &srv->accept_retry);
                }
                return;
        }
        srv->warned_accept = false;
        mttd_conn *c = calloc(1, sizeof(*c));
        if (c) {
                ev_timer_init(&c->open_wait, on_open_wait, 0., 0.);
                c->open_wait.data = c;
        }
        socklen_t len = sizeof(struct ucred);
        if (!c || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->peer, &len) < 0) {
                free(c);
                close(fd);
                return;
        }
        bool all = srv->n_conns >= srv->cfg->max_connections;
        if (all ||
            mttd_shares_in_flight(&srv->conns_per_uid, c->peer.uid) >=
                srv->cfg->max_connections_per_uid ||
            mttd_shares_add(&srv->conns_per_uid, c->peer.uid) < 0) {
                /* One user's many connections must not lock out the others: refuse with the
                 * reason (read as the reply to its first call), log once. */
                unsigned limit =
                    all ? srv->cfg->max_connections : srv->cfg->max_connections_per_uid;
                if (!srv->warned_full)
                        mttd_log(LOG_WARNING, "connection limit %s reached (uid %u)",
                                 all ? "in all" : "for one user", (unsigned)c->peer.uid);
                srv->warned_full = true;
                refuse(fd, limit, all ? "all" : "user");
                free(c);
                close(fd);
                return;
        }
        srv->warned_full = false;
        conn_init(srv, c, fd, ++srv->last_conn_id);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
        mttd_server *srv = w->data;
        for (int i = 0; i < 32 && ev_is_active(&srv->accept_io); i++)
                accept_one(srv);
}

/* A connection that owns no running session, waits for no reply and has said nothing for
 * the idle timeout holds an fd for nothing: close it (SPEC 8). */
static void on_idle_check(struct ev_loop *loop, ev_timer *w, int revents)
{
        mttd_server *srv = w->data;
        uint64_t now = mttd_now_us();
        mttd_conn *c, *next;
        for (c = LIST_FIRST(&srv->conns); c; c = next) {
                next = LIST_NEXT(c, link);
                if (c->waiting_on || c->watching ||
                    now - c->last_call_us < srv->cfg->idle_timeout_us || c->owner.running > 0)
                        continue;
                mttd_log(LOG_DEBUG, "closing an idle connection of pid %d", (int)c->peer.pid);
                conn_free(c);
        }
        if (LIST_EMPTY(&srv->conns))
                ev_timer_stop(loop, w);
}

/* Connections whose reply waits hung up: they go now. */
static void on_hup(struct ev_loop *loop, ev_io *w, int revents)
{
        mttd_server *srv = w->data;
        struct epoll_event e[64];
        int n = epoll_wait(srv->hup_fd, e, 64, 0);
        for (int i = 0; i < n; i++) {
                mttd_conn *c = e[i].data.ptr;
                c->dead = true;
                conn_update(c);
        }
}

static void on_accept_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
        mttd_server *srv = w->data;
        ev_io_start(loop, &srv->accept_io);
}

int mttd_server_new(struct ev_loop *loop, const mttd_config *cfg, mttd_tracker *tracker,
                    int listen_fd, mttd_server **out)
{
        mttd_server *srv = calloc(1, sizeof(*srv));
        if (!srv)
                return -ENOMEM;
        srv->loop = loop;
        srv->cfg = cfg;
        srv->tracker = tracker;
        srv->listen_fd = listen_fd;
        srv->hup_fd = epoll_create1(EPOLL_CLOEXEC);
        if (srv->hup_fd < 0) {
                int r = -errno;
                free(srv);
                return r;
        }
        if (mttd_closer_new(loop, &srv->closer) < 0) {
                close(srv->hup_fd);
                free(srv);
                return -ENOMEM;
        }
        /* A socket systemd passed may be blocking: accept() must never wait. */
        int fl = fcntl(listen_fd, F_GETFL);
        if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
            fcntl(listen_fd, F_SETFD, FD_CLOEXEC) < 0) {
                int r = -errno;
                close(srv->hup_fd);
                mttd_closer_free(srv->closer);
                free(srv);
                return r;
        }
        ev_io_init(&srv->hup_io, on_hup, srv->hup_fd, EV_READ);
        srv->hup_io.data = srv;
        ev_io_start(loop, &srv->hup_io);
        ev_io_init(&srv->accept_io, on_accept, listen_fd, EV_READ);
        srv->accept_io.data = srv;
        ev_timer_init(&srv->accept_retry, on_accept_retry, 0.1, 0.);
        srv->accept_retry.data = srv;
        /* Checked a few times per timeout; not at all while nobody is connected. */
        double every = (double)cfg->idle_timeout_us / 4e6;
        ev_timer_init(&srv->idle_check, on_idle_check, every, every);
        srv->idle_check.data = srv;
        ev_io_start(loop, &srv->accept_io);
        *out = srv;
        return 0;
}

/* ---- what outlives mttd ---- */

int mttd_server_adopt(mttd_server *srv, int fd, uint64_t id)
{
        mttd_conn *c = calloc(1, sizeof(*c));
        socklen_t len = sizeof(struct ucred);
        int fl = fcntl(fd, F_GETFL);
        if (!c || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->peer, &len) < 0 || fl < 0 ||
            fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
            mttd_shares_add(&srv->conns_per_uid, c->peer.uid) < 0) {
                int r = c ? -errno : -ENOMEM;
                free(c);
                close(fd);
                return r ? r : -EINVAL;
        }
        ev_timer_init(&c->open_wait, on_open_wait, 0., 0.);
        c->open_wait.data = c;
        conn_init(srv, c, fd, id);
        if (id > srv->last_conn_id)
                srv->last_conn_id = id;
        /* It is in the store already, under the name it came with (the caller's). */
        c->kept = c->owner.kept = mttd_keep_storing();
        mttd_keep_conn_name(c->kept_name, id, NULL);
        return 0;
}

static mttd_conn *conn_by_id(mttd_server *srv, uint64_t id)
{
        mttd_conn *c;
        LIST_FOREACH(c, &srv->conns, link)
        if (c->owner.id == id)
                return c;
        return NULL;
}

mttd_owner *mttd_server_owner(mttd_server *srv, uint64_t id, uid_t *uid, struct mttd_peer **peer)
{
        mttd_conn *c = id ? conn_by_id(srv, id) : NULL;
        if (!c)
                return NULL;
        *uid = c->peer.uid;
        if (!c->client)
                c->client = mttd_peer_new(c->fd, c->peer.pid);
        *peer = c->client;
        return &c->owner;
}

void mttd_server_adopt_watch(mttd_server *srv, uint64_t id, uint64_t watch, const char *name)
{
        mttd_conn *c = conn_by_id(srv, id);
        if (!c)
                return;
        snprintf(c->kept_name, sizeof(c->kept_name), "%s", name);
        mttd_session *s = watch ? mttd_tracker_find(srv->tracker, watch) : NULL;
        if (watch && (!s || mttd_session_finished(s) || !mttd_methods_may_see(&c->peer, s))) {
                /* It ended while mttd was away: the stream ends with what is known. */
                if (s && mttd_methods_may_see(&c->peer, s))
                        conn_send(c, mttd_methods_session_reply(srv->tracker, s, false));
                else
                        conn_send(c, mtt_proto_error_new(MTT_PROTO_ERROR_NO_SUCH_SESSION, NULL));
                keep(c);
                ev_feed_event(srv->loop, &c->io, EV_CUSTOM);
                return;
        }
        watch_start(c, s);
}

void mttd_server_adopted(mttd_server *srv, mttd_session *s)
{
        mttd_conn *c = s->owner ? container_of(s->owner, mttd_conn, owner) : NULL;
        if (!c || c->waiting_on)
                return;
        /* Its client waits for the reply to its Open (a first write not back when mttd went)
         * or to its Close (the session ends now). */
        bool open = !s->first_written && s->regular && mttd_session_running(s);
        bool closed = s->phase == MTTD_PHASE_CLOSING ||
                      (s->phase == MTTD_PHASE_ENDED && s->end_requested_us != 0);
        if (!open && !closed)
                return;
        c->waiting_on = s;
        c->waiting_open = open;
        srv->n_waiting++;
        if (open) { /* answered anyway once the write is reported stalled, as at Open */
                ev_timer_set(&c->open_wait, (double)srv->cfg->stall_after_us / 1e6 + 0.05, 0.);
                ev_timer_start(srv->loop, &c->open_wait);
        }
        conn_update(c);
}

void mttd_server_gpus_told(mttd_server *srv)
{
        mttd_conn *c;
        LIST_FOREACH(c, &srv->conns, link)
        {
                if (c->parked && !c->unpark) {
                        c->unpark = true;
                        ev_feed_event(srv->loop, &c->io, EV_CUSTOM);
                }
        }
}

void mttd_server_hand_over(mttd_server *srv)
{
        srv->handing_over = true;
        mttd_server_stop_accepting(srv);
        mttd_conn *c, *next;
        for (c = LIST_FIRST(&srv->conns); c; c = next) {
                next = LIST_NEXT(c, link);
                /* A call waiting for the GPUs is answered now: the next mttd cannot. */
                if (c->parked) {
                        c->parked = c->unpark = false;
                        conn_send(c, mtt_proto_error_new(
                                         MTT_PROTO_ERROR_GPU_UNAVAILABLE,
                                         json_pack("{s:s}", "reason",
                                                   "mttd restarted before NVML answered; try "
                                                   "again")));
                }
                conn_update(c); /* reads no more */
        }
}

void mttd_server_send_pending(mttd_server *srv)
{
        mttd_conn *c;
        LIST_FOREACH(c, &srv->conns, link)
        {
                if (c->dead)
                        continue;
                if (mtt_proto_outbuf_pending(&c->out))
                        (void)mtt_proto_outbuf_flush(&c->out, c->fd); /* never blocks */
                bool unsent = mtt_proto_outbuf_pending(&c->out);
                if (unsent || c->in.len > c->in.consumed)
                        mttd_log(LOG_WARNING, "connection of pid %d: %s is lost in the handover",
                                 (int)c->peer.pid,
                                 unsent ? "a reply it did not read" : "a call not yet handled");
        }
}

int mttd_server_kept(mttd_server *srv, mttd_server_keep_fn fn, void *ctx)
{
        int r = fn(ctx, MTTD_KEEP_LISTENER, srv->listen_fd);
        mttd_conn *c;
        LIST_FOREACH(c, &srv->conns, link)
        {
                if (r < 0)
                        break;
                if (c->dead)
                        continue;
                uint64_t watch = c->watched ? c->watched->id : 0;
                char name[MTTD_KEEP_NAME_MAX];
                mttd_keep_conn_name(name, c->owner.id, c->watching ? &watch : NULL);
                if (c->watching || c->owner.running > 0 || c->waiting_on)
                        r = fn(ctx, name, c->fd);
        }
        return r;
}

void mttd_server_stop_accepting(mttd_server *srv)
{
        ev_io_stop(srv->loop, &srv->accept_io);
        ev_timer_stop(srv->loop, &srv->accept_retry);
        ev_timer_stop(srv->loop, &srv->idle_check);
}

void mttd_server_free(mttd_server *srv)
{
        if (!srv)
                return;
        mttd_server_stop_accepting(srv);
        while (!LIST_EMPTY(&srv->conns))
                conn_free(LIST_FIRST(&srv->conns));
        mttd_shares_free(&srv->conns_per_uid);
        ev_io_stop(srv->loop, &srv->hup_io);
        close(srv->hup_fd);
        mttd_closer_free(srv->closer);
        if (srv->listen_fd >= 0)
                close(srv->listen_fd);
        free(srv);
}

void mttd_server_counts(const mttd_server *srv, unsigned *connections, unsigned *watchers)
{
        *connections = srv->n_conns;
        *watchers = srv->n_watching;
}
