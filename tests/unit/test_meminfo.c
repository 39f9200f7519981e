/* Unit tests for daemon/meminfo.h: parsing /proc/meminfo text and the pread-based reader. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "meminfo.h"

/* A verbatim copy of this machine's /proc/meminfo. */
static const char real_meminfo[] = "MemTotal:       24683620 kB\n"
                                   "MemFree:        24219996 kB\n"
                                   "MemAvailable:   24304832 kB\n"
                                   "Buffers:            2216 kB\n"
                                   "Cached:           269768 kB\n"
                                   "SwapCached:            0 kB\n"
                                   "Active:           131952 kB\n"
                                   "Inactive:         150240 kB\n"
                                   "Active(anon):       1552 kB\n"
                                   "Inactive(anon):    17608 kB\n"
                                   "Active(file):     130400 kB\n"
                                   "Inactive(file):   132632 kB\n"
                                   "Unevictable:       10384 kB\n"
                                   "Mlocked:            9460 kB\n"
                                   "SwapTotal:             0 kB\n"
                                   "SwapFree:              0 kB\n"
                                   "Zswap:                 0 kB\n"
                                   "Zswapped:              0 kB\n"
                                   "Dirty:              5572 kB\n"
                                   "Writeback:             0 kB\n"
                                   "AnonPages:         20764 kB\n"
                                   "Mapped:            31508 kB\n"
                                   "Shmem:              8952 kB\n"
                                   "KReclaimable:      55768 kB\n"
                                   "Slab:              77504 kB\n"
                                   "SReclaimable:      55768 kB\n"
                                   "SUnreclaim:        21736 kB\n"
                                   "KernelStack:        1524 kB\n"
                                   "PageTables:         2688 kB\n"
                                   "SecPageTables:         0 kB\n"
                                   "NFS_Unstable:          0 kB\n"
                                   "Bounce:                0 kB\n"
                                   "WritebackTmp:          0 kB\n"
                                   "CommitLimit:    12341808 kB\n"
                                   "Committed_AS:      97792 kB\n"
                                   "VmallocTotal:   34359738367 kB\n"
                                   "VmallocUsed:       14316 kB\n"
                                   "VmallocChunk:          0 kB\n"
                                   "Percpu:              688 kB\n"
                                   "AnonHugePages:         0 kB\n"
                                   "ShmemHugePages:        0 kB\n"
                                   "ShmemPmdMapped:        0 kB\n"
                                   "FileHugePages:         0 kB\n"
                                   "FilePmdMapped:         0 kB\n"
                                   "Balloon:               0 kB\n"
                                   "HugePages_Total:       0\n"
                                   "HugePages_Free:        0\n"
                                   "HugePages_Rsvd:        0\n"
                                   "HugePages_Surp:        0\n"
                                   "Hugepagesize:       2048 kB\n"
                                   "Hugetlb:               0 kB\n"
                                   "DirectMap4k:       26624 kB\n"
                                   "DirectMap2M:    25139200 kB\n";

static int parse_str(const char *text, mttd_meminfo *m)
{
        return mttd_meminfo_parse(text, strlen(text), m);
}

/* real_meminfo with the line that starts with key replaced by repl (NULL: removed). */
static char *edit_line(const char *key, const char *repl)
{
        const char *line = real_meminfo;
        while (strncmp(line, key, strlen(key)) != 0) {
                line = strchr(line, '\n');
                assert_non_null(line);
                line++;
        }
        const char *eol = strchr(line, '\n') + 1;
        size_t rl = repl ? strlen(repl) : 0;
        char *out = malloc(sizeof(real_meminfo) + rl);
        assert_non_null(out);
        size_t head = (size_t)(line - real_meminfo);
        memcpy(out, real_meminfo, head);
        memcpy(out + head, repl ? repl : "", rl);
        strcpy(out + head + rl, eol);
        return out;
}

static void test_parse_real(void **state)
{
        mttd_meminfo m;
        assert_int_equal(parse_str(real_meminfo, &m), 0);
        assert_int_equal(m.mem_total, 24683620);
        assert_int_equal(m.mem_free, 24219996);
        assert_int_equal(m.buffers, 2216);
        assert_int_equal(m.cached, 269768);
        assert_int_equal(m.slab, 77504);
        assert_true(mttd_meminfo_used_kb(&m) == 24683620 - 24219996 - 2216 - 269768 - 77504);
        assert_true(mttd_meminfo_used_kb(&m) == 114136);
}

static void test_used_may_be_negative(void **state)
{
        mttd_meminfo m = {.mem_total = 100, .mem_free = 90, .buffers = 5, .cached = 10, .slab = 1};
        assert_true(mttd_meminfo_used_kb(&m) == -6);
        assert_true(mttd_kb_to_gib(1048576.0) == 1.0);
        assert_true(mttd_kb_to_gib(-524288.0) == -0.5);
}

static void test_missing_field(void **state)
{
        static const char *const keys[] = {"MemTotal:", "MemFree:", "Buffers:", "Cached:", "Slab:"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                char *t = edit_line(keys[i], NULL);
                assert_true(strlen(t) < strlen(real_meminfo));
                mttd_meminfo m = {0};
                assert_int_equal(parse_str(t, &m), -EINVAL);
                free(t);
        }
}

static void test_swapcached_is_not_cached(void **state)
{
        /* Cached removed: SwapCached must not stand in for it. */
        char *t = edit_line("Cached:", NULL);
        assert_non_null(strstr(t, "SwapCached:"));
        mttd_meminfo m;
        assert_int_equal(parse_str(t, &m), -EINVAL);
        free(t);

        /* SwapCached before Cached, with a different value. */
        const char *text = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 10 kB\n"
                           "SwapCached: 777 kB\nCached: 20 kB\nSlab: 30 kB\n";
        assert_int_equal(parse_str(text, &m), 0);
        assert_int_equal(m.cached, 20);
        assert_true(mttd_meminfo_used_kb(&m) == 840);
}

static void test_garbage_and_empty(void **state)
{
        mttd_meminfo m;
        assert_int_equal(mttd_meminfo_parse("", 0, &m), -EINVAL);
        assert_int_equal(parse_str("\n\n\n", &m), -EINVAL);
        assert_int_equal(parse_str("hello world\nthis is not meminfo\n\x01\x02\xff", &m), -EINVAL);
        /* Keys without values. */
        assert_int_equal(parse_str("MemTotal:\nMemFree:\nBuffers:\nCached:\nSlab:\n", &m), -EINVAL);
}

static void test_malformed_values(void **state)
{
        static const char *const bad[] = {
            "MemTotal:       24683620\n",             /* no " kB" */
            "MemTotal:       24683620 MB\n",          /* another unit */
            "MemTotal:       abc kB\n",               /* no digits */
            "MemTotal:       -5 kB\n",                /* negative */
            "MemTotal: 99999999999999999999999 kB\n", /* overflows uint64 */
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char *t = edit_line("MemTotal:", bad[i]);
                mttd_meminfo m;
                assert_int_equal(parse_str(t, &m), -EINVAL);
                free(t);
        }
}

static void test_duplicate_field(void **state)
{
        const char *text = "MemTotal: 1000 kB\nMemFree: 100 kB\nMemFree: 200 kB\nBuffers: 10 kB\n"
                           "Cached: 20 kB\nSlab: 30 kB\n";
        mttd_meminfo m;
        assert_int_equal(parse_str(text, &m), -EINVAL);
}

static void test_length_bounds_the_text(void **state)
{
        /* Cut in the middle of the Slab line: " kB" lies beyond len. */
        const char *slab = strstr(real_meminfo, "Slab:              77504");
        size_t len = (size_t)(slab - real_meminfo) + strlen("Slab:              77504");
        mttd_meminfo m;
        assert_int_equal(mttd_meminfo_parse(real_meminfo, len, &m), -EINVAL);
        /* Cut right before "Slab:": missing field. */
        assert_int_equal(mttd_meminfo_parse(real_meminfo, (size_t)(slab - real_meminfo), &m),
                         -EINVAL);
        /* No trailing newline is fine. */
        const char *text = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 10 kB\n"
                           "Cached: 20 kB\nSlab: 30 kB";
        assert_int_equal(parse_str(text, &m), 0);
        assert_int_equal(m.slab, 30);
}

static void write_file(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        assert_int_equal(close(fd), 0);
}

static void test_reader_on_file(void **state)
{
        char dir[] = "/tmp/mtt-unit-meminfo-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char path[128];
        snprintf(path, sizeof(path), "%s/meminfo", dir);
        write_file(path, real_meminfo);

        mttd_meminfo_reader r;
        assert_int_equal(mttd_meminfo_reader_open(&r, path), 0);
        assert_true(r.fd >= 0);
        assert_true(fcntl(r.fd, F_GETFD) & FD_CLOEXEC);
        mttd_meminfo m;
        assert_int_equal(mttd_meminfo_read(&r, &m), 0);
        assert_int_equal(m.mem_total, 24683620);
        assert_int_equal(m.slab, 77504);

        /* The same open reader sees the file's new content: it reads from offset 0. */
        write_file(path, "MemTotal: 5000 kB\nMemFree: 1000 kB\nBuffers: 100 kB\n"
                         "Cached: 200 kB\nSlab: 300 kB\n");
        assert_int_equal(mttd_meminfo_read(&r, &m), 0);
        assert_int_equal(m.mem_total, 5000);
        assert_true(mttd_meminfo_used_kb(&m) == 3400);
        assert_int_equal(mttd_meminfo_read(&r, &m), 0);
        assert_int_equal(m.mem_free, 1000);

        /* Same layout, new values: read where the fields were. */
        write_file(path, "MemTotal: 5000 kB\nMemFree: 2000 kB\nBuffers: 100 kB\n"
                         "Cached: 200 kB\nSlab: 300 kB\n");
        assert_int_equal(mttd_meminfo_read(&r, &m), 0);
        assert_int_equal(m.mem_free, 2000);

        /* A field moved so that an old offset falls inside another line ("SwapCached:"
         * holds "Cached:" four bytes in): the real Cached is found all the same. */
        write_file(path, "MemTotal: 5000 kB\nMemFree: 2000 kB\nBuffers: 100 kB\n"
                         "SwapCached: 9 kB\nCached: 250 kB\nSlab: 300 kB\n");
        assert_int_equal(mttd_meminfo_read(&r, &m), 0);
        assert_int_equal(m.cached, 250);
        assert_int_equal(m.slab, 300);

        /* A file that lost a field. */
        write_file(path, "MemTotal: 5000 kB\n");
        assert_int_equal(mttd_meminfo_read(&r, &m), -EINVAL);

        mttd_meminfo_reader_close(&r);
        assert_int_equal(r.fd, -1);
        mttd_meminfo_reader_close(&r); /* twice is harmless */
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
}

static void test_reader_missing_path(void **state)
{
        mttd_meminfo_reader r;
        assert_int_equal(mttd_meminfo_reader_open(&r, "/nonexistent/mtt-unit/meminfo"), -ENOENT);
        assert_true(r.fd < 0);
        mttd_meminfo_reader_close(&r);
}

static void test_reader_proc(void **state)
{
        mttd_meminfo_reader r;
        assert_int_equal(mttd_meminfo_reader_open(&r, "/proc/meminfo"), 0);
        mttd_meminfo m;
        assert_int_equal(mttd_meminfo_read(&r, &m), 0);
        assert_true(m.mem_total > 0);
        assert_true(m.mem_free <= m.mem_total);
        mttd_meminfo_reader_close(&r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse_real),
            cmocka_unit_test(test_used_may_be_negative),
            cmocka_unit_test(test_missing_field),
            cmocka_unit_test(test_swapcached_is_not_cached),
            cmocka_unit_test(test_garbage_and_empty),
            cmocka_unit_test(test_malformed_values),
            cmocka_unit_test(test_duplicate_field),
            cmocka_unit_test(test_length_bounds_the_text),
            cmocka_unit_test(test_reader_on_file),
            cmocka_unit_test(test_reader_missing_path),
            cmocka_unit_test(test_reader_proc),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
