#!/bin/sh
# Integration: `mttctl sample`'s GPU lines, from an mttd with the fake NVML (a line per GPU,
# a lost one saying so) and from one whose NVML library is missing ("none" and why).
# Usage: test_mttctl_gpu.sh MTTD MTTCTL FAKE_NVML
set -u
. "$(dirname "$0")/check-lib.sh"
MTTD=$1
MTTCTL=$2
FAKE=$3
DIR=$(mktemp -d /tmp/mtt-cli-gpu-XXXXXX)
export MTT_SOCKET="$DIR/sock"
export FAKE_NVML_STATE="$DIR/state"

cleanup() {
        [ -n "${DAEMON:-}" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
        rm -rf "$DIR"
}
trap cleanup EXIT

start() { # start NVML_PATH: an mttd loading it, on $DIR/sock
        cleanup_daemon
        rm -f "$DIR/sock"
        "$MTTD" --socket "$DIR/sock" --nvml "$1" 2>"$DIR/mttd.log" &
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

start "$DIR/missing-libnvidia-ml.so.1"
"$MTTCTL" sample >"$DIR/out" 2>"$DIR/err"
check "sample without NVML exits 0" test $? -eq 0
check "it says there are none and why" grep -qx \
        "GPUs:      none: $DIR/missing-libnvidia-ml.so.1 not found (no NVIDIA driver)" "$DIR/out"
check "and still the memory" grep -q "^MemTotal: *[0-9]* kB" "$DIR/out"
"$MTTCTL" sample --json >"$DIR/out" 2>"$DIR/err"
check "sample --json has gpu_error" grep -q '"gpu_error": ".*not found' "$DIR/out"

summary
