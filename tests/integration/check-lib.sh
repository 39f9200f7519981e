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
# status_is WANT NAME COMMAND...: passes when the command exits with WANT; its output goes to
# $DIR/out and $DIR/err (the test's directory), and its errors are shown when it fails.
status_is() {
        want=$1
        name=$2
        shift 2
        "$@" >"$DIR/out" 2>"$DIR/err"
        got=$?
        if [ "$got" -eq "$want" ]; then ok "$name"; else
                not_ok "$name (exit $got, want $want)"
                sed 's/^/#   /' "$DIR/err"
        fi
}
# wait_for SECONDS COMMAND...: until the command succeeds (polled every 0.05 s), or fails.
wait_for() {
        n=$(($1 * 20))
        shift
        while [ "$n" -gt 0 ]; do
                "$@" && return 0
                sleep 0.05
                n=$((n - 1))
        done
        return 1
}
# Prints "N passed, N failed" and succeeds only when nothing failed.
summary() {
        echo "$passed passed, $failed failed"
        [ "$failed" -eq 0 ]
}
