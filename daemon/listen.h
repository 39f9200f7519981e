/* The listening socket mttd makes itself when systemd passes none. */
#pragma once

/* Binds and listens on a UNIX socket path, creating its directory and replacing a stale
 * socket file (never a live one). Returns the fd or -errno; *what says which step failed. */
int mttd_listen(const char *path, const char **what);
