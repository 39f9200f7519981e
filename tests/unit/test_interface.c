/* Unit tests for proto/interface.h: interface texts, error-to-errno mapping, socket lookup. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/interface.h"

static void test_tracker_description(void **state)
{
        const char *d = mtt_proto_interface_description("io.mtt.Tracker");
        assert_non_null(d);
        assert_ptr_equal(d, mtt_proto_tracker_description);
        assert_non_null(strstr(d, "interface io.mtt.Tracker\n"));
        static const char *const methods[] = {"Open", "Close", "List", "Status", "Watch", "Sample"};
        for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
                char want[64];
                snprintf(want, sizeof(want), "\nmethod %s(", methods[i]);
                if (!strstr(d, want))
                        fail_msg("no \"method %s(\" in the interface text", methods[i]);
        }
        static const char *const errors[] = {"NoSuchSession", "PermissionDenied",
                                             "InvalidFileDescriptor", "TooManySessions",
                                             "InvalidParameter"};
        for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
                char want[64];
                snprintf(want, sizeof(want), "\nerror %s ", errors[i]);
                if (!strstr(d, want))
                        fail_msg("no \"error %s\" in the interface text", errors[i]);
        }
}

/* The limits are plain numbers: the interface text states them (MTT_PROTO_STRINGIFY), and
 * clients such as the Python package read them there as numbers. */
static void test_limits_are_plain_numbers(void **state)
{
#define LIMIT(x) #x, MTT_PROTO_STRINGIFY(x), x
        static const struct {
                const char *name, *text;
                long long value;
        } limits[] = {
            {LIMIT(MTT_PROTO_LABEL_MAX)},
            {LIMIT(MTT_PROTO_JOB_MAX)},
            {LIMIT(MTT_PROTO_CAUSE_MAX)},
            {LIMIT(MTT_PROTO_MIN_INTERVAL_US_LO)},
            {LIMIT(MTT_PROTO_MIN_INTERVAL_US_HI)},
            {LIMIT(MTT_PROTO_MIN_INTERVAL_US_DEFAULT)},
            {LIMIT(MTT_PROTO_MAX_INTERVAL_S_LO)},
            {LIMIT(MTT_PROTO_MAX_INTERVAL_S_HI)},
            {LIMIT(MTT_PROTO_MAX_INTERVAL_S_DEFAULT)},
            {LIMIT(MTT_PROTO_HISTORY_DEFAULT)},
        };
#undef LIMIT
        for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
                char *end;
                long long v = strtoll(limits[i].text, &end, 10);
                if (end == limits[i].text || *end || v != limits[i].value)
                        fail_msg("%s is \"%s\", not a plain number", limits[i].name,
                                 limits[i].text);
        }
        assert_true(MTT_PROTO_MIN_INTERVAL_US_LO <= MTT_PROTO_MIN_INTERVAL_US_DEFAULT &&
                    MTT_PROTO_MIN_INTERVAL_US_DEFAULT <= MTT_PROTO_MIN_INTERVAL_US_HI);
        assert_true(MTT_PROTO_MAX_INTERVAL_S_LO <= MTT_PROTO_MAX_INTERVAL_S_DEFAULT &&
                    MTT_PROTO_MAX_INTERVAL_S_DEFAULT <= MTT_PROTO_MAX_INTERVAL_S_HI);
}

static void test_service_description(void **state)
{
        const char *d = mtt_proto_interface_description("org.varlink.service");
        assert_non_null(d);
        assert_non_null(strstr(d, "interface org.varlink.service\n"));
        assert_non_null(strstr(d, "method GetInfo("));
        assert_non_null(strstr(d, "method GetInterfaceDescription("));
}

static void test_unknown_interface(void **state)
{
        assert_null(mtt_proto_interface_description(""));
        assert_null(mtt_proto_interface_description("io.mtt"));
        assert_null(mtt_proto_interface_description("io.mtt.TrackerX"));
        assert_null(mtt_proto_interface_description("io.mtt.tracker"));
        assert_null(mtt_proto_interface_description("io.mtt.Tracker.Open"));
}

/* The scopes by name and number, as both sides count them. */
static void test_scopes(void **state)
{
        for (int i = 0; i < MTT_PROTO_SCOPES; i++)
                assert_int_equal(mtt_proto_scope_of(mtt_proto_scope_names[i]), i);
        assert_int_equal(mtt_proto_scope_of(MTT_PROTO_SCOPE_GPU_DEVICE), 4);
        assert_string_equal(mtt_proto_scope_names[0], "system");
        assert_int_equal(mtt_proto_scope_of("gpu "), -EINVAL);
        assert_int_equal(mtt_proto_scope_of(""), -EINVAL);
}

static void test_error_to_errno(void **state)
{
        assert_int_equal(mtt_proto_error_to_errno("io.mtt.Tracker.NoSuchSession"), -ENOENT);
        assert_int_equal(mtt_proto_error_to_errno("io.mtt.Tracker.PermissionDenied"), -EACCES);
        assert_int_equal(mtt_proto_error_to_errno("io.mtt.Tracker.InvalidFileDescriptor"), -EBADF);
        assert_int_equal(mtt_proto_error_to_errno("io.mtt.Tracker.TooManySessions"), -EUSERS);
        assert_int_equal(mtt_proto_error_to_errno("io.mtt.Tracker.InvalidParameter"), -EINVAL);
        assert_int_equal(mtt_proto_error_to_errno("io.mtt.Tracker.ProtocolError"), -EPROTO);
        /* A GPU scope where mttd reads no NVIDIA GPU: no NVML, no device, no such index. */
        assert_int_equal(mtt_proto_error_to_errno("io.mtt.Tracker.GpuUnavailable"), -ENODEV);
        assert_int_equal(mtt_proto_error_to_errno(MTT_PROTO_ERROR_GPU_UNAVAILABLE), -ENODEV);
        assert_int_equal(mtt_proto_error_to_errno("org.varlink.service.InvalidParameter"), -EINVAL);
        assert_int_equal(mtt_proto_error_to_errno("org.varlink.service.MethodNotFound"),
                         -EOPNOTSUPP);
        assert_int_equal(mtt_proto_error_to_errno(MTT_PROTO_ERROR_METHOD_NOT_IMPL), -EOPNOTSUPP);
        assert_int_equal(mtt_proto_error_to_errno(MTT_PROTO_ERROR_INTERFACE_NOT_FOUND),
                         -EOPNOTSUPP);
        /* Anything else is an I/O error, never 0. */
        assert_int_equal(mtt_proto_error_to_errno("com.example.Unknown"), -EIO);
        assert_int_equal(mtt_proto_error_to_errno(""), -EIO);
        assert_int_equal(mtt_proto_error_to_errno("io.mtt.Tracker.NoSuchSessio"), -EIO);
}

/* A temporary XDG_RUNTIME_DIR, with the environment restored afterwards. */
typedef struct env_state {
        char dir[64];
        char *mtt_socket, *xdg;
} env_state;

static char *dup_env(const char *name)
{
        const char *v = getenv(name);
        return v ? strdup(v) : NULL;
}

static void restore_env(const char *name, char *value)
{
        if (value)
                setenv(name, value, 1);
        else
                unsetenv(name);
        free(value);
}

static int env_setup(void **state)
{
        env_state *e = calloc(1, sizeof(*e));
        if (!e)
                return -1;
        e->mtt_socket = dup_env("MTT_SOCKET");
        e->xdg = dup_env("XDG_RUNTIME_DIR");
        snprintf(e->dir, sizeof(e->dir), "/tmp/mtt-unit-iface-XXXXXX");
        if (!mkdtemp(e->dir))
                return -1;
        unsetenv("MTT_SOCKET");
        setenv("XDG_RUNTIME_DIR", e->dir, 1);
        *state = e;
        return 0;
}

static int env_teardown(void **state)
{
        env_state *e = *state;
        char path[128];
        snprintf(path, sizeof(path), "%s/mtt/io.mtt.Tracker", e->dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/mtt", e->dir);
        rmdir(path);
        rmdir(e->dir);
        restore_env("MTT_SOCKET", e->mtt_socket);
        restore_env("XDG_RUNTIME_DIR", e->xdg);
        free(e);
        return 0;
}

static void test_client_socket_env(void **state)
{
        char buf[256];
        setenv("MTT_SOCKET", "/somewhere/else/mttd.sock", 1);
        assert_string_equal(mtt_proto_client_socket(buf, sizeof(buf)), "/somewhere/else/mttd.sock");
        /* Too small a buffer: NULL, not a truncated path. */
        assert_null(mtt_proto_client_socket(buf, 10));
        /* Empty means unset. */
        setenv("MTT_SOCKET", "", 1);
        assert_string_equal(mtt_proto_client_socket(buf, sizeof(buf)), "/run/mtt/io.mtt.Tracker");
}

static void test_client_socket_user_only_if_it_exists(void **state)
{
        env_state *e = *state;
        char buf[256], user[128];
        snprintf(user, sizeof(user), "%s/mtt/io.mtt.Tracker", e->dir);

        /* No user socket: the system one. */
        assert_string_equal(mtt_proto_client_socket(buf, sizeof(buf)), MTT_PROTO_SYSTEM_SOCKET);
        assert_string_equal(MTT_PROTO_SYSTEM_SOCKET, "/run/mtt/io.mtt.Tracker");

        /* The directory alone is not enough. */
        char mttdir[96];
        snprintf(mttdir, sizeof(mttdir), "%s/mtt", e->dir);
        assert_int_equal(mkdir(mttdir, 0700), 0);
        assert_string_equal(mtt_proto_client_socket(buf, sizeof(buf)), "/run/mtt/io.mtt.Tracker");

        /* Once it exists, the user instance wins. */
        int fd = open(user, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        close(fd);
        assert_string_equal(mtt_proto_client_socket(buf, sizeof(buf)), user);

        /* MTT_SOCKET still comes first. */
        setenv("MTT_SOCKET", "/x/y", 1);
        assert_string_equal(mtt_proto_client_socket(buf, sizeof(buf)), "/x/y");
        unsetenv("MTT_SOCKET");

        /* A relative or missing XDG_RUNTIME_DIR is ignored. */
        setenv("XDG_RUNTIME_DIR", "relative/dir", 1);
        assert_string_equal(mtt_proto_client_socket(buf, sizeof(buf)), "/run/mtt/io.mtt.Tracker");
        unsetenv("XDG_RUNTIME_DIR");
        assert_string_equal(mtt_proto_client_socket(buf, sizeof(buf)), "/run/mtt/io.mtt.Tracker");
}

static void test_daemon_socket(void **state)
{
        env_state *e = *state;
        char buf[256], user[128];
        snprintf(user, sizeof(user), "%s/mtt/io.mtt.Tracker", e->dir);
        if (geteuid() == 0)
                assert_string_equal(mtt_proto_daemon_socket(buf, sizeof(buf)),
                                    "/run/mtt/io.mtt.Tracker");
        else
                assert_string_equal(mtt_proto_daemon_socket(buf, sizeof(buf)), user);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_tracker_description),
            cmocka_unit_test(test_limits_are_plain_numbers),
            cmocka_unit_test(test_service_description),
            cmocka_unit_test(test_unknown_interface),
            cmocka_unit_test(test_error_to_errno),
            cmocka_unit_test(test_scopes),
            cmocka_unit_test_setup_teardown(test_client_socket_env, env_setup, env_teardown),
            cmocka_unit_test_setup_teardown(test_client_socket_user_only_if_it_exists, env_setup,
                                            env_teardown),
            cmocka_unit_test_setup_teardown(test_daemon_socket, env_setup, env_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
