"""The workload manager's job: read from the environment by the rules libmtt-client follows
(mtt.job, checked here on made-up environments), and a Tracker's session carrying it, from
the environment or as the caller names it, against a real mttd."""
import pytest

import mtt
from mtt import job
from mtt.interface import MAX_JOB

VARIABLES = ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "PBS_JOBID",
             "LSB_JOBID", "LSB_JOBINDEX", "JOB_ID", "SGE_TASK_ID")


@pytest.fixture
def no_job(monkeypatch):
    """An environment that names no job (the tests may run under a workload manager)."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_each_manager_and_its_arrays():
    assert job.from_env({}) is None
    assert job.from_env({"SLURM_JOB_ID": "4242"}) == "4242"
    assert job.from_env({"SLURM_JOB_ID": "107", "SLURM_ARRAY_JOB_ID": "100",
                         "SLURM_ARRAY_TASK_ID": "7"}) == "100_7"
    assert job.from_env({"SLURM_JOB_ID": "107", "SLURM_ARRAY_JOB_ID": "100"}) == "107"
    assert job.from_env({"PBS_JOBID": "1234.pbs01"}) == "1234.pbs01"
    assert job.from_env({"LSB_JOBID": "77", "LSB_JOBINDEX": "3"}) == "77[3]"
    assert job.from_env({"LSB_JOBID": "77", "LSB_JOBINDEX": "0"}) == "77"
    assert job.from_env({"JOB_ID": "55", "SGE_TASK_ID": "9"}) == "55.9"
    assert job.from_env({"JOB_ID": "55", "SGE_TASK_ID": "undefined"}) == "55"


def test_precedence_and_what_is_passed_over():
    every = {"SLURM_JOB_ID": "1", "PBS_JOBID": "2", "LSB_JOBID": "3", "JOB_ID": "4"}
    assert job.from_env(every) == "1"
    assert job.from_env(dict(every, SLURM_JOB_ID="")) == "2"
    assert job.from_env(dict(every, SLURM_JOB_ID="a\nb", PBS_JOBID="x\x7f")) == "3"
    assert job.from_env(dict(every, SLURM_JOB_ID="9" * (MAX_JOB + 1))) == "2"
    assert job.from_env({"SLURM_JOB_ID": "9" * MAX_JOB}) == "9" * MAX_JOB
    # os.environ's str for bytes that are not UTF-8 (surrogateescape).
    assert job.from_env({"SLURM_JOB_ID": "\udcff", "JOB_ID": "4"}) == "4"
    assert job.from_env({"LSB_JOBID": "77", "LSB_JOBINDEX": "\t"}) == "77"
    # Good parts that make a job past the limit: the next manager's.
    assert job.from_env({"LSB_JOBID": "7" * (MAX_JOB - 2), "LSB_JOBINDEX": "3",
                         "JOB_ID": "55"}) == "55"


def test_unfit():
    assert job.unfit("4242_7") is None
    assert job.unfit("caf\u00e9") is None
    assert job.unfit("j" * (MAX_JOB + 1)) == "longer than 128 bytes"
    assert job.unfit("\u00e9" * (MAX_JOB // 2 + 1)) == "longer than 128 bytes"  # bytes, not chars
    assert job.unfit("a\tb") == "has a control character"
    assert job.unfit("\udcff") == "not UTF-8"


def test_tracker_takes_the_job_from_the_environment(mttd, tmp_path, no_job):
    with mtt.Tracker(str(tmp_path / "none.csv")) as t:
        pass
    assert "job" not in t.session
    no_job.setenv("SLURM_ARRAY_JOB_ID", "4242")
    no_job.setenv("SLURM_ARRAY_TASK_ID", "7")
    no_job.setenv("PBS_JOBID", "99.pbs")
    with mtt.Tracker(str(tmp_path / "slurm.csv")) as t:
        assert mtt.status(t.id)["job"] == "4242_7"
        assert [s["job"] for s in mtt.list_sessions() if s["id"] == t.id] == ["4242_7"]
    assert t.session["job"] == "4242_7"


def test_tracker_job_named(mttd, tmp_path, no_job):
    no_job.setenv("SLURM_JOB_ID", "4242")
    with mtt.Tracker(str(tmp_path / "named.csv"), job="bench-17") as t:
        pass
    assert mtt.status(t.id)["job"] == "bench-17"
    with mtt.Tracker(str(tmp_path / "number.csv"), job=4343) as t:
        pass
    assert t.session["job"] == "4343"
    with mtt.Tracker(str(tmp_path / "nojob.csv"), job="") as t:
        pass
    assert "job" not in mtt.status(t.id)
    for bad in ("j" * (MAX_JOB + 1), "a\nb"):
        with pytest.raises(mtt.InvalidParameter) as e:
            with mtt.Tracker(str(tmp_path / "bad.csv"), job=bad):
                pass
        assert e.value.parameters["parameter"] == "job"
