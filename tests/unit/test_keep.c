/* A kept session's memfd: the record read back goes on as the original; a progress block a
 * writer wrote after the record moves the rows on to where that write left them, and one of
 * a last write says there is nothing to resume; an unknown version and a cut record are
 * refused with the reason (the id still known); connection names read back. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "keep.h"

#define GIB_KB 1048576LL

static mttd_session *make(void)
{
        mttd_session_params p = {
            .label = "kept",
            .scope = MTTD_SCOPE_SYSTEM,
            .calibrate = true,
            .min_interval_us = 1000,
            .max_interval_us = 60000000,
            .peak_min_kb = 1024,
        };
        mttd_session *s;
        assert_int_equal(mttd_session_new(9, &p, 10, 1000, -1, 5000000, GIB_KB, GIB_KB, &s), 0);
        mttd_session_begin(s, GIB_KB, false, NULL);
        return s;
}

static void feed(mttd_session *s, uint64_t from_us, int n)
{
        for (int i = 0; i < n; i++)
                mttd_session_feed(s, from_us + (uint64_t)i * 7000,
                                  GIB_KB + (i % 5) * 300000 + i * 17, NULL);
}

/* What a writer does with an item once its text is in the file. */
static void written(mttd_write_item *item)
{
        assert_true(item->after_fd >= 0);
        assert_int_equal(pwrite(item->after_fd, item->after, item->after_len, 0),
                         (ssize_t)item->after_len);
        free(item->data);
}

static mttd_kept read_back(int fd)
{
        mttd_kept k;
        int r = mttd_keep_read(fd, &k);
        if (r != 0)
                fail_msg("read: %d %s", r, k.why ? k.why : "");
        return k;
}

static void test_record_round_trip(void **state)
{
        mttd_session *s = make();
        feed(s, 5010000, 40);
        assert_int_equal(mttd_keep_write(s, 7, 123456), 0);
        int fd = s->state_fd;
        s->state_fd = -1;
        mttd_kept k = read_back(fd);
        assert_int_equal(k.id, 9);
        assert_int_equal(k.conn, 7);
        assert_int_equal(k.saved_us, 123456);
        assert_non_null(k.s);
        assert_int_equal(k.s->state_fd, fd);
        assert_int_equal(k.s->phase, MTTD_PHASE_RUNNING);
        assert_int_equal(k.s->n_rows, s->n_rows);
        assert_int_equal(k.s->text_len, s->text_len);
        assert_memory_equal(k.s->text, s->text, s->text_len);
        assert_memory_equal(&k.s->rows.last, &s->rows.last, sizeof(s->rows.last));
        mttd_session_free(k.s); /* closes fd */
        mttd_session_free(s);
}

/* A write cut after the record: its block says where the rows stood at the cut; rows made
 * after it (lost in a crash) are not there, and the text the write took is not again. */
static void test_progress_block_moves_the_rows_on(void **state)
{
        mttd_session *s = make();
        feed(s, 5010000, 10);
        assert_int_equal(mttd_keep_write(s, 7, 100), 0);
        feed(s, 5100000, 30);
        mttd_write_item item;
        mttd_session_take_write(s, 200, false, &item);
        mttd_keep_progress(s, &item);
        uint64_t rows_at_cut = s->n_rows;
        mttd_point last_at_cut = s->rows.last;
        written(&item);
        feed(s, 5400000, 30); /* made after the cut: not in the state */
        assert_true(s->n_rows > rows_at_cut);
        int fd = s->state_fd;
        s->state_fd = -1;
        mttd_kept k = read_back(fd);
        assert_int_equal(k.s->n_rows, rows_at_cut);
        assert_memory_equal(&k.s->rows.last, &last_at_cut, sizeof(last_at_cut));
        assert_int_equal(k.s->text_len, 0);
        assert_true(k.s->first_written);
        assert_true(k.saved_us > 100);
        /* A record written after the block wins again. */
        k.s->n_rows += 1000;
        assert_int_equal(mttd_keep_write(k.s, 7, 300), 0);
        mttd_kept again = read_back(k.s->state_fd);
        assert_int_equal(again.s->n_rows, rows_at_cut + 1000);
        assert_int_equal(again.saved_us, 300);
        again.s->state_fd = -1; /* k.s's */
        mttd_session_free(again.s);
        mttd_session_free(k.s);
        mttd_session_free(s);
}

/* A session still waiting for its first value whose header was written (its first read was
 * late): the header is not written again, and the Open it answered is not waited for. */
static void test_progress_block_before_the_rows(void **state)
{
        mttd_session_params p = {.label = "tree",
                                 .scope = MTTD_SCOPE_PROCESS,
                                 .pid = 42,
                                 .min_interval_us = 1000,
                                 .max_interval_us = 60000000};
        mttd_session *s;
        assert_int_equal(mttd_session_new(3, &p, 10, 1000, -1, 5000000, 0, 0, &s), 0);
        assert_int_equal(s->phase, MTTD_PHASE_STARTING);
        assert_int_equal(mttd_keep_write(s, 7, 100), 0);
        mttd_write_item item;
        mttd_session_take_write(s, 200, false, &item);
        mttd_keep_progress(s, &item);
        written(&item);
        int fd = s->state_fd;
        s->state_fd = -1;
        mttd_kept k = read_back(fd);
        assert_int_equal(k.s->phase, MTTD_PHASE_STARTING);
        assert_true(k.s->first_written);
        assert_int_equal(k.s->text_len, 0);
        assert_true(k.saved_us > 100);
        mttd_session_free(k.s);
        mttd_session_free(s);
}

/* The block of a last write: the report is whole, nothing to resume. */
static void test_last_write_leaves_nothing(void **state)
{
        mttd_session *s = make();
        feed(s, 5010000, 10);
        assert_int_equal(mttd_session_end(s, 5200000, GIB_KB, MTTD_COMPLETED, NULL, false, NULL),
                         0);
        assert_int_equal(mttd_keep_write(s, 7, 100), 0);
        mttd_write_item item;
        s->fd = 1000; /* a last write takes the fd */
        mttd_session_take_write(s, 200, true, &item);
        mttd_keep_progress(s, &item);
        written(&item);
        mttd_kept k;
        assert_int_equal(mttd_keep_read(s->state_fd, &k), 1);
        assert_null(k.s);
        assert_int_equal(k.id, 9);
        mttd_session_free(s);
}

static void test_unknown_version_and_cut_state(void **state)
{
        mttd_session *s = make();
        feed(s, 5010000, 10);
        assert_int_equal(mttd_keep_write(s, 7, 100), 0);
        /* A future mttd's record: the id and the connection are still read. */
        char buf[64];
        assert_int_equal(pread(s->state_fd, buf, 12, MTTD_KEEP_RECORD_AT), 12);
        assert_memory_equal(buf, "{\"version\":1", 12);
        assert_int_equal(pwrite(s->state_fd, "{\"version\":9", 12, MTTD_KEEP_RECORD_AT), 12);
        mttd_kept k;
        assert_int_equal(mttd_keep_read(s->state_fd, &k), -EPROTONOSUPPORT);
        assert_null(k.s);
        assert_int_equal(k.id, 9);
        assert_int_equal(k.conn, 7);
        assert_non_null(strstr(k.why, "version"));
        /* Cut short. */
        assert_int_equal(mttd_keep_write(s, 7, 100), 0);
        off_t size = lseek(s->state_fd, 0, SEEK_END);
        assert_int_equal(ftruncate(s->state_fd, size - 20), 0);
        assert_int_equal(mttd_keep_read(s->state_fd, &k), -EBADMSG);
        assert_non_null(strstr(k.why, "truncated"));
        assert_int_equal(ftruncate(s->state_fd, 10), 0);
        assert_int_equal(mttd_keep_read(s->state_fd, &k), -EBADMSG);
        mttd_session_free(s);
}

static void test_connection_names(void **state)
{
        char name[MTTD_KEEP_NAME_MAX];
        uint64_t id, watch = 12, conn, w;
        bool watching;
        mttd_keep_conn_name(name, 5, NULL);
        assert_string_equal(name, "c5");
        assert_true(mttd_keep_conn_parse(name, &conn, &watching, &w));
        assert_int_equal(conn, 5);
        assert_false(watching);
        mttd_keep_conn_name(name, 6, &watch);
        assert_string_equal(name, "c6wc");
        assert_true(mttd_keep_conn_parse(name, &conn, &watching, &w));
        assert_true(watching);
        assert_int_equal(w, 12);
        id = 0;
        mttd_keep_conn_name(name, 7, &id);
        assert_string_equal(name, "c7wall");
        assert_true(mttd_keep_conn_parse(name, &conn, &watching, &w));
        assert_true(watching);
        assert_int_equal(w, 0);
        const char *bad[] = {"c",   "cx", "c0",      "c1w",    "c1w0", "c1x",
                             "cw1", "s1", "c1wallx", "c1wc1x", "c-1",  "varlink"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (mttd_keep_conn_parse(bad[i], &conn, &watching, &w))
                        fail_msg("accepted %s", bad[i]);
        mttd_keep_name(name, MTTD_KEEP_REPORT, 42);
        assert_string_equal(name, "r2a");
        assert_int_equal(mttd_keep_id_of(name, MTTD_KEEP_REPORT), 42);
        assert_int_equal(mttd_keep_id_of(name, MTTD_KEEP_STATE), 0);
        assert_int_equal(mttd_keep_id_of("r", MTTD_KEEP_REPORT), 0);
        assert_int_equal(mttd_keep_id_of("r2a:", MTTD_KEEP_REPORT), 0);
        assert_int_equal(mttd_keep_name_bytes(MTTD_KEEP_STATE, 0xfff), 5);
}

int main(void)
{
        mttd_keep_init(true); /* as under systemd: writes carry progress blocks */
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_record_round_trip),
            cmocka_unit_test(test_progress_block_moves_the_rows_on),
            cmocka_unit_test(test_progress_block_before_the_rows),
            cmocka_unit_test(test_last_write_leaves_nothing),
            cmocka_unit_test(test_unknown_version_and_cut_state),
            cmocka_unit_test(test_connection_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
