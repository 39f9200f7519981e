#!/bin/bash
# The .deb in a fresh Debian 12 (debootstrap from the mirror this machine's apt uses), booted
# with systemd in systemd-nspawn: dpkg -i enables and starts mttd.socket, a session completes
# through it, dpkg -r stops it. Skips (77) where that cannot be done here.
# Usage: test_deb_container.sh SOURCE_DIR CACHE_DIR
set -u
SRC=$1
CACHE=$2
SKIP=77
skip() { echo "skipped: $*"; exit $SKIP; }
. "$SRC/tests/integration/nspawn-lib.sh"
why=$(ct_can_run) || skip "$why"
command -v debootstrap >/dev/null || skip "debootstrap is not installed"

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
mkdir "$DIR/deb"
cp "$DIR"/build/mtt_*.deb "$DIR/deb/"

# A copy of the root per run: what dpkg does here must not stay for the next run.
cp -a "$ROOT" "$DIR/root"
ct_boot -D "$DIR/root" --bind-ro="$DIR/deb":/deb || { echo "the container did not boot: ${CT_STATE:-}"; exit 1; }

failed=0
fail() { echo "not ok - $*"; failed=$((failed + 1)); }
pass() { echo "ok - $*"; }
if ct sh -c 'dpkg -i /deb/mtt_*.deb' >"$DIR/dpkg.log" 2>&1; then pass "dpkg -i"; else cat "$DIR/dpkg.log"; fail "dpkg -i"; fi
if ct systemctl is-enabled -q mttd.socket; then pass "postinst enabled mttd.socket"; else fail "mttd.socket not enabled"; fi
if ct systemctl is-active -q mttd.socket; then pass "mttd.socket listens"; else fail "mttd.socket not active"; fi
if ct mttctl run -o /tmp/deb.csv -l from-deb -- true 2>/dev/null; then pass "a session through the packaged mttd"; else fail "mttctl run"; fi
if ct mttctl list | grep -q " from-deb .*completed"; then pass "mttctl list shows it"; else fail "mttctl list"; fi
if ct sh -c 'dpkg -r mtt' >"$DIR/dpkg.log" 2>&1; then pass "dpkg -r"; else cat "$DIR/dpkg.log"; fail "dpkg -r"; fi
if ct systemctl is-active -q mttd.socket; then fail "mttd.socket still listens after removal"; else pass "removal stopped mttd.socket"; fi
[ "$failed" -eq 0 ]
