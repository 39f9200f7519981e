/* Pidfds of measured processes. */
#include "target.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/types.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pidfd_info.h"

bool mttd_pidfd_ended(int pidfd)
{
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP));
}

/* The pid and real uid of a pidfd's process: PIDFD_GET_INFO (Linux 6.13), else
 * /proc/self/fdinfo for the pid and /proc/PID/status for the uid, read while the process
 * is known alive before and after (a live process's pid is not reused). */
static int identify(int pidfd, pid_t *pid, uid_t *ruid)
{
        struct mttd_pidfd_info info = {.mask = MTTD_PIDFD_INFO_CREDS};
        if (ioctl(pidfd, MTTD_PIDFD_GET_INFO, &info) == 0 && (info.mask & MTTD_PIDFD_INFO_CREDS)) {
                *pid = (pid_t)info.tgid;
                *ruid = info.ruid;
                return mttd_pidfd_ended(pidfd) ? -ESRCH : 0;
        }
        char path[64], *line = NULL;
        size_t cap = 0;
        long p = -1;
        unsigned long u = ULONG_MAX;
        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
        FILE *f = fopen(path, "re");
        while (f && getline(&line, &cap, f) > 0)
                if (sscanf(line, "Pid: %ld", &p) == 1)
                        break;
        if (f)
                fclose(f);
        if (p > 0) {
                snprintf(path, sizeof(path), "/proc/%ld/status", p);
                f = fopen(path, "re");
                while (f && getline(&line, &cap, f) > 0)
                        if (sscanf(line, "Uid: %lu", &u) == 1)
                                break;
                if (f)
                        fclose(f);
        }
        free(line);
        if (p <= 0 || u == ULONG_MAX || mttd_pidfd_ended(pidfd))
                return -ESRCH;
        *pid = (pid_t)p;
        *ruid = (uid_t)u;
        return 0;
}

static int peer_pidfd(int sock)
{
        int fd = -1;
        socklen_t len = sizeof(fd);
        if (sock < 0 || getsockopt(sock, SOL_SOCKET, MTTD_SO_PEERPIDFD, &fd, &len) < 0 || fd < 0)
                return -1;
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        return fd;
}

/* Without pidfds (a kernel before 5.3, valgrind): the pid's owner from /proc alone. */
static int take_without_pidfd(const struct ucred *peer, pid_t pid, pid_t *out_pid)
{
        char path[64], *line = NULL;
        size_t cap = 0;
        unsigned long u = ULONG_MAX;
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -ESRCH;
        while (getline(&line, &cap, f) > 0)
                if (sscanf(line, "Uid: %lu", &u) == 1)
                        break;
        free(line);
        fclose(f);
        if (peer->uid != 0 && u != peer->uid)
                return -EPERM;
        *out_pid = pid;
        return 0;
}

int mttd_target_take(const struct ucred *peer, int sock, pid_t pid, pid_t *out_pid, int *out_pidfd)
{
        *out_pidfd = -1;
        int fd = pid == 0 ? peer_pidfd(sock) : -1;
        bool from_socket = fd >= 0;
        if (fd < 0)
                fd = (int)syscall(SYS_pidfd_open, pid ? pid : peer->pid, 0);
        if (fd < 0 && errno == ENOSYS)
                return take_without_pidfd(peer, pid ? pid : peer->pid, out_pid);
        if (fd < 0)
                return errno == ESRCH || errno == EINVAL ? -ESRCH : -errno;
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        pid_t real;
        uid_t ruid;
        int r = identify(fd, &real, &ruid);
        /* Root may measure any process; a user their own. The SO_PEERCRED pid without
         * SO_PEERPIDFD may have been given to another process since connect(): it must at
         * least be the peer's user's, whoever the peer is. */
        if (r == 0 && (peer->uid != 0 || (pid == 0 && !from_socket)) && ruid != peer->uid)
                r = pid == 0 ? -ESRCH : -EPERM;
        if (r < 0) {
                close(fd);
                return r;
        }
        *out_pid = real;
        *out_pidfd = fd;
        return 0;
}
