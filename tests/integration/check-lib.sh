# Sourced by the shell tests: TAP-like "ok"/"not ok" lines and the closing count.
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; }
# check NAME COMMAND...: passes when the command succeeds.
check() {
        name=$1
        shift
        if "$@"; then ok "$name"; else not_ok "$name"; fi
}
# Prints "N passed, N failed" and succeeds only when nothing failed.
summary() {
        echo "$passed passed, $failed failed"
        [ "$failed" -eq 0 ]
}
