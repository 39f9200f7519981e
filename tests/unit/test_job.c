/* Tests for client/lib/job.c: the workload manager's job, read from a fake environment. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "client/lib/job.h"
#include "proto/interface.h"

/* An environment of name=value strings, NULL-terminated, read through the callback. */
static const char *get(void *ctx, const char *name)
{
        size_t n = strlen(name);
        for (const char *const *e = ctx; *e; e++)
                if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
                        return *e + n + 1;
        return NULL;
}

/* The job env names ("" for none). */
static const char *job_in(const char *const *env)
{
        static char buf[MTT_PROTO_JOB_MAX + 1];
        strcpy(buf, "untouched");
        int r = mtt_job_from_env(buf, sizeof(buf), get, (void *)env);
        assert_true(r == 0 || r == 1);
        if (r == 0) {
                assert_string_equal(buf, "untouched");
                return "";
        }
        return buf;
}

#define JOB(...) job_in((const char *const[]){__VA_ARGS__, NULL})

static void test_none(void **state)
{
        assert_string_equal(job_in((const char *const[]){NULL}), "");
        assert_string_equal(JOB("HOME=/root", "SLURM_ARRAY_TASK_ID=3", "SGE_TASK_ID=4"), "");
}

static void test_each_manager(void **state)
{
        assert_string_equal(JOB("SLURM_JOB_ID=4242"), "4242");
        assert_string_equal(JOB("PBS_JOBID=1234.pbs01.example.org"), "1234.pbs01.example.org");
        assert_string_equal(JOB("LSB_JOBID=77"), "77");
        assert_string_equal(JOB("JOB_ID=55"), "55");
}

/* Array elements as each manager's own tools name them. */
static void test_arrays(void **state)
{
        assert_string_equal(
            JOB("SLURM_JOB_ID=107", "SLURM_ARRAY_JOB_ID=100", "SLURM_ARRAY_TASK_ID=7"), "100_7");
        /* Half an array's names: the job alone. */
        assert_string_equal(JOB("SLURM_JOB_ID=107", "SLURM_ARRAY_JOB_ID=100"), "107");
        assert_string_equal(JOB("SLURM_JOB_ID=107", "SLURM_ARRAY_TASK_ID=7"), "107");
        assert_string_equal(JOB("LSB_JOBID=77", "LSB_JOBINDEX=3"), "77[3]");
        assert_string_equal(JOB("LSB_JOBID=77", "LSB_JOBINDEX=0"), "77"); /* no array */
        assert_string_equal(JOB("JOB_ID=55", "SGE_TASK_ID=9"), "55.9");
        assert_string_equal(JOB("JOB_ID=55", "SGE_TASK_ID=undefined"), "55"); /* no array */
}

static void test_precedence(void **state)
{
        assert_string_equal(JOB("JOB_ID=4", "LSB_JOBID=3", "PBS_JOBID=2", "SLURM_JOB_ID=1"), "1");
        assert_string_equal(JOB("JOB_ID=4", "LSB_JOBID=3", "PBS_JOBID=2"), "2");
        assert_string_equal(JOB("JOB_ID=4", "LSB_JOBID=3"), "3");
}

/* What is empty, too long, not UTF-8 or has a control character reads as unset. */
static void test_bad_values_are_skipped(void **state)
{
        char at_max[MTT_PROTO_JOB_MAX + 16] = "SLURM_JOB_ID=", past[MTT_PROTO_JOB_MAX + 16];
        memset(at_max + 13, '9', MTT_PROTO_JOB_MAX);
        at_max[13 + MTT_PROTO_JOB_MAX] = '\0';
        strcpy(past, at_max);
        strcat(past, "9");
        assert_int_equal(strlen(JOB(at_max)), MTT_PROTO_JOB_MAX);
        assert_string_equal(JOB(past, "PBS_JOBID=2"), "2");
        assert_string_equal(JOB("SLURM_JOB_ID=", "PBS_JOBID=2"), "2");
        assert_string_equal(JOB("SLURM_JOB_ID=1\n2", "PBS_JOBID=2"), "2");
        assert_string_equal(JOB("SLURM_JOB_ID=1\x7f", "PBS_JOBID=2"), "2");
        assert_string_equal(JOB("SLURM_JOB_ID=\xff", "PBS_JOBID=2"), "2");
        assert_string_equal(JOB("SLURM_JOB_ID=\xff"), "");
        /* A bad index: the job alone. */
        assert_string_equal(
            JOB("SLURM_JOB_ID=107", "SLURM_ARRAY_JOB_ID=100", "SLURM_ARRAY_TASK_ID=\t"), "107");
        assert_string_equal(JOB("LSB_JOBID=77", "LSB_JOBINDEX=\x1b[2J"), "77");
        assert_string_equal(JOB("JOB_ID=55", "SGE_TASK_ID="), "55");
        /* Good parts that make a job past the limit: the next manager's. */
        char id[MTT_PROTO_JOB_MAX + 16] = "LSB_JOBID=";
        memset(id + 10, '7', MTT_PROTO_JOB_MAX - 2);
        id[10 + MTT_PROTO_JOB_MAX - 2] = '\0';
        assert_string_equal(JOB(id, "LSB_JOBINDEX=3", "JOB_ID=55"), "55");
        assert_int_equal(strlen(JOB(id, "LSB_JOBINDEX=")), MTT_PROTO_JOB_MAX - 2);
}

/* A buffer too small is the caller's error, never a job cut short; buf is left alone. */
static void test_buffer_too_small(void **state)
{
        const char *const env[] = {"SLURM_JOB_ID=4242", "PBS_JOBID=2", NULL};
        char buf[8] = "keep";
        assert_int_equal(mtt_job_from_env(buf, 4, get, (void *)env), -ENOBUFS);
        assert_string_equal(buf, "keep");
        assert_int_equal(mtt_job_from_env(buf, 0, get, (void *)env), -ENOBUFS);
        assert_int_equal(mtt_job_from_env(buf, 5, get, (void *)env), 1);
        assert_string_equal(buf, "4242");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_none),
            cmocka_unit_test(test_each_manager),
            cmocka_unit_test(test_arrays),
            cmocka_unit_test(test_precedence),
            cmocka_unit_test(test_bad_values_are_skipped),
            cmocka_unit_test(test_buffer_too_small),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
