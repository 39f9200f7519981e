/* Pidfds of measured processes. */
#include "target.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/procfs.h"
#include "pidfd_info.h"

bool mttd_pidfd_ended(int pidfd)
{
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP));
}

int mttd_target_pidfd_again(int pidfd, pid_t pid)
{
        if (pidfd < 0 || pid <= 0)
                return -1;
        int again = (int)syscall(SYS_pidfd_open, pid, 0);
        /* Made while the first says the process lives: the pid is still that process's. */
        if (again >= 0 && mttd_pidfd_ended(pidfd)) {
                close(again);
                return -1;
        }
        return again;
}

/* The pid and real uid of a pidfd's process: PIDFD_GET_INFO (Linux 6.13), else
 * the pidfd's fdinfo for the pid and the process's status for the uid, read while the
 * process is known alive before and after (a live process's pid is not reused). */
static int identify(int pidfd, pid_t *pid, uid_t *ruid)
{
        struct mttd_pidfd_info info = {.mask = MTTD_PIDFD_INFO_CREDS};
        if (ioctl(pidfd, MTTD_PIDFD_GET_INFO, &info) == 0 && (info.mask & MTTD_PIDFD_INFO_CREDS)) {
                *pid = (pid_t)info.tgid;
                *ruid = info.ruid;
                return mttd_pidfd_ended(pidfd) ? -ESRCH : 0;
        }
        pid_t p;
        uid_t u;
        if (mtt_procfs_pidfd_pid(MTT_PROCFS_ROOT, pidfd, &p) < 0 ||
            mtt_procfs_ruid_of(MTT_PROCFS_ROOT, p, &u) < 0 || mttd_pidfd_ended(pidfd))
                return -ESRCH;
        *pid = p;
        *ruid = u;
        return 0;
}

int mttd_target_peer_pidfd(int sock)
{
        int fd = -1;
        socklen_t len = sizeof(fd);
        if (sock < 0)
                return -EBADF;
        if (getsockopt(sock, SOL_SOCKET, MTTD_SO_PEERPIDFD, &fd, &len) < 0)
                return -errno;
        if (fd < 0)
                return -ESRCH;
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        return fd;
}

/* Without pidfds (a kernel before 5.3, valgrind): the pid's owner from /proc alone. */
static int take_without_pidfd(const struct ucred *peer, pid_t pid, pid_t *out_pid)
{
        uid_t u;
        int r = mtt_procfs_ruid_of(MTT_PROCFS_ROOT, pid, &u);
        /* No status: no such process. One without a uid we can read names nobody a user
         * may measure. */
        if (r < 0 && r != -ENODATA && r != -EINVAL)
                return -ESRCH;
        if (peer->uid != 0 && (r < 0 || u != peer->uid))
                return -EPERM;
        *out_pid = pid;
        return 0;
}

int mttd_target_take(const struct ucred *peer, int sock, pid_t pid, pid_t *out_pid, int *out_pidfd)
{
        *out_pidfd = -1;
        int fd = pid == 0 ? mttd_target_peer_pidfd(sock) : -1;
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
