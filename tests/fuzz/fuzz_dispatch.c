/* libFuzzer target: request dispatch against a real tracker (a fake meminfo file, no
 * socket). Each input is one call; when its first byte is odd, a /dev/null fd comes with
 * it, so Open can really open sessions, which the fake connection's hangup then ends. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "methods.h"
#include "peer.h"
#include "proto/frame.h"
#include "tracker.h"

static struct ev_loop *loop;
static mttd_tracker *tracker;
static mttd_config cfg;
static mttd_owner conn;          /* stands for a connection */
static struct mttd_peer *client; /* ... and its client process */

static void on_finished(void *ctx, mttd_session *s)
{
}

static void on_drained(void *ctx)
{
}

static void on_opened(void *ctx, mttd_session *s)
{
}

static void on_written(void *ctx, mttd_session *s)
{
}

static void on_row(void *ctx, const mttd_session *s, uint64_t t_us, double ram_gib)
{
}

static void setup(void)
{
        static char path[] = "/tmp/mtt-fuzz-meminfo-XXXXXX";
        int fd = mkstemp(path);
        static const char text[] = "MemTotal: 16000000 kB\nMemFree: 8000000 kB\n"
                                   "Buffers: 1000 kB\nCached: 2000 kB\nSlab: 3000 kB\n";
        if (fd < 0 || write(fd, text, sizeof(text) - 1) < 0)
                abort();
        close(fd);
        mttd_config_defaults(&cfg);
        cfg.meminfo_path = path;
        loop = ev_default_loop(0);
        static const mttd_tracker_hooks hooks = {
            .finished = on_finished,
            .drained = on_drained,
            .opened = on_opened,
            .written = on_written,
            .row = {on_row, NULL},
        };
        if (mttd_tracker_new(loop, &cfg, &hooks, &tracker) < 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (!tracker)
                setup();
        if (size < 1)
                return 0;
        bool with_fd = data[0] & 1;
        mtt_proto_inbuf in;
        mtt_proto_inbuf_init(&in, 64 * 1024);
        int fd = with_fd ? open("/dev/null", O_WRONLY | O_CLOEXEC) : -1;
        char *msg = malloc(size);
        memcpy(msg, data + 1, size - 1);
        msg[size - 1] = '\0';
        mtt_proto_inbuf_feed(&in, msg, size, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);
        free(msg);
        mtt_proto_frame f;
        if (mtt_proto_inbuf_next(&in, &f) == 0) {
                mtt_proto_call call;
                const char *why;
                if (mtt_proto_call_parse(f.data, f.len, &call, &why) == 0) {
                        struct ucred peer = {.pid = getpid(), .uid = data[0] & 2 ? 0 : 1000};
                        mttd_request req = {.tracker = tracker,
                                            .call = &call,
                                            .frame = &f,
                                            .peer = &peer,
                                            .owner = &conn,
                                            .client = &client,
                                            .conn_fd = -1};
                        json_decref(mttd_methods_dispatch(&req));
                        mtt_proto_call_done(&call);
                }
        }
        mtt_proto_inbuf_free(&in);
        /* The connection goes: its sessions end; the writers' replies come back. */
        mttd_tracker_hangup(tracker, &conn);
        mttd_peer_unref(client);
        client = NULL;
        ev_run(loop, EVRUN_NOWAIT);
        return 0;
}
