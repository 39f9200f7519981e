#!/bin/sh
# The Prometheus rules mtt ships: promtool checks them, then runs their unit tests. promtool
# is needed (Debian: prometheus); one not found when CMake configured fails the test, since
# a test that skips where CI lacks it would never fail.
# Usage: run.sh PROMTOOL SOURCE_DIR
PROMTOOL=$1
SRC=$2
case $PROMTOOL in
*-NOTFOUND | "")
        echo "promtool was not found when CMake configured (Debian: apt install prometheus);"
        echo "install it and configure again, or give -DMTT_PROMTOOL=/path/to/promtool"
        exit 1
        ;;
esac
set -e
"$PROMTOOL" check rules "$SRC/daemon/prometheus/mtt-rules.yml"
"$PROMTOOL" test rules "$SRC/tests/prometheus/mtt-rules.test.yml"
