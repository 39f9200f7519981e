#!/bin/sh
# The Python package's tests (pytest) against a real mttd, with Debian's python3 and its
# pytest, numpy and matplotlib. Where those are missing it skips (77), unless
# MTT_REQUIRE_PYTHON_TESTS is set (CI sets it: there they must run).
# Usage: run.sh MTTD MTTCTL [FAKE_NVML] (the fake NVML library: by default the build's, beside
# mttd)
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
if ! "$PYTHON" -c "import pytest, numpy, matplotlib" 2>/dev/null; then
        echo "python3 with pytest, numpy and matplotlib is needed (python3-pytest python3-numpy python3-matplotlib)"
        [ -n "${MTT_REQUIRE_PYTHON_TESTS:-}" ] && exit 1
        exit 77
fi
export MTTD="$1" MTTCTL="$2" MPLBACKEND=Agg PYTHONDONTWRITEBYTECODE=1
[ -n "${3:-}" ] && export FAKE_NVML="$3"
exec "$PYTHON" -m pytest -q -p no:cacheprovider "$(dirname "$0")"
