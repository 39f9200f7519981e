/* Prometheus text exposition. */
#include "prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "proto/text.h"

void mttd_prom_init(mttd_prom *p)
{
        *p = (mttd_prom){0};
}

void mttd_prom_free(mttd_prom *p)
{
        free(p->text);
        *p = (mttd_prom){0};
}

static void put(mttd_prom *p, const char *s, size_t n)
{
        if (p->failed)
                return;
        if (mtt_grow(&p->text, &p->cap, p->len + n + 1, 1, 4096) < 0) {
                p->failed = true;
                return;
        }
        memcpy(p->text + p->len, s, n);
        p->len += n;
        p->text[p->len] = '\0';
}

static void puts_(mttd_prom *p, const char *s)
{
        put(p, s, strlen(s));
}

static bool name_char(char c, bool first, bool colon)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
               (colon && c == ':') || (!first && c >= '0' && c <= '9');
}

static bool name_ok(const char *name, bool colon)
{
        if (!name || !*name)
                return false;
        for (size_t i = 0; name[i]; i++)
                if (!name_char(name[i], i == 0, colon))
                        return false;
        return true;
}

bool mttd_prom_name_ok(const char *name)
{
        return name_ok(name, true);
}

/* Text with backslash and newline escaped (and, in a label value, the double quote); bytes
 * that are not UTF-8 as U+FFFD. */
static bool plain(unsigned char c, bool quote)
{
        return c >= 0x20 && c < 0x80 && c != '\\' && !(quote && c == '"');
}

static void escaped(mttd_prom *p, const char *s, bool quote)
{
        const unsigned char *u = (const unsigned char *)s;
        while (*u) {
                /* A run of plain ASCII goes in one piece (most labels are nothing else). */
                const unsigned char *run = u;
                while (plain(*u, quote))
                        u++;
                if (u > run)
                        put(p, (const char *)run, (size_t)(u - run));
                if (!*u)
                        break;
                size_t k = mtt_proto_utf8_seq(u);
                if (k == 0) {
                        puts_(p, "\xef\xbf\xbd");
                        u++;
                } else if (*u == '\\') {
                        puts_(p, "\\\\");
                        u++;
                } else if (*u == '\n') {
                        puts_(p, "\\n");
                        u++;
                } else if (quote && *u == '"') {
                        puts_(p, "\\\"");
                        u++;
                } else {
                        put(p, (const char *)u, k);
                        u += k;
                }
        }
}

void mttd_prom_family(mttd_prom *p, const char *name, mttd_prom_type type, const char *help)
{
        puts_(p, "# HELP ");
        puts_(p, name);
        puts_(p, " ");
        escaped(p, help, false);
        puts_(p, "\n# TYPE ");
        puts_(p, name);
        puts_(p, type == MTTD_PROM_COUNTER ? " counter\n" : " gauge\n");
}

static void value(mttd_prom *p, double v)
{
        char buf[64];
        if (isnan(v))
                snprintf(buf, sizeof(buf), "NaN");
        else if (isinf(v))
                snprintf(buf, sizeof(buf), v > 0 ? "+Inf" : "-Inf");
        else if (v == nearbyint(v) && fabs(v) < 9007199254740992.0) { /* 2^53: exact */
                /* An integer (bytes, counts): digits by hand, the metrics file has many. */
                long long n = (long long)v;
                unsigned long long m = n < 0 ? 0ull - (unsigned long long)n : (unsigned long long)n;
                char *e = buf + sizeof(buf), *d = e;
                *--d = '\0';
                do
                        *--d = (char)('0' + m % 10);
                while ((m /= 10) > 0);
                if (n < 0)
                        *--d = '-';
                puts_(p, d);
                return;
        } else /* the fewest digits that read back as v */
                for (int prec = 15; prec <= 17; prec++) {
                        snprintf(buf, sizeof(buf), "%.*g", prec, v);
                        if (strtod(buf, NULL) == v)
                                break;
                }
        puts_(p, buf);
}

void mttd_prom_sample(mttd_prom *p, const char *name, const mttd_prom_label *labels,
                      size_t n_labels, double v)
{
        puts_(p, name);
        for (size_t i = 0; i < n_labels; i++) {
                puts_(p, i == 0 ? "{" : ",");
                puts_(p, labels[i].name);
                puts_(p, "=\"");
                escaped(p, labels[i].value ? labels[i].value : "", true);
                puts_(p, "\"");
        }
        puts_(p, n_labels ? "} " : " ");
        value(p, v);
        puts_(p, "\n");
}
