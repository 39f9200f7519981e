/* Client processes through pidfds. */
#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5; Debian 12's headers predate it */
#endif

/* PIDFD_GET_INFO as Linux 6.15 has it (Debian 12's headers predate it); an older kernel
 * answers ENOTTY, or without PIDFD_INFO_EXIT in the mask. */
struct mttd_pidfd_info {
        __u64 mask;
        __u64 cgroupid;
        __u32 pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
        __s32 exit_code;
};
#define MTTD_PIDFD_GET_INFO  _IOWR(0xFF, 11, struct mttd_pidfd_info)
#define MTTD_PIDFD_INFO_EXIT (1ULL << 3)

/* After the process ended, how long its exit status may take to show (until its parent
 * reaps it, or while it is a zombie we may not read). */
#define EXIT_STATUS_WAIT_US 2000000
#define EXIT_STATUS_RETRY_S 0.01

struct mttd_peer {
        int pidfd;
        pid_t pid;
        mtt_proto_oom_counts oom; /* at Open */
        struct ev_loop *loop;
        ev_io exited;      /* the pidfd is readable once the process has ended */
        ev_timer deadline; /* still running / retry the exit status */
        uint64_t ended_us; /* when it was seen ended, 0 before */
        mttd_peer_done done;
        void *ctx;
};

static uint64_t now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The peer's pidfd, race-free where the kernel has SO_PEERPIDFD: a pid may be reused. */
static int peer_pidfd(int sock, pid_t pid)
{
        int fd = -1;
        socklen_t len = sizeof(fd);
        if (sock >= 0 && getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &fd, &len) == 0 && fd >= 0) {
                fcntl(fd, F_SETFD, FD_CLOEXEC);
                return fd;
        }
        return (int)syscall(SYS_pidfd_open, pid, 0);
}

mttd_peer *mttd_peer_new(int sock, pid_t pid, long long oom_system)
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
        mtt_proto_oom_counts_of(pid, &p->oom);
        p->oom.system = oom_system;
        return p;
}

static void stop(mttd_peer *p)
{
        if (!p->loop)
                return;
        ev_io_stop(p->loop, &p->exited);
        ev_timer_stop(p->loop, &p->deadline);
}

void mttd_peer_free(mttd_peer *p)
{
        if (!p)
                return;
        stop(p);
        close(p->pidfd);
        free(p);
}

/* The exit status of a zombie from /proc/PID/stat (field 52), if the pidfd's process is
 * still that zombie and we may read it. */
static bool zombie_status(const mttd_peer *p, int *status)
{
        char path[64], line[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)p->pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return false;
        bool ok = fgets(line, sizeof(line), f) != NULL;
        fclose(f);
        char *rest = ok ? strrchr(line, ')') : NULL; /* the command may hold anything */
        if (!rest || rest[1] != ' ' || rest[2] != 'Z')
                return false;
        /* Fields from 3 (the state) on; exit_code is field 52. */
        char *tok = rest + 2;
        for (int field = 3; field < 52 && tok; field++) {
                tok = strchr(tok, ' ');
                if (tok)
                        tok++;
        }
        /* Still ours: a pid reused since would not be a zombie this soon, and the pidfd
         * still being readable says the same process. */
        return tok && sscanf(tok, "%d", status) == 1 && *status != 0;
}

static bool exit_status(const mttd_peer *p, int *status)
{
        struct mttd_pidfd_info info = {.mask = MTTD_PIDFD_INFO_EXIT};
        if (ioctl(p->pidfd, MTTD_PIDFD_GET_INFO, &info) == 0 &&
            (info.mask & MTTD_PIDFD_INFO_EXIT)) {
                *status = info.exit_code;
                return true;
        }
        return zombie_status(p, status);
}

static void answer(mttd_peer *p, const char *cause)
{
        stop(p);
        p->done(p->ctx, cause);
}

/* The process has ended: its status, with whether the OOM killer sent its SIGKILL. */
static void try_status(mttd_peer *p)
{
        int status;
        if (exit_status(p, &status)) {
                mtt_proto_oom_counts now;
                mtt_proto_oom_counts_again(&p->oom, &now);
                char cause[160];
                mtt_proto_describe_exit(status, mtt_proto_oom_killed(&p->oom, &now), cause,
                                        sizeof(cause));
                if (WIFEXITED(status))
                        strncat(cause, " without Close", sizeof(cause) - strlen(cause) - 1);
                answer(p, cause);
        } else if (now_us() - p->ended_us >= EXIT_STATUS_WAIT_US) {
                answer(p, "the client exited without Close");
        } else {
                ev_timer_set(&p->deadline, EXIT_STATUS_RETRY_S, 0.);
                ev_timer_start(p->loop, &p->deadline);
        }
}

static void on_exited(struct ev_loop *loop, ev_io *w, int revents)
{
        mttd_peer *p = w->data;
        ev_io_stop(loop, w);
        ev_timer_stop(loop, &p->deadline);
        p->ended_us = now_us();
        try_status(p);
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
        mttd_peer *p = w->data;
        if (p->ended_us)
                try_status(p);
        else
                answer(p, "the client closed its connection while still running");
}

void mttd_peer_probe(mttd_peer *p, struct ev_loop *loop, uint64_t wait_us, mttd_peer_done done,
                     void *ctx)
{
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
