/* A session's life, one transition at a time: STARTING -> RUNNING -> (CLOSING ->) ENDED ->
 * CLOSED -> ANNOUNCED, the report's text each step leaves, and the shortcuts a broken
 * report takes. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "session.h"

#define GIB_KB 1048576LL

static mttd_session *make(int64_t kb, int *fd_out)
{
        mttd_session_params p = {
            .label = "t",
            .scope = MTTD_SCOPE_SYSTEM,
            .calibrate = true,
            .min_interval_us = 10000,
            .max_interval_us = 60000000,
            .peak_min_kb = 1024,
        };
        int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        mttd_session *s;
        assert_int_equal(mttd_session_new(1, &p, 10, 1000, fd, 1000000, kb, (double)kb, &s), 0);
        if (fd_out)
                *fd_out = fd;
        return s;
}

static bool fd_open(int fd)
{
        return fcntl(fd, F_GETFD) >= 0;
}

/* The text as it is now (header and rows), NUL-terminated in buf. */
static const char *text(const mttd_session *s, char *buf, size_t size)
{
        size_t n = s->text_len < size - 1 ? s->text_len : size - 1;
        memcpy(buf, s->text, n);
        buf[n] = '\0';
        return buf;
}

/* A write item of s back from the writer, with err. */
static mttd_write_result back(mttd_session *s, mttd_write_item *item, int err)
{
        item->error = err;
        mttd_write_result r = mttd_session_write_done(s, item, 2000000);
        free(item->data);
        if (item->close_fd && item->fd >= 0)
                close(item->fd);
        return r;
}

static void test_new_is_starting_with_its_header(void **state)
{
        char buf[256];
        mttd_session *s = make(GIB_KB, NULL);
        assert_int_equal(s->phase, MTTD_PHASE_STARTING);
        assert_true(mttd_session_running(s));
        assert_false(mttd_session_making_rows(s));
        assert_string_equal(text(s, buf, sizeof(buf)), "delta,ram\n");
        /* No rows before it begins: a fed sample is not taken. */
        mttd_session_feed(s, 1500000, 2 * GIB_KB, NULL);
        assert_int_equal(s->n_rows, 0);
        mttd_session_free(s);
}

static void test_begin_makes_the_row_at_zero(void **state)
{
        char buf[256];
        mttd_session *s = make(GIB_KB, NULL);
        /* A source's first value is its baseline: the run starts at 0. */
        mttd_session_begin(s, 3 * GIB_KB, true, NULL);
        assert_int_equal(s->phase, MTTD_PHASE_RUNNING);
        assert_true(mttd_session_making_rows(s));
        assert_int_equal(s->n_rows, 1);
        assert_string_equal(text(s, buf, sizeof(buf)), "delta,ram\n0.000000,0.000000\n");
        assert_int_equal((long long)s->baseline_kb, 3 * GIB_KB);
        /* Once only. */
        mttd_session_begin(s, 5 * GIB_KB, true, NULL);
        assert_int_equal(s->n_rows, 1);
        mttd_session_free(s);
}

static void test_closing_keeps_what_the_close_said(void **state)
{
        mttd_session *s = make(GIB_KB, NULL);
        mttd_session_closing(s, 1100000, MTTD_FAILED, "x"); /* not yet running: no step */
        assert_int_equal(s->phase, MTTD_PHASE_STARTING);
        mttd_session_begin(s, 0, false, NULL);
        mttd_session_closing(s, 1200000, MTTD_FAILED, "exit 3");
        assert_int_equal(s->phase, MTTD_PHASE_CLOSING);
        assert_true(mttd_session_running(s));
        assert_true(mttd_session_making_rows(s)); /* the read after the Close makes a row */
        assert_int_equal(s->end_outcome, MTTD_FAILED);
        assert_string_equal(s->end_cause, "exit 3");
        assert_int_equal(s->end_requested_us, 1200000);
        assert_int_equal(
            mttd_session_end(s, 1300000, GIB_KB, s->end_outcome, s->end_cause, false, NULL), 0);
        assert_int_equal(s->phase, MTTD_PHASE_ENDED);
        assert_int_equal(s->state, MTTD_FAILED);
        assert_string_equal(s->cause, "exit 3");
        mttd_session_free(s);
}

static void test_end_writes_the_ending_once(void **state)
{
        char buf[256];
        mttd_session *s = make(GIB_KB, NULL);
        mttd_session_begin(s, 0, false, NULL);
        assert_int_equal(mttd_session_end(s, 1500000, GIB_KB, MTTD_COMPLETED, NULL, false, NULL),
                         0);
        assert_int_equal(s->phase, MTTD_PHASE_ENDED);
        assert_false(mttd_session_running(s));
        assert_int_equal(s->state, MTTD_COMPLETED);
        assert_int_equal(s->end_us, 1500000);
        const char *t = text(s, buf, sizeof(buf));
        assert_string_equal(t + strlen(t) - 4, "0,0\n");
        assert_int_equal(mttd_session_end(s, 1600000, GIB_KB, MTTD_FAILED, NULL, false, NULL),
                         -EALREADY);
        assert_int_equal(s->state, MTTD_COMPLETED);
        mttd_session_free(s);
}

/* A session that ends before its first value came still has its row at 0, then its end. */
static void test_end_while_starting_begins_first(void **state)
{
        char buf[256];
        mttd_session *s = make(GIB_KB, NULL);
        assert_int_equal(mttd_session_end(s, 1500000, GIB_KB, MTTD_FAILED, "gone", false, NULL), 0);
        assert_int_equal(s->phase, MTTD_PHASE_ENDED);
        assert_string_equal(text(s, buf, sizeof(buf)),
                            "delta,ram\n0.000000,0.000000\n0.500000,0.000000\n0,0\n-1,-1\n");
        mttd_session_free(s);
}

static void test_last_write_closes_then_announce(void **state)
{
        mttd_session *s = make(GIB_KB, NULL);
        mttd_session_begin(s, 0, false, NULL);
        mttd_write_item item;
        mttd_session_take_write(s, 1100000, false, &item);
        assert_true(s->writing);
        mttd_write_result r = back(s, &item, 0);
        assert_true(r.first);
        assert_false(r.finished);
        assert_false(r.again);
        mttd_session_end(s, 1500000, GIB_KB, MTTD_COMPLETED, NULL, false, NULL);
        assert_true(mttd_session_last_due(s));
        assert_false(mttd_session_announce(s)); /* not before its fd is closed */
        mttd_session_take_write(s, 1500000, false, &item);
        assert_true(item.close_fd && item.sync);
        assert_int_equal(s->fd, -1);
        r = back(s, &item, 0);
        assert_false(r.first);
        assert_true(r.finished);
        assert_int_equal(s->phase, MTTD_PHASE_CLOSED);
        assert_true(mttd_session_finished(s));
        assert_true(mttd_session_announce(s));
        assert_int_equal(s->phase, MTTD_PHASE_ANNOUNCED);
        assert_false(mttd_session_announce(s)); /* once */
        mttd_session_free(s);
}

/* An end whose last write is out while its write is back asks for the last one at once. */
static void test_end_during_a_write_asks_again(void **state)
{
        mttd_session *s = make(GIB_KB, NULL);
        mttd_session_begin(s, 0, false, NULL);
        mttd_write_item item;
        mttd_session_take_write(s, 1100000, false, &item);
        mttd_session_end(s, 1200000, GIB_KB, MTTD_COMPLETED, NULL, false, NULL);
        assert_false(mttd_session_last_due(s)); /* a write is out */
        mttd_write_result r = back(s, &item, 0);
        assert_true(r.again);
        assert_false(r.finished);
        mttd_session_free(s);
}

/* Open's truncate goes with the first write taken, once: a later write, also one taken while
 * the first is still out (a new mttd's, after a handover), must not cut what it wrote. */
static void test_truncate_goes_with_the_first_write_alone(void **state)
{
        mttd_session *s = make(GIB_KB, NULL);
        s->truncate = s->regular = true;
        mttd_session_begin(s, 0, false, NULL);
        mttd_write_item first, next;
        mttd_session_take_write(s, 1100000, false, &first);
        assert_true(first.truncate);
        assert_false(s->truncate); /* and so the saved state says no more */
        s->writing = false;        /* as a new mttd sees a write that was out */
        mttd_session_feed(s, 1200000, 2 * GIB_KB, NULL);
        mttd_session_take_write(s, 1200000, false, &next);
        assert_false(next.truncate);
        free(first.data);
        back(s, &next, 0);
        mttd_session_free(s);
}

static void test_a_hangup_is_told_once_its_cause_is_known(void **state)
{
        mttd_session *s = make(GIB_KB, NULL);
        mttd_session_begin(s, 0, false, NULL);
        mttd_session_end(s, 1200000, GIB_KB, MTTD_CRASHED, "hangup", true, NULL);
        assert_true(s->cause_awaited);
        mttd_write_item item;
        mttd_session_take_write(s, 1200000, false, &item);
        back(s, &item, 0);
        assert_int_equal(s->phase, MTTD_PHASE_CLOSED);
        assert_false(mttd_session_announce(s));
        mttd_session_cause(s, "killed by SIGKILL");
        assert_false(s->cause_awaited);
        assert_string_equal(s->cause, "killed by SIGKILL");
        assert_true(mttd_session_announce(s));
        /* NULL: no more waiting, what was known stands. */
        mttd_session *u = make(GIB_KB, NULL);
        mttd_session_end(u, 1200000, GIB_KB, MTTD_CRASHED, "hangup", true, NULL);
        mttd_session_cause(u, NULL);
        assert_string_equal(u->cause, "hangup");
        mttd_session_free(u);
        mttd_session_free(s);
}

static void test_fail_drops_the_text_and_keeps_the_fd(void **state)
{
        int fd;
        mttd_session *s = make(GIB_KB, &fd);
        mttd_session_begin(s, 0, false, NULL);
        mttd_session_fail(s, -EIO, 1300000);
        assert_int_equal(s->phase, MTTD_PHASE_ENDED);
        assert_int_equal(s->state, MTTD_ERROR);
        assert_int_equal(s->write_error, -EIO);
        assert_int_equal(s->text_len, 0);
        assert_true(fd_open(fd)); /* its last write closes it */
        assert_true(mttd_session_last_due(s));
        mttd_session_fail(s, -ENOSPC, 1400000); /* the first error stands */
        assert_int_equal(s->write_error, -EIO);
        mttd_session_free(s);
}

static void test_abandon_closes_at_once(void **state)
{
        int fd;
        mttd_session *s = make(GIB_KB, &fd);
        mttd_session_abandon(s, -EAGAIN, 1300000);
        assert_int_equal(s->phase, MTTD_PHASE_CLOSED);
        assert_int_equal(s->state, MTTD_ERROR);
        assert_int_equal(s->fd, -1);
        assert_false(fd_open(fd));
        assert_true(mttd_session_announce(s));
        mttd_session_free(s);
}

/* A write that never reached a writer: CLOSED when nothing else of it is out, else ENDED
 * until that comes back. */
static void test_a_lost_write(void **state)
{
        int fd;
        mttd_session *s = make(GIB_KB, &fd);
        mttd_session_begin(s, 0, false, NULL);
        mttd_write_item w, sync;
        mttd_session_take_write(s, 1100000, false, &w);
        s->writes_done = 1; /* something to sync */
        mttd_session_take_sync(s, 1100000, &sync);
        mttd_session_write_lost(s, &w, -EAGAIN, 1200000);
        free(w.data);
        assert_false(s->writing);
        assert_int_equal(s->phase, MTTD_PHASE_ENDED);
        assert_true(fd_open(fd)); /* the sync still uses it */
        mttd_session_write_lost(s, &sync, -EAGAIN, 1200000);
        assert_false(s->syncing);
        assert_int_equal(s->phase, MTTD_PHASE_CLOSED); /* nothing out: no last write to wait */
        assert_false(fd_open(fd));
        mttd_session_free(s);

        mttd_session *u = make(GIB_KB, &fd);
        mttd_session_begin(u, 0, false, NULL);
        mttd_session_take_write(u, 1100000, false, &w);
        mttd_session_write_lost(u, &w, -EAGAIN, 1200000);
        free(w.data);
        assert_int_equal(u->phase, MTTD_PHASE_CLOSED);
        assert_false(fd_open(fd));
        mttd_session_free(u);
}

static void test_waits(void **state)
{
        mttd_session *s = make(GIB_KB, NULL);
        assert_true(mttd_session_wait(s, MTTD_WAIT_VALUE));
        assert_false(mttd_session_wait(s, MTTD_WAIT_VALUE));
        assert_true(mttd_session_wait(s, MTTD_WAIT_END));
        assert_true(mttd_session_unwait(s, MTTD_WAIT_VALUE));
        assert_false(mttd_session_unwait(s, MTTD_WAIT_VALUE));
        assert_false(mttd_session_unwait(s, MTTD_WAIT_ROW));
        assert_int_equal(s->waits, MTTD_WAIT_END);
        mttd_session_free(s);
}

static int told_rows;
static uint64_t told_us;
static double told_gib;

static void on_told(void *ctx, const mttd_session *s, uint64_t t_us, double ram_gib)
{
        told_rows++;
        told_us = t_us;
        told_gib = ram_gib;
}

/* A watched session's rows go to the hook with the report's numbers; nobody else's do. */
static void test_rows_of_a_watched_session_are_told(void **state)
{
        const mttd_row_hook hook = {on_told, NULL};
        mttd_session *quiet = make(GIB_KB, NULL);
        mttd_session_begin(quiet, 0, false, &hook);
        assert_int_equal(told_rows, 0);
        mttd_session_free(quiet);

        mttd_session *s = make(GIB_KB, NULL);
        s->watched = true;
        mttd_session_begin(s, 0, false, &hook);
        assert_int_equal(told_rows, 1);
        assert_int_equal(told_us, 0);
        /* 1.5 GiB over the baseline, at 0.25 s: the row's numbers, six decimals. */
        mttd_session_end(s, 1250000, GIB_KB + GIB_KB / 2 + 3, MTTD_COMPLETED, NULL, false, &hook);
        assert_true(told_rows >= 2);
        assert_int_equal(told_us, 250000);
        assert_true(told_gib == 0.500003); /* 0.50000286... as the report prints it */
        assert_null(s->telling);
        mttd_session_free(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_new_is_starting_with_its_header),
            cmocka_unit_test(test_begin_makes_the_row_at_zero),
            cmocka_unit_test(test_closing_keeps_what_the_close_said),
            cmocka_unit_test(test_end_writes_the_ending_once),
            cmocka_unit_test(test_end_while_starting_begins_first),
            cmocka_unit_test(test_last_write_closes_then_announce),
            cmocka_unit_test(test_end_during_a_write_asks_again),
            cmocka_unit_test(test_truncate_goes_with_the_first_write_alone),
            cmocka_unit_test(test_a_hangup_is_told_once_its_cause_is_known),
            cmocka_unit_test(test_fail_drops_the_text_and_keeps_the_fd),
            cmocka_unit_test(test_abandon_closes_at_once),
            cmocka_unit_test(test_a_lost_write),
            cmocka_unit_test(test_waits),
            cmocka_unit_test(test_rows_of_a_watched_session_are_told),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
