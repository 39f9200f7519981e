#!/bin/sh
# Integration: mttctl and NVIDIA GPUs, against an mttd with the fake NVML (tests/fake_nvml)
# and one whose NVML library is missing. `mttctl sample`'s GPU lines (a line per GPU, a lost
# one saying so; "none" and why). `mttctl run` with the gpu scope (the command's own GPU
# memory), --gpu-output (a RAM report and a GPU report of one run), the gpu-device scope (one
# GPU or all), status's GPU lines, a GPU that is not there and a missing NVML (no tracking,
# the command never runs, and why), run's usage errors; plot of a RAM and a GPU report.
# Usage: test_mttctl_gpu.sh MTTD MTTCTL FAKE_NVML
set -u
. "$(dirname "$0")/check-lib.sh"
MTTD=$1
MTTCTL=$2
FAKE=$3
DIR=$(mktemp -d /tmp/mtt-cli-gpu-XXXXXX)
export MTT_SOCKET="$DIR/sock"
export FAKE_NVML_STATE="$DIR/state"
# The tracked commands below read these.
MEMINFO="$DIR/meminfo"
SET_USED="$(dirname "$0")/set-used.sh"
export MTTCTL MEMINFO SET_USED
GIB=1073741824

cleanup() {
        [ -n "${DAEMON:-}" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
        rm -rf "$DIR"
}
trap cleanup EXIT

start() { # start NVML_PATH [MTTD_ARG]...: an mttd loading it, on $DIR/sock
        cleanup_daemon
        rm -f "$DIR/sock"
        nvml=$1
        shift
        "$MTTD" --socket "$DIR/sock" --nvml "$nvml" "$@" 2>"$DIR/mttd.log" &
        DAEMON=$!
        i=0
        while [ ! -S "$DIR/sock" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
}
cleanup_daemon() {
        [ -n "${DAEMON:-}" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
        DAEMON=
}

cat >"$DIR/state" <<'STATE'
device 0 "Fake H200" total 150118440960 used 1610612736
device 1 "Fake B200" total 1000 used 10
lost 1
STATE
start "$FAKE"
"$MTTCTL" sample >"$DIR/out" 2>"$DIR/err"
check "sample with GPUs exits 0" test $? -eq 0
check "a line for GPU 0" grep -qx "GPU 0:     Fake H200, 1.50 GiB used of 139.81 GiB" "$DIR/out"
check "GPU 1 is lost" grep -qx "GPU 1:     GPU is lost" "$DIR/out"
check "no 'none' line" sh -c "! grep -q '^GPUs:' '$DIR/out'"
"$MTTCTL" sample --json >"$DIR/out" 2>"$DIR/err"
check "sample --json has the GPUs" grep -q '"name": "Fake H200"' "$DIR/out"
check "sample --json has a lost one's error" grep -q '"error": "GPU is lost"' "$DIR/out"

# The highest and lowest value of a report's data rows (with a point: not the endings).
report_max() { awk -F, 'NR > 1 && $1 ~ /\./ { if (n++ == 0 || $2 + 0 > m) m = $2 + 0 } END { if (n) print m }' "$1"; }
report_min() { awk -F, 'NR > 1 && $1 ~ /\./ { if (n++ == 0 || $2 + 0 < m) m = $2 + 0 } END { if (n) print m }' "$1"; }
near() { # near GOT WANT: within 0.001 (GiB)
        awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; exit !(a != "" && d < 0.001 && d > -0.001) }'
}
# completed REPORT: mttctl check says it completed.
completed() { "$MTTCTL" check "$1" >/dev/null 2>&1; }
# The session a run's last message names first ("session 7 completed ...").
session_of() { sed -n 's/^mttctl: session \([0-9]*\) .*/\1/p' "$1" | tail -n 1; }
# What the tracked commands run: hold.sh LINE USED_MIB PATTERN... waits until every running
# session has its first row (its baseline is taken: Open may be answered before it when the
# first GPU read is slow), adds LINE to the fake NVML's state (PID in it: its own pid, the
# tracked child's), sets the fake meminfo to USED_MIB (0: leaves it), then waits until each
# PATTERN (grep -E) matches a line of `mttctl list` (mttd has seen it: a peak), and until the
# file $HOLD_UNTIL exists when that is set; exit 1 when 30 s pass first.
cat >"$DIR/hold.sh" <<'HOLD'
rowless() { # whether a running session has no row yet
        "$MTTCTL" list --json | awk '/"state": / { st = $2 }
                /"rows": / { if (st == "\"running\"," && $2 == "0,") n++ } END { exit !n }'
}
i=0
while rowless; do
        [ $i -lt 600 ] || exit 1
        sleep 0.05
        i=$((i + 1))
done
line=$(printf '%s\n' "$1" | sed "s/PID/$$/")
{ cat "$FAKE_NVML_STATE"; printf '%s\n' "$line"; } >"$FAKE_NVML_STATE.$$" &&
        mv "$FAKE_NVML_STATE.$$" "$FAKE_NVML_STATE"
[ "$2" -gt 0 ] && sh "$SET_USED" "$MEMINFO" "$2"
shift 2
i=0
while [ $i -lt 600 ]; do
        "$MTTCTL" list >"$FAKE_NVML_STATE.list.$$" 2>&1
        seen=1
        for p in "$@"; do grep -Eq -- "$p" "$FAKE_NVML_STATE.list.$$" || seen=0; done
        [ -z "${HOLD_UNTIL:-}" ] || [ -e "$HOLD_UNTIL" ] || seen=0
        [ $seen = 1 ] && exit 0
        sleep 0.05
        i=$((i + 1))
done
exit 1
HOLD
HOLD="$DIR/hold.sh"
state() { # state LINE...: the fake NVML's state, whole (written aside, then renamed)
        printf '%s\n' "$@" >"$DIR/state.new" && mv "$DIR/state.new" "$DIR/state"
}
ONE_GPU='device 0 "Fake H200" total 150118440960 used 1610612736'

# --- run's usage errors: exit 2, and the command never runs
status_is 2 "run --gpu with --scope process is a usage error" \
        "$MTTCTL" run --scope process --gpu 0 -o "$DIR/u.csv" -- touch "$DIR/ran-usage"
check "it says --gpu is gpu-device's" grep -q "run: --gpu is for --scope gpu-device" "$DIR/err"
status_is 2 "run --gpu without a scope is a usage error" \
        "$MTTCTL" run --gpu 0 -o "$DIR/u.csv" -- touch "$DIR/ran-usage"
status_is 2 "run --gpu x is a usage error" \
        "$MTTCTL" run --scope gpu-device --gpu x -o "$DIR/u.csv" -- touch "$DIR/ran-usage"
check "it names the bad index and the range" grep -q "run: bad --gpu 'x' (a GPU's index, 0 to 63)" "$DIR/err"
status_is 2 "run --gpu -1 is a usage error" \
        "$MTTCTL" run --scope gpu-device --gpu -1 -o "$DIR/u.csv" -- touch "$DIR/ran-usage"
status_is 2 "run --gpu 64 is a usage error" \
        "$MTTCTL" run --scope gpu-device --gpu 64 -o "$DIR/u.csv" -- touch "$DIR/ran-usage"
status_is 2 "run --scope with an unknown scope is a usage error" \
        "$MTTCTL" run --scope gpus -o "$DIR/u.csv" -- touch "$DIR/ran-usage"
check "it lists the scopes" grep -q "system, process, cgroup, gpu or gpu-device" "$DIR/err"
status_is 2 "run --gpu-output naming -o's file is a usage error" \
        "$MTTCTL" run -o "$DIR/u.csv" --gpu-output "$DIR/u.csv" -- touch "$DIR/ran-usage"
status_is 2 "run --gpu-output naming -o's file spelt otherwise is a usage error" \
        "$MTTCTL" run -o "$DIR/u.csv" --gpu-output "$DIR/../$(basename "$DIR")/./u.csv" -- touch "$DIR/ran-usage"
check "no usage error ran the command or made a report" \
        sh -c "[ ! -e '$DIR/ran-usage' ] && [ ! -e '$DIR/u.csv' ]"
echo "kept" >"$DIR/same.csv"
ln -s same.csv "$DIR/same-link.csv"
status_is 2 "run --gpu-output naming -o's file through a link is a usage error" \
        "$MTTCTL" run -o "$DIR/same.csv" --gpu-output "$DIR/same-link.csv" -- touch "$DIR/ran-usage"
check "and the file is as it was" sh -c "[ \"\$(cat '$DIR/same.csv')\" = kept ] && [ ! -e '$DIR/ran-usage' ]"
status_is 0 "run --help" "$MTTCTL" run --help
check "run --help shows run's usage" grep -q "^Usage: mttctl run " "$DIR/out"
check "run --help lists --gpu-output" grep -q -- "--gpu-output FILE" "$DIR/out"

# --- the gpu scope: what the command's tree holds on the GPUs (here 1 GiB, from the start)
state "$ONE_GPU"
sh "$SET_USED" "$MEMINFO" 1000
start "$FAKE" --meminfo "$MEMINFO"
status_is 0 "run --scope gpu" "$MTTCTL" run --scope gpu -o "$DIR/g.csv" -l gpu1 -- \
        sh "$HOLD" "process 0 PID $GIB" 0 " gpu1 .* 1\.00 GiB +running"
check "the gpu report completed" completed "$DIR/g.csv"
check "its first row is 0 (the tree held nothing at Open)" grep -qx "0.000000,0.000000" "$DIR/g.csv"
check "its peak is the tree's 1 GiB (not the GPU's 1.5 GiB used)" near "$(report_max "$DIR/g.csv")" 1
check "the last message names the report" \
        grep -q "^mttctl: session [0-9]* completed (exited with status 0); report: $DIR/g.csv$" "$DIR/err"
id=$(session_of "$DIR/err")
status_is 0 "status of a gpu session" "$MTTCTL" status "${id:-0}"
check "status says its scope and whose tree" grep -q "^Scope: *gpu (process [0-9]* and its descendants)$" "$DIR/out"
check "and no GPU line (the gpu scope has no one GPU)" sh -c "grep -q '^Scope: *gpu ' '$DIR/out' &&
        ! grep -q '^GPU' '$DIR/out'"

# --- --gpu-output: a RAM report (the machine: 512 MiB more) and a GPU report (1 GiB)
state "$ONE_GPU"
status_is 0 "run -o ram.csv --gpu-output gpu.csv" "$MTTCTL" run -o "$DIR/ram.csv" \
        --gpu-output "$DIR/gpu.csv" -l both -- sh "$HOLD" "process 0 PID $GIB" 1512 \
        " both .* 1\.00 GiB +running" " both .* 512\.0 MiB +running"
check "the RAM report completed" completed "$DIR/ram.csv"
check "the GPU report completed" completed "$DIR/gpu.csv"
check "the RAM report's peak is the machine's 0.5 GiB" near "$(report_max "$DIR/ram.csv")" 0.5
check "the GPU report's peak is the tree's 1 GiB" near "$(report_max "$DIR/gpu.csv")" 1
check "the last message names both reports" grep -q \
        "^mttctl: session [0-9]* completed (exited with status 0); report: $DIR/ram.csv; GPU report: $DIR/gpu.csv (session [0-9]*)$" \
        "$DIR/err"
"$MTTCTL" list >"$DIR/out"
check "list marks neither session of the run [shared machine] (one workload, not two)" sh -c \
        "[ \$(grep -c ' both .*completed' '$DIR/out') -eq 2 ] && ! grep -q ' both .*shared machine' '$DIR/out'"
sh "$SET_USED" "$MEMINFO" 1000
state "$ONE_GPU"
status_is 3 "run --gpu-output of a command that fails" "$MTTCTL" run -o "$DIR/ram3.csv" \
        --gpu-output "$DIR/gpu3.csv" -l fails -- sh -c 'exit 3'
"$MTTCTL" check "$DIR/ram3.csv" "$DIR/gpu3.csv" >"$DIR/out" 2>&1
check "both reports end as failed" sh -c "grep -qx '$DIR/ram3.csv: crashed gracefully' '$DIR/out' &&
        grep -qx '$DIR/gpu3.csv: crashed gracefully' '$DIR/out'"
"$MTTCTL" list >"$DIR/out"
check "both sessions say why" [ "$(grep -c " fails .*failed: exited with status 3" "$DIR/out")" -eq 2 ]
check "list marks the GPU one, not the RAM one" \
        [ "$(grep -c ' fails .*failed: exited with status 3 \[GPU\]$' "$DIR/out")" -eq 1 ]

# --- plot: the RAM report and the GPU report of one run on one chart, in two colours, each
# a line and a legend entry
status_is 0 "plot ram.csv gpu.csv" "$MTTCTL" plot "$DIR/ram.csv" "$DIR/gpu.csv" -o "$DIR/both.svg"
blue='stroke:rgb(12.156863%,46.666667%,70.588235%)'
orange='stroke:rgb(100%,49.803922%,5.490196%)'
check "the RAM report: a line and its legend entry" [ "$(grep -c "$blue" "$DIR/both.svg")" -eq 2 ]
check "the GPU report: a line and its legend entry" [ "$(grep -c "$orange" "$DIR/both.svg")" -eq 2 ]
status_is 0 "plot ram.csv gpu.csv as a PNG" "$MTTCTL" plot "$DIR/ram.csv" "$DIR/gpu.csv" -o "$DIR/both.png"

# --- no GPU of that index: no tracking, the command never runs, and how many GPUs there are
state "$ONE_GPU"
echo "yesterday's report" >"$DIR/g5.csv"
status_is 125 "run --gpu 5 with one GPU exits 125 (no tracking)" "$MTTCTL" run --scope gpu-device \
        --gpu 5 -o "$DIR/g5.csv" -- touch "$DIR/ran5"
check "the report there is as it was (refused before it was touched)" \
        [ "$(cat "$DIR/g5.csv")" = "yesterday's report" ]
check "it says there is no GPU 5 and which there are" \
        grep -qx "mttctl: cannot track GPU memory: no GPU 5: mttd sees 1 NVIDIA GPU (index 0)" "$DIR/err"
check "the command did not run" [ ! -e "$DIR/ran5" ]

# --- the gpu-device scope: GPU 0 alone (2 GiB, then 3), or both (7 GiB, then 8). mttd counts
# the GPUs once, as it loads NVML: a new one for two.
TWO_GPUS_0='device 0 "Fake A" total 85899345920 used 2147483648'
TWO_GPUS_1='device 1 "Fake B" total 85899345920 used 5368709120'
GPU0_UP='device 0 "Fake A" total 85899345920 used 3221225472'
state "$TWO_GPUS_0" "$TWO_GPUS_1"
start "$FAKE" --meminfo "$MEMINFO"
status_is 0 "run --scope gpu-device --gpu 0" "$MTTCTL" run --scope gpu-device --gpu 0 \
        --no-calibrate -o "$DIR/dev0.csv" -l dev0 -- sh "$HOLD" "$GPU0_UP" 0 " dev0 .* 3\.00 GiB +running"
check "GPU 0's report completed" completed "$DIR/dev0.csv"
check "GPU 0's report starts at its 2 GiB" near "$(report_min "$DIR/dev0.csv")" 2
check "GPU 0's report peaks at its 3 GiB" near "$(report_max "$DIR/dev0.csv")" 3
id=$(session_of "$DIR/err")
status_is 0 "status of a gpu-device session of one GPU" "$MTTCTL" status "${id:-0}"
check "status says its scope" grep -q "^Scope: *gpu-device$" "$DIR/out"
check "status says its GPU" grep -qx "GPU:       0" "$DIR/out"
"$MTTCTL" status "${id:-0}" --json >"$DIR/out"
check "status --json has its gpu" grep -q '"gpu": 0' "$DIR/out"
state "$TWO_GPUS_0" "$TWO_GPUS_1"
status_is 0 "run --scope gpu-device (every GPU)" "$MTTCTL" run --scope gpu-device --no-calibrate \
        -o "$DIR/all.csv" -l allgpus -- sh "$HOLD" "$GPU0_UP" 0 " allgpus .* 8\.00 GiB +running"
check "every GPU's report starts at 7 GiB" near "$(report_min "$DIR/all.csv")" 7
check "every GPU's report peaks at 8 GiB" near "$(report_max "$DIR/all.csv")" 8
id=$(session_of "$DIR/err")
"$MTTCTL" status "${id:-0}" >"$DIR/out"
check "status of every GPU's session has no GPU line" sh -c "grep -q '^Scope: *gpu-device$' '$DIR/out' &&
        ! grep -q '^GPU' '$DIR/out'"

# --- a GPU lost while a gpu-device session runs: status says so
state "$TWO_GPUS_0" "$TWO_GPUS_1"
HOLD_UNTIL="$DIR/lost.go" "$MTTCTL" run --scope gpu-device -o "$DIR/lost.csv" -l lostgpu -- \
        sh "$HOLD" "lost 1" 0 >"$DIR/lost.out" 2>&1 &
RUN=$!
lost_id() { "$MTTCTL" list | awk '$4 == "lostgpu" && /running/ { print $1 }'; }
lost_open() { [ -n "$(lost_id)" ]; }
wait_for 20 lost_open
id=$(lost_id)
status_lost() { "$MTTCTL" status "${id:-0}" >"$DIR/out" 2>&1 && grep -q "^GPU error: .*GPU is lost" "$DIR/out"; }
check "status of a running gpu-device session says a GPU is lost" wait_for 20 status_lost
touch "$DIR/lost.go"
wait $RUN
check "that run completed" [ $? -eq 0 ]

start "$DIR/missing-libnvidia-ml.so.1"
"$MTTCTL" sample >"$DIR/out" 2>"$DIR/err"
check "sample without NVML exits 0" test $? -eq 0
check "it says there are none and why" grep -qx \
        "GPUs:      none: $DIR/missing-libnvidia-ml.so.1 not found (no NVIDIA driver)" "$DIR/out"
check "and still the memory" grep -q "^MemTotal: *[0-9]* kB" "$DIR/out"
"$MTTCTL" sample --json >"$DIR/out" 2>"$DIR/err"
check "sample --json has gpu_error" grep -q '"gpu_error": ".*not found' "$DIR/out"

# --- no NVML: a GPU scope cannot be tracked, and mttctl says what is missing
status_is 125 "run --scope gpu without NVML exits 125 (no tracking)" \
        "$MTTCTL" run --scope gpu -o "$DIR/nog.csv" -- touch "$DIR/ran-nog"
check "it names the missing library" grep -qx \
        "mttctl: cannot track GPU memory: $DIR/missing-libnvidia-ml.so.1 not found (no NVIDIA driver)" "$DIR/err"
check "the command did not run" [ ! -e "$DIR/ran-nog" ]
echo "kept" >"$DIR/gpu-nog.csv"
status_is 125 "run --gpu-output without NVML exits 125" \
        "$MTTCTL" run -o "$DIR/ram-nog.csv" --gpu-output "$DIR/gpu-nog.csv" -- touch "$DIR/ran-nog"
check "it names the missing library" grep -q "cannot track GPU memory: .*libnvidia-ml.so.1 not found" "$DIR/err"
check "the command did not run, nor was the RAM report made" \
        sh -c "[ ! -e '$DIR/ran-nog' ] && [ ! -e '$DIR/ram-nog.csv' ]"
check "and the GPU report there is as it was" [ "$(cat "$DIR/gpu-nog.csv")" = kept ]

summary
