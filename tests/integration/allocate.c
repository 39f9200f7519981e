/* Allocates and touches memory, 1 MiB at a time, until something kills it (the OOM test runs
 * it in a memory cgroup with a small limit). Gives up at 4 GiB: then no limit was applied.
 * With a report path it tracks itself through libmtt-client ($MTT_SOCKET), as an application
 * would, so that mttd has to find out how it ended. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtt/client.h"

int main(int argc, char **argv)
{
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
