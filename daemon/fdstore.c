/* systemd's file descriptor store. */
#include "fdstore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

bool mttd_fdstore_name_ok(const char *name)
{
        size_t n = strlen(name);
        if (n == 0 || n > 255)
                return false;
        return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
               n;
}

/* sd_notify's answers: > 0 sent, 0 no $NOTIFY_SOCKET, < 0 -errno. */
static int sent(int r)
{
        return r > 0 ? 0 : r == 0 ? -ENOTCONN : r;
}

int mttd_fdstore_push(const char *name, int fd)
{
        if (!mttd_fdstore_name_ok(name) || fd < 0)
                return -EINVAL;
        char msg[300];
        snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
        return sent(sd_pid_notify_with_fds(0, 0, msg, &fd, 1));
}

int mttd_fdstore_remove(const char *name)
{
        if (!mttd_fdstore_name_ok(name))
                return -EINVAL;
        char msg[300];
        snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
        return sent(sd_notify(0, msg));
}

/* The table is sorted by name (no name first): a take is a binary search, not a scan, so
 * that taking up thousands of sessions' fds by name stays linear in all. */
static int by_name(const void *a, const void *b)
{
        const mttd_fdstore_fd *x = a, *y = b;
        if (!x->name || !y->name)
                return (x->name != NULL) - (y->name != NULL);
        return strcmp(x->name, y->name);
}

int mttd_fdstore_received(mttd_fdstore *st)
{
        *st = (mttd_fdstore){0};
        char **names = NULL;
        int n = sd_listen_fds_with_names(1, &names);
        if (n <= 0)
                return n;
        st->v = calloc((size_t)n, sizeof(*st->v));
        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;
                fcntl(fd, F_SETFD, FD_CLOEXEC);
                if (st->v) {
                        st->v[i] = (mttd_fdstore_fd){.name = names ? names[i] : NULL, .fd = fd};
                        if (names)
                                names[i] = NULL;
                } else {
                        close(fd); /* out of memory: nothing can be adopted */
                }
        }
        for (int i = 0; names && i < n; i++)
                free(names[i]);
        free(names);
        if (!st->v)
                return -ENOMEM;
        st->n = (size_t)n;
        qsort(st->v, st->n, sizeof(*st->v), by_name);
        return 0;
}

int mttd_fdstore_take(mttd_fdstore *st, const char *name)
{
        /* The first entry not below name, then those of the same name not taken yet. */
        size_t lo = 0, hi = st->n;
        const mttd_fdstore_fd key = {.name = (char *)name};
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (by_name(&st->v[mid], &key) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        for (size_t i = lo; i < st->n && by_name(&st->v[i], &key) == 0; i++) {
                mttd_fdstore_fd *e = &st->v[i];
                if (e->fd >= 0) {
                        int fd = e->fd;
                        e->fd = -1;
                        return fd;
                }
        }
        return -ENOENT;
}

int mttd_fdstore_take_listener(mttd_fdstore *st)
{
        for (size_t i = 0; i < st->n; i++) {
                mttd_fdstore_fd *e = &st->v[i];
                if (e->fd >= 0 && sd_is_socket_unix(e->fd, SOCK_STREAM, 1, NULL, 0) > 0) {
                        int fd = e->fd;
                        e->fd = -1;
                        return fd;
                }
        }
        return -ENOENT;
}

void mttd_fdstore_done(mttd_fdstore *st)
{
        for (size_t i = 0; i < st->n; i++) {
                if (st->v[i].fd >= 0)
                        close(st->v[i].fd);
                free(st->v[i].name);
        }
        free(st->v);
        *st = (mttd_fdstore){0};
}
