/* Integration: Sample's GPUs from a real mttd with the fake NVML (tests/fake_nvml, loaded
 * with --nvml, its values from $FAKE_NVML_STATE): devices and their numbers as they change,
 * a lost device, an init that fails, no library at all; sessions go on through each. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static char state_path[] = "/tmp/mtt-fake-nvml-XXXXXX";

/* The fake's state file, replaced whole (renamed into place): the fake reads it at every
 * call and must never see half of it. */
static void write_state(const char *text)
{
        char tmp[sizeof(state_path) + 8];
        snprintf(tmp, sizeof(tmp), "%s.new", state_path);
        FILE *f = fopen(tmp, "we");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(rename(tmp, state_path), 0);
}

/* Sample's parameters (a new reference). */
static json_t *sample(const harness *h)
{
        int fd = harness_connect(h);
        assert_true(fd >= 0);
        json_t *r = harness_call(fd, "io.mtt.Tracker.Sample", NULL, NULL, 0);
        close(fd);
        assert_non_null(r);
        assert_null(harness_error(r));
        json_t *p = json_incref(json_object_get(r, "parameters"));
        json_decref(r);
        assert_non_null(json_object_get(p, "reading")); /* the memory is there as ever */
        return p;
}

static json_t *gpu(json_t *p, size_t i)
{
        return json_array_get(json_object_get(p, "gpus"), i);
}

static long long int_of(json_t *o, const char *key)
{
        json_t *v = json_object_get(o, key);
        assert_true(json_is_integer(v));
        return (long long)json_integer_value(v);
}

static const char *str_of(json_t *o, const char *key)
{
        return json_string_value(json_object_get(o, key));
}

static int start_fake(harness *h, const char *state)
{
        write_state(state);
        static const char *const args[] = {"--nvml", FAKE_NVML_PATH, NULL};
        return harness_start(h, args);
}

static void test_devices_and_changes(void **state)
{
        harness h;
        assert_int_equal(start_fake(&h,
                                    "# two GPUs\n"
                                    "device 0 \"Fake H200\" total 150000000000 used 1073741824\n"
                                    "device 1 \"Fake B200\" total 190000000000 used 5\n"
                                    "process 0 4242 536870912\n"),
                         0);
        json_t *p = sample(&h);
        assert_int_equal(json_array_size(json_object_get(p, "gpus")), 2);
        assert_null(json_object_get(p, "gpu_error"));
        assert_int_equal(int_of(gpu(p, 0), "index"), 0);
        assert_string_equal(str_of(gpu(p, 0), "name"), "Fake H200");
        assert_int_equal(int_of(gpu(p, 0), "total_bytes"), 150000000000ll);
        assert_int_equal(int_of(gpu(p, 0), "used_bytes"), 1073741824ll);
        assert_null(json_object_get(gpu(p, 0), "error"));
        assert_int_equal(int_of(gpu(p, 1), "index"), 1);
        assert_string_equal(str_of(gpu(p, 1), "name"), "Fake B200");
        assert_int_equal(int_of(gpu(p, 1), "total_bytes"), 190000000000ll);
        assert_int_equal(int_of(gpu(p, 1), "used_bytes"), 5);
        json_decref(p);

        /* New values while mttd runs: the next Sample reads them. */
        write_state("device 0 \"Fake H200\" total 150000000000 used 2147483648\n"
                    "device 1 \"Fake B200\" total 190000000000 used 77\n");
        p = sample(&h);
        assert_int_equal(int_of(gpu(p, 0), "used_bytes"), 2147483648ll);
        assert_int_equal(int_of(gpu(p, 1), "used_bytes"), 77);
        json_decref(p);

        /* A device lost: Sample still answers, that device says so, the other has numbers. */
        write_state("device 0 \"Fake H200\" total 150000000000 used 3000\n"
                    "device 1 \"Fake B200\" total 190000000000 used 88\n"
                    "lost 0\n");
        p = sample(&h);
        assert_int_equal(json_array_size(json_object_get(p, "gpus")), 2);
        assert_string_equal(str_of(gpu(p, 0), "error"), "GPU is lost");
        assert_string_equal(str_of(gpu(p, 0), "name"), "Fake H200"); /* known from before */
        assert_null(json_object_get(gpu(p, 1), "error"));
        assert_int_equal(int_of(gpu(p, 1), "used_bytes"), 88); /* read after the lost one */
        json_decref(p);
        assert_true(harness_session_completes(&h, "lost"));
        assert_int_equal(harness_stop(&h, true), 0);
}

/* NVML's init fails: no GPUs, and why; a load is not tried again at once, but after a few
 * seconds it is. */
static void test_init_fails(void **state)
{
        harness h;
        assert_int_equal(start_fake(&h, "device 0 \"Fake H200\" total 1000 used 10\n"
                                        "fail init 9\n"),
                         0);
        json_t *p = sample(&h);
        assert_int_equal(json_array_size(json_object_get(p, "gpus")), 0);
        assert_string_equal(str_of(p, "gpu_error"), "NVML: Driver Not Loaded");
        json_decref(p);
        assert_true(harness_session_completes(&h, "noinit"));

        write_state("device 0 \"Fake H200\" total 1000 used 10\n");
        p = sample(&h);
        assert_string_equal(str_of(p, "gpu_error"), "NVML: Driver Not Loaded");
        json_decref(p);
        usleep(5200000);
        p = sample(&h);
        assert_null(json_object_get(p, "gpu_error"));
        assert_int_equal(json_array_size(json_object_get(p, "gpus")), 1);
        assert_int_equal(int_of(gpu(p, 0), "used_bytes"), 10);
        json_decref(p);
        assert_int_equal(harness_stop(&h, true), 0);
}

static void test_no_device(void **state)
{
        harness h;
        assert_int_equal(start_fake(&h, "# a driver, no GPU\n"), 0);
        json_t *p = sample(&h);
        assert_int_equal(json_array_size(json_object_get(p, "gpus")), 0);
        assert_string_equal(str_of(p, "gpu_error"), "no NVIDIA GPU");
        json_decref(p);
        assert_int_equal(harness_stop(&h, true), 0);
}

static void test_no_library(void **state)
{
        harness h;
        static const char *const args[] = {"--nvml", "/nonexistent.so", NULL};
        assert_int_equal(harness_start(&h, args), 0);
        json_t *p = sample(&h);
        assert_int_equal(json_array_size(json_object_get(p, "gpus")), 0);
        assert_string_equal(str_of(p, "gpu_error"), "/nonexistent.so not found (no NVIDIA driver)");
        json_decref(p);
        assert_true(harness_session_completes(&h, "nolib"));
        assert_int_equal(harness_stop(&h, true), 0);
}

/* The real libnvidia-ml.so.1, wherever this runs: with GPUs, each has a name and a total;
 * without, a reason. Sessions work either way. */
static void test_the_real_one(void **state)
{
        harness h;
        assert_int_equal(harness_start(&h, NULL), 0);
        json_t *p = sample(&h);
        json_t *gpus = json_object_get(p, "gpus");
        assert_true(json_is_array(gpus));
        if (json_array_size(gpus) == 0) {
                const char *why = str_of(p, "gpu_error");
                assert_non_null(why);
                assert_true(why[0] != '\0');
                print_message("no GPU here: %s\n", why);
        }
        for (size_t i = 0; i < json_array_size(gpus); i++)
                if (!json_object_get(gpu(p, i), "error"))
                        assert_true(int_of(gpu(p, i), "total_bytes") > 0);
        json_decref(p);
        assert_true(harness_session_completes(&h, "real"));
        assert_int_equal(harness_stop(&h, true), 0);
}

static int setup(void **state)
{
        int fd = mkstemp(state_path);
        if (fd < 0)
                return -1;
        close(fd);
        return setenv("FAKE_NVML_STATE", state_path, 1);
}

static int teardown(void **state)
{
        unlink(state_path);
        return 0;
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_devices_and_changes), cmocka_unit_test(test_init_fails),
            cmocka_unit_test(test_no_device),           cmocka_unit_test(test_no_library),
            cmocka_unit_test(test_the_real_one),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
