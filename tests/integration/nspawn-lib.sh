# Sourced by the container tests: boot a throwaway systemd-nspawn container (in cgroups of
# its own), run commands in it, power it off.
# ct_boot NSPAWN_ARG...  (-D and the like: "-D / --volatile=yes" boots this machine's own /usr)
#                        sets PID1 (empty when it did not boot) and CT_STATE.
# ct COMMAND...                     runs a command inside.
# ct_cleanup                        powers off, waits, removes the cgroups.

CT_CG=mtt-nspawn-$$
CT_NSPAWN=
PID1=

ct_boot() {
        for h in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do
                [ -d "$h" ] && mkdir -p "$h/$CT_CG"
        done
        (
                for h in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do
                        [ -d "$h/$CT_CG" ] && echo $BASHPID >"$h/$CT_CG/cgroup.procs"
                done
                exec systemd-nspawn -q --register=no --keep-unit --private-network "$@" \
                        -b systemd.firstboot=off >/dev/null 2>&1
        ) &
        CT_NSPAWN=$!
        for _ in $(seq 200); do
                PID1=$(pgrep -P "$CT_NSPAWN" -x systemd | head -n 1)
                [ -n "$PID1" ] && break
                kill -0 "$CT_NSPAWN" 2>/dev/null || break
                sleep 0.05
        done
        CT_STATE=
        [ -n "$PID1" ] || return 1
        # Until its manager answers on the bus, systemctl says nothing: ask again.
        for _ in $(seq 300); do
                CT_STATE=$(timeout 60 nsenter -t "$PID1" -a systemctl is-system-running --wait 2>/dev/null)
                [ -n "$CT_STATE" ] && break
                sleep 0.2
        done
        case "$CT_STATE" in running | degraded) return 0 ;; *) return 1 ;; esac
}

ct() {
        nsenter -t "$PID1" -a "$@"
}

ct_cleanup() {
        [ -n "$PID1" ] && nsenter -t "$PID1" -a systemctl poweroff >/dev/null 2>&1
        if [ -n "$CT_NSPAWN" ]; then
                for _ in $(seq 100); do kill -0 "$CT_NSPAWN" 2>/dev/null || break; sleep 0.1; done
                kill -9 "$CT_NSPAWN" 2>/dev/null
                wait "$CT_NSPAWN" 2>/dev/null
        fi
        # The container's systemd left cgroups of its own inside ours: those go first.
        for h in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do
                [ -d "$h/$CT_CG" ] && find "$h/$CT_CG" -depth -type d -exec rmdir {} + 2>/dev/null
        done
        PID1=
        CT_NSPAWN=
}

ct_can_run() {
        [ "$(id -u)" = 0 ] || { echo "needs root"; return 1; }
        command -v systemd-nspawn >/dev/null ||
                { echo "systemd-nspawn is not installed (apt-get install systemd-container)"; return 1; }
        command -v nsenter >/dev/null || { echo "nsenter is missing"; return 1; }
        return 0
}
