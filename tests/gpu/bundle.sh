#!/usr/bin/env bash
# A build of mtt for check-h200.sh on a GPU machine that has no build tools or no libev,
# jansson, libsystemd or cairo (a CUDA image, say): made here, copied there, run there with
# `tests/gpu/check-h200.sh DIR`. DIR gets a build directory's layout with only what the check
# uses (daemon/mttd, client/mttctl, tests/bench/mtt-bench, systemd/test/mttd.service) and, in
# DIR/bundle-lib, every shared library they load except glibc's own. The programs find them
# through their RPATH ($ORIGIN/../bundle-lib, $ORIGIN/../../bundle-lib), which also serves
# the libraries' own needs; the processes they start (the tracked command) see nothing of it.
# glibc is the other machine's, which must be as new as this one's or newer.
#
# Usage (from the repository root): tests/gpu/bundle.sh DIR
#   e.g. tests/gpu/bundle.sh build-gpu-bundle   (/build*/ is ignored by git)
# Exit status: 0 made; 1 not.
set -eu
set -o pipefail

[ $# -eq 1 ] && [ "${1#-}" = "$1" ] || {
        echo "usage: $0 DIR"
        exit 1
}
DIR=$1
cd "$(dirname "$0")/../.."
[ -f tests/gpu/check-h200.sh ] || {
        echo "not in mtt's repository: $PWD"
        exit 1
}
if [ -e "$DIR" ] && [ ! -f "$DIR/bundle-lib/.mtt-gpu-bundle" ]; then
        echo "$DIR exists and is not a bundle made by $0: not touched"
        exit 1
fi
rm -rf "$DIR"
mkdir -p "$DIR/bundle-lib"
: >"$DIR/bundle-lib/.mtt-gpu-bundle"
DIR=$(readlink -f -- "$DIR")
BUILD=$(mktemp -d /tmp/mtt-gpu-bundle-XXXXXX)
trap 'rm -rf "$BUILD"' EXIT

# DT_RPATH (not RUNPATH): searched for the libraries' own needs too, and before
# LD_LIBRARY_PATH, so the machine's other versions never mix in.
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
        '-DCMAKE_BUILD_RPATH=$ORIGIN/../bundle-lib;$ORIGIN/../../bundle-lib' \
        -DCMAKE_EXE_LINKER_FLAGS=-Wl,--disable-new-dtags >"$BUILD/configure.log" ||
        { tail -n 20 "$BUILD/configure.log"; exit 1; }
cmake --build "$BUILD" -j"$(nproc)" >"$BUILD/build.log" || { tail -n 20 "$BUILD/build.log"; exit 1; }

for f in daemon/mttd client/mttctl tests/bench/mtt-bench systemd/test/mttd.service; do
        mkdir -p "$DIR/$(dirname "$f")"
        cp "$BUILD/$f" "$DIR/$f"
done
# What glibc itself is made of stays the other machine's.
glibc='^(linux-vdso|linux-gate|ld-linux[^ ]*|libc|libm|libdl|libpthread|librt|libresolv|libutil|libanl)\.so'
for f in daemon/mttd client/mttctl tests/bench/mtt-bench; do
        ldd "$DIR/$f" >"$BUILD/ldd.txt"
        if grep -q 'not found' "$BUILD/ldd.txt"; then
                grep 'not found' "$BUILD/ldd.txt"
                exit 1
        fi
        awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' "$BUILD/ldd.txt" | while read -r name path; do
                [[ $name =~ $glibc ]] || [ -e "$DIR/bundle-lib/$name" ] || cp -L "$path" "$DIR/bundle-lib/$name"
        done
done
# Every program must now resolve each of its libraries in bundle-lib or in glibc.
for f in daemon/mttd client/mttctl tests/bench/mtt-bench; do
        awk '$2 == "=>" { print $1, $3 }' <(ldd "$DIR/$f") | while read -r name path; do
                [[ $name =~ $glibc ]] || [ "$(readlink -f -- "$path")" = "$DIR/bundle-lib/$name" ] || {
                        echo "$f: $name comes from $path, not from the bundle"
                        exit 1
                }
        done
done
echo "made $DIR ($(du -sh "$DIR" | cut -f1), $(ls "$DIR/bundle-lib" | wc -l) libraries; glibc $(ldd --version | head -n 1 | awk '{ print $NF }') or newer needed)"
echo "on the GPU machine, from the repository root: tests/gpu/check-h200.sh $(basename "$DIR")"
