/* Process endings in words. */
#include "ending.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

void mtt_proto_describe_exit(int wait_status, bool oom, char *buf, size_t size)
{
        if (WIFEXITED(wait_status)) {
                snprintf(buf, size, "exited with status %d", WEXITSTATUS(wait_status));
                return;
        }
        int sig = WTERMSIG(wait_status);
        const char *abbrev = sigabbrev_np(sig);
        char name[32];
        if (abbrev)
                snprintf(name, sizeof(name), "SIG%s", abbrev);
        else
                snprintf(name, sizeof(name), "signal %d", sig);
        snprintf(buf, size, "killed by %s%s%s", name,
                 WCOREDUMP(wait_status) ? " (core dumped)" : "",
                 oom && sig == SIGKILL ? " (OOM killer)" : "");
}

mtt_proto_cause_class mtt_proto_cause_class_of(const char *cause, bool in_error)
{
        if (in_error)
                return MTT_PROTO_CAUSE_ERROR;
        if (!cause)
                return MTT_PROTO_CAUSE_NONE;
        if (strncmp(cause, "killed by ", strlen("killed by ")) == 0)
                return strstr(cause, " (OOM killer)") ? MTT_PROTO_CAUSE_OOM_KILL
                                                      : MTT_PROTO_CAUSE_SIGNAL;
        if (strstr(cause, "without Close"))
                return MTT_PROTO_CAUSE_EXIT_WITHOUT_CLOSE;
        return MTT_PROTO_CAUSE_NONE;
}

const char *mtt_proto_cause_class_name(mtt_proto_cause_class c)
{
        static const char *const names[MTT_PROTO_CAUSE_CLASSES] = {"none", "signal", "oom_kill",
                                                                   "exit_without_close", "error"};
        return (unsigned)c < MTT_PROTO_CAUSE_CLASSES ? names[c] : "none";
}
