/* /proc/meminfo: a parser for the fields the seed's formula needs, and a reader that keeps
 * the file open and preads it once per sample. The path is a parameter so tests can feed
 * fake files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mttd_meminfo {
        uint64_t mem_total; /* kB, as the kernel prints them */
        uint64_t mem_free;
        uint64_t buffers;
        uint64_t cached;
        uint64_t slab;
} mttd_meminfo;

#define MTTD_MEMINFO_FIELDS 5

/* Parses meminfo text. Returns 0, or -EINVAL when one of the five fields is missing or
 * malformed. */
int mttd_meminfo_parse(const char *text, size_t len, mttd_meminfo *out);
/* The same, also giving each field's line offset (MemTotal, MemFree, Buffers, Cached, Slab). */
int mttd_meminfo_parse_at(const char *text, size_t len, mttd_meminfo *out, size_t *at);

/* The seed's "used": MemTotal - MemFree - Buffers - Cached - Slab, in kB (may be negative on
 * a strange kernel; the report carries it as it is). */
int64_t mttd_meminfo_used_kb(const mttd_meminfo *m);

/* kB to GiB, as the report writes them. */
double mttd_kb_to_gib(double kb);

typedef struct mttd_meminfo_reader {
        int fd;
        bool have_offsets;
        size_t offsets[MTTD_MEMINFO_FIELDS]; /* where the fields were in the last read */
        char buf[16384];
} mttd_meminfo_reader;

int mttd_meminfo_reader_open(mttd_meminfo_reader *r, const char *path);
void mttd_meminfo_reader_close(mttd_meminfo_reader *r);
/* One pread from offset 0 and a parse. Returns 0 or -errno. */
int mttd_meminfo_read(mttd_meminfo_reader *r, mttd_meminfo *out);
