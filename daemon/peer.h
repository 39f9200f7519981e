/* A session's client process, kept to explain an end without Close: a pidfd taken at Open
 * and the OOM kill counts then. After a hangup, the probe waits a little for the process to
 * end and says how it did ("killed by SIGKILL (OOM killer)", "exited with status 3 without
 * Close", or that it still runs). The exit status comes from PIDFD_GET_INFO (Linux 6.15),
 * or from /proc/PID/stat while the process is a zombie. */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/procfs.h"

typedef struct mttd_peer mttd_peer;
/* The probe's answer; the peer may be freed in it. */
typedef void (*mttd_peer_done)(void *ctx, mttd_peer *p, const char *cause);

/* Takes a pidfd of the process at the other end of sock (SO_PEERPIDFD, Linux 6.5; else
 * pidfd_open of its SO_PEERCRED pid) and its cgroup's OOM kill count. NULL when no pidfd can
 * be had (then an end without Close has no cause beyond the hangup) or out of memory. */
mttd_peer *mttd_peer_new(int sock, pid_t pid);
/* Sessions of one connection share its peer (one pidfd): references are counted. */
mttd_peer *mttd_peer_ref(mttd_peer *p);
/* The last reference stops a probe (no answer comes) and closes the pidfd. Accepts NULL. */
void mttd_peer_unref(mttd_peer *p);
/* Whether a probe was started (sessions that share the peer start it once). */
bool mttd_peer_probing(const mttd_peer *p);
/* After a hangup: answers once the process has ended, or after wait_us if it still runs.
 * oom_system: the system's OOM kill count from shortly before the hangup
 * (mtt_procfs_oom_system). */
void mttd_peer_probe(mttd_peer *p, struct ev_loop *loop, uint64_t wait_us, long long oom_system,
                     mttd_peer_done done, void *ctx);
