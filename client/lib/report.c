/* Report verdicts from the file alone, with memory_time_tracker's rule: last line "0,0" is
 * completed, "-1,-1" crashed gracefully, anything else crashed ungracefully. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mtt/client.h"

#define TAIL 256

int mtt_report_verdict_of(const char *csv_path, mtt_report_verdict *out)
{
        if (!csv_path || !out)
                return -EINVAL;
        int fd = open(csv_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        int r = fstat(fd, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? -EISDIR : 0;
        if (r < 0) {
                close(fd);
                return r;
        }
        /* Only the last line matters: read the file's tail. */
        char buf[TAIL + 1];
        off_t off = st.st_size > TAIL ? st.st_size - TAIL : 0;
        ssize_t n = pread(fd, buf, TAIL, off);
        int err = errno;
        close(fd);
        if (n < 0)
                return -err;
        buf[n] = '\0';
        /* The seed strips the trailing newline and whitespace before it compares. */
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
                buf[--n] = '\0';
        char *last = strrchr(buf, '\n');
        last = last ? last + 1 : buf;
        if (strcmp(last, "0,0") == 0)
                *out = MTT_REPORT_COMPLETED;
        else if (strcmp(last, "-1,-1") == 0)
                *out = MTT_REPORT_CRASHED_GRACEFULLY;
        else
                *out = MTT_REPORT_CRASHED_UNGRACEFULLY;
        return 0;
}

static bool verdict_is(const char *csv_path, mtt_report_verdict want)
{
        mtt_report_verdict v;
        return mtt_report_verdict_of(csv_path, &v) == 0 && v == want;
}

bool mtt_has_completed_successfully(const char *csv_path)
{
        return verdict_is(csv_path, MTT_REPORT_COMPLETED);
}

bool mtt_has_crashed_gracefully(const char *csv_path)
{
        return verdict_is(csv_path, MTT_REPORT_CRASHED_GRACEFULLY);
}

bool mtt_has_crashed_ungracefully(const char *csv_path)
{
        return verdict_is(csv_path, MTT_REPORT_CRASHED_UNGRACEFULLY);
}
