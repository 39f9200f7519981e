/* /proc/meminfo reading and parsing for the seed's "used" formula. */
#include "meminfo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

/* Parses "   12345 kB" into kB; false for anything else. */
static bool parse_kb(const char *p, const char *end, uint64_t *out)
{
        while (p < end && *p == ' ')
                p++;
        if (p == end || *p < '0' || *p > '9')
                return false;
        uint64_t v = 0;
        while (p < end && *p >= '0' && *p <= '9') {
                if (v > (UINT64_MAX - 9) / 10)
                        return false;
                v = v * 10 + (uint64_t)(*p++ - '0');
        }
        if (end - p < 3 || memcmp(p, " kB", 3) != 0)
                return false;
        *out = v;
        return true;
}

static const struct {
        const char *key; /* with its colon */
        size_t len;
        size_t offset;
} fields[MTTD_MEMINFO_FIELDS] = {
    {"MemTotal:", 9, offsetof(mttd_meminfo, mem_total)},
    {"MemFree:", 8, offsetof(mttd_meminfo, mem_free)},
    {"Buffers:", 8, offsetof(mttd_meminfo, buffers)},
    {"Cached:", 7, offsetof(mttd_meminfo, cached)},
    {"Slab:", 5, offsetof(mttd_meminfo, slab)},
};

static uint64_t *field_of(mttd_meminfo *m, size_t i)
{
        return (uint64_t *)((char *)m + fields[i].offset);
}

int mttd_meminfo_parse_at(const char *text, size_t len, mttd_meminfo *out, size_t *at)
{
        /* The loop stops once all five are in (Slab is line ~22 of ~55). */
        unsigned found = 0;
        const unsigned all = (1u << MTTD_MEMINFO_FIELDS) - 1;
        mttd_meminfo m = {0};
        const char *p = text, *end = text + len;
        while (p < end && found != all) {
                const char *eol = memchr(p, '\n', (size_t)(end - p));
                if (!eol)
                        eol = end;
                for (size_t i = 0; i < MTTD_MEMINFO_FIELDS; i++) {
                        size_t k = fields[i].len;
                        if ((size_t)(eol - p) <= k || memcmp(p, fields[i].key, k) != 0)
                                continue;
                        if ((found & (1u << i)) || !parse_kb(p + k, eol, field_of(&m, i)))
                                return -EINVAL;
                        found |= 1u << i;
                        if (at)
                                at[i] = (size_t)(p - text);
                        break;
                }
                p = eol + 1;
        }
        if (found != all)
                return -EINVAL;
        *out = m;
        return 0;
}

int mttd_meminfo_parse(const char *text, size_t len, mttd_meminfo *out)
{
        return mttd_meminfo_parse_at(text, len, out, NULL);
}

/* The kernel pads meminfo's numbers to a fixed width, so each field stays at the offset it
 * had last time: look there first, and scan only when the layout moved. This runs every
 * tick. */
static int parse_known(const char *text, size_t len, const size_t *at, mttd_meminfo *out)
{
        mttd_meminfo m;
        for (size_t i = 0; i < MTTD_MEMINFO_FIELDS; i++) {
                size_t o = at[i], k = fields[i].len;
                if (o + k >= len || (o > 0 && text[o - 1] != '\n') ||
                    memcmp(text + o, fields[i].key, k) != 0)
                        return -EINVAL;
                const char *eol = memchr(text + o + k, '\n', len - o - k);
                if (!parse_kb(text + o + k, eol ? eol : text + len, field_of(&m, i)))
                        return -EINVAL;
        }
        *out = m;
        return 0;
}

int64_t mttd_meminfo_used_kb(const mttd_meminfo *m)
{
        return (int64_t)m->mem_total - (int64_t)m->mem_free - (int64_t)m->buffers -
               (int64_t)m->cached - (int64_t)m->slab;
}

double mttd_kb_to_gib(double kb)
{
        return kb / (1024.0 * 1024.0);
}

int mttd_meminfo_reader_open(mttd_meminfo_reader *r, const char *path)
{
        r->have_offsets = false;
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
        return r->fd < 0 ? -errno : 0;
}

void mttd_meminfo_reader_close(mttd_meminfo_reader *r)
{
        if (r && r->fd >= 0) {
                close(r->fd);
                r->fd = -1;
        }
}

int mttd_meminfo_read(mttd_meminfo_reader *r, mttd_meminfo *out)
{
        ssize_t n;
        do
                n = pread(r->fd, r->buf, sizeof(r->buf), 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if (r->have_offsets && parse_known(r->buf, (size_t)n, r->offsets, out) == 0)
                return 0;
        int ret = mttd_meminfo_parse_at(r->buf, (size_t)n, out, r->offsets);
        r->have_offsets = ret == 0;
        return ret;
}
