"""The workload manager's job a run belongs to, read from its environment by the rules
libmtt-client follows (client/lib/job.h): a Tracker sends it with Open unless told a job."""
import os

from .interface import MAX_JOB


def unfit(job):
    """Why job (a str) cannot be Open's job, or None: longer than MAX_JOB bytes, not UTF-8
    (a str from bytes that were not, such as an environment value, holds lone surrogates), or
    with a control character (below 0x20, or 0x7f)."""
    try:
        data = job.encode("utf-8")
    except UnicodeEncodeError:
        return "not UTF-8"
    if len(data) > MAX_JOB:
        return "longer than {} bytes".format(MAX_JOB)
    if any(b < 0x20 or b == 0x7F for b in data):
        return "has a control character"
    return None


def from_env(environ=None):
    """The job environ (default: os.environ) names, or None, from the first workload manager
    that names one: Slurm (SLURM_ARRAY_JOB_ID_SLURM_ARRAY_TASK_ID for an array task, as squeue
    and sacct name it, else SLURM_JOB_ID), PBS and Torque (PBS_JOBID), LSF (LSB_JOBID, with
    [LSB_JOBINDEX] for an array element; an index of 0 is no array), SGE (JOB_ID, with
    .SGE_TASK_ID for an array task; "undefined" is no array). A value that is empty, too long,
    not UTF-8 or has a control character reads as unset, and a job that would be longer than
    MAX_JOB bytes is passed over: the environment never makes an Open fail."""
    env = os.environ if environ is None else environ

    def value(name):
        v = env.get(name)
        return v if v and unfit(v) is None else None

    array_task = value("SLURM_ARRAY_TASK_ID")
    lsf_index = value("LSB_JOBINDEX")
    sge_task = value("SGE_TASK_ID")
    names = [  # (id, how an array element's index follows it, that index or None)
        (value("SLURM_ARRAY_JOB_ID") if array_task else None, "_{}", array_task),
        (value("SLURM_JOB_ID"), "", None),
        (value("PBS_JOBID"), "", None),
        (value("LSB_JOBID"), "[{}]", lsf_index if lsf_index != "0" else None),
        (value("JOB_ID"), ".{}", sge_task if sge_task != "undefined" else None),
    ]
    for job_id, form, index in names:
        if job_id is None:
            continue
        job = job_id + form.format(index) if index else job_id
        if len(job.encode("utf-8")) <= MAX_JOB:
            return job
    return None
