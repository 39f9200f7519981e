/* mttd: parses the command line, sets up the tracker and the server, runs the loop, and on
 * SIGTERM or SIGINT flushes every report before it exits. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <ev.h>

#include "clock.h"
#include "config.h"
#include "fdstore.h"
#include "handover.h"
#include "keep.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "metrics_file.h"
#include "notify.h"
#include "nvml.h"
#include "pool.h"
#include "mtt-version.h"
#include "proto/interface.h"
#include "server.h"
#include "tracker.h"

/* Exit codes: 0 after a clean stop, 1 when it cannot start or run, 2 for bad usage. */
enum { EXIT_USAGE = 2 };

typedef struct mttd {
        struct ev_loop *loop;
        mttd_config cfg;
        mttd_tracker *tracker;
        mttd_server *server;
        ev_signal sigterm, sigint, sighup, sigurg, sigusr2;
        ev_timer stop_next;    /* a stop signal is acted on at the next loop iteration */
        int stop_signum;       /* ... that signal */
        ev_timer restart_mark; /* how long a restart's mark holds */
        mttd_notify notify;
        mttd_metrics_file *metrics; /* --metrics-file */
        uint64_t started_wall_us;
        char socket_path[PATH_MAX];
        bool bound_here;        /* unlink the socket at exit */
        bool passed_socket;     /* systemd (or the mttd before) passed it */
        mttd_fdstore passed;    /* what systemd (or the last mttd) passed, until taken up */
        bool stopping;          /* a stop signal came */
        bool restarting;        /* systemd said its next SIGTERM is a restart's */
        bool lost_sessions;     /* a re-exec failed: its sessions end with this mttd */
        bool reexec;            /* the sessions go to a new mttd exec'd here */
        char program[PATH_MAX]; /* ... that one */
        char **argv;
} mttd;

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: mttd [OPTION]...\n"
                "Samples /proc/meminfo and writes memory-over-time reports for the sessions\n"
                "clients open on its varlink socket.\n"
                "\n"
                "  -s, --socket PATH          listen on PATH (default: %s for root,\n"
                "                             $XDG_RUNTIME_DIR/mtt/%s otherwise);\n"
                "                             ignored under socket activation\n"
                "      --meminfo PATH         read PATH instead of /proc/meminfo\n"
                "      --nvml PATH            for tests: load PATH instead of %s\n"
                "      --fine-interval-us N   sampling while sessions run, for peaks between\n"
                "                             rows (default 10000, 100 to 100000)\n"
                "      --calibration-ms N     baseline: the level at Open, averaged with the\n"
                "                             samples of at most N ms before it that stand at\n"
                "                             that level (default 2000, 1 to 2500)\n"
                "      --baseline-band-kb N   a sample within N kB of the level at Open stands\n"
                "                             at that level (default 1024; 0: only equal)\n"
                "      --sync-interval-s N    fdatasync reports this often while rows are\n"
                "                             pending (default 10, 1 to 3600)\n"
                "      --peak-min-kb N        a peak between rows gets its own row when it\n"
                "                             stands N kB above both (default 1024; 0: any)\n"
                "      --max-sessions N       running sessions in all (default 16384)\n"
                "      --max-sessions-per-uid N  running sessions of one user (default 4096)\n"
                "      --history N            ended sessions kept for list/status (default 256)\n"
                "      --max-connections N, --max-connections-per-uid N\n"
                "                             connections in all (16384) and of one user (1024)\n"
                "      --idle-timeout-s N     close connections that hold no session and send\n"
                "                             nothing this long (default 60)\n"
                "      --max-blocking-writes-per-uid N  writes in flight to one user's\n"
                "                             reports that may block (pipes, terminals, NFS);\n"
                "                             the rest wait their turn (default 16)\n"
                "      --stop-timeout-s N     on SIGTERM, wait at most this long for reports\n"
                "                             whose writes have not come back (default 5)\n"
                "      --read-timeout-ms N    a read of a process tree out this long is late:\n"
                "                             its sessions say so and get no rows until it\n"
                "                             comes back (default 1000, 10 to 60000)\n"
                "      --max-tree-processes N  processes one user's process trees may have\n"
                "                             read at each read; larger trees are cut\n"
                "                             (default 4096, 1 to 65536)\n"
                "      --max-frame-kb N       largest call accepted (default 64)\n"
                "      --max-output-kb N      unsent replies a connection may pile up; a watcher\n"
                "                             that does not read is dropped (default 1024)\n"
                "      --metrics-file PATH    keep PATH up to date in the Prometheus text format\n"
                "                             (node_exporter's textfile collector): every\n"
                "                             running and recently ended session, and mttd's\n"
                "                             counters; renamed into place, never torn\n"
                "      --metrics-interval-s N  write it every N s besides each Open and ending\n"
                "                             (default 5, 1 to 3600)\n"
                "      --metrics-retention-s N  ended sessions stay in it N s (default 3600, 0\n"
                "                             to 604800), at most --history of them\n"
                "  -h, --help                 show this help\n"
                "  -V, --version              show the version\n"
                "\n"
                "Runs in the foreground and logs to stderr. SIGUSR2 re-executes mttd (an\n"
                "upgraded binary too) with its running sessions, which go on. Exit status: 0\n"
                "after SIGTERM or SIGINT once every report is flushed, 1 when it cannot start,\n"
                "2 for bad usage.\n",
                MTT_PROTO_SYSTEM_SOCKET, MTT_PROTO_SOCKET_NAME, MTTD_NVML_LIBRARY);
}

static bool parse_number(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || end == s || *end || v < lo || v > hi || s[0] == '-')
                return false;
        *out = v;
        return true;
}

/* The numeric options: the config field each sets, its range, and what one unit of the
 * argument is in the field's unit. */
typedef enum { AS_UNSIGNED, AS_U64, AS_SIZE, AS_I64 } num_type;
typedef struct num_option {
        const char *name;
        size_t offset;
        num_type type;
        unsigned long lo, hi;
        unsigned long scale;
} num_option;

#define FIELD(f, type) offsetof(mttd_config, f), type
static const num_option num_options[] = {
    {"max-sessions", FIELD(max_sessions, AS_UNSIGNED), 1, 1000000, 1},
    {"max-sessions-per-uid", FIELD(max_sessions_per_uid, AS_UNSIGNED), 1, 1000000, 1},
    {"history", FIELD(history, AS_UNSIGNED), 1, 1000000, 1},
    {"max-connections", FIELD(max_connections, AS_UNSIGNED), 1, 1000000, 1},
    {"max-connections-per-uid", FIELD(max_connections_per_uid, AS_UNSIGNED), 1, 1000000, 1},
    {"fine-interval-us", FIELD(fine_interval_us, AS_U64), 100, 100000, 1},
    /* The ring holds 2.56 s of samples (256, 10 ms apart). */
    {"calibration-ms", FIELD(calibration_us, AS_U64), 1, 2500, 1000},
    {"baseline-band-kb", FIELD(baseline_band_kb, AS_I64), 0, 1048576, 1},
    {"sync-interval-s", FIELD(sync_interval_us, AS_U64), 1, 3600, 1000000},
    {"idle-timeout-s", FIELD(idle_timeout_us, AS_U64), 1, 86400, 1000000},
    {"stop-timeout-s", FIELD(shutdown_timeout_us, AS_U64), 1, 3600, 1000000},
    {"read-timeout-ms", FIELD(read_timeout_us, AS_U64), 10, 60000, 1000},
    {"max-tree-processes", FIELD(max_tree_processes, AS_UNSIGNED), 1, 65536, 1},
    {"max-blocking-writes-per-uid", FIELD(max_blocking_per_uid, AS_UNSIGNED), 1, 128, 1},
    {"peak-min-kb", FIELD(peak_min_kb, AS_I64), 0, 1048576, 1},
    {"max-frame-kb", FIELD(max_frame, AS_SIZE), 1, 16384, 1024},
    {"max-output-kb", FIELD(max_output, AS_SIZE), 1, 1048576, 1024},
    {"metrics-interval-s", FIELD(metrics_interval_us, AS_U64), 1, 3600, 1000000},
    {"metrics-retention-s", FIELD(metrics_retention_us, AS_U64), 0, 604800, 1000000},
};
#define N_NUM_OPTIONS (sizeof(num_options) / sizeof(num_options[0]))

static int set_number(mttd_config *cfg, const num_option *o, const char *arg)
{
        unsigned long v;
        if (!parse_number(arg, o->lo, o->hi, &v)) {
                fprintf(stderr, "mttd: --%s takes a number from %lu to %lu\n", o->name, o->lo,
                        o->hi);
                return -EINVAL;
        }
        char *field = (char *)cfg + o->offset;
        uint64_t value = (uint64_t)v * o->scale;
        switch (o->type) {
        case AS_UNSIGNED:
                *(unsigned *)field = (unsigned)value;
                break;
        case AS_U64:
                *(uint64_t *)field = value;
                break;
        case AS_SIZE:
                *(size_t *)field = (size_t)value;
                break;
        case AS_I64:
                *(int64_t *)field = (int64_t)value;
                break;
        }
        return 0;
}

static int parse_args(mttd *d, int argc, char **argv)
{
        enum { OPT_MEMINFO = 256, OPT_METRICS_FILE, OPT_NVML, OPT_NUMBER = 512 };
        enum { N_NAMED = 6 };
        static struct option opts[N_NUM_OPTIONS + N_NAMED + 1] = {
            {"socket", required_argument, NULL, 's'},
            {"meminfo", required_argument, NULL, OPT_MEMINFO},
            {"metrics-file", required_argument, NULL, OPT_METRICS_FILE},
            {"nvml", required_argument, NULL, OPT_NVML},
            {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, 'V'},
        };
        for (size_t i = 0; i < N_NUM_OPTIONS; i++)
                opts[N_NAMED + i] = (struct option){num_options[i].name, required_argument, NULL,
                                                    OPT_NUMBER + (int)i};
        int c;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":s:hV", opts, NULL)) != -1) {
                switch (c) {
                case 's':
                        d->cfg.socket_path = optarg;
                        break;
                case OPT_MEMINFO:
                        d->cfg.meminfo_path = optarg;
                        break;
                case OPT_METRICS_FILE:
                        if (!optarg[0]) {
                                fprintf(stderr, "mttd: --metrics-file needs a path\n");
                                return -EINVAL;
                        }
                        d->cfg.metrics_path = optarg;
                        break;
                case OPT_NVML:
                        d->cfg.nvml_path = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        exit(0);
                case 'V':
                        printf("mttd %s\n", MTT_VERSION);
                        exit(0);
                case ':':
                        fprintf(stderr, "mttd: option '%s' needs an argument\n", argv[optind - 1]);
                        return -EINVAL;
                default:
                        if (c >= OPT_NUMBER && c < OPT_NUMBER + (int)N_NUM_OPTIONS) {
                                if (set_number(&d->cfg, &num_options[c - OPT_NUMBER], optarg) < 0)
                                        return -EINVAL;
                                break;
                        }
                        fprintf(stderr, "mttd: unknown option '%s'\n", argv[optind - 1]);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "mttd: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        return 0;
}

/* Set across a re-exec when the socket passed is one mttd bound itself. */
#define BOUND_HERE "MTTD_BOUND_SOCKET"

/* The listening socket: systemd's if it passed one (or the last mttd's), else our own. The
 * other fds passed stay in d->passed, to be taken up. */
static int get_listener(mttd *d)
{
        int r = mttd_fdstore_received(&d->passed);
        if (r < 0) {
                mttd_log(LOG_ERR, "cannot take sockets from systemd: %s", strerror(-r));
                return r;
        }
        if (d->passed.n > 0) {
                /* The one named "varlink" (FileDescriptorName=), else a listening socket
                 * passed under another name. */
                int use = mttd_fdstore_take(&d->passed, MTTD_KEEP_LISTENER);
                if (use < 0)
                        use = mttd_fdstore_take_listener(&d->passed);
                if (use < 0 || sd_is_socket_unix(use, SOCK_STREAM, 1, NULL, 0) <= 0) {
                        mttd_log(LOG_ERR, "the socket systemd passed is not a listening "
                                          "UNIX stream socket");
                        if (use >= 0)
                                close(use);
                        return -EINVAL;
                }
                /* Its path, for the log; a socket this mttd's predecessor bound by hand is
                 * this one's to remove at exit. */
                struct sockaddr_un a;
                socklen_t len = sizeof(a);
                if (getsockname(use, (struct sockaddr *)&a, &len) == 0 && a.sun_family == AF_UNIX &&
                    len > offsetof(struct sockaddr_un, sun_path) && a.sun_path[0])
                        snprintf(d->socket_path, sizeof(d->socket_path), "%.*s",
                                 (int)(len - offsetof(struct sockaddr_un, sun_path)), a.sun_path);
                else
                        snprintf(d->socket_path, sizeof(d->socket_path), "a passed socket");
                d->passed_socket = true;
                d->bound_here = getenv(BOUND_HERE) != NULL;
                unsetenv(BOUND_HERE);
                return use;
        }
        if (d->cfg.socket_path)
                snprintf(d->socket_path, sizeof(d->socket_path), "%s", d->cfg.socket_path);
        else if (!mtt_proto_daemon_socket(d->socket_path, sizeof(d->socket_path))) {
                mttd_log(LOG_ERR, "the default socket path does not fit ($XDG_RUNTIME_DIR?)");
                return -ENAMETOOLONG;
        }
        const char *what = "";
        int fd = mttd_listen(d->socket_path, &what);
        if (fd < 0) {
                mttd_log(LOG_ERR, "%s: %s (%s)", d->socket_path, what, strerror(-fd));
                return fd;
        }
        d->bound_here = true;
        /* Under systemd without its socket unit, the socket is kept for the next mttd too. */
        if (mttd_keep_storing() && mttd_fdstore_push(MTTD_KEEP_LISTENER, fd) < 0)
                mttd_log(LOG_WARNING, "cannot keep the socket in systemd's store");
        return fd;
}

static void on_finished(void *ctx, mttd_session *s)
{
        mttd *d = ctx;
        if (d->server)
                mttd_server_session_finished(d->server, s);
        if (d->metrics) /* its ending is told */
                mttd_metrics_file_changed(d->metrics);
}

static void on_opened(void *ctx, mttd_session *s)
{
        mttd *d = ctx;
        if (d->server)
                mttd_server_session_opened(d->server, s);
}

static void on_written(void *ctx, mttd_session *s)
{
        mttd *d = ctx;
        if (d->server)
                mttd_server_session_written(d->server, s);
}

static void on_gpus_told(void *ctx)
{
        mttd *d = ctx;
        if (d->server)
                mttd_server_gpus_told(d->server);
}

static void on_running(void *ctx, unsigned running)
{
        mttd *d = ctx;
        mttd_notify_running(&d->notify, running);
        if (d->metrics) /* an Open or an end */
                mttd_metrics_file_changed(d->metrics);
}

/* The metrics file's text: every session in the table and mttd's own numbers now. */
static void render_metrics(void *ctx, mttd_prom *p)
{
        mttd *d = ctx;
        mttd_session_view view;
        mttd_tracker_view(d->tracker, &view);
        mttd_meminfo memory;
        bool have_memory = mttd_tracker_sample(d->tracker, &memory) == 0;
        mttd_metrics_facts f = {
            .version = MTT_VERSION,
            .started_wall_us = d->started_wall_us,
            .retention_us = d->cfg.metrics_retention_us,
            .view = &view,
            .stats = mttd_tracker_stats_of(d->tracker),
            .counts = mttd_tracker_counts_of(d->tracker),
            .running = mttd_tracker_running(d->tracker),
            .memory = have_memory ? &memory : NULL,
        };
        mttd_server_counts(d->server, &f.connections, &f.watchers);
        mttd_metrics_render(p, mttd_tracker_first(d->tracker), &f);
}

static void on_row(void *ctx, const mttd_session *s, uint64_t t_us, double ram_gib)
{
        mttd *d = ctx;
        if (d->server)
                mttd_server_row(d->server, s, t_us, ram_gib);
}

static void on_drained(void *ctx)
{
        mttd *d = ctx;
        if (mttd_tracker_handing_over(d->tracker)) {
                mttd_server_send_pending(d->server);
                int failed = mttd_tracker_keep_all(d->tracker);
                mttd_log(failed ? LOG_ERR : LOG_INFO,
                         "%u running session(s) kept for the next mttd%s",
                         mttd_tracker_running(d->tracker),
                         failed ? " (some states could not be written)" : "");
                if (d->reexec) {
                        if (d->bound_here)
                                setenv(BOUND_HERE, "1", 1);
                        int r = mttd_handover_exec(d->program, d->argv, d->tracker, d->server);
                        mttd_log(LOG_CRIT, "cannot pass the sessions on: %s", strerror(-r));
                        d->lost_sessions = true; /* exit 1: not a clean stop */
                }
        }
        ev_break(d->loop, EVBREAK_ALL);
}

/* Stops for good: every session ends, every report is flushed. */
static void stop(mttd *d, const char *why)
{
        mttd_log(LOG_INFO, "%s: flushing %u running session(s) and stopping", why,
                 mttd_tracker_running(d->tracker));
        mttd_notify_stopping(&d->notify);
        mttd_server_stop_accepting(d->server);
        mttd_tracker_shutdown(d->tracker);
}

/* Stops for a new mttd to take up the sessions and connections. */
static void hand_over(mttd *d, const char *why)
{
        mttd_log(LOG_INFO, "%s: handing %u running session(s) over to the next mttd", why,
                 mttd_tracker_running(d->tracker));
        if (!d->reexec)
                mttd_notify_stopping(&d->notify);
        mttd_server_hand_over(d->server);
        mttd_tracker_hand_over(d->tracker);
}

/* Under systemd a SIGTERM may be a restart's (systemctl restart, a package upgrade): the
 * unit's ExecStop= says so with SIGURG first, and the sessions go on in the next mttd, which
 * systemd starts with its file descriptor store. Else they end here. The choice is made at
 * the next loop iteration: both signals may come in one read, SIGTERM's handled first. */
static void on_stop_next(struct ev_loop *loop, ev_timer *w, int revents)
{
        mttd *d = w->data;
        if (d->stop_signum == SIGTERM && d->restarting)
                hand_over(d, "SIGTERM (a restart)");
        else
                stop(d, strsignal(d->stop_signum));
}

static void on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
        mttd *d = w->data;
        if (d->stopping)
                return;
        d->stopping = true;
        d->stop_signum = w->signum;
        ev_timer_start(loop, &d->stop_next);
}

static void on_restart_mark_expired(struct ev_loop *loop, ev_timer *w, int revents)
{
        mttd *d = w->data;
        d->restarting = false;
}

/* SIGURG: systemd restarts mttd (the unit's ExecStop=): a SIGTERM within the stop timeout
 * hands over. SIGURG, whose default action is to do nothing, so that an mttd from before
 * sessions outlived it, upgraded, is only stopped. */
static void on_restart_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
        mttd *d = w->data;
        if (!mttd_keep_storing() || d->stopping)
                return; /* nothing would keep the sessions (SIGUSR2 re-executes mttd) */
        d->restarting = true;
        ev_timer_stop(loop, &d->restart_mark);
        ev_timer_set(&d->restart_mark, (double)d->cfg.shutdown_timeout_us / 1e6 + 30., 0.);
        ev_timer_start(loop, &d->restart_mark);
        mttd_log(LOG_INFO, "systemd restarts mttd: its sessions go on in the next one");
}

/* SIGUSR2: mttd execs its program anew (an upgraded binary) and passes it every session. */
static void on_reexec_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
        mttd *d = w->data;
        if (d->stopping)
                return;
        int r = mttd_handover_program(d->program, sizeof(d->program));
        if (r < 0) {
                mttd_log(LOG_ERR, "SIGUSR2: cannot re-execute %s: %s", d->program, strerror(-r));
                return;
        }
        d->stopping = true;
        d->reexec = true;
        hand_over(d, "SIGUSR2");
}

/* Each session holds a report fd and each connection a socket: take every fd the hard limit
 * allows, and keep the connection and session limits within it. */
static void fit_fd_limit(mttd_config *cfg)
{
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return;
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
                getrlimit(RLIMIT_NOFILE, &rl);
        }
        /* Sessions may share connections, so each limit alone may take nearly every fd; a
         * daemon out of fds refuses and pauses (see server.c), it does not fail. */
        rlim_t room = rl.rlim_cur > 512 ? rl.rlim_cur - 256 : rl.rlim_cur / 2;
        /* A connection holds its socket and, once it opens sessions, one pidfd of its client
         * (shared by them); a session holds its report's fd and, under systemd, the memfd of
         * its kept state (keep.h). */
        rlim_t per_session = mttd_keep_storing() ? 2 : 1;
        if (cfg->max_connections > room / 2)
                cfg->max_connections = (unsigned)(room / 2);
        if (cfg->max_sessions > room / per_session)
                cfg->max_sessions = (unsigned)(room / per_session);
}

/* mttd has no configuration file: everything is on its command line. */
static void on_reload_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
        mttd_log(LOG_INFO, "SIGHUP: nothing to reload (options come from the command line)");
}

int main(int argc, char **argv)
{
        static mttd d;
        mttd_config_defaults(&d.cfg);
        if (parse_args(&d, argc, argv) < 0) {
                fprintf(stderr, "Try 'mttd --help'.\n");
                return EXIT_USAGE;
        }
        mttd_log_init();
        d.started_wall_us = mttd_wall_us();
        mttd_keep_init(getenv("NOTIFY_SOCKET") != NULL);
        d.argv = argv;
        fit_fd_limit(&d.cfg);
        /* A reader that leaves a report pipe must cost one session, not the daemon. */
        signal(SIGPIPE, SIG_IGN);

        int ret = 1;
        d.loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_SIGNALFD);
        if (!d.loop) {
                mttd_log(LOG_ERR, "cannot create the event loop");
                return 1;
        }
        const mttd_tracker_hooks hooks = {
            .finished = on_finished,
            .drained = on_drained,
            .opened = on_opened,
            .written = on_written,
            .running = on_running,
            .gpus_told = on_gpus_told,
            .row = {on_row, &d},
            .ctx = &d,
        };
        int r = mttd_tracker_new(d.loop, &d.cfg, &hooks, &d.tracker);
        if (r < 0) { /* what failed was logged where it did; this says mttd gives up */
                mttd_log(LOG_ERR, "cannot start tracking: %s", strerror(-r));
                goto out;
        }
        int fd = get_listener(&d);
        if (fd < 0)
                goto out;
        r = mttd_server_new(d.loop, &d.cfg, d.tracker, fd, &d.server);
        if (r < 0) {
                mttd_log(LOG_ERR, "cannot serve %s: %s", d.socket_path, strerror(-r));
                close(fd);
                goto out;
        }
        mttd_handover_adopt(&d.passed, d.tracker, d.server);
        mttd_fdstore_done(&d.passed); /* what nobody took up is closed */
        if (d.cfg.metrics_path) {
                r = mttd_metrics_file_new(d.loop, d.cfg.metrics_path, d.cfg.metrics_interval_us,
                                          render_metrics, &d, &d.metrics);
                if (r < 0) {
                        mttd_log(LOG_ERR, "metrics file %s: %s", d.cfg.metrics_path, strerror(-r));
                        goto out;
                }
        }
        ev_signal_init(&d.sigterm, on_stop_signal, SIGTERM);
        ev_signal_init(&d.sigint, on_stop_signal, SIGINT);
        d.sigterm.data = d.sigint.data = &d;
        ev_signal_start(d.loop, &d.sigterm);
        ev_signal_start(d.loop, &d.sigint);

        ev_signal_init(&d.sighup, on_reload_signal, SIGHUP);
        ev_signal_start(d.loop, &d.sighup);
        ev_timer_init(&d.stop_next, on_stop_next, 0., 0.);
        d.stop_next.data = &d;
        ev_timer_init(&d.restart_mark, on_restart_mark_expired, 0., 0.);
        d.restart_mark.data = &d;
        ev_signal_init(&d.sigurg, on_restart_signal, SIGURG);
        d.sigurg.data = &d;
        ev_signal_start(d.loop, &d.sigurg);
        ev_signal_init(&d.sigusr2, on_reexec_signal, SIGUSR2);
        d.sigusr2.data = &d;
        ev_signal_start(d.loop, &d.sigusr2);

        mttd_log(LOG_INFO, "mttd %s listening on %s%s", MTT_VERSION, d.socket_path,
                 !d.passed_socket ? ""
                 : d.bound_here   ? " (passed on by the mttd before)"
                                  : " (socket activation)");
        mttd_notify_start(&d.notify, d.loop, d.tracker, d.socket_path);
        ev_run(d.loop, 0);
        mttd_notify_done(&d.notify);
        ret = d.lost_sessions ? 1 : 0;
out:
        mttd_fdstore_done(&d.passed);
        /* Handed over, the socket stays: the next mttd serves it. */
        bool keep_socket = d.tracker && mttd_tracker_handing_over(d.tracker);
        /* After a stop the file says every session ended; handed over, the next mttd
         * writes it with the sessions going on. */
        mttd_metrics_file_free(d.metrics, !keep_socket);
        mttd_server_free(d.server);
        mttd_tracker_free(d.tracker);
        if (d.bound_here && !keep_socket)
                unlink(d.socket_path);
        ev_loop_destroy(d.loop);
        /* A thread the kernel still holds (in a read of a process whose memory map is locked,
         * a write to a file system whose server does not answer) is left behind: exit now,
         * without the atexit handlers, which could wait on it (a leak checker's stop of every
         * thread would wait for ever). The log said which and why. */
        unsigned stuck = mttd_pool_threads_left();
        if (stuck > 0) {
                mttd_log(LOG_WARNING, "exiting with %u thread%s still held by the kernel", stuck,
                         stuck == 1 ? "" : "s");
                fflush(NULL);
                _exit(ret);
        }
        return ret;
}
