"""pytest fixtures: a real mttd on a socket in a temporary directory ($MTTD names the binary),
and the package under test from client/python (not an installed copy)."""
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "client", "python"))


@pytest.fixture(scope="session")
def mttd(tmp_path_factory):
    """The socket path of a running mttd; MTT_SOCKET points at it for the whole session."""
    binary = os.environ.get("MTTD")
    if not binary:
        pytest.fail("MTTD must name the mttd binary to test against")
    d = tmp_path_factory.mktemp("mttd")
    sock = str(d / "sock")
    log = open(d / "mttd.log", "w")
    proc = subprocess.Popen([binary, "--socket", sock], stdout=log, stderr=log)
    for _ in range(500):
        if os.path.exists(sock):
            break
        if proc.poll() is not None:
            pytest.fail("mttd exited at start: see {}".format(d / "mttd.log"))
        time.sleep(0.01)
    os.environ["MTT_SOCKET"] = sock
    yield sock
    proc.terminate()
    assert proc.wait(timeout=30) == 0
    log.close()
