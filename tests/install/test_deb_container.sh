#!/bin/bash
# The .deb in a fresh Debian 12 (debootstrap from the mirror this machine's apt uses), booted
# with systemd in systemd-nspawn: dpkg -i enables and starts mttd.socket, a session completes
# through it; the package upgraded over itself (the same build, a higher version) while a
# session runs restarts mttd, and the new mttd takes the session up (the report goes on, the
# client sees nothing); Debian's prometheus-node-exporter installed beside it gets mtt's
# metrics file in its textfile directory and serves a session's series; the GPU hosts' drop-in
# activated as README says (a link to the package's file) is read and mttd serves with it;
# dpkg -r stops mttd and takes the metrics link away, and dpkg --purge the drop-in's link.
# Skips (77) where that cannot be done here.
# Usage: test_deb_container.sh SOURCE_DIR CACHE_DIR
set -u
SRC=$1
CACHE=$2
SKIP=77
skip() { echo "skipped: $*"; exit $SKIP; }
. "$SRC/tests/integration/nspawn-lib.sh"
why=$(ct_can_run) || skip "$why"
command -v debootstrap >/dev/null || skip "debootstrap is not installed"
command -v dpkg-deb >/dev/null || skip "dpkg-deb is not installed"

# The Debian mirror of this machine's apt configuration.
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $0 ~ /debian/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || skip "no Debian mirror in the apt configuration"

# systemd to boot, and what the package depends on (its Depends: line), so dpkg -i works
# without a network. The cached root is named after that list.
include=systemd,dbus,libev4,libjansson4,libsystemd0,libcairo2
ROOT=$CACHE/debian12-root-$(echo "$include" | cksum | cut -d' ' -f1)
if [ ! -x "$ROOT/usr/lib/systemd/systemd" ]; then
        rm -rf "$ROOT"
        mkdir -p "$CACHE"
        debootstrap --variant=minbase --include="$include" \
                bookworm "$ROOT" "$mirror" >"$CACHE/debootstrap.log" 2>&1 ||
                { tail -3 "$CACHE/debootstrap.log"; rm -rf "$ROOT"; skip "debootstrap failed"; }
fi

DIR=$(mktemp -d /tmp/mtt-debct-XXXXXX)
trap 'ct_cleanup; rm -rf "$DIR"' EXIT
cmake -S "$SRC" -B "$DIR/build" -DCMAKE_INSTALL_PREFIX=/usr -DBUILD_TESTING=OFF >/dev/null
cmake --build "$DIR/build" -j"$(nproc)" >/dev/null
(cd "$DIR/build" && cpack -G DEB >/dev/null)
mkdir -p "$DIR/deb/a" "$DIR/deb/b"
mv "$DIR"/build/mtt_*.deb "$DIR/deb/a/"
# The upgrade: the same binaries packed again under a higher version (CPack takes
# CPACK_PACKAGE_VERSION from the cache before the project's version; nothing is rebuilt).
VA=$(dpkg-deb -f "$DIR"/deb/a/mtt_*.deb Version)
VB=$VA+up1
cmake -DCPACK_PACKAGE_VERSION="$VB" "$DIR/build" >/dev/null
(cd "$DIR/build" && cpack -G DEB >/dev/null)
mv "$DIR"/build/mtt_*.deb "$DIR/deb/b/"
if [ "$(dpkg-deb -f "$DIR"/deb/b/mtt_*.deb Version)" != "$VB" ] || ! dpkg --compare-versions "$VB" gt "$VA"; then
        echo "not ok - the second package is not version $VB, above $VA"
        exit 1
fi

# Debian's prometheus-node-exporter and what it needs beyond the root, from the archive.
mkdir -p "$DIR/deb/ne"
fetch() { (cd "$DIR/deb/ne" && apt-get download -q prometheus-node-exporter adduser >/dev/null 2>&1); }
if ! fetch && ! { apt-get update -qq >/dev/null 2>&1 && fetch; }; then
        echo "not ok - cannot download prometheus-node-exporter from the archive"
        exit 1
fi

# A copy of the root per run: what dpkg does here must not stay for the next run.
cp -a "$ROOT" "$DIR/root"
ct_boot -D "$DIR/root" --bind-ro="$DIR/deb":/deb || { echo "the container did not boot: ${CT_STATE:-}"; exit 1; }

failed=0
fail() { echo "not ok - $*"; failed=$((failed + 1)); }
pass() { echo "ok - $*"; }
# Runs COMMAND... every 0.1 s until it succeeds, for at most SECONDS.
poll() {
        local tries=$(($1 * 10))
        shift
        for _ in $(seq "$tries"); do
                "$@" && return 0
                sleep 0.1
        done
        return 1
}
if ct sh -c 'dpkg -i /deb/a/mtt_*.deb' >"$DIR/dpkg.log" 2>&1; then pass "dpkg -i ($VA)"; else cat "$DIR/dpkg.log"; fail "dpkg -i"; fi
if ct systemctl is-enabled -q mttd.socket; then pass "postinst enabled mttd.socket"; else fail "mttd.socket not enabled"; fi
if ct systemctl is-active -q mttd.socket; then pass "mttd.socket listens"; else fail "mttd.socket not active"; fi
if ct mttctl run -o /tmp/deb.csv -l from-deb -- true 2>/dev/null; then pass "a session through the packaged mttd"; else fail "mttctl run"; fi
if ct mttctl list | grep -q " from-deb .*completed"; then pass "mttctl list shows it"; else fail "mttctl list"; fi

# --- dpkg -i of the higher version (an upgrade: postinst restarts mttd) while a session runs.
# The command runs until the test lets it end (/tmp/up.go), so the upgrade comes while it
# runs however slow the machine (timeout 120 ends it if the test never does).
# shellcheck disable=SC2016
ct sh -c 'mttctl run -o /tmp/up.csv -l upgrade -- timeout 120 sh -c "until [ -e /tmp/up.go ]; do sleep 0.05; done" \
        >/tmp/up.out 2>&1; echo $? >/tmp/up.rc' &
runner=$!
rows() { ct sh -c 'wc -l </tmp/up.csv' 2>/dev/null || echo 0; }
first_row() { [ "$(rows)" -ge 2 ]; }
if poll 30 first_row; then pass "the upgrade's session has its first row"; else fail "no first row in /tmp/up.csv"; fi
main_pid() { ct systemctl show -p MainPID --value mttd.service; }
old=$(main_pid)
if [ -n "$old" ] && [ "$old" != 0 ]; then pass "mttd runs ($old)"; else fail "mttd.service has no MainPID"; fi
if ct sh -c 'dpkg -i /deb/b/mtt_*.deb' >"$DIR/dpkg.log" 2>&1; then pass "dpkg -i ($VB over $VA)"; else cat "$DIR/dpkg.log"; fail "dpkg -i of the upgrade"; fi
# shellcheck disable=SC2016
if [ "$(ct dpkg-query -W -f='${Version}' mtt)" = "$VB" ]; then pass "$VB is installed"; else fail "$VB is not installed"; fi
new_mttd() { new=$(main_pid); [ -n "$new" ] && [ "$new" != 0 ] && [ "$new" != "$old" ]; }
if poll 30 new_mttd; then pass "a new mttd runs ($old, then $new)"; else fail "MainPID of mttd.service still $(main_pid) (was $old)"; fi
journal_has() { ct journalctl -u mttd.service --no-pager 2>/dev/null | grep -q "$1"; }
if poll 30 journal_has "handing 1 running session(s) over"; then pass "the old mttd handed the session over"; else fail "the journal does not say the session was handed over"; fi
if poll 30 journal_has "session [0-9]* (upgrade) resumed after mttd restarted"; then pass "the new mttd took the session up"; else fail "the journal does not say the session resumed"; fi
# A row the new mttd wrote (rows come every t/20 s).
before=$(rows)
more_rows() { [ "$(rows)" -gt "$before" ]; }
if poll 30 more_rows; then pass "rows after the upgrade"; else fail "no row after the upgrade ($before lines)"; fi
ct touch /tmp/up.go
ended() { ct test -s /tmp/up.rc; }
if poll 60 ended; then pass "the client ended"; else fail "the client did not end"; fi
kill "$runner" 2>/dev/null
wait "$runner" 2>/dev/null
rc=$(ct cat /tmp/up.rc 2>/dev/null)
if [ "$rc" = 0 ]; then pass "the client exits 0"; else fail "the client exits ${rc:-nothing}"; fi
ct cat /tmp/up.out >"$DIR/up.out" 2>&1
if grep -q "completed (exited with status 0)" "$DIR/up.out"; then pass "the client says it completed"; else fail "the client says: $(cat "$DIR/up.out")"; fi
ct cat /tmp/up.csv >"$DIR/up.csv" 2>&1
if [ "$(tail -n 1 "$DIR/up.csv")" = "0,0" ]; then pass "the report ends 0,0"; else fail "the report ends $(tail -n 1 "$DIR/up.csv")"; fi
if awk -F, 'NR == 1 || $0 == "0,0" { next } { if (NR > 2 && $1 + 0 <= last) exit 1; last = $1 + 0 }' "$DIR/up.csv"; then
        pass "the report's rows are in order ($(($(wc -l <"$DIR/up.csv") - 2)) rows)"
else
        fail "a row out of order in the report"
fi
if ct mttctl check /tmp/up.csv >"$DIR/check.out" 2>&1; then pass "mttctl check passes"; else cat "$DIR/check.out"; fail "mttctl check"; fi
if [ "$failed" -gt 0 ]; then
        ct journalctl -u mttd.service --no-pager | tail -n 40 | sed 's/^/# /'
        sed 's/^/# up.out: /' "$DIR/up.out"
        sed 's/^/# up.csv: /' "$DIR/up.csv"
fi

# --- Debian's prometheus-node-exporter installed beside mtt: its trigger starts mttd again,
# whose step before it links mtt's metrics file into the textfile directory; node_exporter
# (its own service, as the package starts it) serves mtt's series on its port.
LINK=/var/lib/prometheus/node-exporter/mtt.prom
if ct sh -c 'dpkg -i /deb/ne/*.deb' >"$DIR/dpkg.log" 2>&1; then pass "dpkg -i prometheus-node-exporter"; else cat "$DIR/dpkg.log"; fail "dpkg -i prometheus-node-exporter"; fi
linked() { [ "$(ct readlink "$LINK" 2>/dev/null)" = /run/mttd/metrics.prom ]; }
if poll 30 linked; then pass "its textfile directory has mtt.prom, a link to mttd's file"; else fail "no link $LINK ($(ct ls -l /var/lib/prometheus/node-exporter 2>&1))"; fi
if ct mttctl run -o /tmp/ne.csv -l with-exporter --job 4242 -- true 2>/dev/null; then pass "a session of job 4242"; else fail "mttctl run --job"; fi
# node_exporter's port in the container's network (the host's python: the container has none).
scrape() {
        nsenter -t "$PID1" -n python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:9100/metrics", timeout=5).read().decode())' \
                >"$DIR/scrape" 2>/dev/null && grep -q 'job_id="4242",label="with-exporter"' "$DIR/scrape"
}
if poll 60 scrape; then pass "node_exporter serves the session"; else fail "node_exporter does not serve the session"; fi
if grep -qx 'node_textfile_scrape_error 0' "$DIR/scrape"; then pass "node_exporter read mtt.prom without error"; else fail "node_textfile_scrape_error: $(grep scrape_error "$DIR/scrape")"; fi
if grep -q '^mttd_build_info{version=' "$DIR/scrape"; then pass "node_exporter serves mttd's own series"; else fail "no mttd_build_info"; fi
if ct systemctl show -p ActiveState --value mttd.service | grep -qx active; then pass "mttd runs, sandboxed as before"; else fail "mttd.service: $(ct systemctl status mttd.service 2>&1 | tail -n 5)"; fi
# mttd stopped: the link points to a copy of its last file, which goes stale, never dangles.
ct systemctl stop mttd.service
if [ "$(ct readlink "$LINK")" = /run/mttd-last-metrics.prom ]; then pass "once mttd stopped, the link points to its last file"; else fail "after a stop: $(ct ls -l "$LINK" 2>&1)"; fi
if poll 30 scrape && grep -qx 'node_textfile_scrape_error 0' "$DIR/scrape"; then pass "node_exporter still reads it without error"; else fail "after a stop: $(grep scrape_error "$DIR/scrape")"; fi
if [ "$failed" -gt 0 ]; then
        ct journalctl -u mttd.service -u prometheus-node-exporter.service --no-pager | tail -n 12 | sed 's/^/# /'
        ct namei -l "$LINK" | sed 's/^/# /'
fi

# --- The GPU hosts' drop-in, activated as README says with the package's path.
GPU_DROPIN=/usr/share/mtt/systemd/mttd.service.d/nvidia.conf
GPU_LINK=/etc/systemd/system/mttd.service.d/nvidia.conf
if ct sh -c "mkdir -p /etc/systemd/system/mttd.service.d && ln -s $GPU_DROPIN /etc/systemd/system/mttd.service.d/ &&
        systemctl daemon-reload && systemctl restart mttd" >"$DIR/dropin.log" 2>&1; then
        pass "the GPU drop-in activated as documented"
else
        cat "$DIR/dropin.log"
        fail "activating the GPU drop-in"
fi
if ct systemctl show -p DropInPaths --value mttd.service | grep -q "$GPU_LINK"; then pass "systemd reads the drop-in"; else fail "DropInPaths: $(ct systemctl show -p DropInPaths --value mttd.service)"; fi
if ct systemctl show -p DeviceAllow mttd.service | grep -qx "DeviceAllow=char-195 rw"; then pass "mttd's device ACL has NVIDIA's major"; else fail "DeviceAllow: $(ct systemctl show -p DeviceAllow mttd.service)"; fi
if ct systemctl is-active -q mttd.service && ct mttctl run -o /tmp/gpu.csv -l gpu-dropin -- true 2>/dev/null; then pass "mttd serves with the drop-in"; else fail "mttd with the drop-in: $(ct systemctl status mttd.service 2>&1 | tail -n 5)"; fi

if ct sh -c 'dpkg -r mtt' >"$DIR/dpkg.log" 2>&1; then pass "dpkg -r"; else cat "$DIR/dpkg.log"; fail "dpkg -r"; fi
if ct systemctl is-active -q mttd.socket; then fail "mttd.socket still listens after removal"; else pass "removal stopped mttd.socket"; fi
if ct test -L "$LINK"; then fail "$LINK is still there after removal"; else pass "removal took the link away"; fi
# The administrator's link stays through a removal (a reinstall finds it) and goes with a purge.
if [ "$(ct readlink "$GPU_LINK")" = "$GPU_DROPIN" ]; then pass "removal leaves the link to the GPU drop-in"; else fail "after removal: $(ct ls -l "$GPU_LINK" 2>&1)"; fi
if ct sh -c 'dpkg --purge mtt' >"$DIR/dpkg.log" 2>&1; then pass "dpkg --purge"; else cat "$DIR/dpkg.log"; fail "dpkg --purge"; fi
if ct test -e /etc/systemd/system/mttd.service.d; then fail "after purge: $(ct ls -la /etc/systemd/system/mttd.service.d 2>&1)"; else pass "purge took the drop-in's link and directory away"; fi
[ "$failed" -eq 0 ]
