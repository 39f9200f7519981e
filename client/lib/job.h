/* The workload manager's job a run belongs to, read from the run's environment: the job
 * libmtt-client sends with Open when the caller names none. Internal (hidden, as report.h),
 * and pure: the environment is read through a callback, so tests hand it any they like. */
#pragma once

#include <stddef.h>

#ifndef MTT_HIDDEN
#define MTT_HIDDEN __attribute__((visibility("hidden")))
#endif

/* A variable's value as getenv(3) gives it (NULL: unset). */
typedef const char *(*mtt_job_getenv_fn)(void *ctx, const char *name);

/* The job the environment names, from the first workload manager that names one:
 *   Slurm: SLURM_ARRAY_JOB_ID "_" SLURM_ARRAY_TASK_ID for an array task (as squeue and
 *          sacct name it), else SLURM_JOB_ID;
 *   PBS and Torque: PBS_JOBID;
 *   LSF: LSB_JOBID, then "[" LSB_JOBINDEX "]" for an array element (as bjobs names it;
 *        LSB_JOBINDEX is "0" outside arrays);
 *   SGE: JOB_ID, then "." SGE_TASK_ID for an array task (SGE_TASK_ID is "undefined"
 *        outside arrays).
 * A value that is empty, longer than MTT_PROTO_JOB_MAX bytes, not UTF-8 or with a control
 * character reads as unset, and a job that would be longer than MTT_PROTO_JOB_MAX is passed
 * over: what the environment holds never makes an Open fail. Returns 1 with the job in buf,
 * 0 when the environment names none, -ENOBUFS when the job does not fit in size; buf is
 * written only when it returns 1. */
MTT_HIDDEN int mtt_job_from_env(char *buf, size_t size, mtt_job_getenv_fn get, void *ctx);
