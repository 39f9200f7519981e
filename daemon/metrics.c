/* mttd's sessions and counters as Prometheus families. */
#include "metrics.h"

#include <inttypes.h>
#include <stdio.h>

#include "proto/ending.h"
#include "source.h"

/* The labels every family of a session has: its number on this node and its job. The info
 * family carries the rest (label, user, scope) once, to be joined on id. */
typedef struct session_labels {
        char id[24];
        char uid[16];
        mttd_prom_label l[6]; /* id, job_id, then those of one family */
} session_labels;

static size_t labels_of(session_labels *sl, const mttd_session *s)
{
        snprintf(sl->id, sizeof(sl->id), "%" PRIu64, s->id);
        sl->l[0] = (mttd_prom_label){"id", sl->id};
        sl->l[1] = (mttd_prom_label){"job_id", s->job ? s->job : ""};
        return 2;
}

static bool shown(const mttd_session *s, const mttd_metrics_facts *f)
{
        if (mttd_session_running(s) || s->end_us == 0)
                return true;
        return f->view->now_us - s->end_us <= f->retention_us;
}

/* Its end is told: its state and cause are final (a hangup's cause comes a moment after the
 * hangup). */
static bool told(const mttd_session *s)
{
        return s->phase == MTTD_PHASE_ANNOUNCED;
}

static double bytes(double kb)
{
        return kb * 1024.;
}

static double seconds(uint64_t us)
{
        return (double)us / 1e6;
}

/* Wall clock seconds at its end: its start, and how long it ran (monotonic). */
static double end_time(const mttd_session *s)
{
        return seconds(s->started_wall_us + (s->end_us - s->t0_us));
}

typedef enum session_value {
        RUNNING,
        RAM,
        PEAK,
        BASELINE,
        START,
        END,
} session_value;

static const struct {
        const char *name;
        const char *help;
} session_families[] = {
    [RUNNING] = {"mtt_session_running", "1 while the session runs, 0 once it ended"},
    [RAM] = {"mtt_session_ram_bytes",
             "Memory the session measures now above its baseline (its last value once ended)"},
    [PEAK] = {"mtt_session_peak_bytes", "The highest memory above its baseline so far"},
    [BASELINE] = {"mtt_session_baseline_bytes",
                  "The level at Open that the session's values are above (0 uncalibrated)"},
    [START] = {"mtt_session_start_time_seconds", "When the session opened, in unix time"},
    [END] = {"mtt_session_end_time_seconds", "When the session ended, in unix time"},
};

static void session_family(mttd_prom *p, const mttd_session *first, const mttd_metrics_facts *f,
                           session_value what)
{
        const char *name = session_families[what].name;
        mttd_prom_family(p, name, MTTD_PROM_GAUGE, session_families[what].help);
        for (const mttd_session *s = first; s; s = mttd_table_next(s)) {
                if (!shown(s, f))
                        continue;
                bool running = mttd_session_running(s);
                int64_t last_kb, peak_kb;
                mttd_session_values(s, f->view, &last_kb, &peak_kb);
                double v = 0;
                switch (what) {
                case RUNNING:
                        v = running;
                        break;
                case RAM:
                        v = bytes((double)last_kb - s->baseline_kb);
                        break;
                case PEAK:
                        v = bytes((double)peak_kb - s->baseline_kb);
                        break;
                case BASELINE:
                        v = bytes(s->baseline_kb);
                        break;
                case START:
                        v = seconds(s->started_wall_us);
                        break;
                case END:
                        if (running)
                                continue;
                        v = end_time(s);
                        break;
                }
                session_labels sl;
                mttd_prom_sample(p, name, sl.l, labels_of(&sl, s), v);
        }
}

static void session_info(mttd_prom *p, const mttd_session *first, const mttd_metrics_facts *f)
{
        mttd_prom_family(p, "mtt_session_info", MTTD_PROM_GAUGE,
                         "A tracked session (1): its label, its user's uid and its scope, for "
                         "joins on id");
        for (const mttd_session *s = first; s; s = mttd_table_next(s)) {
                if (!shown(s, f))
                        continue;
                session_labels sl;
                size_t n = labels_of(&sl, s);
                snprintf(sl.uid, sizeof(sl.uid), "%u", (unsigned)s->uid);
                sl.l[n++] = (mttd_prom_label){"label", s->label};
                sl.l[n++] = (mttd_prom_label){"uid", sl.uid};
                sl.l[n++] = (mttd_prom_label){"scope", mttd_scope_name(s->scope)};
                mttd_prom_sample(p, "mtt_session_info", sl.l, n, 1);
        }
}

static mtt_proto_cause_class cause_class(const mttd_session *s)
{
        return mtt_proto_cause_class_of(s->cause, s->state == MTTD_ERROR);
}

static void session_ending(mttd_prom *p, const mttd_session *first, const mttd_metrics_facts *f)
{
        mttd_prom_family(p, "mtt_session_ending", MTTD_PROM_GAUGE,
                         "How an ended session ended (1): completed, failed, crashed or error, "
                         "and the class of its cause: none, signal, oom_kill, "
                         "exit_without_close or error");
        for (const mttd_session *s = first; s; s = mttd_table_next(s)) {
                if (!shown(s, f) || !told(s))
                        continue;
                session_labels sl;
                size_t n = labels_of(&sl, s);
                sl.l[n++] = (mttd_prom_label){"ending", mttd_state_name(s->state)};
                sl.l[n++] = (mttd_prom_label){"cause", mtt_proto_cause_class_name(cause_class(s))};
                mttd_prom_sample(p, "mtt_session_ending", sl.l, n, 1);
        }
}

static void one(mttd_prom *p, const char *name, mttd_prom_type type, const char *help, double v)
{
        mttd_prom_family(p, name, type, help);
        mttd_prom_sample(p, name, NULL, 0, v);
}

static void ended_totals(mttd_prom *p, const mttd_tracker_counts *c)
{
        const char *name = "mttd_sessions_ended_total";
        mttd_prom_family(p, name, MTTD_PROM_COUNTER,
                         "Sessions this mttd saw end, by ending and the class of their cause");
        static const mttd_state endings[] = {MTTD_COMPLETED, MTTD_FAILED, MTTD_CRASHED, MTTD_ERROR};
        for (size_t i = 0; i < sizeof(endings) / sizeof(endings[0]); i++)
                for (int k = 0; k < MTT_PROTO_CAUSE_CLASSES; k++) {
                        mttd_prom_label l[] = {
                            {"ending", mttd_state_name(endings[i])},
                            {"cause", mtt_proto_cause_class_name((mtt_proto_cause_class)k)},
                        };
                        mttd_prom_sample(p, name, l, 2, (double)c->ended[endings[i]][k]);
                }
}

static void daemon_families(mttd_prom *p, const mttd_metrics_facts *f)
{
        mttd_prom_family(p, "mttd_build_info", MTTD_PROM_GAUGE, "mttd's version (1)");
        mttd_prom_label version = {"version", f->version};
        mttd_prom_sample(p, "mttd_build_info", &version, 1, 1);
        one(p, "mttd_start_time_seconds", MTTD_PROM_GAUGE, "When this mttd started, in unix time",
            seconds(f->started_wall_us));
        one(p, "mttd_sessions_running", MTTD_PROM_GAUGE, "Sessions running", f->running);
        one(p, "mttd_sessions_opened_total", MTTD_PROM_COUNTER, "Sessions this mttd opened",
            (double)f->counts->opened);
        ended_totals(p, f->counts);
        one(p, "mttd_report_write_errors_total", MTTD_PROM_COUNTER,
            "Sessions this mttd saw end whose report could not be written",
            (double)f->counts->write_errors);
        one(p, "mttd_samples_total", MTTD_PROM_COUNTER,
            "Samples of the machine's memory this mttd took", (double)f->stats->samples);
        one(p, "mttd_rows_written_total", MTTD_PROM_COUNTER, "Rows this mttd made for reports",
            (double)f->stats->rows_written);
        one(p, "mttd_connections", MTTD_PROM_GAUGE, "Client connections open", f->connections);
        one(p, "mttd_watchers", MTTD_PROM_GAUGE, "Connections a Watch streams to", f->watchers);
        if (f->memory) {
                one(p, "mttd_memory_total_bytes", MTTD_PROM_GAUGE, "The machine's MemTotal",
                    bytes((double)f->memory->mem_total));
                one(p, "mttd_memory_used_bytes", MTTD_PROM_GAUGE,
                    "The machine's memory in use as the system scope measures it: MemTotal - "
                    "MemFree - Buffers - Cached - Slab",
                    bytes((double)mttd_meminfo_used_kb(f->memory)));
        }
}

void mttd_metrics_render(mttd_prom *p, const mttd_session *first, const mttd_metrics_facts *f)
{
        session_info(p, first, f);
        for (session_value v = RUNNING; v <= END; v++)
                session_family(p, first, f, v);
        session_ending(p, first, f);
        daemon_families(p, f);
}
