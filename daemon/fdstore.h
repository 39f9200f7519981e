/* systemd's file descriptor store: fds mttd hands its service manager under a name, to get
 * them back, the same open files, when it starts again after a restart or a crash
 * (sd_pid_notify_with_fds "FDSTORE=1", "FDNAME="; FileDescriptorStoreMax= in the unit).
 * At start, the fds systemd passes (its socket and the stored ones) are a table by name. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Whether a name may be stored: 1 to 255 of [A-Za-z0-9._-] (systemd takes more, but ':'
 * separates the names it passes, and mttd names what it stores itself). */
bool mttd_fdstore_name_ok(const char *name);
/* Hands fd to the store under name; systemd keeps a copy of its own. 0, -EINVAL for a bad
 * name, -ENOTCONN without a service manager ($NOTIFY_SOCKET), or -errno of the send. */
int mttd_fdstore_push(const char *name, int fd);
/* Takes every fd stored under name out of the store (FDSTOREREMOVE): the store must never
 * hold what has ended. 0, -EINVAL, -ENOTCONN or -errno. */
int mttd_fdstore_remove(const char *name);

typedef struct mttd_fdstore_fd {
        char *name;
        int fd; /* -1 once taken */
} mttd_fdstore_fd;

/* The fds passed at start, by name. */
typedef struct mttd_fdstore {
        mttd_fdstore_fd *v;
        size_t n;
} mttd_fdstore;

/* Fills st from $LISTEN_FDS and $LISTEN_FDNAMES (sd_listen_fds_with_names; the variables are
 * unset after), each fd made close-on-exec. 0 (none passed: an empty table) or -errno. */
int mttd_fdstore_received(mttd_fdstore *st);
/* An fd passed under name (not taken yet), now the caller's, or -ENOENT. */
int mttd_fdstore_take(mttd_fdstore *st, const char *name);
/* The first fd not taken yet that is a listening UNIX stream socket (a socket passed without
 * a name mttd knows), now the caller's, or -ENOENT. */
int mttd_fdstore_take_listener(mttd_fdstore *st);
/* Closes what nobody took and frees the table. */
void mttd_fdstore_done(mttd_fdstore *st);
