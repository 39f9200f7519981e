/* How a process ended, in the words mttd and mttctl put in a session's cause ("killed by
 * SIGKILL (OOM killer)"). Whether the OOM killer did it is told by the OOM kill counts
 * (common/procfs.h): proto reads no file. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A wait status in words: "exited with status 3", "killed by SIGSEGV (core dumped)",
 * "killed by SIGKILL (OOM killer)" (oom: the OOM killer sent the SIGKILL). */
void mtt_proto_describe_exit(int wait_status, bool oom, char *buf, size_t size);
