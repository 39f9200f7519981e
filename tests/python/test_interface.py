"""The package's words and limits (mtt.interface) against the interface text the real mttd
serves: proto/interface.h defines them once for C and states them in that text, and the
package's copy is held to it here, so that neither side drifts without a failure. Then mttd
itself at each limit and one past it."""
import os
import re

import pytest

from mtt import interface
from mtt.errors import InvalidParameter
from mtt.varlink import Connection, call


@pytest.fixture(scope="module")
def description(mttd):
    return call("org.varlink.service.GetInterfaceDescription", {"interface": "io.mtt.Tracker"},
                socket_path=mttd)["description"]


def names(text):
    """"a, b or c" as ("a", "b", "c")."""
    return tuple(re.split(r", | or ", text.strip().rstrip(".")))


def listed_above(description, field):
    """The names in the comment line right above a field: "# [what: ]a, b or c"."""
    m = re.search(r"\n *#([^\n]*)\n *{}: ".format(re.escape(field)), description)
    assert m, "no comment above {!r} in the interface text".format(field)
    return names(m.group(1).rsplit(":", 1)[-1])


def stated(description, pattern):
    """The numbers a comment line "# PATTERN" of the interface text states, in order."""
    m = re.search(r"\n# " + pattern, description)
    assert m, "the interface text states no {!r}".format(pattern)
    return tuple(int(n) for n in m.groups())


def test_scopes(description):
    assert listed_above(description, "scope") == interface.SCOPES


def test_states_and_outcomes(description):
    assert listed_above(description, "state") == interface.STATES
    assert listed_above(description, "outcome") == interface.OUTCOMES
    close = re.search(r"\n# outcome: ([^\n]*)\n", description)  # Close's parameter
    assert close and names(close.group(1)) == interface.OUTCOMES


def test_limits(description):
    assert stated(description, r"label: at most (\d+) bytes") == (interface.MAX_LABEL,)
    assert stated(description, r"job: at most (\d+) bytes") == (interface.MAX_JOB,)
    assert stated(description, r"cause: at most (\d+) bytes") == (interface.MAX_CAUSE,)
    assert stated(description, r"min_interval_us: (\d+) to (\d+) \(default (\d+)\)") == \
        interface.MIN_INTERVAL_US_RANGE + (interface.MIN_INTERVAL_US_DEFAULT,)
    assert stated(description, r"max_interval_s: (\d+) to (\d+) \(default (\d+)\)") == \
        interface.MAX_INTERVAL_S_RANGE + (interface.MAX_INTERVAL_S_DEFAULT,)
    assert stated(description, r"gpu: (\d+) to (\d+), NVML's index") == \
        (0, interface.GPU_INDEX_MAX)


def refused(sock, path, cause=None, **params):
    """Opens a session with these Open parameters into a report at path, then closes it as
    failed with cause: the parameter mttd refused, or None."""
    with Connection(sock) as conn:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            session = conn.call("Open", dict(params, fd=0), fds=[fd])["session"]
        except InvalidParameter as e:
            return e.parameters.get("parameter")
        finally:
            os.close(fd)
        try:
            conn.call("Close", {"id": session["id"], "outcome": interface.FAILED,
                                **({"cause": cause} if cause is not None else {})})
        except InvalidParameter as e:
            conn.call("Close", {"id": session["id"], "outcome": interface.FAILED})
            return e.parameters.get("parameter")
    return None


def test_mttd_takes_each_limit_and_no_more(mttd, tmp_path):
    path = str(tmp_path / "limits.csv")
    lo_us, hi_us = interface.MIN_INTERVAL_US_RANGE
    lo_s, hi_s = interface.MAX_INTERVAL_S_RANGE
    assert refused(mttd, path, label="l" * interface.MAX_LABEL) is None
    assert refused(mttd, path, label="l" * (interface.MAX_LABEL + 1)) == "label"
    assert refused(mttd, path, job="j" * interface.MAX_JOB) is None
    assert refused(mttd, path, job="j" * (interface.MAX_JOB + 1)) == "job"
    assert refused(mttd, path, cause="c" * interface.MAX_CAUSE) is None
    assert refused(mttd, path, cause="c" * (interface.MAX_CAUSE + 1)) == "cause"
    assert refused(mttd, path, min_interval_us=lo_us) is None
    assert refused(mttd, path, min_interval_us=lo_us - 1) == "min_interval_us"
    assert refused(mttd, path, min_interval_us=hi_us, max_interval_s=hi_s) is None
    assert refused(mttd, path, min_interval_us=hi_us + 1, max_interval_s=hi_s) == \
        "min_interval_us"
    assert refused(mttd, path, max_interval_s=lo_s) is None
    assert refused(mttd, path, max_interval_s=lo_s - 1) == "max_interval_s"
    assert refused(mttd, path, max_interval_s=hi_s + 1) == "max_interval_s"
    assert refused(mttd, path, scope=interface.SCOPE_SYSTEM) is None
    assert refused(mttd, path, scope="nowhere") == "scope"
    # Open's gpu: past the range, or with another scope than gpu-device (mttd says so before
    # it asks NVML, which this mttd may not have).
    assert refused(mttd, path, scope=interface.SCOPE_GPU_DEVICE,
                   gpu=interface.GPU_INDEX_MAX + 1) == "gpu"
    assert refused(mttd, path, scope=interface.SCOPE_PROCESS, gpu=0) == "gpu"
