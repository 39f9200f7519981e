#!/bin/sh
# Integration: mttd --metrics-file read by the real thing. mttd tracks runs (a peak of a
# known size under a job, a killed one, a running one) on a fake meminfo, with a label a
# user could write (quote, backslash, newline); promtool checks the file mttd wrote; a
# node_exporter on a loopback port with only the textfile collector serves it; a Prometheus
# server scrapes that node_exporter with mtt's rules loaded, and PromQL over its HTTP API
# gives the run's peak by its job, the rules' peak per job and the memory of the running job.
# Needs Debian's prometheus (with promtool) and prometheus-node-exporter: without them the
# test fails, it does not skip.
# Usage: test_prometheus.sh MTTD MTTCTL SOURCE_DIR
set -u
. "$(dirname "$0")/check-lib.sh"
MTTD=$1
MTTCTL=$2
SRC=$3
DIR=$(mktemp -d /tmp/mtt-prom-XXXXXX)
export MTT_SOCKET="$DIR/sock"
unset SLURM_JOB_ID SLURM_ARRAY_JOB_ID SLURM_ARRAY_TASK_ID PBS_JOBID LSB_JOBID JOB_ID

cleanup() {
        for p in ${RUNNING:-} ${PROMETHEUS:-} ${EXPORTER:-} ${DAEMON:-}; do
                kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
        done
        [ -n "${KEEP:-}" ] || rm -rf "$DIR"
}
trap cleanup EXIT

for tool in promtool prometheus prometheus-node-exporter; do
        if ! command -v "$tool" >/dev/null; then
                echo "not ok - $tool is not installed (Debian: apt install prometheus prometheus-node-exporter)"
                exit 1
        fi
done

# The fake meminfo, used memory in MiB.
MEMINFO="$DIR/meminfo"
SET_USED="$(dirname "$0")/set-used.sh"
set_used_mib() { sh "$SET_USED" "$MEMINFO" "$1"; }
: >"$MEMINFO"
set_used_mib 1000

# A free TCP port on loopback (the kernel's choice; taken again by the server a moment later).
free_port() {
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# GET a URL; the body on stdout.
http_get() {
        python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1" 2>/dev/null
}
# The value of the first result of an instant PromQL query, or nothing.
promql() {
        python3 - "$PROM_URL" "$1" <<'EOF' 2>/dev/null
import json, sys, urllib.parse, urllib.request
url = sys.argv[1] + "/api/v1/query?" + urllib.parse.urlencode({"query": sys.argv[2]})
r = json.load(urllib.request.urlopen(url, timeout=5))
if r["status"] == "success" and r["data"]["result"]:
    print(r["data"]["result"][0]["value"][1])
EOF
}
promql_is() { [ "$(promql "$1")" = "$2" ]; }

TEXTFILES="$DIR/textfile"
mkdir "$TEXTFILES"
"$MTTD" --socket "$DIR/sock" --meminfo "$MEMINFO" --metrics-file "$TEXTFILES/mtt.prom" \
        --metrics-interval-s 1 2>"$DIR/mttd.log" &
DAEMON=$!
wait_for 10 "$MTTCTL" list >/dev/null 2>&1

# A run of job 4242 that needs 512 MiB for a moment, then ends well.
LABEL='bench "big" \ model
second line'
check "a run of job 4242 completes" "$MTTCTL" run --job 4242 --label "$LABEL" -o "$DIR/a.csv" -- \
        sh -c "sh '$SET_USED' '$MEMINFO' 1512; sleep 1; sh '$SET_USED' '$MEMINFO' 1000"
PEAK=536870912
# A run killed by a signal.
"$MTTCTL" run -o "$DIR/b.csv" -- sh -c 'kill -9 $$' 2>/dev/null
# A running run of job 777, 256 MiB above the level at its Open.
"$MTTCTL" run --job 777 -o "$DIR/c.csv" -- sleep 120 2>/dev/null &
RUNNING=$!
wait_for 10 grep -q 'job_id="777"} 1$' "$TEXTFILES/mtt.prom"
set_used_mib 1256
wait_for 10 grep -q '^mtt_session_ram_bytes{id="3",job_id="777"} 268435456$' "$TEXTFILES/mtt.prom"

FILE="$TEXTFILES/mtt.prom"
check "the file has the run's peak by its job" \
        grep -qx "mtt_session_peak_bytes{id=\"1\",job_id=\"4242\"} $PEAK" "$FILE"
check "the label stays on one line, escaped" grep -qF \
        'label="bench \"big\" \\ model\nsecond line"' "$FILE"
check "the killed run ended crashed by a signal" \
        grep -qx 'mtt_session_ending{id="2",job_id="",ending="crashed",cause="signal"} 1' "$FILE"
check "the running run's memory now" \
        grep -qx 'mtt_session_ram_bytes{id="3",job_id="777"} 268435456' "$FILE"
promtool check metrics <"$FILE" >"$DIR/promtool.out" 2>&1
check "promtool check metrics finds nothing wrong" test $? -eq 0 -a ! -s "$DIR/promtool.out"
sed 's/^/#   /' "$DIR/promtool.out"

# node_exporter with only the textfile collector, on loopback.
EXPORTER_PORT=$(free_port)
prometheus-node-exporter --web.listen-address="127.0.0.1:$EXPORTER_PORT" \
        --collector.disable-defaults --collector.textfile \
        --collector.textfile.directory="$TEXTFILES" >"$DIR/exporter.log" 2>&1 &
EXPORTER=$!
scraped() { http_get "http://127.0.0.1:$EXPORTER_PORT/metrics" >"$DIR/scrape" && [ -s "$DIR/scrape" ]; }
check "node_exporter serves" wait_for 20 scraped
check "node_exporter read the file without error" grep -qx 'node_textfile_scrape_error 0' "$DIR/scrape"
check "node_exporter serves the run's peak" \
        grep -q '^mtt_session_peak_bytes{id="1",job_id="4242"} 5.36870912e+08$' "$DIR/scrape"
check "node_exporter serves the label as written" grep -qF \
        'label="bench \"big\" \\ model\nsecond line"' "$DIR/scrape"
check "node_exporter serves the file's mtime" grep -q '^node_textfile_mtime_seconds{file=".*mtt.prom"}' "$DIR/scrape"

# Prometheus scraping it every second, with mtt's rules.
PROM_PORT=$(free_port)
PROM_URL="http://127.0.0.1:$PROM_PORT"
cat >"$DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $SRC/daemon/prometheus/mtt-rules.yml
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['127.0.0.1:$EXPORTER_PORT']
EOF
prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/data" \
        --web.listen-address="127.0.0.1:$PROM_PORT" >"$DIR/prometheus.log" 2>&1 &
PROMETHEUS=$!
check "Prometheus is ready" wait_for 60 http_get "$PROM_URL/-/ready"
check "PromQL: the peak of job 4242's run" \
        wait_for 60 promql_is 'max(mtt_session_peak_bytes{job_id="4242"})' "$PEAK"
check "PromQL: its label through mtt_session_info" wait_for 20 promql_is \
        'count(mtt_session_info{job_id="4242", label="bench \"big\" \\ model\nsecond line"})' 1
check "the rules: mtt:job_peak_bytes:max of job 4242" \
        wait_for 20 promql_is 'mtt:job_peak_bytes:max{job_id="4242"}' "$PEAK"
check "the rules: mtt:job_ram_bytes:sum of running job 777" \
        wait_for 20 promql_is 'mtt:job_ram_bytes:sum{job_id="777"}' 268435456
check "PromQL: crashed runs by node" wait_for 20 promql_is \
        'count by (instance) (last_over_time(mtt_session_ending{ending="crashed"}[1d]))' 1
if [ "$failed" -gt 0 ]; then
        for f in mttd.log exporter.log prometheus.log; do
                echo "# $f:"
                tail -n 20 "$DIR/$f" | sed 's/^/#   /'
        done
fi
summary
