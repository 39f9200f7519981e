/* A session as plain data: saved and made anew it goes on exactly as the original would
 * (the same rows, the same text), and a state that is cut short, of an unknown version or
 * wrong in a field is refused with the reason. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "snapshot.h"

#define GIB_KB 1048576LL

static mttd_session *make_with_job(const char *job)
{
        mttd_session_params p = {
            .label = "saved \"run\"",
            .job = job,
            .scope = MTTD_SCOPE_SYSTEM,
            .calibrate = true,
            .min_interval_us = 1000,
            .max_interval_us = 60000000,
            .peak_min_kb = 1024,
        };
        mttd_session *s;
        assert_int_equal(mttd_session_new(7, &p, 10, 1000, -1, 5000000, GIB_KB, GIB_KB + 0.25, &s),
                         0);
        return s;
}

static mttd_session *make(void)
{
        return make_with_job(NULL);
}

/* Feeds both sessions the same samples from t_us on. */
static void feed_both(mttd_session *a, mttd_session *b, uint64_t from_us, int n)
{
        for (int i = 0; i < n; i++) {
                uint64_t t = from_us + (uint64_t)i * 7000;
                int64_t kb = GIB_KB + (i % 5) * 300000 + i * 17;
                mttd_session_feed(a, t, kb, NULL);
                mttd_session_feed(b, t, kb, NULL);
        }
}

static char *dump(const mttd_session *s)
{
        json_t *a = json_array();
        json_array_append_new(a, mttd_snapshot_session(s));
        json_t *doc = mttd_snapshot_new(a);
        char *text = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        assert_non_null(text);
        return text;
}

static mttd_session *load(const char *text)
{
        json_t *sessions;
        const char *why = NULL;
        assert_int_equal(mttd_snapshot_parse(text, strlen(text), &sessions, &why), 0);
        assert_int_equal(json_array_size(sessions), 1);
        mttd_session *s = NULL;
        int r = mttd_snapshot_restore(json_array_get(sessions, 0), &s, &why);
        if (r < 0)
                fail_msg("restore: %s", why);
        json_decref(sessions);
        return s;
}

static void assert_same_text(const mttd_session *a, const mttd_session *b)
{
        assert_int_equal(a->text_len, b->text_len);
        assert_memory_equal(a->text, b->text, a->text_len);
}

/* A running session with rows and unwritten text: the copy goes on as the original. */
static void test_round_trip_goes_on_the_same(void **state)
{
        mttd_session *s = make();
        mttd_session_begin(s, 0, false, NULL);
        for (int i = 0; i < 40; i++)
                mttd_session_feed(s, 5000000 + 1000 + (uint64_t)i * 3000, GIB_KB + (i % 3) * 500000,
                                  NULL);
        /* A flat run, whose latest row is held back (compaction), then a peak not yet due:
         * the rows module's whole state is in the snapshot. */
        for (int i = 0; i < 6; i++)
                mttd_session_feed(s, 5200000 + (uint64_t)i * 40000, GIB_KB, NULL);
        mttd_session_feed(s, mttd_rows_next_due(&s->rows) + s->t0_us - 1, 3 * GIB_KB, NULL);
        assert_true(s->rows.have_held);
        assert_true(s->rows.have_max);
        mttd_session_overlap(s, s); /* a label in its list */
        s->writes_done = 3;
        s->first_written = true;
        s->truncate = true;
        char *text = dump(s);
        mttd_session *c = load(text);
        free(text);

        assert_int_equal(c->id, 7);
        assert_string_equal(c->label, "saved \"run\"");
        assert_int_equal(c->phase, MTTD_PHASE_RUNNING);
        assert_int_equal(c->pid, 10);
        assert_int_equal(c->uid, 1000);
        assert_true(c->baseline_kb == s->baseline_kb); /* exactly */
        assert_int_equal(c->t0_us, s->t0_us);
        assert_int_equal(c->n_rows, s->n_rows);
        assert_int_equal(c->writes_done, 3);
        assert_true(c->first_written);
        assert_true(c->truncate);
        assert_int_equal(c->n_overlapped, 1);
        assert_string_equal(c->overlapped[0], s->overlapped[0]);
        assert_int_equal(mttd_rows_next_due(&c->rows), mttd_rows_next_due(&s->rows));
        assert_same_text(s, c);

        /* After the gap both make the same rows and the same end. */
        feed_both(s, c, 5500000, 200);
        assert_int_equal(mttd_session_end(s, 7000000, GIB_KB, MTTD_COMPLETED, NULL, false, NULL),
                         0);
        assert_int_equal(mttd_session_end(c, 7000000, GIB_KB, MTTD_COMPLETED, NULL, false, NULL),
                         0);
        assert_true(s->n_rows > 10);
        assert_int_equal(c->n_rows, s->n_rows);
        assert_same_text(s, c);
        mttd_session_free(s);
        mttd_session_free(c);
}

/* A session still waiting for its first value, and one Closed waiting for its last read. */
static void test_starting_and_closing(void **state)
{
        mttd_session *s = make();
        char *text = dump(s);
        mttd_session *c = load(text);
        free(text);
        assert_int_equal(c->phase, MTTD_PHASE_STARTING);
        assert_int_equal(c->rows.schedule.min_us, 1000);
        mttd_session_begin(s, 2 * GIB_KB, true, NULL);
        mttd_session_begin(c, 2 * GIB_KB, true, NULL);
        assert_same_text(s, c);

        mttd_session_closing(s, 6000000, MTTD_FAILED, "exit 3");
        text = dump(s);
        mttd_session *d = load(text);
        free(text);
        assert_int_equal(d->phase, MTTD_PHASE_CLOSING);
        assert_int_equal(d->end_outcome, MTTD_FAILED);
        assert_string_equal(d->end_cause, "exit 3");
        assert_int_equal(d->end_requested_us, 6000000);
        mttd_session_free(s);
        mttd_session_free(c);
        mttd_session_free(d);
}

static void test_unknown_version_and_cut_state(void **state)
{
        mttd_session *s = make();
        mttd_session_begin(s, 0, false, NULL);
        char *text = dump(s);
        json_t *sessions = NULL;
        const char *why = NULL;
        /* Cut anywhere: never half a state. */
        for (size_t cut = 0; cut < strlen(text); cut += 7)
                assert_int_equal(mttd_snapshot_parse(text, cut, &sessions, &why), -EBADMSG);
        assert_non_null(strstr(why, "truncated"));
        static const char future[] = "{\"version\":2,\"sessions\":[]}";
        assert_int_equal(mttd_snapshot_parse(future, strlen(future), &sessions, &why),
                         -EPROTONOSUPPORT);
        assert_non_null(strstr(why, "version"));
        static const char none[] = "{\"version\":1}";
        assert_int_equal(mttd_snapshot_parse(none, strlen(none), &sessions, &why), -EINVAL);
        free(text);
        mttd_session_free(s);
}

/* A session's job (Open's) outlives mttd; one without stays without, and so does a record
 * written before sessions had jobs (the same version: the field is optional). */
static void test_job(void **state)
{
        mttd_session *s = make_with_job("4242_7");
        mttd_session_begin(s, 0, false, NULL);
        char *text = dump(s);
        mttd_session *c = load(text);
        free(text);
        assert_string_equal(c->job, "4242_7");
        assert_string_equal(c->label, s->label);
        mttd_session_free(c);

        json_t *record = mttd_snapshot_session(s);
        json_t *bad = json_deep_copy(record);
        json_object_set_new(json_object_get(bad, "identity"), "job", json_integer(4242));
        const char *why = NULL;
        c = NULL;
        assert_int_equal(mttd_snapshot_restore(bad, &c, &why), -EINVAL);
        assert_string_equal(why, "job");
        json_decref(bad);
        bad = json_deep_copy(record);
        json_object_set_new(json_object_get(bad, "identity"), "job", json_string("a\nb"));
        assert_int_equal(mttd_snapshot_restore(bad, &c, &why), -EINVAL);
        assert_string_equal(why, "job");
        assert_null(c);
        json_decref(bad);
        json_decref(record);
        mttd_session_free(s);

        s = make();
        mttd_session_begin(s, 0, false, NULL);
        text = dump(s);
        assert_null(strstr(text, "\"job\""));
        c = load(text);
        free(text);
        assert_null(c->job);
        mttd_session_free(c);
        mttd_session_free(s);
}

/* A gpu-device session's GPU outlives mttd; a record from before the GPU scopes has none
 * (all GPUs), and an index past the protocol's is refused. */
static void test_gpu(void **state)
{
        mttd_session_params p = {.label = "gpu",
                                 .scope = MTTD_SCOPE_GPU_DEVICE,
                                 .gpu = 3,
                                 .calibrate = true,
                                 .min_interval_us = 1000,
                                 .max_interval_us = 60000000};
        mttd_session *s;
        assert_int_equal(mttd_session_new(8, &p, 10, 1000, -1, 5000000, 0, 0, &s), 0);
        mttd_session_begin(s, 0, false, NULL);
        char *text = dump(s);
        mttd_session *c = load(text);
        free(text);
        assert_int_equal(c->scope, MTTD_SCOPE_GPU_DEVICE);
        assert_int_equal(c->gpu, 3);
        mttd_session_free(c);

        json_t *record = mttd_snapshot_session(s);
        json_t *old = json_deep_copy(record);
        json_object_del(json_object_get(old, "identity"), "gpu");
        const char *why = NULL;
        assert_int_equal(mttd_snapshot_restore(old, &c, &why), 0);
        assert_int_equal(c->gpu, -1);
        mttd_session_free(c);
        json_decref(old);
        json_t *bad = json_deep_copy(record);
        json_object_set_new(json_object_get(bad, "identity"), "gpu", json_integer(64));
        c = NULL;
        assert_int_equal(mttd_snapshot_restore(bad, &c, &why), -EINVAL);
        assert_string_equal(why, "gpu");
        assert_null(c);
        json_decref(bad);
        json_decref(record);
        mttd_session_free(s);
}

/* A record with a field missing or wrong is refused, and says which. */
static void test_a_wrong_field_is_named(void **state)
{
        mttd_session *s = make();
        mttd_session_begin(s, 0, false, NULL);
        json_t *record = mttd_snapshot_session(s);
        mttd_session *c = NULL;
        const char *why = NULL;

        json_t *bad = json_deep_copy(record);
        json_object_del(json_object_get(bad, "progress"), "n_rows");
        assert_int_equal(mttd_snapshot_restore(bad, &c, &why), -EINVAL);
        assert_string_equal(why, "n_rows");
        json_decref(bad);

        bad = json_deep_copy(record);
        json_object_set_new(json_object_get(bad, "progress"), "phase", json_integer(99));
        assert_int_equal(mttd_snapshot_restore(bad, &c, &why), -EINVAL);
        assert_string_equal(why, "phase");
        json_decref(bad);

        bad = json_deep_copy(record);
        json_object_set_new(json_object_get(bad, "identity"), "label", json_integer(1));
        assert_int_equal(mttd_snapshot_restore(bad, &c, &why), -EINVAL);
        assert_string_equal(why, "label");
        json_decref(bad);

        bad = json_deep_copy(record);
        json_object_set_new(json_object_get(bad, "rows"), "last", json_string("x"));
        assert_int_equal(mttd_snapshot_restore(bad, &c, &why), -EINVAL);
        assert_string_equal(why, "last");
        json_decref(bad);

        assert_null(c);
        json_decref(record);
        mttd_session_free(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_round_trip_goes_on_the_same),
            cmocka_unit_test(test_starting_and_closing),
            cmocka_unit_test(test_unknown_version_and_cut_state),
            cmocka_unit_test(test_a_wrong_field_is_named),
            cmocka_unit_test(test_job),
            cmocka_unit_test(test_gpu),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
