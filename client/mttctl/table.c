/* mttctl's human output. */
#include "table.h"

#include <errno.h>
#include <math.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"

void mttctl_format_duration(char *buf, size_t size, double s)
{
        if (s < 0)
                s = 0;
        if (s < 1)
                snprintf(buf, size, "%.0fms", s * 1000);
        else if (s < 60)
                snprintf(buf, size, "%.1fs", s);
        else if (s < 3600)
                snprintf(buf, size, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
        else if (s < 86400)
                snprintf(buf, size, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
        else
                snprintf(buf, size, "%dd%02dh", (int)(s / 86400), (int)fmod(s / 3600, 24));
}

void mttctl_format_gib(char *buf, size_t size, double gib)
{
        double a = fabs(gib);
        if (a >= 1)
                snprintf(buf, size, "%.2f GiB", gib);
        else if (a >= 1.0 / 1024)
                snprintf(buf, size, "%.1f MiB", gib * 1024);
        else
                snprintf(buf, size, "%.0f KiB", gib * 1024 * 1024);
}

void mttctl_format_user(char *buf, size_t size, uid_t uid)
{
        struct passwd *pw = getpwuid(uid);
        if (pw)
                snprintf(buf, size, "%s", pw->pw_name);
        else
                snprintf(buf, size, "%u", (unsigned)uid);
}

void mttctl_table_init(mttctl_table *t, size_t n_cols, const char *const *heads, const int *right)
{
        memset(t, 0, sizeof(*t));
        t->n_cols = n_cols < MTTCTL_TABLE_MAX_COLS ? n_cols : MTTCTL_TABLE_MAX_COLS;
        for (size_t i = 0; i < t->n_cols; i++) {
                t->heads[i] = heads[i];
                t->right[i] = right ? right[i] : 0;
        }
}

int mttctl_table_add(mttctl_table *t, const char *const *row)
{
        if (mtt_grow(&t->cells, &t->cap_rows, t->n_rows + 1, t->n_cols * sizeof(char *), 16) < 0)
                return -ENOMEM;
        char **cells = t->cells + t->n_rows * t->n_cols;
        for (size_t i = 0; i < t->n_cols; i++) {
                cells[i] = strdup(row[i] ? row[i] : "");
                if (!cells[i]) {
                        while (i-- > 0)
                                free(cells[i]);
                        return -ENOMEM;
                }
                mtt_proto_printable(cells[i]);
        }
        t->n_rows++;
        return 0;
}

void mttctl_table_hide(mttctl_table *t, size_t col)
{
        if (col < t->n_cols)
                t->hidden[col] = true;
}

void mttctl_table_print(const mttctl_table *t, FILE *f)
{
        size_t w[MTTCTL_TABLE_MAX_COLS];
        size_t last = 0; /* the last column printed: no padding, then the newline */
        for (size_t c = 0; c < t->n_cols; c++) {
                if (!t->hidden[c])
                        last = c;
                w[c] = strlen(t->heads[c]);
                for (size_t r = 0; r < t->n_rows; r++) {
                        size_t l = strlen(t->cells[r * t->n_cols + c]);
                        if (l > w[c])
                                w[c] = l;
                }
        }
        for (size_t r = 0; r <= t->n_rows; r++) {
                for (size_t c = 0; c <= last; c++) {
                        if (t->hidden[c])
                                continue;
                        const char *s = r == 0 ? t->heads[c] : t->cells[(r - 1) * t->n_cols + c];
                        if (t->right[c])
                                fprintf(f, "%*s", (int)w[c], s);
                        else
                                fprintf(f, "%-*s", c == last ? 0 : (int)w[c], s);
                        fputs(c == last ? "\n" : "  ", f);
                }
        }
}

void mttctl_table_free(mttctl_table *t)
{
        for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
                free(t->cells[i]);
        free(t->cells);
        memset(t, 0, sizeof(*t));
}
