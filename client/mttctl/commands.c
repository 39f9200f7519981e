/* mttctl's commands. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/lib/report.h"
#include "mtt/client.h"
#include "mttctl.h"
#include "proto/interface.h"
#include "table.h"

/* parse_json_flag's answer once it has printed the command's usage for --help. */
#define HELP_SHOWN 2

/* Parses "--json" and "-h"/"--help" as a command's only options; returns 1 for json, 0
 * without, HELP_SHOWN once usage is printed, or -EINVAL (said why). */
static int parse_json_flag(int argc, char **argv, int min_args, int max_args, const char *what,
                           const char *usage)
{
        static const struct option opts[] = {
            {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0}};
        int json = 0, c;
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                if (c == 'h') {
                        fputs(usage, stdout);
                        return HELP_SHOWN;
                }
                if (c != 'j') {
                        mttctl_usage_error("%s: unknown option '%s'", argv[0], argv[optind - 1]);
                        return -EINVAL;
                }
                json = 1;
        }
        int n = argc - optind;
        if (n < min_args || n > max_args) {
                mttctl_usage_error("%s: %s", argv[0], what);
                return -EINVAL;
        }
        return json;
}

static void print_json(const json_t *v)
{
        json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
        putchar('\n');
}

static double num(const json_t *o, const char *key)
{
        return json_number_value(json_object_get(o, key));
}

static const char *str(const json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "";
}

/* "crashed: killed by SIGKILL" or just the state; "[shared machine]" after a session that
 * measured the whole machine while others ran (their memory is in its figures); "[GPU]"
 * after one whose figures are GPU memory (its RAM column is the GPU's). */
static void format_state(char *buf, size_t size, const json_t *s)
{
        const char *cause = str(s, "cause");
        const char *error = str(s, "error");
        const char *why = error[0] ? error : cause;
        const char *scope = str(s, "scope");
        bool shared =
            num(s, "overlaps") > 0 && (!scope[0] || strcmp(scope, MTT_PROTO_SCOPE_SYSTEM) == 0);
        const char *mark = shared                                           ? " [shared machine]"
                           : strcmp(scope, MTT_PROTO_SCOPE_GPU) == 0        ? " [GPU]"
                           : strcmp(scope, MTT_PROTO_SCOPE_GPU_DEVICE) == 0 ? " [GPU device]"
                                                                            : "";
        snprintf(buf, size, "%s%s%s%s", str(s, "state"), why[0] ? ": " : "", why, mark);
}

static const char list_usage[] =
    "Usage: mttctl list [--json]\n"
    "Lists the sessions, running and recently ended: ID PID USER LABEL ELAPSED ROWS RAM\n"
    "PEAK STATE, and JOB after LABEL when a session listed has a job.\n"
    "\n"
    "      --json   {\"sessions\": [SESSION...]}, mttd's own session objects\n"
    "  -h, --help   show this help\n";

int mttctl_list(int argc, char **argv)
{
        int json = parse_json_flag(argc, argv, 0, 0, "takes no arguments", list_usage);
        if (json < 0)
                return MTTCTL_USAGE;
        if (json == HELP_SHOWN)
                return MTTCTL_OK;
        json_t *p = mttctl_call(MTT_PROTO_METHOD_LIST, NULL);
        if (!p)
                return MTTCTL_FAILURE;
        if (json) {
                print_json(p);
                json_decref(p);
                return MTTCTL_OK;
        }
        /* JOB only when a session has one: most machines run no workload manager. */
        enum { JOB_COL = 4 };
        static const char *const heads[] = {"ID",      "PID",  "USER", "LABEL", "JOB",
                                            "ELAPSED", "ROWS", "RAM",  "PEAK",  "STATE"};
        static const int right[] = {1, 1, 0, 0, 0, 1, 1, 1, 1, 0};
        mttctl_table t;
        mttctl_table_init(&t, 10, heads, right);
        bool jobs = false;
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(p, "sessions"), i, s)
        {
                char id[24], pid[16], user[64], label[41], job[MTT_PROTO_JOB_MAX + 1], elapsed[32],
                    rows[24], ram[32], peak[32], state[160];
                snprintf(id, sizeof(id), "%lld", (long long)num(s, "id"));
                snprintf(pid, sizeof(pid), "%d", (int)num(s, "pid"));
                mttctl_format_user(user, sizeof(user), (uid_t)num(s, "uid"));
                snprintf(label, sizeof(label), "%s", str(s, "label"));
                snprintf(job, sizeof(job), "%s", str(s, "job")[0] ? str(s, "job") : "-");
                jobs |= str(s, "job")[0] != '\0';
                mttctl_format_duration(elapsed, sizeof(elapsed), num(s, "elapsed"));
                snprintf(rows, sizeof(rows), "%lld", (long long)num(s, "rows"));
                mttctl_format_gib(ram, sizeof(ram), num(s, "ram"));
                mttctl_format_gib(peak, sizeof(peak), num(s, "peak"));
                format_state(state, sizeof(state), s);
                const char *row[] = {id, pid, user, label, job, elapsed, rows, ram, peak, state};
                mttctl_table_add(&t, row);
        }
        if (!jobs)
                mttctl_table_hide(&t, JOB_COL);
        if (t.n_rows == 0)
                printf("No sessions.\n");
        else
                mttctl_table_print(&t, stdout);
        mttctl_table_free(&t);
        json_decref(p);
        return MTTCTL_OK;
}

static bool parse_id(const char *s, long long *out)
{
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || *end || v <= 0)
                return false;
        *out = v;
        return true;
}

/* What a session measures, when it is not the machine: its scope, whose (the tracked
 * process), the one GPU of a gpu-device session, and what NVML could not read. */
static void print_scope(const json_t *s)
{
        const char *scope = str(s, "scope");
        if (scope[0] && strcmp(scope, MTT_PROTO_SCOPE_SYSTEM) != 0) {
                printf("Scope:     %s", scope);
                if (json_is_integer(json_object_get(s, "tracked_pid")))
                        printf(" (process %lld and its descendants)",
                               (long long)num(s, "tracked_pid"));
                putchar('\n');
        }
        if (json_is_integer(json_object_get(s, "gpu")))
                printf("GPU:       %lld\n", (long long)num(s, "gpu"));
        if (json_is_string(json_object_get(s, "gpu_error"))) {
                char why[MTT_PROTO_CAUSE_MAX + 1];
                snprintf(why, sizeof(why), "%s", str(s, "gpu_error"));
                mtt_proto_printable(why);
                printf("GPU error: %s\n", why);
        }
}

static const char status_usage[] =
    "Usage: mttctl status ID [--json]\n"
    "Shows session ID in full: its label, job, state and how it ended, process, user,\n"
    "start, elapsed time, rows, memory now, peak and baseline, and what it measures when\n"
    "that is not the machine.\n"
    "\n"
    "      --json   {\"session\": SESSION}, mttd's own session object\n"
    "  -h, --help   show this help\n";

int mttctl_status(int argc, char **argv)
{
        int json = parse_json_flag(argc, argv, 1, 1, "needs one session ID", status_usage);
        if (json < 0)
                return MTTCTL_USAGE;
        if (json == HELP_SHOWN)
                return MTTCTL_OK;
        long long id;
        if (!parse_id(argv[optind], &id))
                return mttctl_usage_error("status: '%s' is not a session ID", argv[optind]);
        json_t *p = mttctl_call(MTT_PROTO_METHOD_STATUS, json_pack("{s:I}", "id", (json_int_t)id));
        if (!p)
                return MTTCTL_FAILURE;
        json_t *s = json_object_get(p, "session");
        if (json) { /* {"session": ...}, as list wraps its sessions */
                print_json(p);
                json_decref(p);
                return MTTCTL_OK;
        }
        char user[64], elapsed[32], ram[32], peak[32], base[32], started[64];
        char label[MTT_PROTO_LABEL_MAX + 1], job[MTT_PROTO_JOB_MAX + 1];
        char state[MTT_PROTO_CAUSE_MAX + 64]; /* the state, its cause, " [shared machine]" */
        mttctl_format_user(user, sizeof(user), (uid_t)num(s, "uid"));
        mttctl_format_duration(elapsed, sizeof(elapsed), num(s, "elapsed"));
        mttctl_format_gib(ram, sizeof(ram), num(s, "ram"));
        mttctl_format_gib(peak, sizeof(peak), num(s, "peak"));
        mttctl_format_gib(base, sizeof(base), num(s, "baseline"));
        format_state(state, sizeof(state), s);
        mtt_proto_printable(state);
        snprintf(label, sizeof(label), "%s", str(s, "label"));
        mtt_proto_printable(label);
        snprintf(job, sizeof(job), "%s", str(s, "job"));
        mtt_proto_printable(job);
        time_t t0 = (time_t)(num(s, "started") / 1e6);
        struct tm tm;
        strftime(started, sizeof(started), "%Y-%m-%d %H:%M:%S %z", localtime_r(&t0, &tm));
        printf("Session:   %lld\n", (long long)num(s, "id"));
        printf("Label:     %s\n", label);
        if (job[0])
                printf("Job:       %s\n", job);
        printf("State:     %s\n", state);
        printf("PID:       %d\n", (int)num(s, "pid"));
        printf("User:      %s (%d)\n", user, (int)num(s, "uid"));
        printf("Started:   %s\n", started);
        printf("Elapsed:   %s (%.6f s)\n", elapsed, num(s, "elapsed"));
        printf("Rows:      %lld (from %lld samples)\n", (long long)num(s, "rows"),
               (long long)num(s, "samples"));
        printf("RAM:       %s (%.6f GiB above the baseline)\n", ram, num(s, "ram"));
        printf("Peak:      %s (%.6f GiB)\n", peak, num(s, "peak"));
        printf("Baseline:  %s%s\n", base,
               json_is_true(json_object_get(s, "calibrate"))
                   ? ""
                   : " (calibration off: raw used memory)");
        printf("Intervals: %lld us to %lld s\n", (long long)num(s, "min_interval_us"),
               (long long)num(s, "max_interval_s"));
        print_scope(s);
        if (json_object_get(s, "restarts"))
                printf("Restarts:  %lld of mttd, the last a gap of %.3f s without rows\n",
                       (long long)num(s, "restarts"), num(s, "restart_gap"));
        if (json_object_get(s, "write_stalled"))
                printf("Warning:   the report's current write has waited %.1f s\n",
                       num(s, "write_stalled"));
        json_decref(p);
        return MTTCTL_OK;
}

/* One line per GPU of a Sample reply, or why there is none; nothing from an mttd that
 * predates GPUs. */
static void print_gpus(json_t *p)
{
        json_t *gpus = json_object_get(p, "gpus");
        if (!json_is_array(gpus))
                return;
        if (json_array_size(gpus) == 0) {
                char why[256];
                snprintf(why, sizeof(why), "%s", str(p, "gpu_error"));
                mtt_proto_printable(why);
                printf("GPUs:      none%s%s\n", why[0] ? ": " : "", why);
                return;
        }
        size_t i;
        json_t *g;
        json_array_foreach(gpus, i, g)
        {
                char head[32], name[128], used[32], total[32], why[128];
                snprintf(head, sizeof(head), "GPU %lld:", (long long)num(g, "index"));
                snprintf(name, sizeof(name), "%s", str(g, "name"));
                mtt_proto_printable(name);
                if (json_object_get(g, "error")) {
                        snprintf(why, sizeof(why), "%s", str(g, "error"));
                        mtt_proto_printable(why);
                        printf("%-10s %s%s%s\n", head, name, name[0] ? ": " : "", why);
                        continue;
                }
                const double gib = 1024.0 * 1024 * 1024;
                mttctl_format_gib(used, sizeof(used), num(g, "used_bytes") / gib);
                mttctl_format_gib(total, sizeof(total), num(g, "total_bytes") / gib);
                printf("%-10s %s, %s used of %s\n", head, name, used, total);
        }
}

static const char sample_usage[] =
    "Usage: mttctl sample [--json]\n"
    "Shows mttd's current memory reading, what its samples served, and the NVIDIA GPUs it\n"
    "sees (or why none).\n"
    "\n"
    "      --json   {\"reading\": {...}, \"stats\": {...}, \"gpus\": [...]}\n"
    "  -h, --help   show this help\n";

int mttctl_sample(int argc, char **argv)
{
        int json = parse_json_flag(argc, argv, 0, 0, "takes no arguments", sample_usage);
        if (json < 0)
                return MTTCTL_USAGE;
        if (json == HELP_SHOWN)
                return MTTCTL_OK;
        json_t *p = mttctl_call(MTT_PROTO_METHOD_SAMPLE, NULL);
        if (!p)
                return MTTCTL_FAILURE;
        json_t *r = json_object_get(p, "reading");
        if (json) {
                print_json(p);
        } else {
                char used[32];
                mttctl_format_gib(used, sizeof(used), num(r, "used"));
                printf("Used:      %s (%.6f GiB = MemTotal - MemFree - Buffers - Cached - Slab)\n",
                       used, num(r, "used"));
                printf("MemTotal:  %lld kB\nMemFree:   %lld kB\nBuffers:   %lld kB\n"
                       "Cached:    %lld kB\nSlab:      %lld kB\n",
                       (long long)num(r, "mem_total_kb"), (long long)num(r, "mem_free_kb"),
                       (long long)num(r, "buffers_kb"), (long long)num(r, "cached_kb"),
                       (long long)num(r, "slab_kb"));
                json_t *st = json_object_get(p, "stats");
                printf("mttd:      %lld samples, %lld rows written, %.2f sessions served per "
                       "sample, %lld running\n",
                       (long long)num(st, "samples"), (long long)num(st, "rows_written"),
                       num(st, "sessions_per_sample"), (long long)num(st, "running"));
                print_gpus(p);
        }
        json_decref(p);
        return MTTCTL_OK;
}

/* One file's verdict for check: a line, or an object in --json's array. */
static void check_one(const char *path, int r, const mtt_report *rep, json_t *reports)
{
        static const char *const names[] = {"completed", "crashed gracefully",
                                            "crashed ungracefully", "not a report"};
        bool why = r == 0 && rep->verdict == MTT_REPORT_NOT_A_REPORT;
        if (reports) {
                json_t *o =
                    r < 0 ? json_pack("{s:s, s:s}", "file", path, "error", strerror(-r))
                          : json_pack("{s:s, s:s}", "file", path, "verdict", names[rep->verdict]);
                if (why)
                        json_object_set_new(o, "reason", json_string(rep->reason));
                json_array_append_new(reports, o);
        } else if (r < 0) {
                mttctl_error("%s: %s", path, strerror(-r));
        } else {
                printf("%s: %s%s%s%s\n", path, names[rep->verdict], why ? " (" : "",
                       why ? rep->reason : "", why ? ")" : "");
        }
}

static const char check_usage[] =
    "Usage: mttctl check FILE... [--json]\n"
    "Says each report's verdict: completed, crashed gracefully, crashed ungracefully, or\n"
    "not a report and why. Exits 0 only if every report completed.\n"
    "\n"
    "      --json   {\"reports\": [{\"file\", \"verdict\"} or {\"file\", \"error\"}]}\n"
    "  -h, --help   show this help\n";

int mttctl_check(int argc, char **argv)
{
        int json =
            parse_json_flag(argc, argv, 1, INT_MAX, "needs at least one report file", check_usage);
        if (json < 0)
                return MTTCTL_USAGE;
        if (json == HELP_SHOWN)
                return MTTCTL_OK;
        json_t *reports = json ? json_array() : NULL;
        int ret = MTTCTL_OK;
        for (int i = optind; i < argc; i++) {
                mtt_report rep = {0};
                int r = mtt_report_read(argv[i], false, &rep);
                if (r < 0 || rep.verdict != MTT_REPORT_COMPLETED)
                        ret = MTTCTL_FAILURE;
                check_one(argv[i], r, &rep, reports);
        }
        if (json) {
                json_t *out = json_pack("{s:o}", "reports", reports);
                print_json(out);
                json_decref(out);
        }
        return ret;
}
