/* Unit tests for daemon/nvml.c over a table of functions (no library): why NVML is not there,
 * a read with a lost device, process lists that grow, the lazy load's retry. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nvml.h"

/* What the fake functions answer. */
static struct {
        int init, count_r;
        unsigned count;
        int lost; /* a device index that answers GPU_IS_LOST, or -1 */
        unsigned processes;
        int shutdowns, name_calls, list_calls;
} F;

static int f_init(void)
{
        return F.init;
}
static int f_shutdown(void)
{
        F.shutdowns++;
        return 0;
}
static const char *f_error_string(int r)
{
        return r == MTTD_NVML_ERROR_DRIVER_NOT_LOADED ? "Driver Not Loaded" : "Unknown Error";
}
static int f_count(unsigned int *n)
{
        *n = F.count;
        return F.count_r;
}
static int f_handle(unsigned int i, mttd_nvml_device *d)
{
        *d = (mttd_nvml_device)(uintptr_t)(i + 1);
        return 0;
}
static int f_name(mttd_nvml_device d, char *name, unsigned int size)
{
        F.name_calls++;
        if ((int)(uintptr_t)d - 1 == F.lost)
                return MTTD_NVML_ERROR_GPU_IS_LOST;
        snprintf(name, size, "Fake GPU %d", (int)(uintptr_t)d - 1);
        return 0;
}
static int f_memory(mttd_nvml_device d, mttd_nvml_memory *m)
{
        int i = (int)(uintptr_t)d - 1;
        if (i == F.lost)
                return MTTD_NVML_ERROR_GPU_IS_LOST;
        m->total = 1000ull * (unsigned)(i + 1);
        m->used = 10ull * (unsigned)(i + 1);
        m->free = m->total - m->used;
        return 0;
}
static int f_compute(mttd_nvml_device d, unsigned int *n, mttd_nvml_process *p)
{
        F.list_calls++;
        if ((int)(uintptr_t)d - 1 == F.lost)
                return MTTD_NVML_ERROR_GPU_IS_LOST;
        unsigned have = *n;
        *n = F.processes;
        if (have < F.processes)
                return MTTD_NVML_ERROR_INSUFFICIENT_SIZE;
        for (unsigned k = 0; k < F.processes; k++)
                p[k] = (mttd_nvml_process){.pid = 1000 + k, .used_bytes = k * 4096ull};
        return 0;
}

static const mttd_nvml_api API = {
    .init = f_init,
    .shutdown = f_shutdown,
    .error_string = f_error_string,
    .count = f_count,
    .handle = f_handle,
    .name = f_name,
    .memory = f_memory,
    .compute_processes = f_compute,
};

static int reset(void **state)
{
        memset(&F, 0, sizeof(F));
        F.count = 2;
        F.lost = -1;
        return 0;
}

static void test_open_reasons(void **state)
{
        mttd_nvml *n = NULL;
        char why[128];
        F.init = MTTD_NVML_ERROR_DRIVER_NOT_LOADED;
        assert_int_equal(mttd_nvml_open_api(&API, &n, why, sizeof(why)), -ENODEV);
        assert_string_equal(why, "NVML: Driver Not Loaded");
        assert_null(n);
        assert_int_equal(F.shutdowns, 0); /* never initialised */

        F.init = 0;
        F.count = 0;
        assert_int_equal(mttd_nvml_open_api(&API, &n, why, sizeof(why)), -ENODEV);
        assert_string_equal(why, "no NVIDIA GPU");
        assert_int_equal(F.shutdowns, 1);

        F.count_r = MTTD_NVML_ERROR_DRIVER_NOT_LOADED;
        assert_int_equal(mttd_nvml_open_api(&API, &n, why, sizeof(why)), -ENODEV);
        assert_string_equal(why, "NVML: Driver Not Loaded");
        assert_int_equal(F.shutdowns, 2);

        /* The loader: no such library says so by the library's name. */
        assert_int_equal(mttd_nvml_open("/nonexistent/libnvidia-ml.so.1", &n, why, sizeof(why)),
                         -ENOENT);
        assert_string_equal(why, "/nonexistent/libnvidia-ml.so.1 not found (no NVIDIA driver)");
}

static void test_words(void **state)
{
        char buf[64];
        assert_string_equal(mttd_nvml_words(&API, 15, buf, sizeof(buf)), "GPU is lost");
        assert_string_equal(mttd_nvml_words(&API, 9, buf, sizeof(buf)), "Driver Not Loaded");
        assert_string_equal(mttd_nvml_words(NULL, 3, buf, sizeof(buf)), "NVML error 3");
}

static void test_read_with_a_lost_device(void **state)
{
        mttd_nvml *n = NULL;
        char why[128];
        F.count = 3;
        F.lost = 1;
        assert_int_equal(mttd_nvml_open_api(&API, &n, why, sizeof(why)), 0);
        assert_int_equal(mttd_nvml_count(n), 3);
        mttd_gpu g[3];
        mttd_nvml_read(n, g);
        for (unsigned i = 0; i < 3; i += 2) {
                char name[32];
                snprintf(name, sizeof(name), "Fake GPU %u", i);
                assert_int_equal(g[i].index, i);
                assert_int_equal(g[i].error, 0);
                assert_string_equal(g[i].name, name);
                assert_int_equal(g[i].total_bytes, 1000 * (i + 1));
                assert_int_equal(g[i].used_bytes, 10 * (i + 1));
        }
        /* The lost one fails alone. */
        assert_int_equal(g[1].index, 1);
        assert_int_equal(g[1].error, MTTD_NVML_ERROR_GPU_IS_LOST);
        assert_string_equal(g[1].why, "GPU is lost");
        assert_string_equal(g[1].name, "");
        assert_int_equal(g[1].used_bytes, 0);

        /* It comes back: its numbers again. Names found are not asked for again. */
        F.lost = -1;
        int calls = F.name_calls;
        mttd_nvml_read(n, g);
        assert_int_equal(F.name_calls, calls + 1);
        assert_int_equal(g[1].error, 0);
        assert_string_equal(g[1].name, "Fake GPU 1");
        assert_int_equal(g[1].used_bytes, 20);
        assert_int_equal(mttd_nvml_read_memory(n, g), 0);
        F.lost = 2;
        assert_int_equal(mttd_nvml_read_memory(n, g), 1);
        mttd_nvml_close(n);
        assert_int_equal(F.shutdowns, 1);
}

static void test_processes_grow(void **state)
{
        mttd_nvml *n = NULL;
        char why[128];
        assert_int_equal(mttd_nvml_open_api(&API, &n, why, sizeof(why)), 0);
        mttd_nvml_processes buf = {0};
        int err = 0;
        F.processes = 0;
        assert_int_equal(mttd_nvml_list_processes(n, 0, false, &buf, &err), 0);
        assert_int_equal(buf.n, 0);
        /* From an empty buffer to 1000 processes: NVML says how many, the buffer grows. */
        F.processes = 1000;
        assert_int_equal(mttd_nvml_list_processes(n, 0, false, &buf, &err), 0);
        assert_int_equal(buf.n, 1000);
        assert_true(buf.cap >= 1000);
        assert_int_equal(buf.p[999].pid, 1999);
        assert_int_equal(buf.p[999].used_bytes, 999 * 4096ull);
        /* Fewer: no call wasted. */
        F.processes = 3;
        F.list_calls = 0;
        assert_int_equal(mttd_nvml_list_processes(n, 1, false, &buf, &err), 0);
        assert_int_equal(buf.n, 3);
        assert_int_equal(F.list_calls, 1);
        /* A lost device, a device that is not there, a list this NVML lacks. */
        F.lost = 1;
        assert_int_equal(mttd_nvml_list_processes(n, 1, false, &buf, &err), -EIO);
        assert_int_equal(err, MTTD_NVML_ERROR_GPU_IS_LOST);
        assert_int_equal(buf.n, 0);
        assert_int_equal(mttd_nvml_list_processes(n, 2, false, &buf, &err), -EINVAL);
        assert_int_equal(mttd_nvml_list_processes(n, 0, true, &buf, &err), -ENOSYS);
        mttd_nvml_processes_free(&buf);
        mttd_nvml_processes_free(&buf); /* twice is fine */
        mttd_nvml_close(n);
        mttd_nvml_close(NULL);
}

static void test_lazy_retry(void **state)
{
        mttd_nvml_lazy lazy = {.path = "/nonexistent/fake-nvml.so"};
        assert_null(mttd_nvml_lazy_get(&lazy, 1000000));
        assert_non_null(strstr(lazy.why, "not found"));
        assert_int_equal(lazy.failed_us, 1000000);
        /* Not tried again within the retry interval, the reason kept. */
        lazy.why[0] = 'X';
        assert_null(mttd_nvml_lazy_get(&lazy, 1000000 + MTTD_NVML_RETRY_US - 1));
        assert_int_equal(lazy.why[0], 'X');
        assert_null(mttd_nvml_lazy_get(&lazy, 1000000 + MTTD_NVML_RETRY_US));
        assert_int_equal(lazy.failed_us, 1000000 + MTTD_NVML_RETRY_US);
        assert_non_null(strstr(lazy.why, "not found"));
        mttd_nvml_lazy_free(&lazy);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup(test_open_reasons, reset),
            cmocka_unit_test_setup(test_words, reset),
            cmocka_unit_test_setup(test_read_with_a_lost_device, reset),
            cmocka_unit_test_setup(test_processes_grow, reset),
            cmocka_unit_test_setup(test_lazy_retry, reset),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
