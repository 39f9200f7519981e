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
