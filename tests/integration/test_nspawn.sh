#!/bin/bash
# Integration: mttd under a real systemd as PID 1, in a throwaway systemd-nspawn container
# booted from this machine's own /usr. Socket activation, a session through it, a non-root
# client, the dynamic uid, the journal's fields, `systemctl stop` flushing a live session,
# and the watchdog. Skips (exit 77) where nspawn cannot run.
# Usage: test_nspawn.sh BUILD_DIR
set -u
. "$(dirname "$0")/check-lib.sh"
BUILD=$1
SKIP=77
skip() { echo "skipped: $*"; exit $SKIP; }
. "$(dirname "$0")/nspawn-lib.sh"
why=$(ct_can_run) || skip "$why"

DIR=$(mktemp -d /tmp/mtt-nspawn-XXXXXX)
BIN=$DIR/bin
UNITS=$DIR/units
mkdir -p "$BIN" "$UNITS/mttd.service.d"
cp "$BUILD/daemon/mttd" "$BUILD/client/mttctl" "$BIN/"
cp "$(dirname "$0")/../../systemd/mttd-node-exporter" "$BIN/"
sed -e 's|=+.*/mttd-node-exporter |=+/opt/mtt/mttd-node-exporter |' -e 's|^ExecStart=.*|ExecStart=/opt/mtt/mttd|' "$BUILD/systemd/system/mttd.service" >"$UNITS/mttd.service"
cp "$BUILD/systemd/system/mttd.socket" "$UNITS/"
# A short watchdog, and no restart, so that a stopped mttd shows Result=watchdog.
printf '[Service]\nWatchdogSec=2s\nRestart=no\n' >"$UNITS/mttd.service.d/test.conf"


cleanup() {
        ct_cleanup
        rm -rf "$DIR"
}
trap cleanup EXIT
ct_boot -D / --volatile=yes --bind-ro="$UNITS":/etc/systemd/system --bind-ro="$BIN":/opt/mtt ||
        skip "the container did not boot (${CT_STATE:-no systemd})"
in_ct() { ct "$@"; }

in_ct systemctl start mttd.socket
check "mttd.socket starts" in_ct systemctl is-active -q mttd.socket
check "the socket is 0666" test "$(in_ct stat -c %a /run/mtt/io.mtt.Tracker)" = 666

in_ct /opt/mtt/mttctl run -o /tmp/first.csv -l first -- true 2>"$DIR/err"
check "a session completes through the socket-activated service" test $? -eq 0
check "its report completed" in_ct /opt/mtt/mttctl check /tmp/first.csv
check "mttd.service is active (Type=notify reached READY)" in_ct systemctl is-active -q mttd.service
in_ct systemctl show -p StatusText --value mttd.service >"$DIR/status"
check "STATUS= reaches systemd" grep -q "session" "$DIR/status"

in_ct setpriv --reuid=65534 --regid=65534 --clear-groups /opt/mtt/mttctl list >"$DIR/list" 2>&1
check "mttctl list works as a non-root user" test $? -eq 0
check "a non-root user does not see root's session" sh -c "! grep -q ' first ' '$DIR/list'"

MAIN=$(in_ct systemctl show -p MainPID --value mttd.service)
UID_=$(in_ct ps -o uid= -p "$MAIN" | tr -d ' ')
check "mttd runs as a dynamic uid (got $UID_)" test "${UID_:-0}" -ge 61184 -a "${UID_:-0}" -le 65519

in_ct journalctl -u mttd.service -o verbose --no-pager >"$DIR/journal" 2>&1
check "the journal has MTT_SESSION_ID" grep -q "MTT_SESSION_ID=1" "$DIR/journal"
check "the journal has MTT_OUTCOME" grep -q "MTT_OUTCOME=completed" "$DIR/journal"
check "the journal has MTT_LABEL" grep -q "MTT_LABEL=first" "$DIR/journal"

# `systemctl stop` with a live session: its rows are flushed, no ending.
in_ct sh -c '/opt/mtt/mttctl run -o /tmp/live.csv -l live -- sleep 30 >/dev/null 2>&1 &'
sleep 1.5
in_ct systemctl stop mttd.service
in_ct cat /tmp/live.csv >"$DIR/live.csv"
check "a live session's report has its header and rows" sh -c "head -n 1 '$DIR/live.csv' | grep -qx delta,ram && [ \$(wc -l <'$DIR/live.csv') -ge 2 ]"
check "it has no ending" sh -c "! tail -n 1 '$DIR/live.csv' | grep -qx '0,0'"
check "every line is whole" sh -c "[ -z \"\$(tail -c 1 '$DIR/live.csv')\" ]"
in_ct pkill -f "sleep 30"

# The watchdog: a mttd that stops pinging is killed for it.
in_ct systemctl start mttd.service
MAIN=$(in_ct systemctl show -p MainPID --value mttd.service)
in_ct kill -STOP "$MAIN"
for _ in $(seq 60); do
        result=$(in_ct systemctl show -p Result --value mttd.service)
        [ "$result" = watchdog ] && break
        sleep 0.1
done
check "a stopped mttd ends with Result=watchdog (got $result)" test "$result" = watchdog

summary
