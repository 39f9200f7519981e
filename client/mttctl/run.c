/* mttctl run: a command started under tracking, its end described in the session's words. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/procfs.h"
#include "mtt/client.h"
#include "mttctl.h"
#include "proto/ending.h"
#include "proto/interface.h"
#include "proto/text.h"

/* Waits for the child and reaps it. Meanwhile the system's OOM kill count is read again each
 * second, so that an OOM kill long before the child's death is not taken for its cause. */
static int wait_child(pid_t pid, mtt_procfs_oom_counts *oom_before)
{
        int status;
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        while (pidfd >= 0 && poll(&p, 1, 1000) <= 0)
                oom_before->system = mtt_procfs_oom_system(MTT_PROCFS_ROOT);
        if (pidfd >= 0)
                close(pidfd);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        return status;
}

static volatile sig_atomic_t child_pid;

static void forward_signal(int sig)
{
        if (child_pid > 0)
                kill((pid_t)child_pid, sig);
}

static bool parse_uint(const char *s, unsigned long max, uint32_t *out)
{
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || end == s || *end || s[0] == '-' || v == 0 || v > max)
                return false;
        *out = (uint32_t)v;
        return true;
}

/* The command line as one label: valid UTF-8 (other bytes become '?'), cut at a character
 * boundary to what the daemon accepts. */
static void default_label(char *buf, size_t size, char **cmd)
{
        size_t n = 0;
        for (char **a = cmd; *a; a++) {
                const unsigned char *p = (const unsigned char *)*a;
                if (a != cmd && n + 1 < size)
                        buf[n++] = ' ';
                while (*p) {
                        size_t k = mtt_proto_utf8_seq(p);
                        if (k == 0) {
                                if (n + 1 >= size)
                                        break;
                                buf[n++] = '?';
                                p++;
                                continue;
                        }
                        if (n + k >= size)
                                break;
                        memcpy(buf + n, p, k);
                        n += k;
                        p += k;
                }
        }
        buf[n] = '\0';
}

static void default_output(char *buf, size_t size, const char *cmd)
{
        const char *base = strrchr(cmd, '/');
        base = base ? base + 1 : cmd;
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", localtime_r(&now, &tm));
        snprintf(buf, size, "mtt-%.64s-%s-%d.csv", base, stamp, (int)getpid());
}

/* A child that will run cmd: forked now, held until released (so the session can be opened
 * on its pid before it runs a single instruction of cmd). */
typedef struct held_child {
        pid_t pid;
        int release;     /* a byte here lets it exec; closing it without one makes it give up */
        int exec_report; /* an exec failure's errno comes back here (close-on-exec) */
} held_child;

static int spawn_held(char **cmd, held_child *c)
{
        int hold[2], report[2];
        if (pipe2(hold, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(report, O_CLOEXEC) < 0) {
                int r = -errno;
                close(hold[0]);
                close(hold[1]);
                return r;
        }
        pid_t pid = fork();
        if (pid == 0) {
                close(hold[1]);
                close(report[0]);
                char go;
                if (read(hold[0], &go, 1) != 1)
                        _exit(MTTCTL_RUN_NO_TRACKING);
                signal(SIGINT, SIG_DFL);
                signal(SIGQUIT, SIG_DFL);
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                execvp(cmd[0], cmd);
                int e = errno;
                (void)!write(report[1], &e, sizeof(e));
                _exit(e == ENOENT ? MTTCTL_RUN_NOT_FOUND : MTTCTL_RUN_CANNOT_EXEC);
        }
        int r = pid < 0 ? -errno : 0;
        close(hold[0]);
        close(report[1]);
        *c = (held_child){.pid = pid, .release = hold[1], .exec_report = report[0]};
        if (r < 0) {
                close(hold[1]);
                close(report[0]);
        }
        return r;
}

/* Lets the child run cmd (go) or give up; returns the errno of a failed exec, or 0. */
static int release_child(held_child *c, bool go)
{
        if (go)
                (void)!write(c->release, "g", 1);
        close(c->release);
        int exec_errno = 0;
        ssize_t n;
        do
                n = read(c->exec_report, &exec_errno, sizeof(exec_errno));
        while (n < 0 && errno == EINTR);
        close(c->exec_report);
        return n == sizeof(exec_errno) ? exec_errno : 0;
}

/* A run: what its command line asks, then what became of the command. */
typedef struct run_job {
        mtt_options mo;
        const char *output;
        char **cmd;
        char label[257], out_buf[PATH_MAX]; /* the defaults, when not given */
        mtt_procfs_oom_counts oom_before;   /* from before the command ran */
        mtt_session *session;
        pid_t pid;
        int exec_errno; /* why the command could not run, or 0 */
        int status;     /* its wait status */
} run_job;

/* How the command ended, in the session's words and as mttctl's exit code. */
typedef struct run_end {
        mtt_outcome outcome;
        int code;
        char cause[128];
} run_end;

static int parse_scope(const char *s, mtt_scope *out)
{
        static const char *const names[] = {"system", "process", "cgroup"};
        for (int i = MTT_SCOPE_SYSTEM; i <= MTT_SCOPE_CGROUP; i++)
                if (strcmp(s, names[i]) == 0) {
                        *out = (mtt_scope)i;
                        return 0;
                }
        return -EINVAL;
}

/* run's command line into job. Returns 0, or -EINVAL once the usage error is printed. */
static int run_options(int argc, char **argv, run_job *job)
{
        enum { OPT_NO_CALIBRATE = 256, OPT_MIN, OPT_MAX, OPT_SCOPE, OPT_JOB };
        static const struct option opts[] = {
            {"output", required_argument, NULL, 'o'},
            {"label", required_argument, NULL, 'l'},
            {"job", required_argument, NULL, OPT_JOB},
            {"no-calibrate", no_argument, NULL, OPT_NO_CALIBRATE},
            {"min-interval-us", required_argument, NULL, OPT_MIN},
            {"max-interval-s", required_argument, NULL, OPT_MAX},
            {"scope", required_argument, NULL, OPT_SCOPE},
            {0},
        };
        mtt_options *mo = &job->mo;
        int c;
        while ((c = getopt_long(argc, argv, "+:o:l:", opts, NULL)) != -1) {
                switch (c) {
                case 'o':
                        job->output = optarg;
                        continue;
                case 'l':
                        mo->label = optarg;
                        continue;
                case OPT_JOB: /* the workload manager's; without it, the environment's */
                        if (!mtt_proto_job_unfit(optarg)) {
                                mo->job = optarg;
                                continue;
                        }
                        mttctl_usage_error("run: bad --job: %s", mtt_proto_job_unfit(optarg));
                        break;
                case OPT_NO_CALIBRATE:
                        mo->calibrate = MTT_CALIBRATE_OFF;
                        continue;
                case OPT_MIN:
                        if (parse_uint(optarg, 60000000, &mo->min_interval_us))
                                continue;
                        mttctl_usage_error("run: bad --min-interval-us '%s'", optarg);
                        break;
                case OPT_MAX:
                        if (parse_uint(optarg, 86400, &mo->max_interval_s))
                                continue;
                        mttctl_usage_error("run: bad --max-interval-s '%s'", optarg);
                        break;
                case OPT_SCOPE:
                        if (parse_scope(optarg, &mo->scope) == 0)
                                continue;
                        mttctl_usage_error("run: --scope takes system, process or cgroup");
                        break;
                case ':':
                        mttctl_usage_error("run: option '%s' needs an argument", argv[optind - 1]);
                        break;
                default:
                        mttctl_usage_error("run: unknown option '%s'", argv[optind - 1]);
                        break;
                }
                return -EINVAL; /* every case that gets here printed why */
        }
        if (optind >= argc) {
                mttctl_usage_error("run: no command given (mttctl run [OPTION]... -- CMD "
                                   "[ARG]...)");
                return -EINVAL;
        }
        job->cmd = argv + optind;
        if (!mo->label) {
                default_label(job->label, sizeof(job->label), job->cmd);
                mo->label = job->label;
        }
        if (!job->output) {
                default_output(job->out_buf, sizeof(job->out_buf), job->cmd[0]);
                job->output = job->out_buf;
        }
        return 0;
}

/* Tells "no daemon" from "no report file" before the file is touched. Returns 0, or -errno
 * once the error is printed. */
static int daemon_reachable(const mtt_options *mo)
{
        char path[PATH_MAX];
        mtt_proto_conn probe;
        int r = mtt_socket_path(mo, path, sizeof(path)) ? mtt_proto_conn_open(&probe, path)
                                                        : -ENAMETOOLONG;
        if (r < 0) {
                mttctl_unreachable(path, r);
                return r;
        }
        mtt_proto_conn_close(&probe);
        return 0;
}

/* Forks the command held, opens the session on it, then lets it run, with the signals
 * passed on to it. Returns 0, or -errno once the error is printed (no command ran). */
static int start_tracked(run_job *job)
{
        /* Like a shell running a foreground job: ^C and ^\ go to the child alone (the
         * terminal sends them to both), termination requests are passed on. */
        sigset_t block, old;
        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGHUP);
        sigprocmask(SIG_BLOCK, &block, &old);
        /* The command runs in our memory cgroup: its count tells an OOM kill. */
        mtt_procfs_oom_counts_of(MTT_PROCFS_ROOT, MTT_PROCFS_CGROUP_ROOT, getpid(),
                                 &job->oom_before);
        job->oom_before.system = mtt_procfs_oom_system(MTT_PROCFS_ROOT);
        /* The session opens on the held child (its pid for the process and cgroup scopes)
         * before the command runs. */
        held_child child = {.pid = -1};
        int r = spawn_held(job->cmd, &child);
        if (r < 0) {
                sigprocmask(SIG_SETMASK, &old, NULL);
                mttctl_error("cannot fork: %s", strerror(-r));
                return r;
        }
        if (job->mo.scope != MTT_SCOPE_SYSTEM)
                job->mo.pid = child.pid;
        r = mtt_open(job->output, &job->mo, &job->session);
        if (r < 0) {
                release_child(&child, false);
                waitpid(child.pid, NULL, 0);
                sigprocmask(SIG_SETMASK, &old, NULL);
                mttctl_error("cannot start tracking into %s: %s", job->output, strerror(-r));
                return r;
        }
        job->exec_errno = release_child(&child, true);
        job->pid = child.pid;
        child_pid = job->pid;
        struct sigaction fwd = {.sa_handler = forward_signal}, ign = {.sa_handler = SIG_IGN};
        sigaction(SIGTERM, &fwd, NULL);
        sigaction(SIGHUP, &fwd, NULL);
        sigaction(SIGINT, &ign, NULL);
        sigaction(SIGQUIT, &ign, NULL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        return 0;
}

/* How the command ended; a SIGKILL is the OOM killer's when an OOM kill count moved. */
static void describe_end(const run_job *job, run_end *end)
{
        if (job->exec_errno) {
                end->outcome = MTT_FAILED;
                end->code =
                    job->exec_errno == ENOENT ? MTTCTL_RUN_NOT_FOUND : MTTCTL_RUN_CANNOT_EXEC;
                snprintf(end->cause, sizeof(end->cause), "cannot execute %s: %s", job->cmd[0],
                         strerror(job->exec_errno));
                mttctl_error("%s", end->cause);
        } else if (WIFEXITED(job->status)) {
                end->code = WEXITSTATUS(job->status);
                end->outcome = end->code == 0 ? MTT_COMPLETED : MTT_FAILED;
                mtt_proto_describe_exit(job->status, false, end->cause, sizeof(end->cause));
        } else {
                end->code = 128 + WTERMSIG(job->status);
                end->outcome = MTT_CRASHED;
                mtt_procfs_oom_counts oom_after;
                mtt_procfs_oom_counts_again(MTT_PROCFS_ROOT, &job->oom_before, &oom_after);
                mtt_proto_describe_exit(job->status,
                                        mtt_procfs_oom_killed(&job->oom_before, &oom_after),
                                        end->cause, sizeof(end->cause));
        }
}

/* Why a session's Close failed: the cause mttd gives it (a restarted mttd that could not
 * resume it says why), else the errno's words. */
static const char *why_in_error(uint64_t id, int err)
{
        static char why[MTT_PROTO_CAUSE_MAX + 1];
        snprintf(why, sizeof(why), "%s", strerror(-err));
        if (err != -EIO)
                return why;
        json_t *p = mttctl_call(MTT_PROTO_METHOD_STATUS, json_pack("{s:I}", "id", (json_int_t)id));
        const char *cause =
            json_string_value(json_object_get(json_object_get(p, "session"), "cause"));
        if (cause) {
                snprintf(why, sizeof(why), "%s", cause);
                mtt_proto_printable(why);
        }
        json_decref(p);
        return why;
}

/* Closes the session with the end's cause and says where the report is. */
static void close_and_say(run_job *job, const run_end *end)
{
        static const char *const names[] = {"completed", "failed", "crashed"};
        uint64_t id = mtt_session_id(job->session);
        int r = mtt_close_with_cause(job->session, end->outcome, end->cause);
        job->session = NULL;
        if (r < 0)
                mttctl_error("session %llu: the report %s may be incomplete: %s",
                             (unsigned long long)id, job->output, why_in_error(id, r));
        else
                fprintf(stderr, "mttctl: session %llu %s (%s); report: %s\n",
                        (unsigned long long)id, names[end->outcome], end->cause, job->output);
}

int mttctl_run(int argc, char **argv)
{
        run_job job = {.mo = {.socket_path = mttctl_socket}};
        if (run_options(argc, argv, &job) < 0)
                return MTTCTL_USAGE;
        if (daemon_reachable(&job.mo) < 0 || start_tracked(&job) < 0)
                return MTTCTL_RUN_NO_TRACKING;
        job.status = wait_child(job.pid, &job.oom_before);
        child_pid = 0; /* reaped: its pid may be anyone's now */
        run_end end;
        describe_end(&job, &end);
        close_and_say(&job, &end);
        return end.code;
}
