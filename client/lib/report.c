/* Report files (SPEC section 2): the one reader, and the verdicts made from it.
 *
 * What a report is. The first line is exactly "delta,ram" (a CR before its newline allowed).
 * Every other line is a row of two finite numbers, "DELTA,RAM" (strtod's syntax in the C
 * locale, spaces or tabs around each number), or blank (spaces and tabs only), which is
 * ignored: the seed's files may end with one. Lines end with LF, a CR before it allowed, and
 * may be of any length. The seed's endings "0,0" and "-1,-1" are rows too, so the verdict is
 * the seed's rule on the last row (its trailing blanks aside): "0,0" completed, "-1,-1"
 * crashed gracefully, anything else crashed ungracefully. A line that is not a row makes the
 * file no report, except the last one: a writer killed mid-line leaves it torn, so it alone
 * is skipped and the run crashed ungracefully. A file of nothing but white space is empty,
 * no report; the header alone is a run whose client died right after it opened. Only a
 * regular file is a report. */
#include "report.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER "delta,ram"
#define BLANK  " \t"

static void not_a_report(mtt_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void not_a_report(mtt_report *r, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
        va_end(ap);
        r->verdict = MTT_REPORT_NOT_A_REPORT;
}

/* Opens path if it is a regular file; *f stays NULL for anything else. stat() comes first so
 * that a FIFO (whose open blocks until a writer comes) or a device is never opened, and a
 * socket (which cannot be opened) is told apart from an error; O_NONBLOCK and fstat() again
 * for a file swapped in between. */
static int open_regular(const char *path, FILE **f)
{
        struct stat st;
        *f = NULL;
        if (stat(path, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return 0;
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = fstat(fd, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? -EISDIR : 0;
        if (r == 0 && S_ISREG(st.st_mode) && !(*f = fdopen(fd, "r")))
                r = -errno;
        if (!*f)
                close(fd);
        return r;
}

static bool is_space(int c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Checks the first line. It is read a byte at a time, and at most one byte past "delta,ram\r",
 * so that a big file without a newline (a disk image, a sparse file) is refused at once. A
 * file that is not all white space stops being scanned at its first other byte. */
static int read_header(FILE *f, mtt_report *r)
{
        char line[sizeof(HEADER)]; /* "delta,ram" and a CR */
        size_t n = 0;
        int c;
        while ((c = getc(f)) != EOF && c != '\n' && n < sizeof(line))
                line[n++] = (char)c;
        bool whole = c == EOF || c == '\n';
        if (whole && (n == sizeof(line) - 1 || (n == sizeof(line) && line[n - 1] == '\r')) &&
            memcmp(line, HEADER, sizeof(line) - 1) == 0)
                return ferror(f) ? -EIO : 0;
        bool empty = true;
        for (size_t i = 0; i < n; i++)
                empty = empty && is_space(line[i]);
        for (; empty && c != EOF; c = getc(f))
                empty = is_space(c);
        if (ferror(f))
                return -EIO;
        not_a_report(r, empty ? "the file is empty" : "the first line is not \"" HEADER "\"");
        return 0;
}

/* One number of a row, with the spaces or tabs around it; *p moves past them. */
static bool parse_number(const char **p, locale_t c, double *v)
{
        const char *s = *p + strspn(*p, BLANK);
        char *end;
        if (*s == '\0' || isspace_l((unsigned char)*s, c)) /* strtod would skip a CR or FF */
                return false;
        *v = strtod_l(s, &end, c);
        if (end == s || !isfinite(*v))
                return false;
        *p = end + strspn(end, BLANK);
        return true;
}

/* "DELTA,RAM": len is the line's length, so a NUL byte inside it makes no row. */
static bool parse_row(const char *line, size_t len, locale_t c, double *t, double *gib)
{
        const char *p = line;
        return strlen(line) == len && parse_number(&p, c, t) && *p++ == ',' &&
               parse_number(&p, c, gib) && *p == '\0';
}

/* The seed's rule: the last row's text, its trailing blanks aside, is the ending. */
static mtt_report_verdict ending_of(const char *line, size_t len)
{
        while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
                len--;
        if (len == 3 && memcmp(line, "0,0", 3) == 0)
                return MTT_REPORT_COMPLETED;
        if (len == 5 && memcmp(line, "-1,-1", 5) == 0)
                return MTT_REPORT_CRASHED_GRACEFULLY;
        return MTT_REPORT_CRASHED_UNGRACEFULLY;
}

static int push_row(mtt_report *r, size_t *cap, double t, double gib)
{
        if (r->n == *cap) {
                size_t c = *cap ? *cap * 2 : 256;
                double *nt = realloc(r->t, c * sizeof(double));
                if (!nt)
                        return -ENOMEM;
                r->t = nt;
                double *ng = realloc(r->gib, c * sizeof(double));
                if (!ng)
                        return -ENOMEM;
                r->gib = ng;
                *cap = c;
        }
        r->t[r->n] = t;
        r->gib[r->n] = gib;
        r->n++;
        return 0;
}

/* The lines after the header: sets r's verdict, and its rows with keep_rows. */
static int read_rows(FILE *f, locale_t c, bool keep_rows, mtt_report *r)
{
        char *line = NULL;
        size_t size = 0, cap = 0, lineno = 1, bad = 0;
        ssize_t len = 0;
        int ret = 0;
        r->verdict = MTT_REPORT_CRASHED_UNGRACEFULLY; /* the header alone: died after Open */
        while (ret == 0 && (len = getline(&line, &size, f)) >= 0) {
                lineno++;
                if (len > 0 && line[len - 1] == '\n')
                        len--;
                if (len > 0 && line[len - 1] == '\r')
                        len--;
                line[len] = '\0';
                if (strspn(line, BLANK) == (size_t)len)
                        continue;
                double t, gib;
                if (bad) { /* a line after the bad one: that one was not a torn last line */
                        not_a_report(r, "line %zu is not a data row of two finite numbers", bad);
                        break;
                }
                if (!parse_row(line, (size_t)len, c, &t, &gib)) {
                        bad = lineno;
                        r->verdict = MTT_REPORT_CRASHED_UNGRACEFULLY; /* if it is the last */
                        continue;
                }
                r->verdict = ending_of(line, (size_t)len);
                if (keep_rows)
                        ret = push_row(r, &cap, t, gib);
        }
        if (ret == 0 && len < 0 && !feof(f))
                ret = errno == ENOMEM ? -ENOMEM : -EIO;
        free(line);
        return ret;
}

int mtt_report_read(const char *path, bool keep_rows, mtt_report *out)
{
        if (!path || !out)
                return -EINVAL;
        mtt_report r = {0};
        FILE *f;
        int ret = open_regular(path, &f);
        if (ret < 0)
                return ret;
        if (!f) {
                not_a_report(&r, "not a regular file");
                *out = r;
                return 0;
        }
        /* Numbers are read in the C locale, whatever the application's locale is. */
        locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
        ret = c ? read_header(f, &r) : -ENOMEM;
        if (ret == 0 && r.verdict != MTT_REPORT_NOT_A_REPORT)
                ret = read_rows(f, c, keep_rows, &r);
        if (c)
                freelocale(c);
        fclose(f);
        if (ret < 0 || r.verdict == MTT_REPORT_NOT_A_REPORT)
                mtt_report_free(&r); /* keeps the verdict and the reason */
        if (ret < 0)
                return ret;
        *out = r;
        return 0;
}

void mtt_report_free(mtt_report *r)
{
        if (!r)
                return;
        free(r->t);
        free(r->gib);
        r->t = r->gib = NULL;
        r->n = 0;
}

int mtt_report_verdict_of(const char *csv_path, mtt_report_verdict *out)
{
        if (!out)
                return -EINVAL;
        mtt_report r;
        int ret = mtt_report_read(csv_path, false, &r);
        if (ret == 0)
                *out = r.verdict;
        return ret;
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
