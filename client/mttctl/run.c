/* mttctl run: a command started under tracking, its end described in the session's words. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* path with its directory resolved (links, "..", "./"): false if that cannot be. */
static bool resolved(const char *path, char out[PATH_MAX])
{
        char d[PATH_MAX], b[PATH_MAX], dir[PATH_MAX];
        if (snprintf(d, sizeof(d), "%s", path) >= (int)sizeof(d) || !realpath(dirname(d), dir))
                return false;
        snprintf(b, sizeof(b), "%s", path);
        return snprintf(out, PATH_MAX, "%s/%s", dir, basename(b)) < PATH_MAX;
}

/* Whether two paths name one file, however spelt: one inode where both exist, one place
 * where neither does. */
static bool same_file(const char *a, const char *b)
{
        struct stat sa, sb;
        bool has_a = stat(a, &sa) == 0, has_b = stat(b, &sb) == 0;
        if (has_a && has_b)
                return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
        if (has_a || has_b)
                return false;
        char ra[PATH_MAX], rb[PATH_MAX];
        return resolved(a, ra) && resolved(b, rb) ? strcmp(ra, rb) == 0 : strcmp(a, b) == 0;
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
                /* Its signals as mttctl got them (forked before mttctl ignores ^C): a
                 * command that a script runs in the background keeps ignoring SIGINT. */
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

/* Lets the child run cmd (go) or give up; returns the errno of a failed exec, or 0. A child
 * killed while held is no SIGPIPE of mttctl's: its end is told as any command's. */
static int release_child(held_child *c, bool go)
{
        if (go) {
                sigset_t pipe_sig, old;
                sigemptyset(&pipe_sig);
                sigaddset(&pipe_sig, SIGPIPE);
                sigprocmask(SIG_BLOCK, &pipe_sig, &old);
                if (write(c->release, "g", 1) < 0 && errno == EPIPE) {
                        const struct timespec now = {0, 0};
                        sigtimedwait(&pipe_sig, NULL, &now); /* the SIGPIPE it raised */
                }
                sigprocmask(SIG_SETMASK, &old, NULL);
        }
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
        const char *gpu_output; /* --gpu-output: a second session, of the gpu scope; or NULL */
        char **cmd;
        char label[257], out_buf[PATH_MAX]; /* the defaults, when not given */
        mtt_procfs_oom_counts oom_before;   /* from before the command ran */
        mtt_session *session, *gpu_session;
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

/* --scope's name, as the protocol spells the scopes (mtt_scope counts them in its order). */
static int parse_scope(const char *s, mtt_scope *out)
{
        int i = mtt_proto_scope_of(s);
        if (i < 0)
                return i;
        *out = (mtt_scope)i;
        return 0;
}

/* --gpu N: NVML's index of a GPU, as the gpu_device option carries it. */
static bool parse_gpu(const char *s, int32_t *gpu_device)
{
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || s[0] < '0' || s[0] > '9' || v > MTT_PROTO_GPU_INDEX_MAX)
                return false;
        *gpu_device = MTT_GPU_DEVICE((int32_t)v);
        return true;
}

static void run_usage(FILE *f)
{
        fputs("Usage: mttctl run [OPTION]... -- CMD [ARG]...\n"
              "Runs CMD under tracking: a report of its memory over time, completed when it\n"
              "exits 0, failed for another exit, crashed when a signal kills it. Exits with\n"
              "CMD's status (128+N for signal N); 125 when tracking could not start, 126 or\n"
              "127 when CMD could not run.\n"
              "\n"
              "  -o, --output FILE        the report (default: mtt-CMD-DATE-TIME-PID.csv)\n"
              "  -l, --label LABEL        the session's label, at most 256 bytes (default:\n"
              "                           the command line)\n"
              "      --job JOB            the workload manager's job (default: the one the\n"
              "                           environment names: Slurm, PBS, LSF, SGE; '' none)\n"
              "      --no-calibrate       raw used memory, no baseline subtracted\n"
              "      --min-interval-us N  the finest row interval (100 to 60000000)\n"
              "      --max-interval-s N   the coarsest row interval (1 to 86400)\n"
              "      --scope SCOPE        what is measured: system (the machine, the default),\n"
              "                           process (CMD and its descendants), cgroup (its\n"
              "                           memory cgroup), gpu (what CMD and its descendants\n"
              "                           hold on NVIDIA GPUs) or gpu-device (the memory used\n"
              "                           on the NVIDIA GPUs)\n"
              "      --gpu N              with --scope gpu-device: NVIDIA GPU N alone (NVML's\n"
              "                           index, as nvidia-smi shows it; default: every GPU)\n"
              "      --gpu-output FILE    a second report, of what CMD and its descendants\n"
              "                           hold on NVIDIA GPUs (the gpu scope), beside -o's\n"
              "  -h, --help               show this help\n",
              f);
}

/* run's command line into job. Returns 0, 1 once --help is answered, or -EINVAL once the
 * usage error is printed. */
static int run_options(int argc, char **argv, run_job *job)
{
        enum { OPT_NO_CALIBRATE = 256, OPT_MIN, OPT_MAX, OPT_SCOPE, OPT_JOB, OPT_GPU, OPT_GPU_OUT };
        static const struct option opts[] = {
            {"output", required_argument, NULL, 'o'},
            {"label", required_argument, NULL, 'l'},
            {"job", required_argument, NULL, OPT_JOB},
            {"no-calibrate", no_argument, NULL, OPT_NO_CALIBRATE},
            {"min-interval-us", required_argument, NULL, OPT_MIN},
            {"max-interval-s", required_argument, NULL, OPT_MAX},
            {"scope", required_argument, NULL, OPT_SCOPE},
            {"gpu", required_argument, NULL, OPT_GPU},
            {"gpu-output", required_argument, NULL, OPT_GPU_OUT},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        mtt_options *mo = &job->mo;
        int c;
        while ((c = getopt_long(argc, argv, "+:o:l:h", opts, NULL)) != -1) {
                switch (c) {
                case 'h':
                        run_usage(stdout);
                        return 1;
                case 'o':
                        job->output = optarg;
                        continue;
                case OPT_GPU_OUT:
                        job->gpu_output = optarg;
                        continue;
                case OPT_GPU:
                        if (parse_gpu(optarg, &mo->gpu_device))
                                continue;
                        mttctl_usage_error("run: bad --gpu '%s' (a GPU's index, 0 to %d)", optarg,
                                           MTT_PROTO_GPU_INDEX_MAX);
                        break;
                case 'l':
                        if (strlen(optarg) > MTT_PROTO_LABEL_MAX)
                                mttctl_usage_error("run: bad --label: longer than %d bytes",
                                                   MTT_PROTO_LABEL_MAX);
                        else if (!mtt_proto_utf8_valid(optarg))
                                mttctl_usage_error("run: bad --label: not UTF-8");
                        else {
                                mo->label = optarg;
                                continue;
                        }
                        break;
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
                        if (parse_uint(optarg, MTT_PROTO_MIN_INTERVAL_US_HI,
                                       &mo->min_interval_us) &&
                            mo->min_interval_us >= MTT_PROTO_MIN_INTERVAL_US_LO)
                                continue;
                        mttctl_usage_error("run: bad --min-interval-us '%s' (%d to %d)", optarg,
                                           MTT_PROTO_MIN_INTERVAL_US_LO,
                                           MTT_PROTO_MIN_INTERVAL_US_HI);
                        break;
                case OPT_MAX:
                        if (parse_uint(optarg, MTT_PROTO_MAX_INTERVAL_S_HI, &mo->max_interval_s))
                                continue;
                        mttctl_usage_error("run: bad --max-interval-s '%s' (%d to %d)", optarg,
                                           MTT_PROTO_MAX_INTERVAL_S_LO,
                                           MTT_PROTO_MAX_INTERVAL_S_HI);
                        break;
                case OPT_SCOPE:
                        if (parse_scope(optarg, &mo->scope) == 0)
                                continue;
                        mttctl_usage_error("run: --scope takes " MTT_PROTO_SCOPE_SYSTEM
                                           ", " MTT_PROTO_SCOPE_PROCESS ", " MTT_PROTO_SCOPE_CGROUP
                                           ", " MTT_PROTO_SCOPE_GPU
                                           " or " MTT_PROTO_SCOPE_GPU_DEVICE);
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
        if (mo->max_interval_s && mo->min_interval_us &&
            (uint64_t)mo->max_interval_s * 1000000 < mo->min_interval_us) {
                mttctl_usage_error("run: --max-interval-s is below --min-interval-us");
                return -EINVAL;
        }
        if (mo->gpu_device && mo->scope != MTT_SCOPE_GPU_DEVICE) {
                mttctl_usage_error("run: --gpu is for --scope " MTT_PROTO_SCOPE_GPU_DEVICE);
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
        if (job->gpu_output && same_file(job->gpu_output, job->output)) {
                mttctl_usage_error("run: --gpu-output and -o name the same file");
                return -EINVAL;
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

/* "0, 1, 2": the indices of a Sample's GPUs. */
static void gpu_indices(json_t *gpus, char *buf, size_t size)
{
        size_t i, n = 0;
        json_t *g;
        buf[0] = '\0';
        json_array_foreach(gpus, i, g)
        {
                int k = snprintf(buf + n, size - n, "%s%lld", i ? ", " : "",
                                 (long long)json_integer_value(json_object_get(g, "index")));
                if (k < 0 || (size_t)k >= size - n)
                        return;
                n += (size_t)k;
        }
}

/* Why mttd cannot track GPU memory (an Open answered GpuUnavailable), in the words of its
 * Sample: why it reads no GPU (no NVML library, no device), which GPUs it has when gpu
 * (NVML's index, or -1 for all) is not one of them, or that GPU's error. */
static void say_no_gpu(int gpu)
{
        json_t *p = mttctl_call(MTT_PROTO_METHOD_SAMPLE, NULL);
        json_t *gpus = json_object_get(p, "gpus"), *g, *one = NULL;
        size_t i, n = json_array_size(gpus);
        json_array_foreach(gpus, i, g)
        {
                if (json_integer_value(json_object_get(g, "index")) == gpu)
                        one = g;
        }
        const char *gpu_error = json_string_value(json_object_get(p, "gpu_error"));
        const char *one_error = json_string_value(json_object_get(one, "error"));
        char why[512], list[256];
        if (!p)
                snprintf(why, sizeof(why), "mttd cannot read NVIDIA GPUs");
        else if (n == 0)
                snprintf(why, sizeof(why), "%s", gpu_error ? gpu_error : "mttd sees no NVIDIA GPU");
        else if (gpu >= 0 && !one) {
                gpu_indices(gpus, list, sizeof(list));
                snprintf(why, sizeof(why), "no GPU %d: mttd sees %zu NVIDIA GPU%s (%s %s)", gpu, n,
                         n == 1 ? "" : "s", n == 1 ? "index" : "indices", list);
        } else if (one_error)
                snprintf(why, sizeof(why), "GPU %d: %s", gpu, one_error);
        else
                snprintf(why, sizeof(why), "mttd cannot read NVIDIA GPUs (see mttctl sample)");
        mtt_proto_printable(why);
        mttctl_error("cannot track GPU memory: %s", why);
        json_decref(p);
}

/* Opens a session of mo into path, on the held child where the scope measures a process.
 * Returns 0, or -errno once the error is printed. */
static int open_on_child(const char *path, mtt_options *mo, pid_t child, mtt_session **out)
{
        bool gpu = mo->scope == MTT_SCOPE_GPU || mo->scope == MTT_SCOPE_GPU_DEVICE;
        if (mo->scope == MTT_SCOPE_PROCESS || mo->scope == MTT_SCOPE_CGROUP ||
            mo->scope == MTT_SCOPE_GPU)
                mo->pid = child;
        int r = mtt_open(path, mo, out);
        if (r == -ENODEV && gpu)
                say_no_gpu(mo->gpu_device - 1);
        else if (r == -EUSERS)
                mttctl_error("cannot start tracking into %s: mttd is at its limit of sessions "
                             "(of a user, or in all) or of connections",
                             path);
        else if (r == -EBADF)
                mttctl_error("cannot start tracking into %s: mttd writes reports into a regular "
                             "file on a real file system, a pipe or a character device only",
                             path);
        else if (r < 0)
                mttctl_error("cannot start tracking into %s: %s", path, strerror(-r));
        return r;
}

/* The sessions of a run on the held child: --gpu-output's first (where a GPU is missing,
 * the main report is not touched), then -o's. Returns 0, or -errno once the error is printed,
 * with no session left open. */
static int open_sessions(run_job *job, pid_t child)
{
        if (job->gpu_output) {
                mtt_options gmo = job->mo;
                gmo.scope = MTT_SCOPE_GPU;
                gmo.gpu_device = 0;
                int r = open_on_child(job->gpu_output, &gmo, child, &job->gpu_session);
                if (r < 0)
                        return r;
        }
        int r = open_on_child(job->output, &job->mo, child, &job->session);
        if (r < 0 && job->gpu_session) {
                /* The command never ran: its GPU report says so, as a failure. */
                mtt_close_with_cause(job->gpu_session, MTT_FAILED,
                                     "not run: the other report could not start");
                job->gpu_session = NULL;
        }
        return r;
}

/* Forks the command held, opens the sessions on it, then lets it run, with the signals
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
        /* The sessions open on the held child (its pid for the process, cgroup and gpu
         * scopes) before the command runs. */
        held_child child = {.pid = -1};
        int r = spawn_held(job->cmd, &child);
        if (r < 0) {
                sigprocmask(SIG_SETMASK, &old, NULL);
                mttctl_error("cannot fork: %s", strerror(-r));
                return r;
        }
        r = open_sessions(job, child.pid);
        if (r < 0) {
                release_child(&child, false);
                waitpid(child.pid, NULL, 0);
                sigprocmask(SIG_SETMASK, &old, NULL);
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

/* Closes a session with the end's cause. Returns true, or false once it said that the
 * report may be incomplete, and why. */
static bool close_one(mtt_session **s, const char *path, const run_end *end)
{
        uint64_t id = mtt_session_id(*s);
        int r = mtt_close_with_cause(*s, end->outcome, end->cause);
        *s = NULL;
        if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN) /* no handover kept it */
                mttctl_error("session %llu: mttd closed the connection before the command "
                             "ended (it stopped, or crashed): the report %s has no ending (it "
                             "reads as crashed ungracefully) and may lack its last rows",
                             (unsigned long long)id, path);
        else if (r < 0)
                mttctl_error("session %llu: the report %s may be incomplete: %s",
                             (unsigned long long)id, path, why_in_error(id, r));
        return r == 0;
}

/* Closes the sessions with the end's cause, the same for both, and says where the reports
 * are: "session 7 completed (exited with status 0); report: run.csv; GPU report: gpu.csv
 * (session 8)". */
static void close_and_say(run_job *job, const run_end *end)
{
        static const char *const names[] = {"completed", "failed", "crashed"};
        uint64_t id = mtt_session_id(job->session), gpu_id = mtt_session_id(job->gpu_session);
        bool gpu = job->gpu_session != NULL;
        bool ok = close_one(&job->session, job->output, end);
        bool gpu_ok = gpu && close_one(&job->gpu_session, job->gpu_output, end);
        if (ok)
                fprintf(stderr, "mttctl: session %llu %s (%s); report: %s", (unsigned long long)id,
                        names[end->outcome], end->cause, job->output);
        else if (gpu_ok)
                fprintf(stderr, "mttctl: session %llu %s (%s)", (unsigned long long)gpu_id,
                        names[end->outcome], end->cause);
        if (gpu_ok)
                fprintf(stderr, "; GPU report: %s (session %llu)", job->gpu_output,
                        (unsigned long long)gpu_id);
        if (ok || gpu_ok)
                fputc('\n', stderr);
}

int mttctl_run(int argc, char **argv)
{
        run_job job = {.mo = {.socket_path = mttctl_socket}};
        int r = run_options(argc, argv, &job);
        if (r != 0)
                return r > 0 ? MTTCTL_OK : MTTCTL_USAGE;
        if (daemon_reachable(&job.mo) < 0 || start_tracked(&job) < 0)
                return MTTCTL_RUN_NO_TRACKING;
        job.status = wait_child(job.pid, &job.oom_before);
        child_pid = 0; /* reaped: its pid may be anyone's now */
        run_end end;
        describe_end(&job, &end);
        close_and_say(&job, &end);
        return end.code;
}
