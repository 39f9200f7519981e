#!/bin/bash
# Integration: sessions outlive mttd under a real systemd as PID 1 (systemd-nspawn, booted
# from this machine's own /usr): `systemctl restart mttd`, `systemctl kill -s KILL mttd` (a
# crash, Restart=on-failure), 50 sessions of another user through one restart, and a Watch
# across a restart. Every report ends 0,0, has rows after the restart and no row out of
# order; the clients' exit and output are as if nothing happened. The machine's memory is a
# fake meminfo the test writes, so the rows before and after are known. Skips (77) where
# nspawn cannot run.
# Usage: test_restart_nspawn.sh BUILD_DIR
set -u
. "$(dirname "$0")/check-lib.sh"
BUILD=$1
SKIP=77
skip() { echo "skipped: $*"; exit $SKIP; }
. "$(dirname "$0")/nspawn-lib.sh"
why=$(ct_can_run) || skip "$why"

DIR=$(mktemp -d /tmp/mtt-restart-XXXXXX)
BIN=$DIR/bin
UNITS=$DIR/units
FAKE=$DIR/fake
mkdir -p "$BIN" "$UNITS/mttd.service.d" "$FAKE"
chmod 755 "$DIR" "$FAKE"
cp "$BUILD/daemon/mttd" "$BUILD/client/mttctl" "$BIN/"
cp "$(dirname "$0")/../../systemd/mttd-node-exporter" "$BIN/"
sed -e 's|=+.*/mttd-node-exporter |=+/opt/mtt/mttd-node-exporter |' -e 's|^ExecStart=.*|ExecStart=/opt/mtt/mttd --meminfo /opt/fake/meminfo|' \
        "$BUILD/systemd/system/mttd.service" >"$UNITS/mttd.service"
cp "$BUILD/systemd/system/mttd.socket" "$UNITS/"
grep -q '^FileDescriptorStoreMax=' "$UNITS/mttd.service" ||
        { echo "not ok - the unit keeps no fd store"; exit 1; }

# The fake meminfo: "used" is MemTotal - MemFree - Buffers - Cached - Slab, fixed-width
# numbers written in place (mttd keeps the file open).
level() {
        local used=$(((1000 + $1) * 1024)) total=16777216
        local free=$((total - used - 51000))
        printf 'MemTotal:       %12d kB\nMemFree:        %12d kB\nMemAvailable:   %12d kB\nBuffers:        %12d kB\nCached:         %12d kB\nSwapCached:     %12d kB\nSlab:           %12d kB\n' \
                "$total" "$free" "$free" 1000 20000 0 30000 |
                dd of="$FAKE/meminfo" conv=notrunc status=none
        chmod 644 "$FAKE/meminfo"
}
level 0

cleanup() {
        ct_cleanup
        rm -rf "$DIR"
}
trap cleanup EXIT
ct_boot -D / --volatile=yes --bind-ro="$UNITS":/etc/systemd/system --bind-ro="$BIN":/opt/mtt \
        --bind-ro="$FAKE":/opt/fake ||
        skip "the container did not boot (${CT_STATE:-no systemd})"
in_ct() { ct "$@"; }
# The container's files are read through it.
OUT=/out
got() { in_ct cat "$1" 2>/dev/null; }

in_ct systemctl start mttd.socket
in_ct mkdir -m 1777 /out

# Waits until every file has a row at the level (extra MiB: 128 and 256 print exactly).
rows_at() {
        local row=",$(awk -v m="$1" 'BEGIN { printf "%.6f", m / 1024 }')"
        shift
        for _ in $(seq 200); do
                # shellcheck disable=SC2016
                in_ct sh -c 'r=$1; shift; for f; do grep -q -- "$r\$" "$f" 2>/dev/null || exit 1; done' \
                        sh "$row" "$@" && return 0
                sleep 0.05
        done
        return 1
}
# A report completed, rows strictly in order, a row of 128 then one of 256.
report_ok() {
        got "$1" | awk -F, 'NR == 1 { if ($0 != "delta,ram") exit 1; next }
                 $0 == "0,0" { ended = NR; next }
                 ended { exit 1 }
                 { if (NR > 2 && $1 + 0 <= last) exit 1; last = $1 + 0 }
                 $2 == "0.125000" && !before { before = NR }
                 $2 == "0.250000" && before && !after { after = NR }
                 END { exit !(ended && before && after) }'
}
active_pid() { in_ct systemctl show -p MainPID --value mttd.service; }

# --- systemctl restart, and then a crash, under one session each
for how in restart kill; do
        level 0
        in_ct sh -c "/opt/mtt/mttctl run -o /out/$how.csv -l $how -- sleep 3.5 >/out/$how.out 2>&1; echo \$? >/out/$how.rc" &
        runner=$!
        rows_at 0 "$OUT/$how.csv" # open: its baseline is the level now
        level 128
        rows_at 128 "$OUT/$how.csv" || not_ok "$how: rows before"
        old=$(active_pid)
        if [ $how = restart ]; then
                in_ct systemctl restart mttd.service
        else
                in_ct systemctl kill -s KILL mttd.service
                for _ in $(seq 100); do
                        new=$(active_pid)
                        [ "$new" != 0 ] && [ "$new" != "$old" ] && break
                        sleep 0.05
                done
        fi
        check "$how: a new mttd runs" test "$(active_pid)" != "$old"
        level 256
        rows_at 256 "$OUT/$how.csv"
        check "$how: rows after the $how" test $? -eq 0
        id=$(in_ct /opt/mtt/mttctl list | awk -v l=$how '$4 == l { print $1 }' | tail -n 1)
        in_ct /opt/mtt/mttctl status "$id" >"$DIR/status.$how" 2>&1
        check "$how: its status tells of the restart" grep -q "^Restarts:  1 of mttd" "$DIR/status.$how"
        level 0
        wait $runner
        check "$how: the client exits 0" test "$(got "$OUT/$how.rc")" = 0
        got "$OUT/$how.out" >"$DIR/$how.out"
        check "$how: the client says it completed" grep -q "session [0-9]* completed (exited with status 0)" "$DIR/$how.out"
        check "$how: nothing else in its output" test "$(wc -l <"$DIR/$how.out")" = 1
        check "$how: the report completed, in order, rows on both sides" report_ok "$OUT/$how.csv"
        check "$how: mttctl check says completed" in_ct /opt/mtt/mttctl check "/out/$how.csv"
done
# A process-scope session: its process is held again by the pidfd of its own kept for it;
# its job (from Slurm's environment) outlives the restart with the rest of its state.
in_ct sh -c "SLURM_JOB_ID=4242 /opt/mtt/mttctl run --scope process -o /out/proc.csv -l proc -- sleep 3 >/out/proc.out 2>&1; echo \$? >/out/proc.rc" &
runner=$!
for _ in $(seq 200); do [ "$(got "$OUT/proc.csv" | wc -l)" -ge 2 ] && break; sleep 0.05; done
in_ct systemctl restart mttd.service
id=$(in_ct /opt/mtt/mttctl list | awk '$4 == "proc" { print $1 }' | tail -n 1)
in_ct /opt/mtt/mttctl status "$id" >"$DIR/status.proc" 2>&1
check "process scope: it runs on after the restart" grep -q "^State: *running" "$DIR/status.proc"
check "process scope: its status tells of the restart" grep -q "^Restarts:  1 of mttd" "$DIR/status.proc"
check "process scope: its job outlived the restart" grep -q "^Job: *4242$" "$DIR/status.proc"
wait $runner
check "process scope: the client exits 0" test "$(got "$OUT/proc.rc")" = 0
got "$OUT/proc.out" >"$DIR/proc.out"
check "process scope: the client says it completed" grep -q "completed (exited with status 0)" "$DIR/proc.out"
got "$OUT/proc.csv" >"$DIR/proc.csv"
check "process scope: the report completed, in order" awk -F, '
        NR == 1 { if ($0 != "delta,ram") exit 1; next }
        $0 == "0,0" { ended = 1; next }
        ended { exit 1 }
        { if (NR > 2 && $1 + 0 <= last) exit 1; last = $1 + 0 }
        END { exit !ended }' "$DIR/proc.csv"

in_ct journalctl -u mttd.service --no-pager >"$DIR/journal" 2>&1
check "the journal says the sessions were resumed, with the gap" \
        grep -q "session [0-9]* (restart) resumed after mttd restarted: a gap of" "$DIR/journal"
check "the journal says the crash's session was resumed" \
        grep -q "session [0-9]* (kill) resumed after mttd restarted" "$DIR/journal"
check "the journal says a restart job handed the sessions over" \
        grep -q "SIGTERM (a restart): handing 1 running session(s) over" "$DIR/journal"

# --- 50 sessions of another user through one restart, and a Watch across it
level 0
in_ct mkdir -m 1777 /out/nobody
runners=
for i in $(seq 50); do
        in_ct setpriv --reuid=65534 --regid=65534 --clear-groups \
                sh -c "/opt/mtt/mttctl run -o /out/nobody/$i.csv -l n$i -- sleep 4 >/out/nobody/$i.out 2>&1; echo \$? >/out/nobody/$i.rc" &
        runners="$runners $!"
done
in_ct sh -c '/opt/mtt/mttctl run -o /out/w.csv -l watched -- sleep 4 >/dev/null 2>&1' &
runners="$runners $!"
for _ in $(seq 100); do
        wid=$(in_ct /opt/mtt/mttctl list | awk '$4 == "watched" { print $1 }')
        [ -n "$wid" ] && break
        sleep 0.05
done
in_ct timeout 20 /opt/mtt/mttctl watch "$wid" >"$DIR/watch.out" 2>&1 &
watcher=$!
files=$(for i in $(seq 50); do printf '%s ' "$OUT/nobody/$i.csv"; done)
# shellcheck disable=SC2086
rows_at 0 $files "$OUT/w.csv"
level 128
# shellcheck disable=SC2086
rows_at 128 $files "$OUT/w.csv"
check "50 sessions of another user and a watched one have rows" test $? -eq 0
in_ct systemctl restart mttd.service
level 256
# shellcheck disable=SC2086
rows_at 256 $files "$OUT/w.csv"
check "all of them have rows after the restart" test $? -eq 0
level 0
# shellcheck disable=SC2086
wait $runners $watcher
bad=0
for i in $(seq 50); do
        [ "$(got "$OUT/nobody/$i.rc")" = 0 ] && got "$OUT/nobody/$i.out" | grep -q "completed (exited with status 0)" &&
                report_ok "$OUT/nobody/$i.csv" || { bad=$((bad + 1)); echo "# nobody/$i: $(got "$OUT/nobody/$i.out")"; }
done
check "the other user's 50 clients exit 0 and their reports completed, in order ($bad bad)" test $bad = 0
check "the watched report completed, in order, rows on both sides" report_ok "$OUT/w.csv"
check "the watch saw rows after the restart" grep -q ",0.250000$" "$DIR/watch.out"
check "the watch ended with the session's end" grep -q "^# session $wid (watched) completed" "$DIR/watch.out"
check "the watch's rows are in order" awk -F, '/^[0-9]/ { if ($1 + 0 <= last) exit 1; last = $1 + 0 }' "$DIR/watch.out"

# --- a kept state this mttd cannot read (a future version's): its session ends in error, and
# its client, its status and the journal say why
level 0
printf '[Service]\nRestartSec=3s\n' >"$UNITS/mttd.service.d/slow-restart.conf"
in_ct systemctl daemon-reload
in_ct sh -c "/opt/mtt/mttctl run -o /out/future.csv -l future -- sleep 6 >/out/future.out 2>&1; echo \$? >/out/future.rc" &
runner=$!
rows_at 0 "$OUT/future.csv"
old=$(active_pid)
in_ct systemctl kill -s KILL mttd.service
# While systemd waits to start it again, the state it keeps is made a future mttd's.
# shellcheck disable=SC2016
state=$(in_ct sh -c 'for f in /proc/1/fd/*; do case "$(readlink "$f")" in *mtt-state-*) echo "$f" ;; esac; done' | head -n 1)
check "the session's state is in systemd's store" test -n "$state"
in_ct sh -c "printf '{\"version\":9' | dd of=$state bs=1 seek=256 conv=notrunc status=none"
for _ in $(seq 200); do
        new=$(active_pid)
        [ "$new" != 0 ] && [ "$new" != "$old" ] && break
        sleep 0.05
done
wait $runner
got "$OUT/future.out" >"$DIR/future.out"
check "its client says mttd could not resume it, and why" \
        grep -q "may be incomplete: mttd restarted and could not resume the session: its saved state is of a version this mttd does not know" "$DIR/future.out"
in_ct /opt/mtt/mttctl list >"$DIR/list" 2>&1
check "mttctl list shows it in error" grep -q "error: mttd restarted and could not resume the session" "$DIR/list"
in_ct journalctl -u mttd.service --no-pager >"$DIR/journal" 2>&1
check "the journal says so" grep -q "mttd restarted and could not resume it: its saved state is of a version this mttd does not know" "$DIR/journal"
rm -f "$UNITS/mttd.service.d/slow-restart.conf"
in_ct systemctl daemon-reload

# --- a stop (not a restart) still ends the sessions, as before
in_ct sh -c '/opt/mtt/mttctl run -o /out/stop.csv -l stop -- sleep 30 >/dev/null 2>&1 &'
rows_at 0 "$OUT/stop.csv"
in_ct systemctl stop mttd.service
in_ct journalctl -u mttd.service --no-pager >"$DIR/journal" 2>&1
check "a stop ends a running session (crashed: mttd stopped)" grep -q "session [0-9]* (stop) crashed: mttd stopped while the session ran" "$DIR/journal"
in_ct pkill -f "sleep 30"

[ "$failed" -gt 0 ] && in_ct journalctl -u mttd.service --no-pager | tail -n 60 | sed 's/^/# /'
summary
