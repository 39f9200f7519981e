/* An application built against an installed libmtt-client: it must compile with only the
 * installed header and link with only the installed library. */
#include <errno.h>
#include <stdio.h>

#include <mtt/client.h>

int main(int argc, char **argv)
{
        if (argc != 2)
                return 2;
        FILE *f = fopen(argv[1], "w");
        if (!f)
                return 3;
        fputs("delta,ram\n0.000000,0.000100\n0.001000,0.000200\n0,0\n", f);
        fclose(f);
        mtt_report_verdict v;
        if (mtt_report_verdict_of(argv[1], &v) != 0 || v != MTT_REPORT_COMPLETED)
                return 4;
        mtt_options o = {.socket_path = "/nonexistent/mtt.sock"};
        mtt_session *s = NULL;
        if (mtt_open(argv[1], &o, &s) != -ENOENT || s)
                return 5;
        puts("consumer ok");
        return 0;
}
