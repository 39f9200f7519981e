#!/bin/sh
# Integration: a real OOM kill. `mttctl run` tracks a program that allocates until the kernel
# kills it inside a memory cgroup limited to 64 MiB (v1 or v2). Exit 137, a report with no
# ending whose last row is the moment mttctl saw the death, a session that says so, and a mttd
# that goes on. Skips (exit 77) where no memory cgroup can be made.
# Usage: test_oom.sh MTTD MTTCTL ALLOCATE
set -u
. "$(dirname "$0")/check-lib.sh"
MTTD=$1
MTTCTL=$2
ALLOCATE=$3
[ "$(id -u)" = 0 ] || { echo "skipped: needs root"; exit 77; }

. "$(dirname "$0")/cgroup-lib.sh"
make_memory_cgroup "mtt-oom-$$" 64M
[ -n "$CG" ] || { echo "skipped: cannot make a memory cgroup here"; exit 77; }

start_mttd_in_dir mtt-oom "$MTTD"

# Only the tracked program goes into the cgroup: it moves itself there, then becomes it.
"$MTTCTL" run -o "$DIR/oom.csv" -l oom -- \
        sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2"' sh "$CG" "$ALLOCATE" 2>"$DIR/err"
status=$?
check "killed by the OOM killer: exit 137 (got $status)" test "$status" -eq 137
check "the report has a header" sh -c "head -n 1 '$DIR/oom.csv' | grep -qx delta,ram"
check "the report has no ending" sh -c "! tail -n 1 '$DIR/oom.csv' | grep -Eqx '0,0|-1,-1'"
check "every line is whole" sh -c "[ -z \"\$(tail -c 1 '$DIR/oom.csv')\" ]"
check "the report saw the memory grow" sh -c "[ \$(wc -l <'$DIR/oom.csv') -ge 3 ]"
"$MTTCTL" status 1 --json >"$DIR/status"
check "the session crashed" grep -q '"state": "crashed"' "$DIR/status"
check "it says how: the OOM killer" grep -q '"cause": "killed by SIGKILL (OOM killer)"' "$DIR/status"
last=$(tail -n 1 "$DIR/oom.csv" | cut -d, -f1)
elapsed=$(sed -n 's/.*"elapsed": \([0-9.]*\).*/\1/p' "$DIR/status")
check "the last row is the moment it ended ($last vs $elapsed s)" \
        awk -v a="$last" -v b="$elapsed" 'BEGIN { d = a - b; exit !(d < 0.000002 && d > -0.000002) }'
if [ -f "$CG/memory.oom_control" ]; then
        check "the cgroup counted an OOM kill" grep -q "oom_kill [1-9]" "$CG/memory.oom_control"
elif [ -f "$CG/memory.events" ]; then
        check "the cgroup counted an OOM kill" grep -q "oom_kill [1-9]" "$CG/memory.events"
fi
# A program that tracks itself (libmtt-client) dies the same way: mttd finds out how, from
# its pidfd and the cgroup's count.
sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" "$3"' sh "$CG" "$ALLOCATE" "$DIR/self.csv" 2>"$DIR/err"
status=$?
check "the self-tracking program is killed too (got $status)" test "$status" -eq 137
check "its report has no ending" sh -c "! tail -n 1 '$DIR/self.csv' | grep -Eqx '0,0|-1,-1'"
# The cause comes from the pidfd a little after the hangup: up to 30 s on a loaded machine.
said_oom() {
        "$MTTCTL" list >"$DIR/out" 2>&1
        grep -q "self-tracked .*crashed: killed by SIGKILL (OOM killer)" "$DIR/out"
}
end=$(($(date +%s) + 30))
while ! said_oom && [ "$(date +%s)" -lt "$end" ]; do
        sleep 0.1
done
said_oom || { echo "mttctl list says:"; cat "$DIR/out"; }
check "mttd says it was the OOM killer" said_oom
"$MTTCTL" run -o "$DIR/after.csv" -- true 2>/dev/null
check "mttd is unharmed" "$MTTCTL" check "$DIR/after.csv"
summary
