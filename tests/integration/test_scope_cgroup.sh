#!/bin/sh
# Integration: the cgroup scope. mttctl runs inside a memory cgroup the test makes (v1 or v2)
# and tracks it with --scope cgroup while a program there makes a 100 MiB spike of a few ms:
# mttd samples only every 100 ms here, so it is the kernel's peak, folded into the rows, that
# puts the whole spike (not a part caught half-allocated) in the report. Skips (77) where no
# memory cgroup can be made.
# Usage: test_scope_cgroup.sh MTTD MTTCTL ALLOCATE
set -u
. "$(dirname "$0")/check-lib.sh"
. "$(dirname "$0")/cgroup-lib.sh"
MTTD=$1
MTTCTL=$2
ALLOCATE=$3
[ "$(id -u)" = 0 ] || { echo "skipped: needs root"; exit 77; }
make_memory_cgroup "mtt-scope-$$" 1G
[ -n "$CG" ] || { echo "skipped: cannot make a memory cgroup here"; exit 77; }

start_mttd_in_dir mtt-cg "$MTTD" --fine-interval-us 100000

sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" run --scope cgroup --min-interval-us 100000 \
        -o "$3/cg.csv" -l cg -- "$4" --spike 100' sh "$CG" "$MTTCTL" "$DIR" "$ALLOCATE" 2>"$DIR/err"
check "the run completes (exit $?)" "$MTTCTL" check "$DIR/cg.csv"
peak=$(awk -F, 'NR > 1 && $1 ~ /\./ && $2 > max { max = $2 } END { print max + 0 }' "$DIR/cg.csv")
check "the 100 MiB spike is in the report ($peak GiB)" \
        awk -v p="$peak" 'BEGIN { exit !(p > 0.095 && p < 0.2) }'
"$MTTCTL" list --json >"$DIR/out"
check "the session's scope is cgroup" grep -q '"scope": "cgroup"' "$DIR/out"
summary
