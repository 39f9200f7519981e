/* Cleaning client text. */
#include "text.h"

#include <stdbool.h>
#include <string.h>

#include "interface.h"

size_t mtt_proto_utf8_seq(const unsigned char *p)
{
        size_t n = p[0] < 0x80             ? 1
                   : (p[0] & 0xe0) == 0xc0 ? 2
                   : (p[0] & 0xf0) == 0xe0 ? 3
                   : (p[0] & 0xf8) == 0xf0 ? 4
                                           : 0;
        if (n == 2 && p[0] < 0xc2)
                return 0; /* overlong */
        for (size_t i = 1; i < n; i++)
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
        return n;
}

/* The code point of a valid sequence of k bytes. */
static unsigned code_point(const unsigned char *p, size_t k)
{
        static const unsigned char lead_mask[] = {0, 0x7f, 0x1f, 0x0f, 0x07};
        unsigned c = p[0] & lead_mask[k];
        for (size_t i = 1; i < k; i++)
                c = c << 6 | (p[i] & 0x3f);
        return c;
}

static bool unfit(unsigned c)
{
        return c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x61c || c == 0x200e || c == 0x200f ||
               (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

void mtt_proto_printable(char *s)
{
        unsigned char *p = (unsigned char *)s;
        while (*p) {
                size_t k = mtt_proto_utf8_seq(p);
                if (k == 0 || unfit(code_point(p, k))) {
                        for (size_t i = 0; i < (k ? k : 1); i++)
                                p[i] = '?';
                }
                p += k ? k : 1;
        }
}

/* A sequence mtt_proto_utf8_seq took that is also no overlong form, no surrogate and not
 * past U+10FFFF: what jansson takes as UTF-8. */
static bool well_formed(const unsigned char *p, size_t k)
{
        static const unsigned least[] = {0, 0, 0x80, 0x800, 0x10000};
        unsigned c = code_point(p, k);
        return c >= least[k] && c <= 0x10ffff && (c < 0xd800 || c > 0xdfff);
}

bool mtt_proto_utf8_valid(const char *s)
{
        const unsigned char *p = (const unsigned char *)s;
        while (*p) {
                size_t k = mtt_proto_utf8_seq(p);
                if (k == 0 || !well_formed(p, k))
                        return false;
                p += k;
        }
        return true;
}

const char *mtt_proto_job_unfit(const char *job)
{
        if (strlen(job) > MTT_PROTO_JOB_MAX)
                return "longer than " MTT_PROTO_STRINGIFY(MTT_PROTO_JOB_MAX) " bytes";
        const unsigned char *p = (const unsigned char *)job;
        while (*p) {
                size_t k = mtt_proto_utf8_seq(p);
                if (k == 0 || !well_formed(p, k))
                        return "not UTF-8";
                if (*p < 0x20 || *p == 0x7f)
                        return "has a control character";
                p += k;
        }
        return NULL;
}
