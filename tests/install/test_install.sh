#!/bin/sh
# Installs the build into a DESTDIR, compiles each public header alone (C11, C++11, C++17) and
# builds applications against it three ways: find_package(mtt) with the shared and the static
# library, and pkg-config mtt-client.
# Usage: test_install.sh BUILD_DIR SOURCE_DIR
set -eu
BUILD=$1
SRC=$2
DIR=$(mktemp -d /tmp/mtt-install-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
PREFIX=/opt/mtt-test
DESTDIR="$DIR/root" cmake --install "$BUILD" --prefix "$PREFIX" >/dev/null
ROOT="$DIR/root$PREFIX"
for f in sbin/mttd bin/mttctl include/mtt/client.h share/mtt/prometheus/mtt-rules.yml \
        share/mtt/systemd/mttd.service.d/nvidia.conf; do
        [ -e "$ROOT/$f" ] || { echo "not installed: $f"; exit 1; }
done
# The GPU drop-in is shipped, not active: nothing beside the installed unit.
if [ -e "$ROOT/lib/systemd/system/mttd.service.d" ]; then
        echo "a drop-in directory is installed beside mttd.service"
        exit 1
fi
# Each public header compiles alone (the consumers below include others first).
sh "$SRC/tests/install/check_headers.sh" "$ROOT/include"
LIBDIR=$(dirname "$(find "$ROOT" -name libmtt-client.so -print -quit)")
[ -e "$LIBDIR/libmtt-client.a" ] || { echo "no static library"; exit 1; }
[ -e "$LIBDIR/pkgconfig/mtt-client.pc" ] || { echo "no pkg-config file"; exit 1; }
[ -e "$LIBDIR/cmake/mtt/mttConfig.cmake" ] || { echo "no CMake package"; exit 1; }
# Only the mtt_ API leaves the shared library.
if nm -D --defined-only "$LIBDIR/libmtt-client.so" | awk '$2 == "T" {print $3}' | grep -v '^mtt_'; then
        echo "the shared library exports more than mtt_*"
        exit 1
fi

cmake -S "$SRC/tests/install" -B "$DIR/consumer" -DCMAKE_PREFIX_PATH="$ROOT" >/dev/null
cmake --build "$DIR/consumer" >/dev/null
LD_LIBRARY_PATH="$LIBDIR" "$DIR/consumer/consumer_cmake" "$DIR/a.csv"
"$DIR/consumer/consumer_static" "$DIR/b.csv"

# The .pc file is relocatable: it finds the staged tree from its own place.
cc -o "$DIR/consumer_pc" "$SRC/tests/install/consumer.c" \
        $(PKG_CONFIG_PATH="$LIBDIR/pkgconfig" pkg-config --cflags --libs mtt-client)
LD_LIBRARY_PATH="$LIBDIR" "$DIR/consumer_pc" "$DIR/c.csv"
echo "install: ok"
