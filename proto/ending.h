/* How a process ended, in the words mttd and mttctl put in a session's cause ("killed by
 * SIGKILL (OOM killer)"). Whether the OOM killer did it is told by the OOM kill counts
 * (common/procfs.h): proto reads no file. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A wait status in words: "exited with status 3", "killed by SIGSEGV (core dumped)",
 * "killed by SIGKILL (OOM killer)" (oom: the OOM killer sent the SIGKILL). */
void mtt_proto_describe_exit(int wait_status, bool oom, char *buf, size_t size);

/* The few kinds of cause a dashboard or an alert tells apart (mttd's metrics file): the
 * words above read back. */
typedef enum mtt_proto_cause_class {
        MTT_PROTO_CAUSE_NONE,               /* no cause, or one in other words */
        MTT_PROTO_CAUSE_SIGNAL,             /* "killed by SIG..." */
        MTT_PROTO_CAUSE_OOM_KILL,           /* "killed by SIGKILL (OOM killer)" */
        MTT_PROTO_CAUSE_EXIT_WITHOUT_CLOSE, /* "... without Close": the client just went */
        MTT_PROTO_CAUSE_ERROR,              /* the session is in error (in_error) */
} mtt_proto_cause_class;
#define MTT_PROTO_CAUSE_CLASSES 5

/* The class of a session's cause (NULL: none). A session in error is MTT_PROTO_CAUSE_ERROR
 * whatever its cause says; a process killed is told before how its client went (a client
 * killed could not Close). */
mtt_proto_cause_class mtt_proto_cause_class_of(const char *cause, bool in_error);
/* "none", "signal", "oom_kill", "exit_without_close", "error". */
const char *mtt_proto_cause_class_name(mtt_proto_cause_class c);
