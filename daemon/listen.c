/* The listening socket mttd makes itself (without systemd's). */
#include "listen.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int mkdir_parents(char *path)
{
        for (char *p = path + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                int r = mkdir(path, 0755);
                *p = '/';
                if (r < 0 && errno != EEXIST)
                        return -errno;
        }
        return 0;
}

int mttd_listen(const char *path, const char **what)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path)) {
                *what = "socket path too long";
                return -ENAMETOOLONG;
        }
        strcpy(sa.sun_path, path);
        int r = mkdir_parents(sa.sun_path);
        if (r < 0) {
                *what = "cannot create the socket's directory";
                return r;
        }
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
                *what = "cannot create a socket";
                return -errno;
        }
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                if (errno != EADDRINUSE)
                        goto bind_failed;
                /* A socket file nobody answers on is left over from a crash: replace it. */
                int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                bool live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
                if (probe >= 0)
                        close(probe);
                struct stat st;
                if (live || lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
                        close(fd);
                        *what = live ? "another mttd is listening there"
                                     : "the path exists and is not a socket";
                        return -EADDRINUSE;
                }
                unlink(path);
                if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                        goto bind_failed;
        }
        /* Any local user may track (SPEC 7); directories guard private sockets. */
        chmod(path, 0666);
        if (listen(fd, SOMAXCONN) < 0) {
                r = -errno;
                close(fd);
                *what = "cannot listen";
                return r;
        }
        return fd;
bind_failed:
        r = -errno;
        close(fd);
        *what = "cannot bind the socket";
        return r;
}
