/* The process a session's scope measures, held by a pidfd taken before anything is checked,
 * so that a pid reused by another process is never measured or trusted (SPEC 8). */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Takes a pidfd of the process a session of peer measures: pid, or with pid 0 the process
 * at the other end of sock (SO_PEERPIDFD; on kernels before 6.5 the SO_PEERCRED pid, whose
 * process must still belong to the peer's user). A peer that is not root may only name its
 * own processes (by real uid), checked on the pidfd. Returns 0 with the pid in *out_pid and
 * the pidfd in *out_pidfd (-1 where the kernel has no pidfds: then the pid alone is checked
 * and followed), or -ESRCH (no such process, or the one that connected has exited) or
 * -EPERM. */
int mttd_target_take(const struct ucred *peer, int sock, pid_t pid, pid_t *out_pid, int *out_pidfd);
/* A new pidfd (close-on-exec) of the live process of pidfd, whose pid is pid; -1 when it has
 * ended. */
int mttd_target_pidfd_again(int pidfd, pid_t pid);
/* Whether the process of a pidfd has ended (its pid may be anyone's now). */
bool mttd_pidfd_ended(int pidfd);
/* The pidfd of the process at the other end of sock (SO_PEERPIDFD, Linux 6.5), close-on-exec:
 * the fd or -errno. */
int mttd_target_peer_pidfd(int sock);
