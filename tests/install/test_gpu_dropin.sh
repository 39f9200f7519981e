#!/bin/bash
# The GPU hosts' drop-in (systemd/mttd.service.d/nvidia.conf) under a real systemd: the build
# installed under a prefix, booted in systemd-nspawn from this machine's own /usr, the units
# where systemd reads them and the drop-in activated as README says. The container has fake
# NVIDIA device nodes: NVIDIA's major and minors with no driver behind them, so that opening
# one fails with ENXIO once the device cgroup let it through, and with EPERM where it did not.
# Without the drop-in, mttd's /dev has none of them. With it: systemctl shows the drop-in and
# its device ACL, mttd starts and serves, its /dev has the control node, the GPU's and the MIG
# capabilities but not their siblings, and in mttd's cgroup, as its user, those nodes open up
# to the driver while a node outside the ACL is refused. Skips (77) where nspawn cannot run.
# Usage: test_gpu_dropin.sh BUILD_DIR
set -u
BUILD=$1
HERE=$(dirname "$0")
. "$HERE/../integration/check-lib.sh"
SKIP=77
skip() { echo "skipped: $*"; exit $SKIP; }
. "$HERE/../integration/nspawn-lib.sh"
why=$(ct_can_run) || skip "$why"

DIR=$(mktemp -d /tmp/mtt-gpudropin-XXXXXX)
trap 'ct_cleanup; rm -rf "$DIR"' EXIT
PREFIX=/opt/mtt
DROPIN=$PREFIX/share/mtt/systemd/mttd.service.d/nvidia.conf
DESTDIR="$DIR/root" cmake --install "$BUILD" --prefix "$PREFIX" >"$DIR/install.log" 2>&1 ||
        { cat "$DIR/install.log"; echo "not ok - cmake --install"; exit 1; }
check "the drop-in is installed ($DROPIN)" test -f "$DIR/root$DROPIN"
check "... and not active by default (no mttd.service.d beside the unit)" \
        test ! -e "$DIR/root$PREFIX/lib/systemd/system/mttd.service.d"

# The unified cgroup hierarchy and bpf(2) in the container: its systemd then enforces
# DevicePolicy= with its BPF program, as on a host. Where nspawn cannot do that, a plain
# container (the checks of what opens are left out below).
if ! SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 ct_boot -D / --volatile=yes \
        --bind-ro="$DIR/root$PREFIX":"$PREFIX" --system-call-filter=bpf; then
        echo "# no container with the unified hierarchy and bpf(2) (${CT_STATE:-no systemd}): a plain one"
        ct_cleanup
        ct_boot -D / --volatile=yes --bind-ro="$DIR/root$PREFIX":"$PREFIX" ||
                skip "the container did not boot (${CT_STATE:-no systemd})"
fi
in_ct() { ct "$@"; }

# The units where systemd reads them (a package puts them in its unit directory).
in_ct sh -c "mkdir -p /etc/systemd/system && cp $PREFIX/lib/systemd/system/mttd.service \
        $PREFIX/lib/systemd/system/mttd.socket /etc/systemd/system/ && systemctl daemon-reload"
# Fake nodes: NVIDIA's control node and first GPU (major 195), two of their siblings that
# NVML does not need (nvidia-modeset, 195:254; nvidia-uvm, whose major the driver picks:
# here one no driver has), and a MIG capability under /dev/nvidia-caps (its major not in
# /proc/devices here, so outside the drop-in's ACL).
in_ct sh -c 'mknod -m 666 /dev/nvidiactl c 195 255 && mknod -m 666 /dev/nvidia0 c 195 0 &&
        mknod -m 666 /dev/nvidia-modeset c 195 254 && mknod -m 666 /dev/nvidia-uvm c 4093 0 &&
        mkdir -p /dev/nvidia-caps && mknod -m 444 /dev/nvidia-caps/nvidia-cap2 c 4094 2' ||
        { echo "not ok - cannot make the fake device nodes"; exit 1; }

# Does this container's systemd enforce a device policy? (A transient unit with the host's
# /dev and DevicePolicy=closed: the control node is refused, EPERM, where it does.)
in_ct systemd-run -q --wait --pipe -p DevicePolicy=closed sh -c 'exec 3<>/dev/nvidiactl' >"$DIR/policy" 2>&1
ENFORCED=no
grep -q "Operation not permitted" "$DIR/policy" && ENFORCED=yes
echo "# device cgroup enforced in the container: $ENFORCED ($(tail -n 1 "$DIR/policy"))"

main_pid() { in_ct systemctl show -p MainPID --value mttd.service; }
# Runs a command in the mount namespace of mttd (its /dev).
in_mttd_ns() { in_ct nsenter -t "$(main_pid)" -m "$@"; }

# --- Without the drop-in: mttd serves and its /dev has no NVIDIA node.
in_ct systemctl start mttd.socket
in_ct $PREFIX/bin/mttctl run -o /tmp/plain.csv -l plain -- true 2>"$DIR/err"
check "without the drop-in, a session completes" test $? -eq 0
check "... and mttd's /dev has no /dev/nvidiactl" in_mttd_ns test ! -e /dev/nvidiactl
in_ct systemctl show -p DeviceAllow mttd.service >"$DIR/acl-plain"
check "... nor NVIDIA's major in its device ACL" sh -c "! grep -q -e 195 -e nvidia '$DIR/acl-plain'"

# --- Activated as README says (the prefix's path for the package's /usr/share/mtt/...).
in_ct sh -c "mkdir -p /etc/systemd/system/mttd.service.d &&
        ln -s $DROPIN /etc/systemd/system/mttd.service.d/ &&
        systemctl daemon-reload && systemctl restart mttd" >"$DIR/activate" 2>&1
check "activating the drop-in as documented (link, daemon-reload, restart)" test $? -eq 0
sed 's/^/#   /' "$DIR/activate"
in_ct systemctl show -p DropInPaths --value mttd.service >"$DIR/dropins"
check "systemd reads the linked drop-in" grep -q "/etc/systemd/system/mttd.service.d/nvidia.conf" "$DIR/dropins"
in_ct systemctl show -p DeviceAllow -p DevicePolicy -p PrivateDevices mttd.service >"$DIR/show"
sed 's/^/#   /' "$DIR/show"
check "DeviceAllow has NVIDIA's major, read and write" grep -qx "DeviceAllow=char-195 rw" "$DIR/show"
check "DeviceAllow has the MIG capabilities, read only" grep -qx "DeviceAllow=char-nvidia-caps r" "$DIR/show"
check "DevicePolicy stays closed" grep -qx "DevicePolicy=closed" "$DIR/show"
check "PrivateDevices stays on" grep -qx "PrivateDevices=yes" "$DIR/show"
check "mttd runs with the drop-in" in_ct systemctl is-active -q mttd.service
in_ct $PREFIX/bin/mttctl run -o /tmp/gpu.csv -l with-dropin -- true 2>"$DIR/err"
check "a session completes through it" test $? -eq 0
check "... its report completed" in_ct $PREFIX/bin/mttctl check /tmp/gpu.csv
in_ct $PREFIX/bin/mttctl sample >"$DIR/sample" 2>&1
check "mttctl sample answers (no NVML here: it says why)" test $? -eq 0
sed 's/^/#   sample: /' "$DIR/sample"

# mttd's own /dev: what the drop-in binds, where the host has it; nothing else of NVIDIA's.
node() { in_mttd_ns stat -c '%F %t:%T' "$1" 2>/dev/null; }
check "mttd's /dev has /dev/nvidiactl (195:255)" test "$(node /dev/nvidiactl)" = "character special file c3:ff"
check "... /dev/nvidia0 (195:0)" test "$(node /dev/nvidia0)" = "character special file c3:0"
check "... /dev/nvidia-caps/nvidia-cap2" test -n "$(node /dev/nvidia-caps/nvidia-cap2)"
check "... not /dev/nvidia-modeset" in_mttd_ns test ! -e /dev/nvidia-modeset
check "... not /dev/nvidia-uvm" in_mttd_ns test ! -e /dev/nvidia-uvm
check "... not /dev/nvidia1 (no such GPU on the host)" in_mttd_ns test ! -e /dev/nvidia1

# In mttd's cgroup and mount namespace, as its user: what opening each node gets. ENXIO ("No
# such device or address") is the driver's absence: the cgroup and the mount let it through.
CG=$(in_ct systemctl show -p ControlGroup --value mttd.service)
MAIN=$(main_pid)
MUID=$(in_ct stat -c %u "/proc/$MAIN")
# shellcheck disable=SC2016
in_ct sh -c 'echo $$ >"/sys/fs/cgroup$1/cgroup.procs" && exec nsenter -t "$2" -m \
        setpriv --reuid="$3" --regid="$3" --clear-groups sh -c "
                for n in /dev/nvidiactl /dev/nvidia0; do
                        echo \"rw \$n: \$( (exec 3<>\$n) 2>&1 || :)\"
                done
                echo \"r /dev/nvidia-caps/nvidia-cap2: \$( (exec 3</dev/nvidia-caps/nvidia-cap2) 2>&1 || :)\"
                echo \"rw /dev/null: \$( (exec 3<>/dev/null) 2>&1 || :)\""' \
        sh "$CG" "$MAIN" "$MUID" >"$DIR/opens" 2>&1
sed 's/^/#   open as mttd: /' "$DIR/opens"
if [ "$ENFORCED" = yes ]; then
        check "mttd may open /dev/nvidiactl for reading and writing (up to the driver: ENXIO)" \
                grep -q "^rw /dev/nvidiactl: .*No such device or address" "$DIR/opens"
        check "... and /dev/nvidia0" grep -q "^rw /dev/nvidia0: .*No such device or address" "$DIR/opens"
        check "... not a node outside its ACL (EPERM)" \
                grep -q "^r /dev/nvidia-caps/nvidia-cap2: .*Operation not permitted" "$DIR/opens"
        check "... and /dev/null as before" grep -qx "rw /dev/null: " "$DIR/opens"
else
        echo "# the container's systemd enforces no device policy here: the open checks are skipped"
fi
in_ct journalctl -b -p warning --no-pager >"$DIR/warnings" 2>&1
check "no warning about mttd or NVIDIA's devices in the journal" \
        sh -c "! grep -i -e nvidia -e mttd '$DIR/warnings'"
if [ "$failed" -gt 0 ]; then
        grep -i -e nvidia -e mttd "$DIR/warnings" | tail -n 20 | sed 's/^/# warning: /'
        in_ct journalctl -u mttd.service --no-pager | tail -n 20 | sed 's/^/# /'
fi

summary
