# Sourced by the shell tests that need a memory cgroup of their own.
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
