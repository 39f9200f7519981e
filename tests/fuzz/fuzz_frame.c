/* libFuzzer target: the varlink input path. The first byte picks a chunk size (1 to 143, as
 * systemd's own fuzzer splits writes), the rest is fed in chunks of that size, every whole
 * frame is parsed as a call and its parameters run through a field table. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "proto/frame.h"
#include "proto/message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        size_t chunk = (size_t)data[0] % 143 + 1;
        data++;
        size--;
        mtt_proto_inbuf in;
        mtt_proto_inbuf_init(&in, 4096);
        struct {
                int64_t id;
                const char *outcome;
                bool flag;
                double number;
        } p;
        static const mtt_proto_field fields[] = {
            {"id", MTT_PROTO_INT, true, offsetof(typeof(p), id)},
            {"outcome", MTT_PROTO_STRING, false, offsetof(typeof(p), outcome)},
            {"flag", MTT_PROTO_BOOL, false, offsetof(typeof(p), flag)},
            {"number", MTT_PROTO_NUMBER, false, offsetof(typeof(p), number)},
            {0},
        };
        for (size_t off = 0; off < size; off += chunk) {
                size_t n = size - off < chunk ? size - off : chunk;
                if (mtt_proto_inbuf_feed(&in, data + off, n, NULL, 0) < 0)
                        break;
                mtt_proto_frame f;
                int r;
                while ((r = mtt_proto_inbuf_next(&in, &f)) == 0) {
                        mtt_proto_call call;
                        const char *why, *bad;
                        if (mtt_proto_call_parse(f.data, f.len, &call, &why) == 0) {
                                mtt_proto_params_parse(call.parameters, fields, &p, &bad);
                                mtt_proto_call_done(&call);
                        }
                        mtt_proto_reply reply;
                        if (mtt_proto_reply_parse(f.data, f.len, &reply) == 0)
                                mtt_proto_reply_done(&reply);
                }
                if (r != -EAGAIN)
                        break;
        }
        mtt_proto_inbuf_free(&in);
        return 0;
}
