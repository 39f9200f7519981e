/* Varlink messages: calls, replies and errors as jansson objects, and parameter checking
 * through a field table. Pure: no sockets, no globals. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

typedef struct mtt_proto_call {
        json_t *msg;        /* owns everything below */
        const char *method; /* "interface.Method" */
        json_t *parameters; /* always an object (empty when missing or null) */
        bool more;
        bool oneway;
} mtt_proto_call;

/* Parses one frame into a call. On failure returns -EBADMSG and sets *why to a static
 * explanation fit for a ProtocolError reply. */
int mtt_proto_call_parse(const char *frame, size_t len, mtt_proto_call *call, const char **why);
void mtt_proto_call_done(mtt_proto_call *call);

typedef struct mtt_proto_reply {
        json_t *msg;
        json_t *parameters; /* always an object */
        const char *error;  /* NULL for a successful reply */
        bool continues;
} mtt_proto_reply;

int mtt_proto_reply_parse(const char *frame, size_t len, mtt_proto_reply *reply);
void mtt_proto_reply_done(mtt_proto_reply *reply);

/* Constructors; each steals params (which may be NULL) and returns NULL only on ENOMEM. */
json_t *mtt_proto_call_new(const char *method, json_t *params, bool more, bool oneway);
json_t *mtt_proto_reply_new(json_t *params, bool continues);
json_t *mtt_proto_error_new(const char *error, json_t *params);
/* An error whose parameters name one field, as varlink's InvalidParameter does. */
json_t *mtt_proto_error_param_new(const char *error, const char *parameter, const char *reason);

/* Serialises a message compactly and appends it to an output buffer. */
int mtt_proto_outbuf_put_json(mtt_proto_outbuf *b, const json_t *msg);
/* Serialises a message into a malloc'ed NUL-terminated frame; *len includes the NUL. */
char *mtt_proto_encode(const json_t *msg, size_t *len);

typedef enum mtt_proto_type {
        MTT_PROTO_STRING, /* const char * borrowed from the JSON */
        MTT_PROTO_BOOL,   /* bool */
        MTT_PROTO_INT,    /* int64_t */
        MTT_PROTO_NUMBER, /* double; integers accepted */
} mtt_proto_type;

typedef struct mtt_proto_field {
        const char *name;
        mtt_proto_type type;
        bool required;
        size_t offset; /* into the caller's struct */
} mtt_proto_field;

/* Fills the caller's struct from params. Absent or null optional fields leave the struct
 * untouched. Unknown fields, wrong types and missing required fields return -EINVAL with
 * *bad naming the field. The table ends with a NULL name. */
int mtt_proto_params_parse(json_t *params, const mtt_proto_field *fields, void *out,
                           const char **bad);
