/* Client processes through pidfds. */
#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "pidfd_info.h"
#include "proto/ending.h"
#include "target.h"

/* After the process ended, how long its exit status may take to show (until its parent
 * reaps it, or while it is a zombie we may not read). */
#define EXIT_STATUS_WAIT_US 2000000
#define EXIT_STATUS_RETRY_S 0.01

struct mttd_peer {
        unsigned users;
        int pidfd;
        pid_t pid;
        mtt_procfs_oom_counts oom; /* the cgroup's at Open, the system's before the hangup */
        struct ev_loop *loop;
        ev_io exited;      /* the pidfd is readable once the process has ended */
        ev_timer deadline; /* still running / retry the exit status */
        uint64_t ended_us; /* when it was seen ended, 0 before */
        mttd_peer_done done;
        void *ctx;
};

/* The peer's pidfd from its socket, race-free where the kernel has SO_PEERPIDFD (a pid may be
 * reused), else one opened for its pid: the fd or -errno. */
static int peer_pidfd(int sock, pid_t pid)
{
        int fd = mttd_target_peer_pidfd(sock);
        if (fd >= 0)
                return fd;
        fd = (int)syscall(SYS_pidfd_open, pid, 0);
        return fd >= 0 ? fd : -errno;
}

mttd_peer *mttd_peer_new(int sock, pid_t pid)
{
        int fd = peer_pidfd(sock, pid);
        if (fd < 0)
                return NULL;
        mttd_peer *p = calloc(1, sizeof(*p));
        if (!p) {
                close(fd);
                return NULL;
        }
        p->pidfd = fd;
        p->pid = pid;
        p->users = 1;
        mtt_procfs_oom_counts_of(MTT_PROCFS_ROOT, MTT_PROCFS_CGROUP_ROOT, pid, &p->oom);
        return p;
}

static void stop(mttd_peer *p)
{
        if (!p->loop)
                return;
        ev_io_stop(p->loop, &p->exited);
        ev_timer_stop(p->loop, &p->deadline);
}

mttd_peer *mttd_peer_ref(mttd_peer *p)
{
        p->users++;
        return p;
}

void mttd_peer_unref(mttd_peer *p)
{
        if (!p || --p->users > 0)
                return;
        stop(p);
        close(p->pidfd);
        free(p);
}

bool mttd_peer_probing(const mttd_peer *p)
{
        return p->loop != NULL;
}

/* The exit status from PIDFD_GET_INFO, there once the process is reaped. The kernel writes
 * its answer's mask over the request's: each call asks afresh. */
static int reaped_status(const mttd_peer *p, int *status)
{
        struct mttd_pidfd_info info = {.mask = MTTD_PIDFD_INFO_EXIT};
        if (ioctl(p->pidfd, MTTD_PIDFD_GET_INFO, &info) < 0)
                return -errno;
        if (!(info.mask & MTTD_PIDFD_INFO_EXIT))
                return -ENODATA;
        *status = info.exit_code;
        return 0;
}

/* The exit status: 0, known; -EAGAIN, not yet (a zombie we may not read: the kernel shows 0
 * then, and PIDFD_GET_INFO answers once it is reaped; or one being reaped, whose status
 * PIDFD_GET_INFO has a moment later); -ESRCH, lost (reaped already, on a kernel without
 * PIDFD_GET_INFO's exit status). */
static int exit_status(const mttd_peer *p, int *status)
{
        if (reaped_status(p, status) == 0)
                return 0;
        int r = mtt_procfs_zombie_status(MTT_PROCFS_ROOT, p->pid, geteuid(), status);
        if (r == -ESRCH && reaped_status(p, status) == 0) /* reaped in between */
                return 0;
        return r == 0 || r == -EAGAIN ? r : -ESRCH;
}

static void answer(mttd_peer *p, const char *cause)
{
        stop(p);
        p->done(p->ctx, p, cause);
}

/* The process has ended: its status, with whether the OOM killer sent its SIGKILL. */
static void try_status(mttd_peer *p)
{
        int status;
        int r = exit_status(p, &status);
        if (r == 0) {
                mtt_procfs_oom_counts now;
                mtt_procfs_oom_counts_again(MTT_PROCFS_ROOT, &p->oom, &now);
                char cause[160];
                mtt_proto_describe_exit(status, mtt_procfs_oom_killed(&p->oom, &now), cause,
                                        sizeof(cause));
                if (WIFEXITED(status))
                        strncat(cause, " without Close", sizeof(cause) - strlen(cause) - 1);
                answer(p, cause);
        } else if (r == -ESRCH || mttd_now_us() - p->ended_us >= EXIT_STATUS_WAIT_US) {
                answer(p, "the client exited without Close");
        } else {
                ev_timer_set(&p->deadline, EXIT_STATUS_RETRY_S, 0.);
                ev_timer_start(p->loop, &p->deadline);
        }
}

static void ended(mttd_peer *p)
{
        ev_io_stop(p->loop, &p->exited);
        ev_timer_stop(p->loop, &p->deadline);
        p->ended_us = mttd_now_us();
        try_status(p);
}

static void on_exited(struct ev_loop *loop, ev_io *w, int revents)
{
        ended(w->data);
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
        mttd_peer *p = w->data;
        /* A loop that wakes up late has the pidfd's readiness and this expired timer pending
         * together, and libev may run the timer first: ask the pidfd before saying "running". */
        if (p->ended_us)
                try_status(p);
        else if (mttd_pidfd_ended(p->pidfd))
                ended(p);
        else
                answer(p, "the client closed its connection while still running");
}

void mttd_peer_probe(mttd_peer *p, struct ev_loop *loop, uint64_t wait_us, long long oom_system,
                     mttd_peer_done done, void *ctx)
{
        p->oom.system = oom_system;
        p->loop = loop;
        p->done = done;
        p->ctx = ctx;
        ev_io_init(&p->exited, on_exited, p->pidfd, EV_READ);
        p->exited.data = p;
        ev_timer_init(&p->deadline, on_deadline, (double)wait_us / 1e6, 0.);
        p->deadline.data = p;
        ev_io_start(loop, &p->exited);
        ev_timer_start(loop, &p->deadline);
}
