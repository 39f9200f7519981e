#!/bin/bash
# Builds the .deb (a fresh build for /usr) and checks what it installs and runs.
# Usage: test_deb.sh SOURCE_DIR
set -eu
SRC=$1
DIR=$(mktemp -d /tmp/mtt-deb-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
cmake -S "$SRC" -B "$DIR/build" -DCMAKE_INSTALL_PREFIX=/usr -DBUILD_TESTING=OFF >/dev/null
cmake --build "$DIR/build" -j"$(nproc)" >/dev/null
(cd "$DIR/build" && cpack -G DEB >/dev/null)
DEB=$(ls "$DIR"/build/mtt_*.deb)
dpkg-deb -c "$DEB" >"$DIR/contents"
for f in ./usr/sbin/mttd ./usr/bin/mttctl ./usr/bin/mtt-bench ./usr/include/mtt/client.h \
        ./usr/lib/systemd/user/mttd.service ./usr/lib/systemd/user/mttd.socket \
        ./lib/systemd/system/mttd.service ./lib/systemd/system/mttd.socket \
        ./usr/share/man/man8/mttd.8 ./usr/share/man/man1/mttctl.1 ./usr/share/man/man3/libmtt-client.3 \
        ./usr/share/mtt/prometheus/mtt-rules.yml ./usr/share/mtt/systemd/mttd.service.d/nvidia.conf; do
        grep -q " $f\$" "$DIR/contents" || { echo "not in the package: $f"; exit 1; }
done
# The GPU drop-in is shipped, not active: no drop-in directory of mttd.service in the package.
if grep "/mttd.service.d/" "$DIR/contents" | grep -vq " ./usr/share/mtt/systemd/mttd.service.d/"; then
        echo "the package activates a drop-in of mttd.service"
        exit 1
fi
for f in libmtt-client.so libmtt-client.a mtt-client.pc mttConfig.cmake; do
        grep -Eq "/$f( -> .*)?\$" "$DIR/contents" || { echo "not in the package: $f"; exit 1; }
done
dpkg-deb -I "$DEB" >"$DIR/info"
for s in postinst prerm postrm; do
        grep -q " $s" "$DIR/info" || { echo "no $s script"; exit 1; }
done
grep -q "Depends: libev4, libjansson4, libsystemd0, libcairo2" "$DIR/info"
dpkg-deb -x "$DEB" "$DIR/root"
grep -qx 'ExecStart=/usr/sbin/mttd $MTTD_METRICS' "$DIR/root/lib/systemd/system/mttd.service"
grep -qx "ExecStartPre=+/usr/libexec/mtt/mttd-node-exporter start" "$DIR/root/lib/systemd/system/mttd.service"
test -x "$DIR/root/usr/libexec/mtt/mttd-node-exporter"
# node_exporter coming or going restarts mttd (its metrics file made or dropped).
dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./triggers | grep -qx "interest-noawait /var/lib/prometheus/node-exporter"
"$DIR/root/usr/sbin/mttd" --version

echo "deb: ok ($(basename "$DEB"))"
