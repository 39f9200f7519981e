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

int mttd_meminfo_parse(const char *text, size_t len, mttd_meminfo *out)
{
        static const struct {
                const char *key;
                size_t offset;
        } fields[] = {
            {"MemTotal:", offsetof(mttd_meminfo, mem_total)},
            {"MemFree:", offsetof(mttd_meminfo, mem_free)},
            {"Buffers:", offsetof(mttd_meminfo, buffers)},
            {"Cached:", offsetof(mttd_meminfo, cached)},
            {"Slab:", offsetof(mttd_meminfo, slab)},
        };
        const size_t n_fields = sizeof(fields) / sizeof(fields[0]);
        unsigned found = 0;
        mttd_meminfo m = {0};
        const char *p = text, *end = text + len;

        while (p < end && found != (1u << n_fields) - 1) {
                const char *eol = memchr(p, '\n', (size_t)(end - p));
                if (!eol)
                        eol = end;
                for (size_t i = 0; i < n_fields; i++) {
                        size_t k = strlen(fields[i].key);
                        if ((size_t)(eol - p) > k && memcmp(p, fields[i].key, k) == 0) {
                                if (found & (1u << i))
                                        return -EINVAL;
                                if (!parse_kb(p + k, eol,
                                              (uint64_t *)((char *)&m + fields[i].offset)))
                                        return -EINVAL;
                                found |= 1u << i;
                                break;
                        }
                }
                p = eol + 1;
        }
        if (found != (1u << n_fields) - 1)
                return -EINVAL;
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
        return mttd_meminfo_parse(r->buf, (size_t)n, out);
}
