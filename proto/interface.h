/* The io.mtt.Tracker varlink interface: names shared by mttd and its clients, the interface
 * text served by GetInterfaceDescription, and the socket's well-known places. */
#pragma once

#include <stddef.h>

#define MTT_PROTO_INTERFACE     "io.mtt.Tracker"
#define MTT_PROTO_SERVICE       "org.varlink.service"
#define MTT_PROTO_SOCKET_NAME   "io.mtt.Tracker"
#define MTT_PROTO_SYSTEM_SOCKET "/run/mtt/" MTT_PROTO_SOCKET_NAME

#define MTT_PROTO_METHOD_OPEN   MTT_PROTO_INTERFACE ".Open"
#define MTT_PROTO_METHOD_CLOSE  MTT_PROTO_INTERFACE ".Close"
#define MTT_PROTO_METHOD_LIST   MTT_PROTO_INTERFACE ".List"
#define MTT_PROTO_METHOD_STATUS MTT_PROTO_INTERFACE ".Status"
#define MTT_PROTO_METHOD_WATCH  MTT_PROTO_INTERFACE ".Watch"
#define MTT_PROTO_METHOD_SAMPLE MTT_PROTO_INTERFACE ".Sample"

#define MTT_PROTO_ERROR_NO_SUCH_SESSION      MTT_PROTO_INTERFACE ".NoSuchSession"
#define MTT_PROTO_ERROR_PERMISSION_DENIED    MTT_PROTO_INTERFACE ".PermissionDenied"
#define MTT_PROTO_ERROR_INVALID_FD           MTT_PROTO_INTERFACE ".InvalidFileDescriptor"
#define MTT_PROTO_ERROR_TOO_MANY_SESSIONS    MTT_PROTO_INTERFACE ".TooManySessions"
#define MTT_PROTO_ERROR_TOO_MANY_CONNECTIONS MTT_PROTO_INTERFACE ".TooManyConnections"
#define MTT_PROTO_ERROR_INVALID_PARAMETER    MTT_PROTO_INTERFACE ".InvalidParameter"
#define MTT_PROTO_ERROR_PROTOCOL             MTT_PROTO_INTERFACE ".ProtocolError"
#define MTT_PROTO_ERROR_INTERNAL             MTT_PROTO_INTERFACE ".InternalError"
#define MTT_PROTO_ERROR_GPU_UNAVAILABLE      MTT_PROTO_INTERFACE ".GpuUnavailable"
#define MTT_PROTO_ERROR_VARLINK_PARAMETER    MTT_PROTO_SERVICE ".InvalidParameter"
#define MTT_PROTO_ERROR_METHOD_NOT_FOUND     MTT_PROTO_SERVICE ".MethodNotFound"
#define MTT_PROTO_ERROR_METHOD_NOT_IMPL      MTT_PROTO_SERVICE ".MethodNotImplemented"
#define MTT_PROTO_ERROR_INTERFACE_NOT_FOUND  MTT_PROTO_SERVICE ".InterfaceNotFound"
#define MTT_PROTO_ERROR_EXPECTED_MORE        MTT_PROTO_SERVICE ".ExpectedMore"

/* Session outcomes and states as they are spelled on the wire. */
#define MTT_PROTO_COMPLETED "completed"
#define MTT_PROTO_FAILED    "failed"
#define MTT_PROTO_CRASHED   "crashed"
#define MTT_PROTO_RUNNING   "running"
#define MTT_PROTO_ERROR     "error"

/* Scopes as Open's scope spells them, in the order of mtt_scope (client.h) and mttd_scope. */
#define MTT_PROTO_SCOPE_SYSTEM     "system"
#define MTT_PROTO_SCOPE_PROCESS    "process"
#define MTT_PROTO_SCOPE_CGROUP     "cgroup"
#define MTT_PROTO_SCOPE_GPU        "gpu"
#define MTT_PROTO_SCOPE_GPU_DEVICE "gpu-device"
/* The scopes' names by their number (mtt_scope and mttd_scope count them in this order). */
#define MTT_PROTO_SCOPES 5
extern const char *const mtt_proto_scope_names[MTT_PROTO_SCOPES];
/* A scope's number by its name, or -EINVAL. */
int mtt_proto_scope_of(const char *name);
/* Open's gpu (the gpu-device scope's one GPU, by NVML's index) goes up to this. */
#define MTT_PROTO_GPU_INDEX_MAX 63

/* What mttd accepts from a client; beyond it a call gets InvalidParameter. Open's
 * min_interval_us goes from _LO to _HI microseconds, its max_interval_s from _LO to _HI seconds
 * and never below min_interval_us; one left out is the _DEFAULT. Plain numbers, so that the
 * interface text states them from these definitions (MTT_PROTO_STRINGIFY). */
#define MTT_PROTO_LABEL_MAX               256  /* bytes of Open's label */
#define MTT_PROTO_JOB_MAX                 128  /* bytes of Open's job */
#define MTT_PROTO_CAUSE_MAX               1024 /* bytes of Close's cause */
#define MTT_PROTO_MIN_INTERVAL_US_LO      100
#define MTT_PROTO_MIN_INTERVAL_US_HI      60000000 /* a minute */
#define MTT_PROTO_MIN_INTERVAL_US_DEFAULT 1000
#define MTT_PROTO_MAX_INTERVAL_S_LO       1
#define MTT_PROTO_MAX_INTERVAL_S_HI       86400 /* a day */
#define MTT_PROTO_MAX_INTERVAL_S_DEFAULT  60
/* Ended sessions List and Status still show, by default (mttd --history). */
#define MTT_PROTO_HISTORY_DEFAULT 256

/* A number macro above as a string literal: "256". */
#define MTT_PROTO_STRINGIFY(x)  MTT_PROTO_STRINGIFY_(x)
#define MTT_PROTO_STRINGIFY_(x) #x

extern const char mtt_proto_tracker_description[];
extern const char mtt_proto_service_description[];

/* The interface text for a name, or NULL. */
const char *mtt_proto_interface_description(const char *interface);

/* A varlink error name as a negative errno, for callers that speak errno. */
int mtt_proto_error_to_errno(const char *error);

/* Where a client looks: $MTT_SOCKET, else the user instance's socket if it exists, else the
 * system socket. Writes the path into buf; returns buf, or NULL if it does not fit. */
const char *mtt_proto_client_socket(char *buf, size_t size);
/* Where a daemon listens by default: the system socket for root, else the user instance's. */
const char *mtt_proto_daemon_socket(char *buf, size_t size);
