#!/bin/sh
# `cmake --install --prefix` keeps the install under the prefix, systemd units included: an
# unprivileged user configures (for /usr/local), builds and installs a copy of the sources into
# a directory of its own, and the units' ExecStart names that prefix's mttd; a root install into
# a DESTDIR with --prefix /usr/local leaves nothing outside DESTDIR/usr/local; unit directories
# given at configure time are kept. (The .deb's, for /usr, test_deb.sh checks.)
# Usage: test_install_prefix.sh SOURCE_DIR
set -eu
. "$(dirname "$0")/../integration/check-lib.sh"
SRC=$1
DIR=$(mktemp -d /tmp/mtt-prefix-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
chmod 755 "$DIR"
U=$DIR/user
mkdir "$U" "$U/src"
for f in CMakeLists.txt cmake client common daemon proto systemd tests; do
        cp -R "$SRC/$f" "$U/src/"
done
if [ "$(id -u)" = 0 ]; then
        id nobody >/dev/null 2>&1 ||
                { echo "skipped: no unprivileged user (nobody) to install as"; exit 77; }
        chown -R nobody "$U"
        as_user() {
                setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups env HOME="$U" "$@"
        }
        who=nobody
else
        as_user() { "$@"; }
        who=$(id -un)
fi

as_user cmake -S "$U/src" -B "$U/build" -DBUILD_TESTING=OFF >"$DIR/log" 2>&1 &&
        as_user cmake --build "$U/build" -j"$(nproc)" >>"$DIR/log" 2>&1 ||
        { tail -n 30 "$DIR/log"; echo "the build as $who failed"; exit 1; }
P=$U/x
if as_user cmake --install "$U/build" --prefix "$P" >"$DIR/log" 2>&1; then
        ok "$who installs with --prefix into a directory of its own"
else
        cat "$DIR/log"
        not_ok "$who installs with --prefix into a directory of its own"
fi
for f in sbin/mttd lib/systemd/system/mttd.service lib/systemd/system/mttd.socket \
        lib/systemd/user/mttd.service lib/systemd/user/mttd.socket; do
        check "installed under the prefix: $f" test -f "$P/$f"
done
for unit in system user; do
        check "the $unit service starts the prefix's mttd" \
                grep -Eqx "ExecStart=$P/sbin/mttd( [$]MTTD_METRICS)?" "$P/lib/systemd/$unit/mttd.service"
done
check "the system service's step before mttd is the prefix's" \
        grep -qx "ExecStartPre=+$P/libexec/mtt/mttd-node-exporter start" "$P/lib/systemd/system/mttd.service"
check "... and is installed there, executable" test -x "$P/libexec/mtt/mttd-node-exporter"
M=$U/build/install_manifest.txt
check "the manifest lists nothing outside the prefix" sh -c "[ -s '$M' ] && ! grep -v '^$P/' '$M'"

# Root (or this user) into a DESTDIR: nothing outside DESTDIR/usr/local.
R=$DIR/root
DESTDIR=$R cmake --install "$U/build" --prefix /usr/local >"$DIR/log" 2>&1 ||
        { cat "$DIR/log"; exit 1; }
rm -f "$M" # root's now: the user's next install writes its own
outside=$(cd "$R" && find . -mindepth 1 ! -path ./usr ! -path ./usr/local ! -path './usr/local/*')
[ -z "$outside" ] || echo "outside DESTDIR/usr/local: $outside"
check "a DESTDIR install for /usr/local stays in DESTDIR/usr/local" test -z "$outside"
for unit in system user; do
        check "its $unit socket is in /usr/local/lib/systemd/$unit" \
                test -f "$R/usr/local/lib/systemd/$unit/mttd.socket"
done
check "its service starts /usr/local/sbin/mttd" \
        grep -Eqx "ExecStart=/usr/local/sbin/mttd( [$]MTTD_METRICS)?" "$R/usr/local/lib/systemd/system/mttd.service"

# Unit directories given at configure time win over the prefix.
as_user cmake "$U/build" -DMTT_SYSTEMD_SYSTEM_UNIT_DIR=/etc/systemd/system \
        -DMTT_SYSTEMD_USER_UNIT_DIR=/etc/systemd/user >"$DIR/log" 2>&1 ||
        { cat "$DIR/log"; exit 1; }
as_user env DESTDIR="$U/staged" cmake --install "$U/build" --prefix /opt/mtt >"$DIR/log" 2>&1 ||
        { cat "$DIR/log"; exit 1; }
for unit in system user; do
        check "-DMTT_SYSTEMD_$(echo $unit | tr a-z A-Z)_UNIT_DIR= is kept" \
                grep -Eqx "ExecStart=/opt/mtt/sbin/mttd( [$]MTTD_METRICS)?" "$U/staged/etc/systemd/$unit/mttd.service"
done
check "no unit under the prefix then" test ! -e "$U/staged/opt/mtt/lib/systemd"

# A build configured for /usr (as the .deb is) installed with --prefix elsewhere: the units
# follow the prefix installed to, not the one configured.
as_user cmake "$U/build" -DCMAKE_INSTALL_PREFIX=/usr -DMTT_SYSTEMD_SYSTEM_UNIT_DIR= \
        -DMTT_SYSTEMD_USER_UNIT_DIR= >"$DIR/log" 2>&1 || { cat "$DIR/log"; exit 1; }
Y=$U/y
as_user cmake --install "$U/build" --prefix "$Y" >"$DIR/log" 2>&1 || cat "$DIR/log"
for unit in system user; do
        check "configured for /usr, installed to a prefix: the $unit units are under it" \
                grep -Eqx "ExecStart=$Y/sbin/mttd( [$]MTTD_METRICS)?" "$Y/lib/systemd/$unit/mttd.service"
done
summary
