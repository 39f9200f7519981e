/* The workload manager's job, from the environment of the run. */
#include "job.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "proto/interface.h"
#include "proto/text.h"

/* The variable's value when it can be part of a job, else NULL, as if it were unset. */
static const char *value(mtt_job_getenv_fn get, void *ctx, const char *name)
{
        const char *v = get(ctx, name);
        return v && v[0] && !mtt_proto_job_unfit(v) ? v : NULL;
}

/* A job as a workload manager spells it: its id, and for an element of an array job the
 * separator, the element's index and what closes it. */
typedef struct job_name {
        const char *id;
        const char *sep, *index, *end; /* index NULL: no array */
} job_name;

/* The name into job; false when it is longer than Open takes. */
static bool spell(const job_name *n, char job[MTT_PROTO_JOB_MAX + 1])
{
        int len = n->index ? snprintf(job, MTT_PROTO_JOB_MAX + 1, "%s%s%s%s", n->id, n->sep,
                                      n->index, n->end)
                           : snprintf(job, MTT_PROTO_JOB_MAX + 1, "%s", n->id);
        return len > 0 && len <= MTT_PROTO_JOB_MAX;
}

/* An index that says "no array" reads as none. */
static const char *array_index(const char *index, const char *outside)
{
        return index && strcmp(index, outside) != 0 ? index : NULL;
}

int mtt_job_from_env(char *buf, size_t size, mtt_job_getenv_fn get, void *ctx)
{
        const char *slurm_array = value(get, ctx, "SLURM_ARRAY_JOB_ID");
        const char *slurm_task = value(get, ctx, "SLURM_ARRAY_TASK_ID");
        const job_name names[] = {
            {slurm_task ? slurm_array : NULL, "_", slurm_task, ""},
            {value(get, ctx, "SLURM_JOB_ID"), "", NULL, ""},
            {value(get, ctx, "PBS_JOBID"), "", NULL, ""},
            {value(get, ctx, "LSB_JOBID"), "[", array_index(value(get, ctx, "LSB_JOBINDEX"), "0"),
             "]"},
            {value(get, ctx, "JOB_ID"), ".",
             array_index(value(get, ctx, "SGE_TASK_ID"), "undefined"), ""},
        };
        char job[MTT_PROTO_JOB_MAX + 1];
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                if (!names[i].id || !spell(&names[i], job))
                        continue;
                size_t len = strlen(job);
                if (len >= size)
                        return -ENOBUFS;
                memcpy(buf, job, len + 1);
                return 1;
        }
        return 0;
}
