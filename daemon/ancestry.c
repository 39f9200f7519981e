/* Parents from /proc/PID/stat. */
#include "ancestry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "common/procfs.h"

/* A chain longer than this is not a chain (a parent's line changed under us). */
#define MAX_DEPTH 4096

void mttd_ancestry_init(mttd_ancestry *a, const char *proc)
{
        *a = (mttd_ancestry){.proc = proc};
}

void mttd_ancestry_forget(mttd_ancestry *a)
{
        a->n = 0;
}

void mttd_ancestry_free(mttd_ancestry *a)
{
        free(a->known);
        *a = (mttd_ancestry){.proc = a->proc};
}

int mttd_parent_of(const char *proc, pid_t pid, pid_t *ppid)
{
        char path[96], line[1024];
        snprintf(path, sizeof(path), "%s/%d/stat", proc, (int)pid);
        int r = mtt_procfs_read(path, line, sizeof(line));
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        /* The command (field 2) may hold anything: fields are counted from its last ')'. */
        const char *end = strrchr(line, ')');
        int parent;
        char state;
        if (!end || sscanf(end + 1, " %c %d", &state, &parent) != 2)
                return -EINVAL;
        *ppid = parent;
        return 0;
}

static pid_t parent(mttd_ancestry *a, pid_t pid)
{
        for (size_t i = 0; i < a->n; i++)
                if (a->known[i].pid == pid)
                        return a->known[i].ppid;
        pid_t ppid;
        if (mttd_parent_of(a->proc, pid, &ppid) < 0)
                ppid = -1;
        if (mtt_grow(&a->known, &a->cap, a->n + 1, sizeof(*a->known), 16) == 0)
                a->known[a->n++] = (struct mttd_parent){.pid = pid, .ppid = ppid};
        return ppid;
}

bool mttd_ancestry_descends(mttd_ancestry *a, pid_t pid, pid_t root)
{
        for (int depth = 0; pid > 0 && depth < MAX_DEPTH; depth++) {
                if (pid == root)
                        return true;
                pid = parent(a, pid);
        }
        return false;
}
