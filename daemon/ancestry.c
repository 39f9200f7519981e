/* Parents from /proc/PID/stat. */
#include "ancestry.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "common/procfs.h"

void mttd_ancestry_init(mttd_ancestry *a, const char *proc)
{
        *a = (mttd_ancestry){.proc = proc};
}

void mttd_ancestry_forget(mttd_ancestry *a)
{
        if (a->cap)
                memset(a->slots, 0, a->cap * sizeof(*a->slots));
        a->n = 0;
}

void mttd_ancestry_free(mttd_ancestry *a)
{
        free(a->slots);
        free(a->line);
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

/* pid's slot: its own, or the free one where it goes. cap is a power of two, never full. */
static struct mttd_parent *slot_of(const mttd_ancestry *a, pid_t pid)
{
        size_t mask = a->cap - 1, i = ((uint32_t)pid * 2654435761u) & mask;
        while (a->slots[i].pid != 0 && a->slots[i].pid != pid)
                i = (i + 1) & mask;
        return &a->slots[i];
}

/* Keeps the table at most half full. */
static int make_room(mttd_ancestry *a)
{
        if (a->cap && (a->n + 1) * 2 <= a->cap)
                return 0;
        size_t cap = a->cap ? a->cap * 2 : 64;
        struct mttd_parent *old = a->slots, *slots = calloc(cap, sizeof(*slots));
        if (!slots)
                return -ENOMEM;
        size_t old_cap = a->cap;
        a->slots = slots;
        a->cap = cap;
        for (size_t i = 0; i < old_cap; i++)
                if (old[i].pid != 0)
                        *slot_of(a, old[i].pid) = old[i];
        free(old);
        return 0;
}

/* pid's entry, its parent looked up once per read; NULL if out of memory. */
static struct mttd_parent *entry(mttd_ancestry *a, pid_t pid)
{
        if (make_room(a) < 0)
                return NULL;
        struct mttd_parent *e = slot_of(a, pid);
        if (e->pid == 0) {
                pid_t ppid;
                if (mttd_parent_of(a->proc, pid, &ppid) < 0)
                        ppid = -1;
                *e = (struct mttd_parent){.pid = pid, .ppid = ppid};
                a->n++;
        }
        return e;
}

size_t mttd_ancestry_line(mttd_ancestry *a, pid_t pid, const pid_t **line)
{
        if (mtt_grow(&a->line, &a->line_cap, MTTD_ANCESTRY_MAX_DEPTH, sizeof(*a->line),
                     MTTD_ANCESTRY_MAX_DEPTH) < 0)
                return 0;
        if (++a->walk == 0) { /* wrapped: no slot may look walked already */
                for (size_t i = 0; i < a->cap; i++)
                        a->slots[i].walk = 0;
                a->walk = 1;
        }
        size_t n = 0;
        while (pid > 0 && n < MTTD_ANCESTRY_MAX_DEPTH) {
                struct mttd_parent *e = entry(a, pid);
                if (!e)
                        return 0;
                if (e->walk == a->walk)
                        break; /* a loop: parents read at different moments */
                e->walk = a->walk;
                a->line[n++] = pid;
                pid = e->ppid;
        }
        *line = a->line;
        return n;
}
