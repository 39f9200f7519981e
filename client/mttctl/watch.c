/* mttctl watch: follows sessions through mttd's Watch stream. Rows go to stdout as the
 * report has them ("delta,ram"; with every session, "id,delta,ram"); on a terminal one
 * status line (elapsed, current, peak, rows) is redrawn in place under them. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mttctl.h"
#include "proto/interface.h"
#include "table.h"

typedef struct watch {
        bool json, all, tty;
        bool help;         /* --help: usage printed, nothing to watch */
        bool status_shown; /* a status line is on the terminal, not yet ended by a newline */
        long long id;
        unsigned long rows;
        double delta, ram, peak;
} watch;

static void clear_status(watch *w)
{
        if (w->status_shown)
                fputs("\r\033[K", stdout);
        w->status_shown = false;
}

static void show_status(watch *w)
{
        if (!w->tty || w->rows == 0)
                return;
        char elapsed[32], ram[32], peak[32];
        mttctl_format_duration(elapsed, sizeof(elapsed), w->delta);
        mttctl_format_gib(ram, sizeof(ram), w->ram);
        mttctl_format_gib(peak, sizeof(peak), w->peak);
        clear_status(w);
        if (w->all)
                printf("-- %lu rows, last: session %lld at %s, %s", w->rows, w->id, elapsed, ram);
        else
                printf("-- %s elapsed, %s now, peak %s, %lu rows", elapsed, ram, peak, w->rows);
        w->status_shown = true;
}

static const char *str(const json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "";
}

/* "session 3 (label) completed after 1.2s, 40 rows, peak 1.0 GiB: cause" */
static void print_session(watch *w, const json_t *s)
{
        char label[MTT_PROTO_LABEL_MAX + 1], elapsed[32], peak[32];
        snprintf(label, sizeof(label), "%s", str(s, "label"));
        mtt_proto_printable(label);
        const char *state = str(s, "state");
        mttctl_format_duration(elapsed, sizeof(elapsed),
                               json_number_value(json_object_get(s, "elapsed")));
        mttctl_format_gib(peak, sizeof(peak), json_number_value(json_object_get(s, "peak")));
        clear_status(w);
        printf("# session %lld (%s) ", (long long)json_integer_value(json_object_get(s, "id")),
               label);
        if (strcmp(state, MTT_PROTO_RUNNING) == 0)
                printf("running for %s, pid %d\n", elapsed,
                       (int)json_integer_value(json_object_get(s, "pid")));
        else
                printf("%s after %s, %lld rows, peak %s", state, elapsed,
                       (long long)json_integer_value(json_object_get(s, "rows")), peak);
        if (strcmp(state, MTT_PROTO_RUNNING) != 0) {
                const char *why = str(s, "error")[0] ? str(s, "error") : str(s, "cause");
                char text[MTT_PROTO_CAUSE_MAX + 1];
                snprintf(text, sizeof(text), "%s", why);
                mtt_proto_printable(text);
                printf("%s%s\n", text[0] ? ": " : "", text);
        }
}

static void on_row(watch *w, const json_t *p)
{
        w->id = (long long)json_integer_value(json_object_get(p, "id"));
        w->delta = json_number_value(json_object_get(p, "delta"));
        w->ram = json_number_value(json_object_get(p, "ram"));
        if (w->rows == 0 || w->ram > w->peak)
                w->peak = w->ram;
        w->rows++;
        clear_status(w);
        if (w->all)
                printf("%lld,%.6f,%.6f\n", w->id, w->delta, w->ram);
        else
                printf("%.6f,%.6f\n", w->delta, w->ram);
}

/* One reply of the stream, in the human form. */
static void on_reply(watch *w, const json_t *p)
{
        json_t *session = json_object_get(p, "session");
        json_t *sessions = json_object_get(p, "sessions");
        if (session) {
                print_session(w, session);
        } else if (sessions) {
                size_t i;
                json_t *s;
                json_array_foreach(sessions, i, s) print_session(w, s);
                if (json_array_size(sessions) == 0)
                        printf("# no session running; waiting for one\n");
        } else {
                on_row(w, p);
        }
        show_status(w);
        fflush(stdout);
}

static const char watch_usage[] =
    "Usage: mttctl watch [ID] [--json]\n"
    "Follows session ID as mttd makes its rows: a \"#\" line about the session, each row as\n"
    "\"delta,ram\" (the report's own text), then a \"#\" line with how it ended; exits 0\n"
    "once it has ended. Without ID: every session of yours (root: every session) until\n"
    "interrupted, rows as \"id,delta,ram\". On a terminal a status line is redrawn under\n"
    "the rows.\n"
    "\n"
    "      --json   each message of the stream as one JSON object a line\n"
    "  -h, --help   show this help\n";

static int parse_args(watch *w, int argc, char **argv)
{
        static const struct option opts[] = {
            {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0}};
        int c;
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                if (c == 'h') {
                        fputs(watch_usage, stdout);
                        w->help = true;
                        return MTTCTL_OK;
                }
                if (c != 'j')
                        return mttctl_usage_error("watch: unknown option '%s'", argv[optind - 1]);
                w->json = true;
        }
        if (argc - optind > 1)
                return mttctl_usage_error("watch: takes at most one session ID");
        w->all = argc - optind == 0;
        if (!w->all) {
                char *end;
                errno = 0;
                w->id = strtoll(argv[optind], &end, 10);
                if (errno || end == argv[optind] || *end || w->id <= 0)
                        return mttctl_usage_error("watch: '%s' is not a session ID", argv[optind]);
        }
        return MTTCTL_OK;
}

int mttctl_watch(int argc, char **argv)
{
        watch w = {0};
        int r = parse_args(&w, argc, argv);
        if (r != MTTCTL_OK || w.help)
                return r;
        w.tty = !w.json && isatty(STDOUT_FILENO);
        mtt_proto_conn c;
        if (mttctl_connect(&c) < 0)
                return MTTCTL_FAILURE;
        json_t *params = w.all ? json_object() : json_pack("{s:I}", "id", (json_int_t)w.id);
        json_t *call = mtt_proto_call_new(MTT_PROTO_METHOD_WATCH, params, true, false);
        r = call ? mtt_proto_conn_send(&c, call, NULL, 0) : -ENOMEM;
        json_decref(call);
        int ret = MTTCTL_FAILURE;
        while (r == 0) {
                mtt_proto_reply reply;
                r = mtt_proto_conn_recv(&c, -1, &reply);
                if (r < 0)
                        break;
                if (reply.error) {
                        clear_status(&w);
                        mttctl_reply_error(&reply);
                        mtt_proto_reply_done(&reply);
                        break;
                }
                if (w.json) {
                        json_dumpf(reply.parameters, stdout,
                                   JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
                        putchar('\n');
                        fflush(stdout);
                } else {
                        on_reply(&w, reply.parameters);
                }
                bool more = reply.continues;
                mtt_proto_reply_done(&reply);
                if (!more) {
                        ret = MTTCTL_OK;
                        break;
                }
        }
        clear_status(&w);
        if (r < 0)
                mttctl_error("the watch ended: %s",
                             r == -ECONNRESET ? "mttd closed the connection" : strerror(-r));
        mtt_proto_conn_close(&c);
        return ret;
}
