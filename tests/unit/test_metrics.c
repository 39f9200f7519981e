/* The metrics file's text: a family per number, each session's samples labelled by id and
 * job, its other labels on the info family, ended sessions for the retention only (and
 * their ending once told), mttd's own counters; and the classes of causes. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics.h"
#include "proto/ending.h"
#include "table.h"

#define GIB_KB 1048576LL
#define S      1000000ull /* a second in microseconds */

static mttd_session *make(uint64_t id, const char *label, const char *job, mttd_scope scope,
                          int64_t kb)
{
        mttd_session_params p = {
            .label = label,
            .scope = scope,
            .calibrate = true,
            .min_interval_us = 10000,
            .max_interval_us = 60000000,
            .peak_min_kb = 1024,
        };
        int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        mttd_session *s;
        assert_int_equal(mttd_session_new(id, &p, 10, 1000, fd, 10 * S, kb, (double)kb, &s), 0);
        s->job = job ? strdup(job) : NULL;
        s->started_wall_us = 1700000000 * S;
        mttd_session_begin(s, 0, false, NULL);
        return s;
}

/* Ends s at t_us (monotonic) as state with cause, its end told (ANNOUNCED) or not. */
static void end(mttd_session *s, uint64_t t_us, mttd_state state, const char *cause, bool told)
{
        assert_int_equal(mttd_session_end(s, t_us, s->last_kb, state, cause, false, NULL), 0);
        if (told)
                s->phase = MTTD_PHASE_ANNOUNCED;
}

typedef struct world {
        struct mttd_session_list list;
        mttd_session_view view;
        mttd_tracker_stats stats;
        mttd_tracker_counts counts;
        mttd_meminfo memory;
        mttd_metrics_facts facts;
        mttd_prom p;
} world;

static world *world_new(void)
{
        world *w = calloc(1, sizeof(*w));
        TAILQ_INIT(&w->list);
        w->view = (mttd_session_view){.now_us = 100 * S, .current_kb = 3 * GIB_KB};
        w->stats = (mttd_tracker_stats){.samples = 1234, .rows_written = 56};
        w->memory = (mttd_meminfo){.mem_total = 8 * GIB_KB, .mem_free = 4 * GIB_KB};
        w->facts = (mttd_metrics_facts){
            .version = "9.9.9",
            .started_wall_us = 1690000000 * S,
            .retention_us = 3600 * S,
            .view = &w->view,
            .stats = &w->stats,
            .counts = &w->counts,
            .running = 1,
            .connections = 3,
            .watchers = 1,
            .memory = &w->memory,
        };
        mttd_prom_init(&w->p);
        return w;
}

static void add(world *w, mttd_session *s)
{
        TAILQ_INSERT_TAIL(&w->list, s, link);
}

static const char *render(world *w)
{
        mttd_prom_free(&w->p);
        mttd_metrics_render(&w->p, TAILQ_FIRST(&w->list), &w->facts);
        assert_false(w->p.failed);
        return w->p.text;
}

static void world_free(world *w)
{
        mttd_session *s;
        while ((s = TAILQ_FIRST(&w->list))) {
                TAILQ_REMOVE(&w->list, s, link);
                mttd_session_free(s);
        }
        mttd_prom_free(&w->p);
        free(w);
}

static void has(const char *text, const char *line)
{
        char buf[1024];
        snprintf(buf, sizeof(buf), "\n%s\n", line);
        if (!strstr(text, buf) && strncmp(text, buf + 1, strlen(buf + 1)) != 0)
                fail_msg("missing line: %s\nin:\n%s", line, text);
}

static void lacks(const char *text, const char *part)
{
        if (strstr(text, part))
                fail_msg("unexpected: %s\nin:\n%s", part, text);
}

/* A running session of the system scope: its value now is the machine's latest sample. */
static void test_running_session(void **state)
{
        world *w = world_new();
        add(w, make(7, "train \"big\"\n", "1234_5", MTTD_SCOPE_SYSTEM, GIB_KB));
        const char *t = render(w);
        has(t, "# TYPE mtt_session_info gauge");
        has(t, "mtt_session_info{id=\"7\",job_id=\"1234_5\",label=\"train \\\"big\\\"\\n\","
               "uid=\"1000\",scope=\"system\"} 1");
        has(t, "mtt_session_running{id=\"7\",job_id=\"1234_5\"} 1");
        has(t, "mtt_session_ram_bytes{id=\"7\",job_id=\"1234_5\"} 2147483648");
        has(t, "mtt_session_peak_bytes{id=\"7\",job_id=\"1234_5\"} 2147483648");
        has(t, "mtt_session_baseline_bytes{id=\"7\",job_id=\"1234_5\"} 1073741824");
        has(t, "mtt_session_start_time_seconds{id=\"7\",job_id=\"1234_5\"} 1700000000");
        /* Not ended: no end time, no ending; the families are there all the same. */
        has(t, "# TYPE mtt_session_end_time_seconds gauge");
        lacks(t, "mtt_session_end_time_seconds{");
        has(t, "# TYPE mtt_session_ending gauge");
        lacks(t, "mtt_session_ending{");
        lacks(t, " # "); /* no timestamps, no trailing comments */
        world_free(w);
}

/* Every family once, each with HELP then TYPE before its samples, and the text ends with a
 * newline (what promtool and node_exporter want). */
static void test_families_are_whole(void **state)
{
        world *w = world_new();
        add(w, make(1, "a", NULL, MTTD_SCOPE_SYSTEM, GIB_KB));
        add(w, make(2, "b", "77", MTTD_SCOPE_PROCESS, GIB_KB));
        const char *t = render(w);
        assert_true(t[strlen(t) - 1] == '\n');
        static const char *const families[] = {
            "mtt_session_info",
            "mtt_session_running",
            "mtt_session_ram_bytes",
            "mtt_session_peak_bytes",
            "mtt_session_baseline_bytes",
            "mtt_session_start_time_seconds",
            "mtt_session_end_time_seconds",
            "mtt_session_ending",
            "mttd_build_info",
            "mttd_start_time_seconds",
            "mttd_sessions_running",
            "mttd_sessions_opened_total",
            "mttd_sessions_ended_total",
            "mttd_report_write_errors_total",
            "mttd_samples_total",
            "mttd_rows_written_total",
            "mttd_connections",
            "mttd_watchers",
            "mttd_memory_total_bytes",
            "mttd_memory_used_bytes",
        };
        for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
                char help[128], type[128];
                snprintf(help, sizeof(help), "# HELP %s ", families[i]);
                snprintf(type, sizeof(type), "\n# TYPE %s ", families[i]);
                const char *h = strstr(t, help);
                assert_non_null(h);
                assert_null(strstr(h + 1, help)); /* once */
                assert_non_null(strstr(h, type));
        }
        /* A session without a job has an empty job_id (no label to Prometheus). */
        has(t, "mtt_session_running{id=\"1\",job_id=\"\"} 1");
        has(t, "mtt_session_info{id=\"2\",job_id=\"77\",label=\"b\",uid=\"1000\",scope=\"process\"}"
               " 1");
        world_free(w);
}

static void test_ended_sessions(void **state)
{
        world *w = world_new();
        mttd_session *oom = make(3, "oom", "9", MTTD_SCOPE_PROCESS, GIB_KB);
        mttd_session_feed(oom, 20 * S, 3 * GIB_KB, NULL);
        mttd_session_feed(oom, 30 * S, 2 * GIB_KB, NULL);
        end(oom, 40 * S, MTTD_CRASHED, "killed by SIGKILL (OOM killer)", true);
        add(w, oom);
        /* Ended, its last write not back: not running, no ending yet (a hangup's cause may
         * still come). */
        mttd_session *closing = make(4, "closing", NULL, MTTD_SCOPE_PROCESS, GIB_KB);
        end(closing, 90 * S, MTTD_COMPLETED, NULL, false);
        add(w, closing);
        /* Ended longer ago than the retention: gone. */
        mttd_session *old = make(5, "old", NULL, MTTD_SCOPE_SYSTEM, GIB_KB);
        end(old, 11 * S, MTTD_COMPLETED, NULL, true);
        add(w, old);
        w->facts.retention_us = 80 * S;
        const char *t = render(w);
        has(t, "mtt_session_running{id=\"3\",job_id=\"9\"} 0");
        /* Ended: its own last value, not the machine's. */
        has(t, "mtt_session_ram_bytes{id=\"3\",job_id=\"9\"} 1073741824");
        has(t, "mtt_session_peak_bytes{id=\"3\",job_id=\"9\"} 2147483648");
        /* 30 s after its start (10 s -> 40 s monotonic). */
        has(t, "mtt_session_end_time_seconds{id=\"3\",job_id=\"9\"} 1700000030");
        has(t, "mtt_session_ending{id=\"3\",job_id=\"9\",ending=\"crashed\",cause=\"oom_kill\"} 1");
        has(t, "mtt_session_running{id=\"4\",job_id=\"\"} 0");
        has(t, "mtt_session_end_time_seconds{id=\"4\",job_id=\"\"} 1700000080");
        lacks(t, "mtt_session_ending{id=\"4\"");
        lacks(t, "id=\"5\"");
        world_free(w);
}

static void test_daemon_numbers(void **state)
{
        world *w = world_new();
        w->counts.opened = 10;
        w->counts.ended[MTTD_CRASHED][MTT_PROTO_CAUSE_SIGNAL] = 2;
        w->counts.ended[MTTD_ERROR][MTT_PROTO_CAUSE_ERROR] = 1;
        w->counts.write_errors = 1;
        const char *t = render(w);
        has(t, "mttd_build_info{version=\"9.9.9\"} 1");
        has(t, "mttd_start_time_seconds 1690000000");
        has(t, "mttd_sessions_running 1");
        has(t, "# TYPE mttd_sessions_opened_total counter");
        has(t, "mttd_sessions_opened_total 10");
        has(t, "mttd_sessions_ended_total{ending=\"crashed\",cause=\"signal\"} 2");
        has(t, "mttd_sessions_ended_total{ending=\"error\",cause=\"error\"} 1");
        has(t, "mttd_sessions_ended_total{ending=\"completed\",cause=\"none\"} 0");
        lacks(t, "ending=\"running\"");
        has(t, "mttd_report_write_errors_total 1");
        has(t, "mttd_samples_total 1234");
        has(t, "mttd_rows_written_total 56");
        has(t, "mttd_connections 3");
        has(t, "mttd_watchers 1");
        has(t, "mttd_memory_total_bytes 8589934592");
        has(t, "mttd_memory_used_bytes 4294967296");
        /* meminfo could not be read: those two are left out, not made up. */
        w->facts.memory = NULL;
        t = render(w);
        lacks(t, "mttd_memory_");
        world_free(w);
}

static void test_cause_classes(void **state)
{
        static const struct {
                const char *cause;
                bool error;
                const char *class;
        } cases[] = {
            {NULL, false, "none"},
            {"exited with status 3", false, "none"},
            {"mttd stopped while the session ran", false, "none"},
            {"killed by SIGSEGV (core dumped)", false, "signal"},
            {"killed by SIGKILL", false, "signal"},
            {"killed by SIGKILL (OOM killer)", false, "oom_kill"},
            {"killed by SIGKILL (OOM killer) without Close", false, "oom_kill"},
            {"exited with status 0 without Close", false, "exit_without_close"},
            {"the client closed its connection without Close", false, "exit_without_close"},
            {"killed by SIGKILL (OOM killer)", true, "error"},
            {NULL, true, "error"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                assert_string_equal(mtt_proto_cause_class_name(
                                        mtt_proto_cause_class_of(cases[i].cause, cases[i].error)),
                                    cases[i].class);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_running_session), cmocka_unit_test(test_families_are_whole),
            cmocka_unit_test(test_ended_sessions),  cmocka_unit_test(test_daemon_numbers),
            cmocka_unit_test(test_cause_classes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
