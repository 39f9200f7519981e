/* mttctl: the shell tool for mtt. Parses the command and hands it to its function. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mtt-version.h"
#include "mtt/client.h"
#include "mttctl.h"
#include "proto/interface.h"

const char *mttctl_socket;

static void usage(FILE *f)
{
        fputs("Usage: mttctl [--socket PATH] COMMAND [ARG]...\n"
              "Lists, inspects and watches mtt tracking sessions, tracks commands, checks\n"
              "and plots reports.\n"
              "\n"
              "Commands:\n"
              "  list [--json]                  sessions: running and recently ended\n"
              "  status ID [--json]             one session in full\n"
              "  run [-o FILE] [-l LABEL] [--job JOB] [--no-calibrate] [--min-interval-us N]\n"
              "      [--max-interval-s N] [--scope " MTT_PROTO_SCOPE_SYSTEM
              "|" MTT_PROTO_SCOPE_PROCESS "|" MTT_PROTO_SCOPE_CGROUP "|" MTT_PROTO_SCOPE_GPU
              "|" MTT_PROTO_SCOPE_GPU_DEVICE "]\n"
              "      [--gpu N] [--gpu-output FILE] -- CMD [ARG]...\n"
              "                                 track a command; exits with its status\n"
              "                                 (128+N when killed by signal N); the job is\n"
              "                                 the workload manager's (Slurm, PBS, LSF or\n"
              "                                 SGE) from the environment unless --job names\n"
              "                                 one ('' for none); --gpu-output FILE adds\n"
              "                                 a report of its NVIDIA GPU memory; see\n"
              "                                 'mttctl run --help'\n"
              "  check FILE... [--json]         each report's verdict; exit 0 only if all\n"
              "                                 completed\n"
              "  plot FILE... -o OUT.png|svg|pdf [--linear] [--title T] [--size WxH]\n"
              "                                 memory over time, one line per report\n"
              "  sample [--json]                the current memory reading\n"
              "  watch [ID] [--json]            follow a session's rows as they are made\n"
              "                                 (without ID: every session of yours)\n"
              "  help [COMMAND]                 this help, or COMMAND's own (as COMMAND --help)\n"
              "\n"
              "Options:\n"
              "  -s, --socket PATH   mttd's socket (default: $MTT_SOCKET, then\n"
              "                      $XDG_RUNTIME_DIR/mtt/io.mtt.Tracker if it exists, then\n"
              "                      /run/mtt/io.mtt.Tracker)\n"
              "  -h, --help          show this help\n"
              "  -V, --version       show the version\n"
              "\n"
              "Each command takes -h, --help for its own usage.\n"
              "Exit status: 0 on success, 1 on failure, 2 for bad usage; see 'run' above.\n",
              f);
}

void mttctl_error(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fputs("mttctl: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}

int mttctl_usage_error(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fputs("mttctl: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputs("\nUsage: mttctl [--socket PATH] list|status|run|check|plot|sample|watch|help "
              "[ARG]...\n"
              "Try 'mttctl --help' for more.\n",
              stderr);
        va_end(ap);
        return MTTCTL_USAGE;
}

void mttctl_unreachable(const char *path, int err)
{
        mttctl_error("cannot reach mttd at %s: %s", path, strerror(-err));
        fprintf(stderr, "Start it with 'systemctl start mttd' (or 'systemctl --user start mttd'), "
                        "or run 'mttd --socket PATH'\nand point mttctl at it with --socket PATH or "
                        "MTT_SOCKET=PATH.\n");
}

int mttctl_connect(mtt_proto_conn *c)
{
        char path[PATH_MAX];
        mtt_options opts = {.socket_path = mttctl_socket};
        c->fd = -1;
        if (!mtt_socket_path(&opts, path, sizeof(path))) {
                mttctl_error("socket path too long");
                return -ENAMETOOLONG;
        }
        int r = mtt_proto_conn_open(c, path);
        if (r < 0) {
                mttctl_unreachable(path, r);
                mtt_proto_conn_close(c);
        }
        return r;
}

void mttctl_reply_error(const mtt_proto_reply *reply)
{
        const char *reason = json_string_value(json_object_get(reply->parameters, "reason"));
        json_t *id = json_object_get(reply->parameters, "id");
        if (strcmp(reply->error, MTT_PROTO_ERROR_NO_SUCH_SESSION) == 0)
                mttctl_error("no session %lld", (long long)json_integer_value(id));
        else if (strcmp(reply->error, MTT_PROTO_ERROR_PERMISSION_DENIED) == 0)
                mttctl_error("session %lld belongs to another user",
                             (long long)json_integer_value(id));
        else
                mttctl_error("mttd answered %s%s%s", reply->error, reason ? ": " : "",
                             reason ? reason : "");
}

json_t *mttctl_call(const char *method, json_t *params)
{
        mtt_proto_conn c;
        if (mttctl_connect(&c) < 0) {
                json_decref(params);
                return NULL;
        }
        mtt_proto_reply reply;
        int r = mtt_proto_conn_call(&c, method, params, NULL, 0, 30000, &reply);
        mtt_proto_conn_close(&c);
        if (r < 0) {
                mttctl_error("no answer from mttd: %s", strerror(-r));
                return NULL;
        }
        if (reply.error) {
                mttctl_reply_error(&reply);
                mtt_proto_reply_done(&reply);
                return NULL;
        }
        json_t *p = json_incref(reply.parameters);
        mtt_proto_reply_done(&reply);
        return p;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
            {"socket", required_argument, NULL, 's'},
            {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, 'V'},
            {0},
        };
        static const struct {
                const char *name;
                int (*fn)(int, char **);
        } commands[] = {
            {"list", mttctl_list},   {"status", mttctl_status}, {"run", mttctl_run},
            {"check", mttctl_check}, {"sample", mttctl_sample}, {"watch", mttctl_watch},
            {"plot", mttctl_plot},
        };
        int c;
        opterr = 0;
        /* "+": stop at the command, whose own options come after it. */
        while ((c = getopt_long(argc, argv, "+:s:hV", opts, NULL)) != -1) {
                switch (c) {
                case 's':
                        mttctl_socket = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return MTTCTL_OK;
                case 'V':
                        printf("mttctl %s\n", MTT_VERSION);
                        return MTTCTL_OK;
                case ':':
                        return mttctl_usage_error("option '%s' needs an argument",
                                                  argv[optind - 1]);
                default:
                        return mttctl_usage_error("unknown option '%s'", argv[optind - 1]);
                }
        }
        if (optind >= argc)
                return mttctl_usage_error("no command given");
        /* Each command parses its own arguments, argv[0] being its name. */
        const char *name = argv[optind];
        int sub_argc = argc - optind;
        char **sub_argv = argv + optind;
        /* "help COMMAND" is "COMMAND --help"; "help" alone, this help. */
        char help_opt[] = "--help";
        char *help_argv[] = {NULL, help_opt, NULL};
        if (strcmp(name, "help") == 0) {
                if (sub_argc == 1) {
                        usage(stdout);
                        return MTTCTL_OK;
                }
                if (sub_argc > 2)
                        return mttctl_usage_error("help: takes at most one command");
                name = help_argv[0] = sub_argv[1];
                sub_argc = 2;
                sub_argv = help_argv;
        }
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
                if (strcmp(commands[i].name, name) == 0) {
                        optind = 0; /* getopt starts over */
                        return commands[i].fn(sub_argc, sub_argv);
                }
        }
        return mttctl_usage_error("unknown command '%s'", name);
}
