#!/usr/bin/env bash
# The real-GPU check of mtt's GPU scopes (README, "The real-GPU check"; tests/gpu/README.md):
# on a machine with an NVIDIA GPU and its driver, builds mtt (unless given a build), starts
# mttd in the foreground on a private socket, tracks tests/gpu/cuda_alloc.py (a CUDA context,
# 1 GiB, 1 s, 4 GiB more held 50 ms, 1 s) with `mttctl run --scope gpu` and again with
# `--scope gpu-device --gpu 0`, and checks each report's peak (the context + 5 GiB, within
# 2 %, at the time of the 50 ms hold +-20 ms) and 1 s plateau (the context + 1 GiB) against
# what CUDA itself said (tests/gpu/gpu_report.py judges). Prints `mttctl sample`, the cost of
# one GPU read (mtt-bench --gpu-only) and the driver's version, a PASS or FAIL line per check
# and a summary block to paste into a README. Where systemd runs (PID 1) and this runs as
# root, the same runs go once more through the packaged unit's sandbox with the GPU drop-in
# (systemd/mttd.service.d/nvidia.conf) as a transient unit under /run, removed afterwards
# (MTT_GPU_CHECK_SYSTEMD=0: not; a dry run does it only with MTT_GPU_CHECK_SYSTEMD=1). Everything
# it writes goes into $OUT when $OUT is set: check-h200.log, summary.md (and
# summary-sandbox.md), and all of it as mtt-gpu-check.tar.gz.
# Not part of ctest: CI has no GPU.
#
# Usage (from the repository root):
#   tests/gpu/check-h200.sh [BUILD_DIR]     BUILD_DIR: an existing build; default: build one
#                                           in build-gpu (cmake, a C compiler, pkg-config,
#                                           the headers of libev, jansson, libsystemd and
#                                           cairo needed), or a bundle from
#                                           tests/gpu/bundle.sh made on a machine that has them
#   tests/gpu/check-h200.sh --self-test     the reports' parsing and the checks, no GPU
#   tests/gpu/check-h200.sh --fake-gpu BUILD_DIR
#                                           a dry run of this script on tests/fake_nvml (a
#                                           build with tests): no GPU, no CUDA; its figures
#                                           say nothing of a GPU
# Exit status: 0 every check passed; 1 a check failed; 2 nothing could be checked here (no
# NVIDIA driver or GPU, no python3, build tools or libraries missing).
set -u
set -o pipefail

MODE=real
BUILD=
case "${1:-}" in
--self-test)
        MODE=self-test
        ;;
--fake-gpu)
        MODE=fake
        BUILD=${2:-}
        [ -n "$BUILD" ] || { echo "usage: $0 --fake-gpu BUILD_DIR (a build with tests: tests/fake_nvml)"; exit 2; }
        ;;
-h | --help)
        sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
-*)
        echo "usage: $0 [BUILD_DIR] | --self-test | --fake-gpu BUILD_DIR"
        exit 2
        ;;
*)
        BUILD=${1:-}
        ;;
esac
# A build directory as given, from wherever this was started; then the repository's root.
if [ -n "$BUILD" ]; then
        given=$BUILD
        BUILD=$(readlink -f -- "$given")
        if [ ! -d "$BUILD" ]; then
                echo "no build directory $given"
                exit 2
        fi
fi
cd "$(dirname "$0")/../.." || exit 2
if [ ! -f tests/gpu/cuda_alloc.py ] || [ ! -f CMakeLists.txt ]; then
        echo "not in mtt's repository: $PWD"
        exit 2
fi

command -v python3 >/dev/null || { echo "CANNOT CHECK: no python3 (cuda_alloc.py and the judge need it)"; exit 2; }

if [ "$MODE" = self-test ]; then
        rc=0
        for f in tests/gpu/cuda_alloc.py tests/gpu/gpu_report.py; do
                # Compiled, not written (no __pycache__ in the source tree).
                python3 -c 'import sys; compile(open(sys.argv[1]).read(), sys.argv[1], "exec")' "$f" || rc=1
        done
        bash -n "$0" || rc=1
        bash -n tests/gpu/bundle.sh || rc=1
        python3 tests/gpu/gpu_report.py self-test || rc=1
        if [ $rc -eq 0 ]; then echo "self-test: PASS"; else echo "self-test: FAIL"; fi
        exit $rc
fi

WORK=$(mktemp -d /tmp/mtt-gpu-check-XXXXXX) || exit 2
exec 3>&1 4>&2
exec > >(tee -a "$WORK/check-h200.log") 2>&1
TEE=$!
MTTD_PID=
UNIT=mtt-gpu-check
SANDBOX_USED=

# Stops what this started, and leaves the files in $OUT.
finish() {
        local rc=$1
        if [ -n "$MTTD_PID" ]; then
                kill -TERM "$MTTD_PID" 2>/dev/null
                for _ in $(seq 50); do kill -0 "$MTTD_PID" 2>/dev/null || break; sleep 0.1; done
                kill -KILL "$MTTD_PID" 2>/dev/null
                wait "$MTTD_PID" 2>/dev/null
                MTTD_PID=
        fi
        [ -n "$SANDBOX_USED" ] && sandbox_remove
        case $rc in
        0) echo "RESULT: PASS (every check passed)" ;;
        1) echo "RESULT: FAIL (a check failed; see the FAIL lines above)" ;;
        *) echo "RESULT: CANNOT CHECK (exit 2: nothing could be checked here)" ;;
        esac
        echo "files: $WORK"
        exec 1>&3 2>&4
        for _ in $(seq 50); do kill -0 "$TEE" 2>/dev/null || break; sleep 0.1; done
        rm -f "$WORK/sock"
        if [ -n "${OUT:-}" ] && mkdir -p "$OUT"; then
                # Few files, whatever the rounds left: the log and summaries, the rest packed.
                tar -C "$WORK" -czf "$OUT/mtt-gpu-check.tar.gz" . 2>/dev/null
                cp "$WORK/check-h200.log" "$OUT/" 2>/dev/null
                [ -f "$WORK/foreground/summary.md" ] && cp "$WORK/foreground/summary.md" "$OUT/summary.md"
                [ -f "$WORK/sandbox/summary.md" ] && cp "$WORK/sandbox/summary.md" "$OUT/summary-sandbox.md"
        fi
        exit "$rc"
}
trap 'finish 2' HUP INT TERM
cannot() { echo "CANNOT CHECK: $*"; finish 2; }
step() { printf '\n== %s\n' "$*"; }

step "mtt's real-GPU check ($MODE) in $WORK, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -sr)"

# --- What is needed: CUDA (libcuda.so.1 comes with the driver) and a GPU it can use.
ALLOC_ARGS=()
if [ "$MODE" = fake ]; then
        FAKE_LIB=$BUILD/tests/fake_nvml/libfake-nvml.so
        [ -f "$FAKE_LIB" ] || cannot "no $FAKE_LIB (configure BUILD_DIR with tests)"
        export FAKE_NVML_STATE=$WORK/fake-nvml.state
        # 'leak fd': its init opens $FAKE_NVML_STATE.leak without O_CLOEXEC, as a driver may.
        printf '%s\nleak fd\n' 'device 0 "NVIDIA H200 (fake)" total 150754820096 used 1073741824' \
                >"$FAKE_NVML_STATE"
        ALLOC_ARGS=(--fake-nvml-state "$FAKE_NVML_STATE")
        echo "DRY RUN on the fake NVML ($FAKE_LIB): the figures below say nothing of a GPU"
else
        python3 -c 'import ctypes; ctypes.CDLL("libcuda.so.1")' 2>"$WORK/libcuda.err" ||
                cannot "no libcuda.so.1 ($(tail -n 1 "$WORK/libcuda.err")): this check needs an NVIDIA GPU and its driver"
        if command -v nvidia-smi >/dev/null; then
                timeout 30 nvidia-smi --query-gpu=driver_version,name --format=csv,noheader -i 0 >"$WORK/driver.txt" 2>&1 ||
                        : >"$WORK/driver.txt"
                timeout 30 nvidia-smi >"$WORK/nvidia-smi.txt" 2>&1
                echo "nvidia-smi: $(cat "$WORK/driver.txt")"
        else
                echo "no nvidia-smi: the driver's version stays unknown"
        fi
fi

# --- mtt: the build given, or one made here.
if [ -z "$BUILD" ]; then
        BUILD=build-gpu
        step "building mtt in $BUILD"
        for tool in cmake make pkg-config; do
                command -v "$tool" >/dev/null || cannot "no $tool: cannot build mtt here (apt-get install cmake make pkg-config gcc libev-dev libjansson-dev libsystemd-dev libcairo2-dev), or give a BUILD_DIR (tests/gpu/bundle.sh DIR makes one elsewhere)"
        done
        command -v cc >/dev/null || command -v gcc >/dev/null || cannot "no C compiler: cannot build mtt here"
        # No tests in this build: cmocka is not needed, and the build is quicker.
        if ! timeout 120 cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
                >"$WORK/configure.log" 2>&1; then
                tail -n 15 "$WORK/configure.log"
                cannot "cmake could not configure mtt (the headers of libev, jansson, libsystemd or cairo missing?): see configure.log; or make a build elsewhere with tests/gpu/bundle.sh DIR and give DIR"
        fi
        t0=$(date +%s)
        if ! timeout 200 cmake --build "$BUILD" -j16 >"$WORK/build.log" 2>&1; then
                tail -n 20 "$WORK/build.log"
                cannot "the build failed or took over 200 s: see build.log"
        fi
        echo "built in $(($(date +%s) - t0)) s"
fi
MTTD=$BUILD/daemon/mttd
MTTCTL=
for c in "$BUILD/client/mttctl" "$BUILD/client/mttctl/mttctl"; do
        [ -f "$c" ] && [ -x "$c" ] && MTTCTL=$c
done
BENCH=$BUILD/tests/bench/mtt-bench
if [ ! -x "$MTTD" ] || [ -z "$MTTCTL" ]; then
        cannot "no mttd or mttctl in $BUILD"
fi
# A build from another machine may miss libraries here (tests/gpu/bundle.sh carries them).
for p in "$MTTD" "$MTTCTL"; do
        "$p" --version >"$WORK/version.txt" 2>&1 ||
                cannot "$p does not run here: $(head -n 1 "$WORK/version.txt") (tests/gpu/bundle.sh DIR makes a build that carries its libraries)"
done
[ -d "$BUILD/bundle-lib" ] && echo "a bundle: $(ls "$BUILD/bundle-lib" | wc -l) libraries from $BUILD/bundle-lib"
NVML_ARGS=()
[ "$MODE" = fake ] && NVML_ARGS=(--nvml "$FAKE_LIB")

# mttd in the foreground on a private socket; waits for it (SOCKET).
start_mttd() {
        rm -f "$1"
        "$MTTD" --socket "$1" "${NVML_ARGS[@]}" >>"$WORK/mttd.log" 2>&1 &
        MTTD_PID=$!
        for _ in $(seq 100); do
                [ -S "$1" ] && return 0
                kill -0 "$MTTD_PID" 2>/dev/null || break
                sleep 0.1
        done
        tail -n 5 "$WORK/mttd.log"
        return 1
}

# One run of cuda_alloc.py under mttctl run: NAME (gpu, dev), DIR, then mttctl run's options.
# Sample's GPU 0 just before it goes to DIR/NAME-before.json, the report to DIR/NAME.csv,
# stderr (cuda_alloc.py's JSON) to DIR/NAME.stderr. Returns 0, 1 (the run failed) or 2 (no
# CUDA GPU to use).
track() {
        local name=$1 dir=$2
        shift 2
        timeout 20 "$MTTCTL" sample --json >"$dir/$name-before.json" 2>"$dir/$name-before.err"
        echo "\$ mttctl run $* -o $dir/$name.csv -- python3 tests/gpu/cuda_alloc.py ${ALLOC_ARGS[*]}"
        timeout -k 5 90 "$MTTCTL" run "$@" -o "$dir/$name.csv" -- \
                python3 tests/gpu/cuda_alloc.py "${ALLOC_ARGS[@]}" 2>"$dir/$name.stderr"
        local rc=$?
        grep -v '^{' "$dir/$name.stderr" | sed 's/^/  /'
        [ $rc -eq 0 ] && return 0
        grep -q '^cuda_alloc: no' "$dir/$name.stderr" && return 2
        echo "FAIL: mttctl run --scope ${*} exited $rc$([ $rc -eq 124 ] && echo ' (timed out after 90 s)')"
        return 1
}

# Both runs on the mttd at MTT_SOCKET, their sessions listed, then the judge. DIR; its status.
runs() {
        local dir=$1 rc
        track gpu "$dir" --scope gpu -l mtt-gpu-check-gpu
        rc=$?
        [ $rc -eq 2 ] && cannot "cuda_alloc.py found no CUDA GPU to use"
        [ $rc -ne 0 ] && return 1
        track dev "$dir" --scope gpu-device --gpu 0 -l mtt-gpu-check-gpu-device
        rc=$?
        [ $rc -eq 2 ] && cannot "cuda_alloc.py found no CUDA GPU to use"
        [ $rc -ne 0 ] && return 1
        timeout 20 "$MTTCTL" list --json >"$dir/list.json" 2>&1
        [ -f "$WORK/bench.txt" ] && cp "$WORK/bench.txt" "$dir/"
        [ -f "$WORK/driver.txt" ] && cp "$WORK/driver.txt" "$dir/"
        step "the checks"
        python3 tests/gpu/gpu_report.py check "$dir"
        rc=$?
        # Runs that went through and left nothing to judge: that is mtt's failure.
        [ $rc -eq 2 ] && echo "FAIL: the runs left nothing the judge could read (above)"
        [ $rc -eq 0 ]
}

# CUDA's device 0 must be NVML's GPU 0: both in PCI bus order, every GPU visible.
unset CUDA_VISIBLE_DEVICES
export CUDA_DEVICE_ORDER=PCI_BUS_ID

step "mttd in the foreground on $WORK/sock"
export MTT_SOCKET=$WORK/sock
start_mttd "$MTT_SOCKET" || { echo "FAIL: mttd did not start"; finish 1; }
echo "mttd: pid $MTTD_PID ($MTTD)"

step "mttctl sample"
timeout 20 "$MTTCTL" sample 2>&1 | tee "$WORK/sample-start.txt"
if ! grep -q '^GPU 0:' "$WORK/sample-start.txt"; then
        echo "FAIL: mttd reads no GPU 0 (the GPUs line above says why)"
        finish 1
fi

# The cost of one GPU read, before the runs (mtt-bench loads NVML itself).
if [ -x "$BENCH" ]; then
        step "mtt-bench --gpu-only"
        timeout 120 "$BENCH" --gpu-only "${NVML_ARGS[@]}" 2>&1 | tee "$WORK/bench.txt"
else
        echo "no $BENCH: the cost of a GPU read is not measured"
fi

step "the runs, on mttd in the foreground"
mkdir -p "$WORK/foreground"
runs "$WORK/foreground"
RESULT=$?

# A re-exec (SIGUSR2) makes every fd but those passed close-on-exec: the driver's device nodes,
# which NVML may open without O_CLOEXEC, stay with the old program. The new mttd loads NVML
# again; it must not hold more of them than the old one did.
step "a re-exec (SIGUSR2): the driver's fds are not passed on"
driver_fds() {
        local pattern='/dev/nvidia'
        [ "$MODE" = fake ] && pattern=$FAKE_NVML_STATE.leak
        ls -l "/proc/$MTTD_PID/fd" 2>/dev/null | grep -c -- "$pattern"
}
fds_before=$(driver_fds)
execs=$(grep -c 're-executing' "$WORK/mttd.log")
kill -USR2 "$MTTD_PID"
for _ in $(seq 100); do
        [ "$(grep -c 're-executing' "$WORK/mttd.log")" -gt "$execs" ] &&
                timeout 5 "$MTTCTL" sample >"$WORK/sample-reexec.txt" 2>&1 &&
                grep -q '^GPU 0:' "$WORK/sample-reexec.txt" && break
        sleep 0.1
done
fds_after=$(driver_fds)
if ! grep -q '^GPU 0:' "$WORK/sample-reexec.txt" 2>/dev/null; then
        echo "FAIL: after a re-exec, mttd reads no GPU 0: $(tail -n 3 "$WORK/mttd.log" | tr '\n' ' ')"
        RESULT=1
elif [ "$fds_after" -gt "$fds_before" ]; then
        echo "FAIL: after a re-exec mttd holds $fds_after fds on the driver, $fds_before before: the old ones were passed on"
        RESULT=1
else
        echo "PASS: after a re-exec mttd holds $fds_after fds on the driver ($fds_before before), and reads GPU 0"
fi

step "mttctl sample (after)"
timeout 20 "$MTTCTL" sample 2>&1 | tee "$WORK/sample-end.txt"
kill -TERM "$MTTD_PID" 2>/dev/null
wait "$MTTD_PID" 2>/dev/null
MTTD_PID=

# --- The same under the packaged unit's sandbox and the GPU drop-in, where systemd runs.
# A transient unit under /run (mtt-gpu-check.service), made from the build's mttd.service:
# no socket unit, no root steps, its own runtime directory and socket, Restart=no; mttd
# copied under /run (the build may be under /root or /home, hidden by ProtectHome=).
sandbox_remove() {
        systemctl stop "$UNIT.service" >/dev/null 2>&1
        rm -rf "/run/systemd/system/$UNIT.service" "/run/systemd/system/$UNIT.service.d" "/run/$UNIT-bin"
        systemctl daemon-reload >/dev/null 2>&1
        systemctl reset-failed "$UNIT.service" >/dev/null 2>&1
        SANDBOX_USED=
}
sandbox_start() {
        # A stop and a start, not a restart: a restart hands mttd's listening socket on
        # through systemd's fd store while its runtime directory, and the socket's path, goes.
        systemctl stop "$UNIT.service" >/dev/null 2>&1
        systemctl daemon-reload && systemctl start "$UNIT.service" || return 1
        for _ in $(seq 100); do
                [ -S "/run/$UNIT/io.mtt.Tracker" ] && return 0
                sleep 0.1
        done
        return 1
}
sandbox() {
        local why=
        if [ "$MODE" = fake ] && [ "${MTT_GPU_CHECK_SYSTEMD:-}" != 1 ]; then
                why="a dry run (MTT_GPU_CHECK_SYSTEMD=1: with it)"
        elif [ "${MTT_GPU_CHECK_SYSTEMD:-1}" = 0 ]; then
                why="MTT_GPU_CHECK_SYSTEMD=0"
        elif [ ! -d /run/systemd/system ] || ! command -v systemctl >/dev/null; then
                why="systemd is not PID 1 here"
        elif [ "$(id -u)" != 0 ]; then
                why="not root"
        elif [ ! -f "$BUILD/systemd/test/mttd.service" ]; then
                why="no $BUILD/systemd/test/mttd.service"
        fi
        if [ -n "$why" ]; then
                echo "SKIP: the runs under systemd's sandbox with the GPU drop-in ($why)"
                return 0
        fi
        step "the runs under mttd.service's sandbox with the GPU drop-in (transient $UNIT.service)"
        SANDBOX_USED=1
        # A bundle's mttd finds its libraries in ../bundle-lib (its RPATH).
        if ! mkdir -p "/run/$UNIT-bin/bin" || ! cp "$MTTD" "/run/$UNIT-bin/bin/mttd" ||
                { [ -d "$BUILD/bundle-lib" ] && ! cp -r "$BUILD/bundle-lib" "/run/$UNIT-bin/"; }; then
                echo "FAIL: cannot copy mttd under /run"
                return 1
        fi
        local exec_start="/run/$UNIT-bin/bin/mttd --socket /run/$UNIT/io.mtt.Tracker" env_line=
        if [ "$MODE" = fake ]; then
                # The fake NVML and its state where the sandbox sees them (not in a private /tmp).
                cp "$FAKE_LIB" "$FAKE_NVML_STATE" "/run/$UNIT-bin/" || return 1
                chmod 0644 "/run/$UNIT-bin/fake-nvml.state"
                FAKE_NVML_STATE=/run/$UNIT-bin/fake-nvml.state
                ALLOC_ARGS=(--fake-nvml-state "$FAKE_NVML_STATE")
                exec_start="$exec_start --nvml /run/$UNIT-bin/$(basename "$FAKE_LIB")"
                env_line="Environment=FAKE_NVML_STATE=$FAKE_NVML_STATE"
        fi
        sed -e '/^Requires=mttd.socket/d' -e '/^After=mttd.socket/d' -e '/^ExecStartPre=/d' \
                -e '/^ExecStopPost=/d' -e '/^ExecStop=/d' -e '/^EnvironmentFile=/d' \
                -e '/^\[Install\]/,$d' -e 's/^Description=.*/Description=mtt real-GPU check (transient)/' \
                -e "s|^RuntimeDirectory=.*|RuntimeDirectory=$UNIT|" -e 's/^Restart=.*/Restart=no/' \
                -e "s|^ExecStart=.*|ExecStart=$exec_start\n$env_line|" \
                "$BUILD/systemd/test/mttd.service" >"/run/systemd/system/$UNIT.service"
        local sock=/run/$UNIT/io.mtt.Tracker
        # Without the drop-in: NVML cannot reach the GPUs from the private /dev.
        if sandbox_start; then
                MTT_SOCKET=$sock timeout 20 "$MTTCTL" sample 2>&1 | grep '^GPU' | sed 's/^/  without the drop-in: /'
        else
                echo "FAIL: $UNIT.service did not start: $(systemctl status "$UNIT.service" 2>&1 | tail -n 5)"
                return 1
        fi
        mkdir -p "/run/systemd/system/$UNIT.service.d"
        cp systemd/mttd.service.d/nvidia.conf "/run/systemd/system/$UNIT.service.d/"
        if ! sandbox_start; then
                echo "FAIL: $UNIT.service did not start with the drop-in: $(systemctl status "$UNIT.service" 2>&1 | tail -n 5)"
                return 1
        fi
        systemctl show -p DeviceAllow -p PrivateDevices -p DropInPaths "$UNIT.service" | sed 's/^/  /'
        MTT_SOCKET=$sock timeout 20 "$MTTCTL" sample 2>&1 | tee "$WORK/sample-sandbox.txt" | sed 's/^/  /'
        if ! grep -q '^GPU 0:' "$WORK/sample-sandbox.txt"; then
                echo "FAIL: with the drop-in, the sandboxed mttd reads no GPU 0"
                journalctl -u "$UNIT.service" --no-pager -n 20 2>/dev/null | sed 's/^/  /'
                return 1
        fi
        echo "PASS: with the drop-in, the sandboxed mttd (a dynamic user) reads GPU 0"
        mkdir -p "$WORK/sandbox"
        MTT_SOCKET=$sock runs "$WORK/sandbox"
        local rc=$?
        journalctl -u "$UNIT.service" --no-pager -n 40 >"$WORK/sandbox/journal.txt" 2>&1
        sandbox_remove
        return $rc
}
sandbox
SANDBOX=$?

step "summary"
for k in PASS FAIL SKIP; do printf '%s %s  ' "$k" "$(grep -c "^$k:" "$WORK/check-h200.log")"; done
echo
[ -f "$WORK/foreground/summary.md" ] && cat "$WORK/foreground/summary.md"
[ -f "$WORK/sandbox/summary.md" ] && { echo "Under mttd.service's sandbox with the GPU drop-in:"; cat "$WORK/sandbox/summary.md"; }
[ $RESULT -eq 0 ] && [ $SANDBOX -eq 0 ] && finish 0
[ $RESULT -eq 2 ] && finish 2
finish 1
