#!/bin/sh
# Every header under an installed include directory compiles on its own, included first and
# alone, as C11 and as C++11 and C++17, without a warning.
# Usage: check_headers.sh INCLUDE_DIR
set -eu
INC=$1
command -v c++ >/dev/null || { echo "no C++ compiler (c++): install g++"; exit 1; }
TU=$(mktemp -d /tmp/mtt-headers-XXXXXX)
trap 'rm -rf "$TU"' EXIT
headers=$(cd "$INC" && find . -type f | sed 's|^\./||' | sort)
[ -n "$headers" ] || { echo "no header under $INC"; exit 1; }
failed=0
for h in $headers; do
        printf '#include <%s>\n' "$h" >"$TU/one.c"
        cp "$TU/one.c" "$TU/one.cpp"
        for std in c11 c++11 c++17; do
                case $std in
                c11) set -- cc -std=c11 -pedantic "$TU/one.c" ;;
                *) set -- c++ -std="$std" "$TU/one.cpp" ;;
                esac
                if ! "$@" -Wall -Wextra -Werror -fsyntax-only -I"$INC" 2>"$TU/err"; then
                        echo "not ok - <$h> alone as $std:"
                        sed 's/^/    /' "$TU/err"
                        failed=$((failed + 1))
                fi
        done
done
[ "$failed" -eq 0 ] || exit 1
echo "headers: ok ($(echo "$headers" | wc -l) alone as C11, C++11 and C++17)"
