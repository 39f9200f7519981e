#!/bin/sh
# Integration: mttctl against a real mttd on a temporary socket. Exit statuses, report
# files and verdicts of `mttctl run`, list/status/check/sample output, and the errors a
# user sees for wrong arguments or a missing daemon.
# Usage: test_mttctl.sh MTTD MTTCTL
set -u
. "$(dirname "$0")/check-lib.sh"
MTTD=$1
MTTCTL=$2
DIR=$(mktemp -d /tmp/mtt-cli-XXXXXX)
export MTT_SOCKET="$DIR/sock"
# Run under a workload manager or not, every session's job is the test's to set.
unset SLURM_JOB_ID SLURM_ARRAY_JOB_ID SLURM_ARRAY_TASK_ID PBS_JOBID LSB_JOBID LSB_JOBINDEX \
        JOB_ID SGE_TASK_ID

cleanup() {
        [ -n "${DAEMON:-}" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
        [ -n "${KEEP:-}" ] || rm -rf "$DIR"
}
trap cleanup EXIT

# A report: header, data rows with decimal points and increasing deltas, then the ending.
report_ok() { # report_ok FILE completed|failed|none
        awk -v ending="$2" '
        NR == 1 { if ($0 != "delta,ram") exit 1; next }
        { lines[++n] = $0 }
        END {
                if (ending == "completed") { if (lines[n] != "0,0") exit 1; n -= 1 }
                if (ending == "failed") { if (lines[n-1] != "0,0" || lines[n] != "-1,-1") exit 1; n -= 2 }
                if (n < 1) exit 1
                prev = -1
                for (i = 1; i <= n; i++) {
                        if (lines[i] !~ /^[0-9]+\.[0-9][0-9][0-9][0-9][0-9][0-9],-?[0-9]+\.[0-9][0-9][0-9][0-9][0-9][0-9]$/) exit 1
                        split(lines[i], f, ",")
                        if (f[1] + 0 <= prev) exit 1
                        prev = f[1] + 0
                }
        }' "$1"
}

# --- without a daemon
status_is 1 "list without a daemon fails" "$MTTCTL" list
check "the error names the socket it tried" grep -q "$DIR/sock" "$DIR/err"
check "the error says how to start mttd" grep -q "mttd --socket" "$DIR/err"
echo "keep me" >"$DIR/x.csv"
status_is 125 "run without a daemon exits 125" "$MTTCTL" run -o "$DIR/x.csv" -- true
check "run without a daemon leaves the report file alone" grep -qx "keep me" "$DIR/x.csv"

# --- wrong arguments: one line of error, a hint, exit 2
status_is 2 "no command" "$MTTCTL"
status_is 2 "unknown command" "$MTTCTL" frobnicate
check "unknown command is named" grep -q "unknown command 'frobnicate'" "$DIR/err"
check "usage hint" grep -q "mttctl --help" "$DIR/err"
status_is 2 "unknown option" "$MTTCTL" list --frob
status_is 2 "status without an ID" "$MTTCTL" status
status_is 2 "status with a bad ID" "$MTTCTL" status abc
status_is 2 "run without a command" "$MTTCTL" run -o "$DIR/y.csv"
status_is 2 "run with a bad interval" "$MTTCTL" run --min-interval-us nope -- true
status_is 2 "run with --min-interval-us below mttd's floor" "$MTTCTL" run -o "$DIR/y.csv" \
        --min-interval-us 5 -- true
check "it says the range" grep -q "bad --min-interval-us '5' (100 to 60000000)" "$DIR/err"
status_is 2 "run with --max-interval-s below --min-interval-us" "$MTTCTL" run -o "$DIR/y.csv" \
        --max-interval-s 1 --min-interval-us 2000000 -- true
long=$(awk 'BEGIN { for (i = 0; i < 257; i++) printf "l" }')
status_is 2 "run with a label of 257 bytes" "$MTTCTL" run -o "$DIR/y.csv" -l "$long" -- true
check "it says why" grep -q "bad --label: longer than 256 bytes" "$DIR/err"
check "no usage error made a report" [ ! -e "$DIR/y.csv" ]
status_is 2 "check without files" "$MTTCTL" check
status_is 0 "--help" "$MTTCTL" --help
check "--help lists run" grep -q "run \[-o FILE\]" "$DIR/out"
status_is 0 "mttd --version" "$MTTD" --version
status_is 2 "mttd with a bad option" "$MTTD" --frob

# --- with a daemon
"$MTTD" --socket "$DIR/sock" 2>"$DIR/mttd.log" &
DAEMON=$!
i=0
while [ ! -S "$DIR/sock" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done

status_is 0 "run true exits 0" "$MTTCTL" run -o "$DIR/ok.csv" -l ok -- true
# --- a refused Open (an mttd at its limit of sessions) leaves the report there as it was,
# makes none where there was none, and the command never runs
"$MTTD" --socket "$DIR/sock1" --max-sessions 1 2>"$DIR/mttd1.log" &
LIMITED=$!
wait_for 10 test -S "$DIR/sock1"
MTT_SOCKET="$DIR/sock1" "$MTTCTL" run -o "$DIR/hold1.csv" -l hold1 -- \
        sh -c "while [ ! -e '$DIR/hold1.go' ]; do sleep 0.05; done" >/dev/null 2>&1 &
HOLD1=$!
held() { MTT_SOCKET="$DIR/sock1" "$MTTCTL" list | grep -q " hold1 .*running"; }
check "one session runs on an mttd of one" wait_for 20 held
echo "yesterday" >"$DIR/kept.csv"
status_is 125 "run on an mttd at its limit exits 125" env MTT_SOCKET="$DIR/sock1" \
        "$MTTCTL" run -o "$DIR/kept.csv" -- touch "$DIR/ran-limit"
check "it says mttd is at its limit" \
        grep -q "cannot start tracking into $DIR/kept.csv: mttd is at its limit of sessions" "$DIR/err"
check "the report there is as it was" grep -qx "yesterday" "$DIR/kept.csv"
status_is 125 "run into a new file on it exits 125" env MTT_SOCKET="$DIR/sock1" \
        "$MTTCTL" run -o "$DIR/none.csv" -- touch "$DIR/ran-limit"
check "no file is left where there was none" [ ! -e "$DIR/none.csv" ]
check "the command never ran" [ ! -e "$DIR/ran-limit" ]
touch "$DIR/hold1.go"
wait $HOLD1
check "the held run completed" [ $? -eq 0 ]
kill $LIMITED
wait $LIMITED

# --- mttd stopped while a run goes on (no systemd to keep the session): the run says the
# report has no ending, and exits with the command's status
"$MTTD" --socket "$DIR/sock2" 2>"$DIR/mttd2.log" &
STOPPED=$!
wait_for 10 test -S "$DIR/sock2"
MTT_SOCKET="$DIR/sock2" "$MTTCTL" run -o "$DIR/gone.csv" -l gone -- \
        sh -c "while [ ! -e '$DIR/gone.go' ]; do sleep 0.05; done" >/dev/null 2>"$DIR/gone.err" &
GONE=$!
running() { MTT_SOCKET="$DIR/sock2" "$MTTCTL" list | grep -q " gone .*running"; }
check "a run goes on" wait_for 20 running
kill $STOPPED
wait $STOPPED
touch "$DIR/gone.go"
wait $GONE
check "the run exits with its command's status" [ $? -eq 0 ]
check "it says mttd went and the report has no ending" grep -q \
        "mttctl: session [0-9]*: mttd closed the connection before the command ended (it stopped, or crashed): the report $DIR/gone.csv has no ending" \
        "$DIR/gone.err"
check "the report is whole, without an ending" report_ok "$DIR/gone.csv" none
check "check says it crashed ungracefully" sh -c "'$MTTCTL' check '$DIR/gone.csv' | grep -q 'crashed ungracefully'"
check "completed report" report_ok "$DIR/ok.csv" completed
status_is 3 "run exit 3 exits 3" "$MTTCTL" run -o "$DIR/fail.csv" -l fail -- sh -c 'exit 3'
check "failed report" report_ok "$DIR/fail.csv" failed
status_is 137 "run kill -9 exits 137" "$MTTCTL" run -o "$DIR/kill.csv" -l kill -- sh -c 'kill -9 $$'
check "crashed report has no ending" report_ok "$DIR/kill.csv" none
check "run names the report" grep -q "kill.csv" "$DIR/err"
status_is 127 "run of a missing program exits 127" "$MTTCTL" run -o "$DIR/nf.csv" -- /nonexistent/prog
# A command line that is not UTF-8 still makes a label (bytes it cannot carry become '?').
status_is 0 "run with non-UTF-8 arguments" "$MTTCTL" run -o "$DIR/latin1.csv" -- sh -c true "$(printf 'caf\351')"
# A label with a right-to-left override (U+202E) would turn the rest of a log or terminal
# line around: mttd's log and mttctl's tables show '?' in its place.
rlo=$(printf 'left\342\200\256right')
status_is 0 "run with a bidi control in its label" "$MTTCTL" run -l "$rlo" -o "$DIR/rlo.csv" -- true
long=$(awk 'BEGIN { for (i = 0; i < 300; i++) printf "\303\251" }')
status_is 0 "run with a long multibyte command line" "$MTTCTL" run -o "$DIR/long.csv" -- sh -c true "$long"
status_is 0 "run passes arguments" "$MTTCTL" run -o "$DIR/args.csv" -- sh -c '[ "$1" = "a b" ]' sh "a b"

# The tracker's connection is the heartbeat; the command it runs does not inherit it.
# The child outlives every wait below however slow the machine (a loaded one took over 5 s),
# and says its pid (no pgrep -f: reading other processes' command lines can wait on a process
# whose memory map is locked, as test_stall makes one).
# shellcheck disable=SC2016
"$MTTCTL" run -o "$DIR/orphan.csv" -l orphan -- sh -c 'echo $$ >"$1.tmp" && mv "$1.tmp" "$1" && exec sleep 61' \
        sh "$DIR/orphan.pid" 2>/dev/null &
tracker=$!
i=0 # its session is open and its child started before the tracker is killed
while [ $i -lt 100 ] && ! { "$MTTCTL" list 2>/dev/null | grep -q " orphan " &&
        [ -s "$DIR/orphan.pid" ]; }; do
        sleep 0.1
        i=$((i + 1))
done
kill -9 $tracker
wait $tracker 2>/dev/null
i=0 # mttd tells the cause once it has seen the tracker's end
while [ $i -lt 50 ] && ! "$MTTCTL" list | grep -q " orphan .*killed"; do
        sleep 0.1
        i=$((i + 1))
done
"$MTTCTL" list >"$DIR/out"
check "a killed tracker's session crashed, and mttd saw how, while its child lives on" \
        grep -q " orphan .*crashed: killed by SIGKILL" "$DIR/out"
child=$(cat "$DIR/orphan.pid" 2>/dev/null)
check "the orphaned child still runs" kill -0 "${child:-0}"
[ -n "$child" ] && kill "$child"
check "the killed tracker's report has no ending" report_ok "$DIR/orphan.csv" none

status_is 0 "check of a completed report" "$MTTCTL" check "$DIR/ok.csv"
check "check says completed" grep -qx "$DIR/ok.csv: completed" "$DIR/out"
status_is 1 "check of all three exits 1" "$MTTCTL" check "$DIR/ok.csv" "$DIR/fail.csv" "$DIR/kill.csv"
check "check says crashed gracefully" grep -qx "$DIR/fail.csv: crashed gracefully" "$DIR/out"
check "check says crashed ungracefully" grep -qx "$DIR/kill.csv: crashed ungracefully" "$DIR/out"
status_is 1 "check --json of all three and a missing one" "$MTTCTL" check --json "$DIR/ok.csv" \
        "$DIR/fail.csv" "$DIR/kill.csv" "$DIR/missing.csv"
check "check --json gives each verdict" sh -c "grep -q '\"verdict\": \"completed\"' '$DIR/out' &&
        grep -q '\"verdict\": \"crashed gracefully\"' '$DIR/out' &&
        grep -q '\"verdict\": \"crashed ungracefully\"' '$DIR/out'"
check "check --json names the missing file's error" grep -q '"error": "No such file' "$DIR/out"
status_is 1 "check of a missing file fails" "$MTTCTL" check "$DIR/missing.csv"
check "check names the missing file" grep -q "missing.csv" "$DIR/err"

status_is 0 "list" "$MTTCTL" list
check "list header" grep -q "^ *ID *PID *USER *LABEL *ELAPSED *ROWS *RAM *PEAK *STATE" "$DIR/out"
check "list shows the completed run" grep -q " ok .*completed" "$DIR/out"
check "list shows the failed run" grep -q " fail .*failed" "$DIR/out"
check "list shows the crash and its cause" grep -q " kill .*crashed: killed by SIGKILL" "$DIR/out"
check "list shows a non-UTF-8 label with '?'" grep -q "sh -c true caf?" "$DIR/out"
check "list shows a bidi control as '?'" grep -q "left???right" "$DIR/out"
check "no bidi control reaches list's output" sh -c "! grep -q '$rlo' '$DIR/out'"
check "mttd's log shows the label with '?'" grep -q "left???right" "$DIR/mttd.log"
check "no bidi control reaches mttd's log" sh -c "! grep -q '$rlo' '$DIR/mttd.log'"
status_is 0 "list --json" "$MTTCTL" list --json
check "list --json is JSON with sessions" grep -q '"sessions"' "$DIR/out"
status_is 0 "status --json" "$MTTCTL" status 3 --json
check "status --json has the state" grep -q '"state": "crashed"' "$DIR/out"
status_is 0 "status" "$MTTCTL" status 3
check "status explains the crash" grep -q "crashed: killed by SIGKILL" "$DIR/out"
status_is 1 "status of an unknown session" "$MTTCTL" status 999
check "status names the unknown session" grep -q "no session 999" "$DIR/err"
status_is 0 "sample" "$MTTCTL" sample
check "sample shows MemTotal" grep -q "^MemTotal: *[0-9]* kB" "$DIR/out"
check "sample shows what one read serves" grep -q "^mttd: .* samples, .* rows written" "$DIR/out"
status_is 0 "sample --json" "$MTTCTL" sample --json
check "sample --json has the reading" grep -q '"mem_total_kb"' "$DIR/out"
check "sample --json has the counters" grep -q '"sessions_per_sample"' "$DIR/out"

# --- plot: PNG, SVG and PDF of the three endings, a seed-made file, and what is no report
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ print $1*16777216+$2*65536+$3*256+$4 "x" $5*16777216+$6*65536+$7*256+$8 }'; }
three="$DIR/ok.csv $DIR/fail.csv $DIR/kill.csv"
# shellcheck disable=SC2086
status_is 0 "plot a PNG of three reports" "$MTTCTL" plot $three -o "$DIR/p.png"
check "it is a PNG of 1000x600" [ "$(png_size "$DIR/p.png")" = 1000x600 ]
check "the PNG is no blank page" [ "$(wc -c <"$DIR/p.png")" -gt 10000 ]
# shellcheck disable=SC2086
status_is 0 "plot --size" "$MTTCTL" plot $three -o "$DIR/small.png" --size 640x480
check "the PNG is 640x480" [ "$(png_size "$DIR/small.png")" = 640x480 ]
# shellcheck disable=SC2086
status_is 0 "plot an SVG, linear" "$MTTCTL" plot $three -o "$DIR/p.svg" --linear --title three
# Each report's colour: its line and legend entry, and for the crashes the "x" marks.
blue='stroke:rgb(12.156863%,46.666667%,70.588235%)'
orange='stroke:rgb(100%,49.803922%,5.490196%)'
green='stroke:rgb(17.254902%,62.745098%,17.254902%)'
check "the SVG has the completed run's line, unmarked" [ "$(grep -c "$blue" "$DIR/p.svg")" -eq 2 ]
check "the SVG marks the graceful crash" [ "$(grep -c "$orange" "$DIR/p.svg")" -eq 4 ]
check "the SVG marks the ungraceful crash" [ "$(grep -c "$green" "$DIR/p.svg")" -eq 4 ]
status_is 0 "plot a PDF" "$MTTCTL" plot "$DIR/ok.csv" -o "$DIR/p.pdf"
check "it is a PDF" sh -c "head -c 5 '$DIR/p.pdf' | grep -q '^%PDF-'"
status_is 0 "plot a report the seed made" "$MTTCTL" plot "$(dirname "$0")/data/seed-failed.csv" \
        -o "$DIR/seed.png"
echo "just text" >"$DIR/text.csv"
status_is 1 "plot of a file that is no report" "$MTTCTL" plot "$DIR/ok.csv" "$DIR/text.csv" -o "$DIR/x.png"
check "the error names the file and says why" grep -q "text.csv: not a report" "$DIR/err"
check "nothing is written then" [ ! -e "$DIR/x.png" ]
status_is 2 "plot to an unknown format" "$MTTCTL" plot "$DIR/ok.csv" -o "$DIR/x.gif"
status_is 2 "plot without -o" "$MTTCTL" plot "$DIR/ok.csv"
status_is 1 "plot into a missing directory" "$MTTCTL" plot "$DIR/ok.csv" -o "$DIR/no/x.png"

# --- any file, any bytes: check and plot share one reader, and answer in bounded time
status_is 1 "check of a file that is no report" "$MTTCTL" check /etc/passwd
check "check says it is not a report, and why" \
        grep -qx '/etc/passwd: not a report (the first line is not "delta,ram")' "$DIR/out"
status_is 1 "check --json of a file that is no report" "$MTTCTL" check --json /etc/passwd
check "check --json gives the verdict and the reason" sh -c "grep -q '\"verdict\": \"not a report\"' '$DIR/out' &&
        grep -q '\"reason\": \"the first line is not' '$DIR/out'"
mkfifo "$DIR/fifo"
status_is 1 "check of a FIFO returns" timeout 10 "$MTTCTL" check "$DIR/fifo"
check "check says a FIFO is not a report" grep -qx "$DIR/fifo: not a report (not a regular file)" "$DIR/out"
status_is 1 "plot of a FIFO returns" timeout 10 "$MTTCTL" plot "$DIR/fifo" -o "$DIR/fifo.png"
check "plot says the FIFO is not a report" grep -q "fifo: not a report: not a regular file" "$DIR/err"
printf 'delta,ram\n0.000000,0.1\n0.%s1,0.2\n1.000000,0.3\n0,0\n' "$(printf '%0398d' 0)" >"$DIR/long-row.csv"
status_is 0 "check of a report with a 400-byte row" "$MTTCTL" check "$DIR/long-row.csv"
status_is 0 "plot of a report with a 400-byte row" "$MTTCTL" plot "$DIR/long-row.csv" -o "$DIR/long-row.png"
printf 'delta,ram\n0.000000,0.1\n0.500000,1.7e308\n1.79e308,1.7e308\n' >"$DIR/huge.csv"
status_is 0 "plot of values near DBL_MAX returns" timeout 20 "$MTTCTL" plot "$DIR/huge.csv" -o "$DIR/huge.png"
check "and makes a PNG" [ "$(png_size "$DIR/huge.png")" = 1000x600 ]
status_is 0 "plot --linear of values near DBL_MAX returns" \
        timeout 20 "$MTTCTL" plot "$DIR/huge.csv" -o "$DIR/huge-linear.png" --linear
check "and makes a PNG" [ "$(png_size "$DIR/huge-linear.png")" = 1000x600 ]

# --- scopes and interference: the machine-wide runs that overlapped are flagged
"$MTTCTL" run -o "$DIR/shared1.csv" -l shared1 -- sleep 0.6 2>/dev/null &
first=$!
sleep 0.2
status_is 0 "run --scope process beside another run" \
        "$MTTCTL" run --scope process -o "$DIR/own.csv" -l own -- sleep 0.1
wait $first
"$MTTCTL" list >"$DIR/out"
check "a system-scope run that overlapped another is flagged" \
        grep -q " shared1 .*completed.*\[shared machine\]" "$DIR/out"
check "a process-scope run is not" sh -c "grep ' own ' '$DIR/out' | grep -qv 'shared machine'"
"$MTTCTL" list --json >"$DIR/out"
check "list --json has the scope" grep -q '"scope": "process"' "$DIR/out"
status_is 2 "run with an unknown scope" "$MTTCTL" run --scope galaxy -- true

# --- watch: the rows it prints are the report's own, then the session's end
status_is 2 "watch with a bad ID" "$MTTCTL" watch x
status_is 2 "watch with two IDs" "$MTTCTL" watch 1 2
status_is 1 "watch of an unknown session" "$MTTCTL" watch 999
check "watch names the unknown session" grep -q "no session 999" "$DIR/err"
timeout 10 "$MTTCTL" watch >"$DIR/all.out" 2>&1 &
watch_all=$!
sleep 0.2
"$MTTCTL" run -o "$DIR/watched.csv" -l watched -- \
        sh -c 'sleep 0.4; x=$(head -c 40000000 /dev/zero | tr "\\0" a); sleep 0.4' 2>/dev/null &
runner=$!
running_id() { # running_id LABEL: the ID of the running session with that label
        i=0
        while [ $i -lt 100 ]; do
                id=$("$MTTCTL" list | awk -v l="$1" '$4 == l && /running/ { print $1 }')
                [ -n "$id" ] && { echo "$id"; return; }
                i=$((i + 1))
                sleep 0.02
        done
}
id=$(running_id watched)
"$MTTCTL" watch "$id" >"$DIR/watch.out" 2>"$DIR/err"
check "watch exits 0 when the session ends" [ $? -eq 0 ]
wait $runner
grep -v '^#' "$DIR/watch.out" >"$DIR/watch.rows"
grep '\.' "$DIR/watched.csv" >"$DIR/file.rows"
rows=$(wc -l <"$DIR/watch.rows")
check "watch printed rows" [ "$rows" -ge 2 ]
check "watch's rows are the report's last rows" sh -c \
        "tail -n $rows '$DIR/file.rows' | cmp -s - '$DIR/watch.rows'"
check "watch ends with the session's end" grep -q "^# session $id (watched) completed" "$DIR/watch.out"
status_is 0 "watch --json of an ended session" "$MTTCTL" watch --json "$id"
check "watch --json gives the session" grep -q '"state":"completed"' "$DIR/out"
kill $watch_all 2>/dev/null
wait $watch_all 2>/dev/null
check "watch without ID saw the session open" grep -q "^# session $id (watched) running" "$DIR/all.out"
check "watch without ID saw its first row" grep -q "^$id,0.000000," "$DIR/all.out"
check "watch without ID saw it end" grep -q "^# session $id (watched) completed" "$DIR/all.out"

# On a terminal, a status line is redrawn in place under the rows.
"$MTTCTL" run -o "$DIR/tty.csv" -l tty -- \
        sh -c 'sleep 0.3; x=$(head -c 20000000 /dev/zero | tr "\\0" a); sleep 0.5' 2>/dev/null &
runner=$!
id=$(running_id tty)
script -qfec "$MTTCTL watch $id" /dev/null >"$DIR/tty.out" 2>&1
wait $runner
check "on a terminal watch redraws its status line" sh -c \
        "tr '\\r\\033' 'RE' <'$DIR/tty.out' | grep -q -- '-- .* elapsed, .* now, peak .*, [0-9]* rowsRE\\[K'"
check "and ends with the session's end" grep -q "# session $id (tty) completed" "$DIR/tty.out"

# --- jobs: the workload manager's job a run belongs to, named or from the environment
id_of() { # id_of LABEL: the ID of the last session with that label
        "$MTTCTL" list | awk -v l="$1" '$4 == l { id = $1 } END { print id }'
}
status_is 0 "run --job" "$MTTCTL" run --job J-1 -o "$DIR/job.csv" -l jobrun -- true
"$MTTCTL" list >"$DIR/out"
check "list has a JOB column once a session has a job" \
        grep -q "^ *ID *PID *USER *LABEL *JOB *ELAPSED *ROWS *RAM *PEAK *STATE" "$DIR/out"
check "list shows the job" grep -q " jobrun *J-1 .*completed" "$DIR/out"
check "list shows - for a session without a job" grep -q " ok *- .*completed" "$DIR/out"
status_is 0 "status of the run with a job" "$MTTCTL" status "$(id_of jobrun)"
check "status shows the job" grep -qx "Job: *J-1" "$DIR/out"
status_is 0 "status of a run without a job" "$MTTCTL" status "$(id_of ok)"
check "status has no Job line then" sh -c "! grep -q '^Job:' '$DIR/out'"
status_is 0 "run in a Slurm job" env SLURM_JOB_ID=4242 "$MTTCTL" run -o "$DIR/slurm.csv" \
        -l slurmrun -- true
check "list shows the job from SLURM_JOB_ID" sh -c "'$MTTCTL' list | grep -q ' slurmrun *4242 '"
status_is 0 "status --json of it" "$MTTCTL" status --json "$(id_of slurmrun)"
check "status --json has the job" grep -q '"job": "4242"' "$DIR/out"
status_is 0 "run in a Slurm array task" env SLURM_JOB_ID=4249 SLURM_ARRAY_JOB_ID=4242 \
        SLURM_ARRAY_TASK_ID=7 "$MTTCTL" run -o "$DIR/array.csv" -l arrayrun -- true
check "its job is the array task's" sh -c "'$MTTCTL' list | grep -q ' arrayrun *4242_7 '"
status_is 0 "run --job '' in a Slurm job" env SLURM_JOB_ID=4242 "$MTTCTL" run --job '' \
        -o "$DIR/nojob.csv" -l nojobrun -- true
status_is 0 "status --json of it" "$MTTCTL" status --json "$(id_of nojobrun)"
check "--job '' gives no job" sh -c "! grep -q '\"job\"' '$DIR/out'"
status_is 2 "run with a control character in --job" "$MTTCTL" run --job "$(printf 'a\tb')" -- true
check "it says why" grep -q "bad --job: has a control character" "$DIR/err"
long=$(awk 'BEGIN { for (i = 0; i < 129; i++) printf "j" }')
status_is 2 "run with a --job of 129 bytes" "$MTTCTL" run --job "$long" -- true
check "it says why" grep -q "bad --job: longer than 128 bytes" "$DIR/err"

# --- the command's signals: those mttctl was given (a background job of a script ignores
# SIGINT and SIGQUIT, and so does the command it runs under mttctl)
sh -c "trap '' INT QUIT; exec '$MTTCTL' run -o '$DIR/sig.csv' -l sigign -- grep SigIgn /proc/self/status" \
        >"$DIR/out" 2>"$DIR/err"
ignored=$(awk '/^SigIgn:/ { print $2 }' "$DIR/out")
check "a command run with SIGINT and SIGQUIT ignored keeps them ignored (SigIgn $ignored)" \
        [ $((0x${ignored:-0} & 6)) -eq 6 ]
"$MTTCTL" run -o "$DIR/sig2.csv" -l sigdfl -- grep SigIgn /proc/self/status >"$DIR/out" 2>"$DIR/err"
ignored=$(awk '/^SigIgn:/ { print $2 }' "$DIR/out")
check "a command run with them at their default has them at their default (SigIgn $ignored)" \
        [ $((0x${ignored:-0} & 6)) -eq 0 ]

# --- each command's --help, help, status --json's object, and what plot and check say
for cmd in list status run check plot sample watch; do
        status_is 0 "$cmd --help" "$MTTCTL" "$cmd" --help
        check "$cmd --help prints its usage" grep -q "^Usage: mttctl $cmd " "$DIR/out"
        status_is 0 "$cmd -h" "$MTTCTL" "$cmd" -h
        check "$cmd -h prints its usage" grep -q "^Usage: mttctl $cmd " "$DIR/out"
done
status_is 0 "help" "$MTTCTL" help
check "help prints the main help" grep -q "run \[-o FILE\]" "$DIR/out"
status_is 0 "help plot" "$MTTCTL" help plot
check "help plot prints plot's usage" grep -q "^Usage: mttctl plot " "$DIR/out"
status_is 2 "help of an unknown command" "$MTTCTL" help frobnicate
status_is 0 "status --json" "$MTTCTL" status --json "$(id_of ok)"
check "status --json prints {\"session\": Session}" \
        sh -c "sed -n 2p '$DIR/out' | grep -qx '  \"session\": {' && grep -q '^    \"id\": ' '$DIR/out'"
status_is 1 "plot into a missing directory" "$MTTCTL" plot "$DIR/ok.csv" -o "$DIR/no/x.svg"
check "it says why as the system does" \
        grep -q "cannot write $DIR/no/x.svg: No such file or directory" "$DIR/err"
if [ -c /dev/full ]; then
        ln -s /dev/full "$DIR/full.png"
        status_is 1 "plot onto a full device" "$MTTCTL" plot "$DIR/ok.csv" -o "$DIR/full.png"
        check "it says the device is full" grep -q "full.png: No space left on device" "$DIR/err"
fi
printf 'delta,ram\n0.1,nan\n0,0\n' >"$DIR/nan.csv"
status_is 1 "check of a row with a NaN" "$MTTCTL" check "$DIR/nan.csv"
check "check says the line is no data row" \
        grep -qx "$DIR/nan.csv: not a report (line 2 is not a data row of two finite numbers)" "$DIR/out"
printf 'delta,ram\n' >"$DIR/header.csv"
status_is 1 "check of a header alone" "$MTTCTL" check "$DIR/header.csv"
check "check says it crashed ungracefully" grep -qx "$DIR/header.csv: crashed ungracefully" "$DIR/out"
status_is 0 "plot of a header alone beside a report" "$MTTCTL" plot "$DIR/header.csv" "$DIR/ok.csv" \
        -o "$DIR/header.svg"
check "the header alone is a legend entry marked as a crash, and no line" \
        [ "$(grep -c "$blue" "$DIR/header.svg")" -eq 2 ]
check "the report beside it has its line" [ "$(grep -c "$orange" "$DIR/header.svg")" -eq 2 ]
printf 'delta,ram\n0,0\n' >"$DIR/ending.csv"
status_is 0 "plot of reports without data rows alone" "$MTTCTL" plot "$DIR/header.csv" \
        "$DIR/ending.csv" -o "$DIR/empty.png"
check "makes empty axes" [ "$(png_size "$DIR/empty.png")" = 1000x600 ]
status_is 1 "plot of a report without rows beside what is no report" "$MTTCTL" plot \
        "$DIR/header.csv" "$DIR/text.csv" -o "$DIR/none.png"
check "names the file that is no report" grep -q "text.csv: not a report" "$DIR/err"

summary
