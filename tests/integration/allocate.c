/* Allocates and touches memory, 1 MiB at a time, until something kills it (the OOM test runs
 * it in a memory cgroup with a small limit). Gives up at 4 GiB: then no limit was applied. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
        for (int mib = 0; mib < 4096; mib++) {
                char *p = malloc(1 << 20);
                if (!p)
                        return 2;
                memset(p, mib & 0xff, 1 << 20);
                if (mib % 8 == 0)
                        usleep(1000); /* a curve with a few rows, not one jump */
        }
        return 1;
}
