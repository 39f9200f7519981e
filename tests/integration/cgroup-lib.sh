# Sourced by the shell tests that need a memory cgroup of their own (and a mttd beside it).
# make_memory_cgroup NAME LIMIT: a child cgroup of ours, v1 or v2, limited to LIMIT (and no
# swap to dodge into); sets CG to its directory, or to "" where none can be made.
make_memory_cgroup() {
        v1=$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)
        v2=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
        CG=
        if [ -n "$v1" ] && [ -d "/sys/fs/cgroup/memory$v1" ]; then
                CG=/sys/fs/cgroup/memory$v1/$1
                mkdir "$CG" 2>/dev/null && echo "$2" >"$CG/memory.limit_in_bytes" 2>/dev/null || CG=
                [ -n "$CG" ] && [ -f "$CG/memory.memsw.limit_in_bytes" ] &&
                        echo "$2" >"$CG/memory.memsw.limit_in_bytes" 2>/dev/null
        elif [ -f /sys/fs/cgroup/cgroup.controllers ] && [ -n "$v2" ]; then
                CG=/sys/fs/cgroup$v2/$1
                mkdir "$CG" 2>/dev/null && echo "$2" >"$CG/memory.max" 2>/dev/null || CG=
                [ -n "$CG" ] && echo 0 >"$CG/memory.swap.max" 2>/dev/null
        fi
        return 0
}

# start_mttd_in_dir PREFIX MTTD [ARG]...: a temporary DIR, MTT_SOCKET in it, mttd started on
# it (DAEMON) and waited for; at exit mttd stops, and DIR and the cgroup CG go.
start_mttd_in_dir() {
        DIR=$(mktemp -d "/tmp/$1-XXXXXX")
        shift
        export MTT_SOCKET="$DIR/sock"
        trap 'cleanup_mttd_and_cgroup' EXIT
        "$@" --socket "$MTT_SOCKET" 2>"$DIR/mttd.log" &
        DAEMON=$!
        i=0
        while [ ! -S "$MTT_SOCKET" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
}
cleanup_mttd_and_cgroup() {
        [ -n "${DAEMON:-}" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
        rmdir "$CG" 2>/dev/null
        rm -rf "$DIR"
}
