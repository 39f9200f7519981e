/* Allocates and touches memory, 1 MiB at a time, until something kills it (the OOM test runs
 * it in a memory cgroup with a small limit). Gives up at 4 GiB: then no limit was applied.
 * With a report path it tracks itself through libmtt-client ($MTT_SOCKET), as an application
 * would, so that mttd has to find out how it ended.
 * allocate --spike MIB: touches MIB MiB and frees them at once (a spike of a few ms), then
 * waits 300 ms and exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtt/client.h"

static int spike(int mib)
{
        volatile char *p = malloc((size_t)mib << 20);
        if (!p)
                return 2;
        for (size_t off = 0; off < (size_t)mib << 20; off += 4096)
                p[off] = 1;
        free((char *)p);
        usleep(300000);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc > 2 && strcmp(argv[1], "--spike") == 0)
                return spike(atoi(argv[2]));
        mtt_session *s = NULL;
        if (argc > 1) {
                mtt_options o = {.label = "self-tracked"};
                if (mtt_open(argv[1], &o, &s) < 0) {
                        fprintf(stderr, "allocate: cannot track into %s\n", argv[1]);
                        return 3;
                }
        }
        for (int mib = 0; mib < 4096; mib++) {
                char *p = malloc(1 << 20);
                if (!p)
                        return 2;
                memset(p, mib & 0xff, 1 << 20);
                if (mib % 8 == 0)
                        usleep(1000); /* a curve with a few rows, not one jump */
        }
        if (s)
                mtt_close(s, MTT_FAILED);
        return 1;
}
