/* Varlink message codec on top of jansson. */
#include "message.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Deeply nested input is hostile, not useful: jansson's own depth limit applies
 * (JSON_PARSER_MAX_DEPTH), and frames are capped before they get here. */
static json_t *parse_object(const char *frame, size_t len)
{
        json_error_t err;
        json_t *msg = json_loadb(frame, len, JSON_REJECT_DUPLICATES, &err);
        if (msg && !json_is_object(msg)) {
                json_decref(msg);
                return NULL;
        }
        return msg;
}

/* Missing, null and {} parameters are all the empty object. */
static json_t *object_parameters(json_t *msg, bool *ok)
{
        json_t *p = json_object_get(msg, "parameters");
        *ok = true;
        if (!p || json_is_null(p)) {
                p = json_object();
                if (!p) {
                        *ok = false;
                        return NULL;
                }
                json_object_set_new(msg, "parameters", p);
                return p;
        }
        if (!json_is_object(p))
                *ok = false;
        return p;
}

static bool optional_bool(json_t *msg, const char *key, bool *out)
{
        json_t *v = json_object_get(msg, key);
        if (!v || json_is_null(v)) {
                *out = false;
                return true;
        }
        if (!json_is_boolean(v))
                return false;
        *out = json_is_true(v);
        return true;
}

int mtt_proto_call_parse(const char *frame, size_t len, mtt_proto_call *call, const char **why)
{
        memset(call, 0, sizeof(*call));
        json_t *msg = parse_object(frame, len);
        if (!msg) {
                *why = "message is not a JSON object";
                return -EBADMSG;
        }
        json_t *method = json_object_get(msg, "method");
        bool ok;
        if (!json_is_string(method) || json_string_length(method) == 0) {
                *why = "message has no \"method\" string";
                goto bad;
        }
        json_t *params = object_parameters(msg, &ok);
        if (!ok) {
                *why = "\"parameters\" is not an object";
                goto bad;
        }
        if (!optional_bool(msg, "more", &call->more) ||
            !optional_bool(msg, "oneway", &call->oneway)) {
                *why = "\"more\" and \"oneway\" must be booleans";
                goto bad;
        }
        if (call->more && call->oneway) {
                *why = "\"more\" and \"oneway\" exclude each other";
                goto bad;
        }
        call->msg = msg;
        call->method = json_string_value(method);
        call->parameters = params;
        return 0;
bad:
        json_decref(msg);
        memset(call, 0, sizeof(*call));
        return -EBADMSG;
}

void mtt_proto_call_done(mtt_proto_call *call)
{
        if (!call)
                return;
        json_decref(call->msg);
        memset(call, 0, sizeof(*call));
}

int mtt_proto_reply_parse(const char *frame, size_t len, mtt_proto_reply *reply)
{
        memset(reply, 0, sizeof(*reply));
        json_t *msg = parse_object(frame, len);
        if (!msg)
                return -EBADMSG;
        bool ok;
        json_t *params = object_parameters(msg, &ok);
        json_t *error = json_object_get(msg, "error");
        if (!ok || (error && !json_is_string(error)) ||
            !optional_bool(msg, "continues", &reply->continues)) {
                json_decref(msg);
                memset(reply, 0, sizeof(*reply));
                return -EBADMSG;
        }
        reply->msg = msg;
        reply->parameters = params;
        reply->error = error ? json_string_value(error) : NULL;
        return 0;
}

void mtt_proto_reply_done(mtt_proto_reply *reply)
{
        if (!reply)
                return;
        json_decref(reply->msg);
        memset(reply, 0, sizeof(*reply));
}

static json_t *with_parameters(json_t *msg, json_t *params)
{
        if (!msg) {
                json_decref(params);
                return NULL;
        }
        if (json_object_set_new(msg, "parameters", params ? params : json_object()) < 0) {
                json_decref(msg);
                return NULL;
        }
        return msg;
}

json_t *mtt_proto_call_new(const char *method, json_t *params, bool more, bool oneway)
{
        json_t *msg = json_pack("{s:s}", "method", method);
        if (msg && more)
                json_object_set_new(msg, "more", json_true());
        if (msg && oneway)
                json_object_set_new(msg, "oneway", json_true());
        return with_parameters(msg, params);
}

json_t *mtt_proto_reply_new(json_t *params, bool continues)
{
        json_t *msg = json_object();
        if (msg && continues)
                json_object_set_new(msg, "continues", json_true());
        return with_parameters(msg, params);
}

json_t *mtt_proto_error_new(const char *error, json_t *params)
{
        return with_parameters(json_pack("{s:s}", "error", error), params);
}

json_t *mtt_proto_error_param_new(const char *error, const char *parameter, const char *reason)
{
        json_t *p = json_pack("{s:s}", "parameter", parameter);
        if (p && reason)
                json_object_set_new(p, "reason", json_string(reason));
        return mtt_proto_error_new(error, p);
}

char *mtt_proto_encode(const json_t *msg, size_t *len)
{
        /* 15 significant digits: every number we send, printed without binary noise. */
        char *s = json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(15));
        if (!s)
                return NULL;
        *len = strlen(s) + 1; /* the NUL that ends a varlink message */
        return s;
}

int mtt_proto_outbuf_put_json(mtt_proto_outbuf *b, const json_t *msg)
{
        size_t len;
        char *s = mtt_proto_encode(msg, &len);
        if (!s)
                return -ENOMEM;
        int r = mtt_proto_outbuf_put(b, s, len - 1);
        free(s);
        return r;
}

static int parse_field(json_t *v, const mtt_proto_field *f, char *out)
{
        switch (f->type) {
        case MTT_PROTO_STRING:
                if (!json_is_string(v))
                        return -EINVAL;
                *(const char **)(out + f->offset) = json_string_value(v);
                return 0;
        case MTT_PROTO_BOOL:
                if (!json_is_boolean(v))
                        return -EINVAL;
                *(bool *)(out + f->offset) = json_is_true(v);
                return 0;
        case MTT_PROTO_INT:
                if (!json_is_integer(v))
                        return -EINVAL;
                *(int64_t *)(out + f->offset) = json_integer_value(v);
                return 0;
        case MTT_PROTO_NUMBER:
                if (!json_is_number(v))
                        return -EINVAL;
                *(double *)(out + f->offset) = json_number_value(v);
                return 0;
        }
        return -EINVAL;
}

int mtt_proto_params_parse(json_t *params, const mtt_proto_field *fields, void *out,
                           const char **bad)
{
        const char *key;
        json_t *v;
        json_object_foreach(params, key, v)
        {
                const mtt_proto_field *f = fields;
                while (f->name && strcmp(f->name, key) != 0)
                        f++;
                if (!f->name) {
                        *bad = key;
                        return -EINVAL;
                }
        }
        for (const mtt_proto_field *f = fields; f->name; f++) {
                v = json_object_get(params, f->name);
                if (!v || json_is_null(v)) {
                        if (f->required) {
                                *bad = f->name;
                                return -EINVAL;
                        }
                        continue;
                }
                if (parse_field(v, f, out) < 0) {
                        *bad = f->name;
                        return -EINVAL;
                }
        }
        return 0;
}
