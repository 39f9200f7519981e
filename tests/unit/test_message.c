/* Unit tests for proto/message.h: call and reply parsing, constructors, parameter tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/message.h"

static int parse_call(const char *text, mtt_proto_call *call, const char **why)
{
        return mtt_proto_call_parse(text, strlen(text), call, why);
}

/* msg serialised equals the JSON text want (key order aside). */
static void assert_json(const json_t *msg, const char *want)
{
        assert_non_null(msg);
        json_t *w = json_loads(want, 0, NULL);
        assert_non_null(w);
        if (!json_equal(msg, w)) {
                char *got = json_dumps(msg, JSON_COMPACT);
                fail_msg("got %s, want %s", got, want);
        }
        json_decref(w);
}

static void test_call_empty_parameters(void **state)
{
        static const char *const calls[] = {
            "{\"method\":\"io.mtt.Tracker.List\"}",
            "{\"method\":\"io.mtt.Tracker.List\",\"parameters\":null}",
            "{\"method\":\"io.mtt.Tracker.List\",\"parameters\":{}}",
        };
        for (size_t i = 0; i < 3; i++) {
                mtt_proto_call call;
                const char *why = NULL;
                assert_int_equal(parse_call(calls[i], &call, &why), 0);
                assert_string_equal(call.method, "io.mtt.Tracker.List");
                assert_true(json_is_object(call.parameters));
                assert_int_equal(json_object_size(call.parameters), 0);
                assert_false(call.more);
                assert_false(call.oneway);
                mtt_proto_call_done(&call);
                assert_null(call.msg);
        }
}

static void test_call_fields(void **state)
{
        mtt_proto_call call;
        const char *why = NULL;
        const char *text = "{\"method\":\"io.mtt.Tracker.Watch\",\"parameters\":{\"id\":5},"
                           "\"more\":true}";
        assert_int_equal(parse_call(text, &call, &why), 0);
        assert_string_equal(call.method, "io.mtt.Tracker.Watch");
        assert_int_equal(json_integer_value(json_object_get(call.parameters, "id")), 5);
        assert_true(call.more);
        assert_false(call.oneway);
        mtt_proto_call_done(&call);

        text = "{\"method\":\"io.mtt.Tracker.Close\",\"oneway\":true,\"more\":false}";
        assert_int_equal(parse_call(text, &call, &why), 0);
        assert_true(call.oneway);
        assert_false(call.more);
        mtt_proto_call_done(&call);

        /* The length bounds the text: a frame need not be NUL-terminated at len. */
        text = "{\"method\":\"a.b.C\"}GARBAGE";
        assert_int_equal(mtt_proto_call_parse(text, strlen("{\"method\":\"a.b.C\"}"), &call, &why),
                         0);
        assert_string_equal(call.method, "a.b.C");
        mtt_proto_call_done(&call);
        mtt_proto_call_done(NULL);
}

static void test_call_rejects(void **state)
{
        static const char *const bad[] = {
            "",
            "hello",
            "[1,2,3]",
            "\"io.mtt.Tracker.List\"",
            "null",
            "{}",
            "{\"parameters\":{}}",
            "{\"method\":5}",
            "{\"method\":null}",
            "{\"method\":\"\"}",
            "{\"method\":\"x.y.Z\",\"parameters\":\"id=5\"}",
            "{\"method\":\"x.y.Z\",\"parameters\":[1]}",
            "{\"method\":\"x.y.Z\",\"parameters\":7}",
            "{\"method\":\"x.y.Z\",\"more\":true,\"oneway\":true}",
            "{\"method\":\"x.y.Z\",\"more\":\"yes\"}",
            "{\"method\":\"x.y.Z\",\"oneway\":1}",
            "{\"method\":\"x.y.Z\"} trailing",
            "{\"method\":\"a.b.C\",\"method\":\"d.e.F\"}",
            "{\"method\":\"x.y.Z\",",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                mtt_proto_call call;
                const char *why = NULL;
                int r = parse_call(bad[i], &call, &why);
                if (r != -EBADMSG)
                        fail_msg("%s: got %d, want -EBADMSG", bad[i], r);
                assert_non_null(why);
                assert_true(strlen(why) > 0);
                assert_null(call.msg);
                assert_null(call.method);
        }
}

static char *nested(size_t depth)
{
        const char *head = "{\"method\":\"x.y.Z\",\"parameters\":{\"a\":";
        size_t hl = strlen(head);
        char *s = malloc(hl + 2 * depth + 3);
        assert_non_null(s);
        memcpy(s, head, hl);
        memset(s + hl, '[', depth);
        memset(s + hl + depth, ']', depth);
        strcpy(s + hl + 2 * depth, "}}");
        return s;
}

static void test_deep_nesting(void **state)
{
        mtt_proto_call call;
        const char *why = NULL;
        char *s = nested(10000);
        assert_int_equal(parse_call(s, &call, &why), -EBADMSG);
        assert_non_null(why);
        free(s);
        /* A sane depth still parses. */
        s = nested(10);
        assert_int_equal(parse_call(s, &call, &why), 0);
        assert_true(json_is_array(json_object_get(call.parameters, "a")));
        mtt_proto_call_done(&call);
        free(s);
}

typedef struct open_params {
        int64_t fd;
        const char *label;
        bool calibrate;
        int64_t min_interval_us;
        double ratio;
} open_params;

static const mtt_proto_field open_fields[] = {
    {"fd", MTT_PROTO_INT, true, offsetof(open_params, fd)},
    {"label", MTT_PROTO_STRING, false, offsetof(open_params, label)},
    {"calibrate", MTT_PROTO_BOOL, false, offsetof(open_params, calibrate)},
    {"min_interval_us", MTT_PROTO_INT, false, offsetof(open_params, min_interval_us)},
    {"ratio", MTT_PROTO_NUMBER, false, offsetof(open_params, ratio)},
    {NULL, 0, false, 0},
};

static const open_params defaults = {-1, "default", true, 1000, 0.5};

/* Parses JSON text into *j (the caller frees it) and runs the table over it. */
static int params(json_t **j, const char *text, open_params *p, const char **bad)
{
        *j = json_loads(text, 0, NULL);
        assert_non_null(*j);
        *p = defaults;
        *bad = NULL;
        return mtt_proto_params_parse(*j, open_fields, p, bad);
}

static void test_params_all_fields(void **state)
{
        open_params p;
        const char *bad;
        json_t *j;
        assert_int_equal(params(&j,
                                "{\"fd\":3,\"label\":\"run-1\",\"calibrate\":false,"
                                "\"min_interval_us\":250,\"ratio\":2.25}",
                                &p, &bad),
                         0);
        assert_null(bad);
        assert_int_equal(p.fd, 3);
        assert_string_equal(p.label, "run-1");
        assert_false(p.calibrate);
        assert_int_equal(p.min_interval_us, 250);
        assert_true(p.ratio == 2.25);
        json_decref(j);

        /* A number field takes an integer. */
        assert_int_equal(params(&j, "{\"fd\":0,\"ratio\":3}", &p, &bad), 0);
        assert_true(p.ratio == 3.0);
        assert_int_equal(p.fd, 0);
        json_decref(j);
}

static void test_params_defaults_kept(void **state)
{
        open_params p;
        const char *bad;
        json_t *j;
        assert_int_equal(params(&j,
                                "{\"fd\":1,\"label\":null,\"calibrate\":null,"
                                "\"min_interval_us\":null,\"ratio\":null}",
                                &p, &bad),
                         0);
        assert_int_equal(p.fd, 1);
        assert_ptr_equal(p.label, defaults.label);
        assert_true(p.calibrate);
        assert_int_equal(p.min_interval_us, 1000);
        assert_true(p.ratio == 0.5);
        json_decref(j);

        assert_int_equal(params(&j, "{\"fd\":1}", &p, &bad), 0);
        assert_ptr_equal(p.label, defaults.label);
        assert_int_equal(p.min_interval_us, 1000);
        json_decref(j);
}

static void test_params_errors(void **state)
{
        static const struct {
                const char *json, *field;
        } cases[] = {
            {"{}", "fd"},
            {"{\"fd\":null}", "fd"},
            {"{\"label\":\"x\"}", "fd"},
            {"{\"fd\":\"3\"}", "fd"},
            {"{\"fd\":1.5}", "fd"},
            {"{\"fd\":true}", "fd"},
            {"{\"fd\":1,\"label\":5}", "label"},
            {"{\"fd\":1,\"calibrate\":\"false\"}", "calibrate"},
            {"{\"fd\":1,\"calibrate\":0}", "calibrate"},
            {"{\"fd\":1,\"min_interval_us\":[]}", "min_interval_us"},
            {"{\"fd\":1,\"ratio\":\"2\"}", "ratio"},
            {"{\"fd\":1,\"bogus\":1}", "bogus"},
            {"{\"fd\":1,\"bogus\":null}", "bogus"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                open_params p;
                const char *bad;
                json_t *j;
                int r = params(&j, cases[i].json, &p, &bad);
                if (r != -EINVAL || !bad || strcmp(bad, cases[i].field) != 0)
                        fail_msg("%s: got %d naming %s, want -EINVAL naming %s", cases[i].json, r,
                                 bad ? bad : "nothing", cases[i].field);
                json_decref(j);
        }
}

static void test_constructors(void **state)
{
        json_t *m = mtt_proto_reply_new(json_pack("{s:i}", "id", 3), false);
        assert_json(m, "{\"parameters\":{\"id\":3}}");
        json_decref(m);

        m = mtt_proto_reply_new(NULL, false);
        assert_json(m, "{\"parameters\":{}}");
        json_decref(m);

        m = mtt_proto_reply_new(json_pack("{s:f}", "ram", 1.5), true);
        assert_json(m, "{\"continues\":true,\"parameters\":{\"ram\":1.5}}");
        json_decref(m);

        m = mtt_proto_error_new("io.mtt.Tracker.NoSuchSession", json_pack("{s:i}", "id", 7));
        assert_json(m, "{\"error\":\"io.mtt.Tracker.NoSuchSession\",\"parameters\":{\"id\":7}}");
        json_decref(m);

        m = mtt_proto_error_new("org.varlink.service.ExpectedMore", NULL);
        assert_json(m, "{\"error\":\"org.varlink.service.ExpectedMore\",\"parameters\":{}}");
        json_decref(m);

        m = mtt_proto_error_param_new("org.varlink.service.InvalidParameter", "id", "negative");
        assert_json(m, "{\"error\":\"org.varlink.service.InvalidParameter\","
                       "\"parameters\":{\"parameter\":\"id\",\"reason\":\"negative\"}}");
        json_decref(m);

        m = mtt_proto_error_param_new("org.varlink.service.InvalidParameter", "id", NULL);
        assert_json(m, "{\"error\":\"org.varlink.service.InvalidParameter\","
                       "\"parameters\":{\"parameter\":\"id\"}}");
        json_decref(m);

        m = mtt_proto_call_new("io.mtt.Tracker.Watch", json_pack("{s:i}", "id", 2), true, false);
        assert_json(m, "{\"method\":\"io.mtt.Tracker.Watch\",\"more\":true,"
                       "\"parameters\":{\"id\":2}}");
        json_decref(m);

        m = mtt_proto_call_new("io.mtt.Tracker.Close", NULL, false, true);
        assert_json(m, "{\"method\":\"io.mtt.Tracker.Close\",\"oneway\":true,\"parameters\":{}}");
        json_decref(m);
}

static void test_encode_round_trip(void **state)
{
        json_t *m =
            mtt_proto_call_new("io.mtt.Tracker.Status", json_pack("{s:i}", "id", 9), false, false);
        size_t len = 0;
        char *s = mtt_proto_encode(m, &len);
        assert_non_null(s);
        assert_int_equal(len, strlen(s) + 1);
        assert_null(strchr(s, '\n')); /* compact */
        mtt_proto_call call;
        const char *why = NULL;
        assert_int_equal(mtt_proto_call_parse(s, len - 1, &call, &why), 0);
        assert_string_equal(call.method, "io.mtt.Tracker.Status");
        assert_int_equal(json_integer_value(json_object_get(call.parameters, "id")), 9);
        mtt_proto_call_done(&call);

        mtt_proto_outbuf o;
        mtt_proto_outbuf_init(&o, 0);
        assert_int_equal(mtt_proto_outbuf_put_json(&o, m), 0);
        assert_int_equal(o.len, len);
        assert_memory_equal(o.data, s, len);
        mtt_proto_outbuf_free(&o);
        free(s);
        json_decref(m);
}

static void test_reply_parse(void **state)
{
        mtt_proto_reply r;
        const char *t = "{\"parameters\":{\"session\":{\"id\":1}}}";
        assert_int_equal(mtt_proto_reply_parse(t, strlen(t), &r), 0);
        assert_null(r.error);
        assert_false(r.continues);
        json_t *sess = json_object_get(r.parameters, "session");
        assert_int_equal(json_integer_value(json_object_get(sess, "id")), 1);
        mtt_proto_reply_done(&r);
        assert_null(r.msg);

        t = "{\"error\":\"io.mtt.Tracker.NoSuchSession\",\"parameters\":{\"id\":3}}";
        assert_int_equal(mtt_proto_reply_parse(t, strlen(t), &r), 0);
        assert_string_equal(r.error, "io.mtt.Tracker.NoSuchSession");
        assert_int_equal(json_integer_value(json_object_get(r.parameters, "id")), 3);
        mtt_proto_reply_done(&r);

        t = "{\"continues\":true}";
        assert_int_equal(mtt_proto_reply_parse(t, strlen(t), &r), 0);
        assert_true(r.continues);
        assert_true(json_is_object(r.parameters));
        assert_int_equal(json_object_size(r.parameters), 0);
        mtt_proto_reply_done(&r);

        t = "{\"parameters\":null}";
        assert_int_equal(mtt_proto_reply_parse(t, strlen(t), &r), 0);
        assert_true(json_is_object(r.parameters));
        mtt_proto_reply_done(&r);
        mtt_proto_reply_done(NULL);

        static const char *const bad[] = {
            "",
            "nope",
            "[]",
            "{\"error\":5}",
            "{\"parameters\":[]}",
            "{\"parameters\":\"x\"}",
            "{\"continues\":\"yes\"}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int e = mtt_proto_reply_parse(bad[i], strlen(bad[i]), &r);
                if (e != -EBADMSG)
                        fail_msg("%s: got %d, want -EBADMSG", bad[i], e);
                assert_null(r.msg);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_call_empty_parameters),
            cmocka_unit_test(test_call_fields),
            cmocka_unit_test(test_call_rejects),
            cmocka_unit_test(test_deep_nesting),
            cmocka_unit_test(test_params_all_fields),
            cmocka_unit_test(test_params_defaults_kept),
            cmocka_unit_test(test_params_errors),
            cmocka_unit_test(test_constructors),
            cmocka_unit_test(test_encode_round_trip),
            cmocka_unit_test(test_reply_parse),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
