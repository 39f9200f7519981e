/* mtt-bench's stand-in for systemd's fd store.
 *
 * Under systemd ($NOTIFY_SOCKET), mttd keeps every running session for a restart: a memfd
 * of its state, its report, its pidfd and its connection go to the service manager, one
 * datagram each ("FDSTORE=1\nFDNAME=..."), and come out of it when it ends
 * ("FDSTOREREMOVE=1\nFDNAME=..."). This is the other end of that socket: a thread receives
 * every datagram, closes every fd at once, and counts. It keeps the names, as the store
 * would, to say what is left in it and how many removes named nothing stored. READY=1,
 * STATUS=, WATCHDOG=1 and STOPPING=1 are counted as "other". */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define STORE_BUCKETS 16384
#define STORE_MAX_FDS 64 /* per datagram; mttd sends one (systemd takes up to 768) */

struct held_name {
        struct held_name *next;
        char name[];
};

void store_counts_of(fd_store *st, store_counts *c)
{
        c->stored = atomic_load(&st->stored);
        c->removed = atomic_load(&st->removed);
        c->fds = atomic_load(&st->fds);
        c->other = atomic_load(&st->other);
        c->unmatched = atomic_load(&st->unmatched);
        c->truncated = atomic_load(&st->truncated);
        c->held = atomic_load(&st->held);
}

static size_t name_hash(const char *name, size_t len)
{
        uint64_t h = 1469598103934665603u; /* FNV-1a */
        for (size_t i = 0; i < len; i++)
                h = (h ^ (unsigned char)name[i]) * 1099511628211u;
        return (size_t)(h % STORE_BUCKETS);
}

/* FDSTORE=1: the name is held (systemd holds each fd under it; one name counts once). */
static void store_hold(fd_store *st, const char *name, size_t len)
{
        held_name **b = &st->bucket[name_hash(name, len)];
        for (held_name *e = *b; e; e = e->next)
                if (strlen(e->name) == len && memcmp(e->name, name, len) == 0)
                        return;
        held_name *e = malloc(sizeof(*e) + len + 1);
        if (!e)
                return;
        memcpy(e->name, name, len);
        e->name[len] = '\0';
        e->next = *b;
        *b = e;
        atomic_fetch_add(&st->held, 1);
}

/* FDSTOREREMOVE=1: every fd under the name goes; a name never stored is counted. */
static void store_drop(fd_store *st, const char *name, size_t len)
{
        for (held_name **p = &st->bucket[name_hash(name, len)]; *p; p = &(*p)->next) {
                held_name *e = *p;
                if (strlen(e->name) == len && memcmp(e->name, name, len) == 0) {
                        *p = e->next;
                        free(e);
                        atomic_fetch_sub(&st->held, 1);
                        return;
                }
        }
        atomic_fetch_add(&st->unmatched, 1);
}

/* One datagram: its assignments, one a line, and the fds that came with it (closed). */
static void store_message(fd_store *st, const char *text, size_t len, unsigned n_fds)
{
        bool store = false, remove = false;
        const char *name = NULL;
        size_t name_len = 0;
        for (const char *line = text; line < text + len;) {
                const char *nl = memchr(line, '\n', (size_t)(text + len - line));
                size_t n = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
                if (n == 9 && memcmp(line, "FDSTORE=1", 9) == 0)
                        store = true;
                else if (n == 15 && memcmp(line, "FDSTOREREMOVE=1", 15) == 0)
                        remove = true;
                else if (n > 7 && memcmp(line, "FDNAME=", 7) == 0) {
                        name = line + 7;
                        name_len = n - 7;
                }
                line += n + 1;
        }
        atomic_fetch_add(&st->fds, n_fds);
        if (store) {
                atomic_fetch_add(&st->stored, 1);
                if (name && n_fds > 0)
                        store_hold(st, name, name_len);
        }
        if (remove) {
                atomic_fetch_add(&st->removed, 1);
                if (name)
                        store_drop(st, name, name_len);
        }
        if (!store && !remove)
                atomic_fetch_add(&st->other, 1);
}

/* Every datagram queued, until none is. */
static void store_drain(fd_store *st)
{
        char text[4097]; /* systemd reads up to PIPE_BUF */
        union {
                struct cmsghdr h;
                char
                    buf[CMSG_SPACE(sizeof(int) * STORE_MAX_FDS) + CMSG_SPACE(sizeof(struct ucred))];
        } control;
        for (;;) {
                struct iovec iov = {.iov_base = text, .iov_len = sizeof(text) - 1};
                struct msghdr m = {.msg_iov = &iov,
                                   .msg_iovlen = 1,
                                   .msg_control = &control,
                                   .msg_controllen = sizeof(control)};
                ssize_t n = recvmsg(st->fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return; /* EAGAIN: all taken */
                unsigned n_fds = 0;
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
                        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                                continue; /* SCM_CREDENTIALS: SO_PASSCRED's, not needed */
                        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        for (size_t i = 0; i < k; i++) {
                                int fd;
                                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
                                close(fd);
                        }
                        n_fds += (unsigned)k;
                }
                if (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
                        atomic_fetch_add(&st->truncated, 1);
                store_message(st, text, (size_t)n, n_fds);
        }
}

static void *store_main(void *arg)
{
        fd_store *st = arg;
        struct pollfd p[2] = {{.fd = st->fd, .events = POLLIN},
                              {.fd = st->stop[0], .events = POLLIN}};
        for (;;) {
                if (poll(p, 2, -1) < 0 && errno != EINTR)
                        break;
                store_drain(st);
                if (p[1].revents)
                        break; /* mttd has exited: what it sent is all in, drained above */
        }
        struct timespec ts;
        if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
                atomic_store(&st->cpu_ns, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
        return NULL;
}

/* The store's socket at dir/notify, and its thread. 0 or -errno. */
int store_start(fd_store *st, const char *dir)
{
        *st = (fd_store){.fd = -1, .stop = {-1, -1}};
        st->bucket = calloc(STORE_BUCKETS, sizeof(*st->bucket));
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(st->path, sizeof(st->path), "%s/notify", dir);
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", st->path);
        st->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (!st->bucket || st->fd < 0 || pipe2(st->stop, O_CLOEXEC) < 0)
                return -errno;
        /* As systemd's own: credentials passed (harmless here), a large buffer (its queue's
         * length is net.unix.max_dgram_qlen's all the same: the thread drains at once). */
        int one = 1, size = 8 << 20;
        setsockopt(st->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
        if (setsockopt(st->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
                setsockopt(st->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        if (bind(st->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
                return -errno;
        int r = pthread_create(&st->thread, NULL, store_main, st);
        if (r != 0)
                return -r;
        st->started = true;
        return 0;
}

/* Once mttd has exited: the thread takes what is left and ends. */
void store_stop(fd_store *st)
{
        if (st->started) {
                (void)!write(st->stop[1], "x", 1);
                pthread_join(st->thread, NULL);
                st->started = false;
        }
        for (int i = 0; i < 2; i++)
                if (st->stop[i] >= 0)
                        close(st->stop[i]);
        if (st->fd >= 0) {
                close(st->fd);
                unlink(st->path);
        }
        st->fd = st->stop[0] = st->stop[1] = -1;
}

/* The names still held (at most `max` of them, in no order) into buf; frees them all. */
void store_free(fd_store *st, char *buf, size_t size, int max)
{
        int shown = 0;
        size_t used = 0;
        if (size)
                buf[0] = '\0';
        for (size_t i = 0; st->bucket && i < STORE_BUCKETS; i++) {
                while (st->bucket[i]) {
                        held_name *e = st->bucket[i];
                        st->bucket[i] = e->next;
                        if (shown++ < max && used < size) {
                                int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
                                                 e->name);
                                used += n > 0 ? (size_t)n : 0;
                        }
                        free(e);
                }
        }
        free(st->bucket);
        st->bucket = NULL;
}

/* The row of the store's totals, once its mttd has stopped; frees the names it holds. */
void bench_store(fd_store *st)
{
        store_counts sc;
        store_counts_of(st, &sc);
        char v[256], names[128];
        store_free(st, names, sizeof(names), 3);
        snprintf(v, sizeof(v),
                 "%llu FDSTORE, %llu FDSTOREREMOVE (%llu of no fd stored), %llu fds, "
                 "%llu other; %lld left (%s)%s; %.2f s CPU",
                 sc.stored, sc.removed, sc.unmatched, sc.fds, sc.other, sc.held, names,
                 sc.truncated ? ", some cut" : "", (double)atomic_load(&st->cpu_ns) / 1e9);
        row("  store stand-in in all, mttd stopped", v, "reported", "");
}
