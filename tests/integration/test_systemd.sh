#!/bin/sh
# Integration: mttd with systemd's own tools. The units verify cleanly and rate low exposure;
# systemd-socket-activate starts mttd on a socket it passes, and a session completes through it.
# Usage: test_systemd.sh MTTD MTTCTL UNIT_DIR
set -u
. "$(dirname "$0")/check-lib.sh"
MTTD=$1
MTTCTL=$2
UNITS=$3
DIR=$(mktemp -d /tmp/mtt-systemd-XXXXXX)
cleanup() {
        [ -n "${ACTIVATOR:-}" ] && kill "$ACTIVATOR" 2>/dev/null && wait "$ACTIVATOR" 2>/dev/null
        rm -rf "$DIR"
}
trap cleanup EXIT

# Unknown keys only warn and still exit 0: any stderr is a failure.
systemd-analyze verify --man=no "$UNITS/mttd.service" "$UNITS/mttd.socket" >"$DIR/verify" 2>&1
check "systemd-analyze verify exits 0" test $? -eq 0
check "systemd-analyze verify says nothing" test ! -s "$DIR/verify"
sed 's/^/#   /' "$DIR/verify"

systemd-analyze verify --man=no "$UNITS/user/mttd.service" "$UNITS/user/mttd.socket" >"$DIR/verify" 2>&1
check "the user units verify cleanly" sh -c "[ $? -eq 0 ] && [ ! -s '$DIR/verify' ]"
sed 's/^/#   /' "$DIR/verify"

systemd-analyze security --offline=true "$UNITS/mttd.service" >"$DIR/security" 2>&1
score=$(sed -n 's/.*Overall exposure level for mttd.service: \([0-9.]*\).*/\1/p' "$DIR/security")
echo "# exposure: ${score:-none}"
check "exposure rated at most 1.0" awk -v s="${score:-99}" 'BEGIN { exit !(s <= 1.0) }'
# The device ACL systemd-analyze reads from a unit, one entry a line (char-rtc:r ...).
device_acl() {
        sed -n '/DeviceAllow=/{s/.*special devices: //;s/[[:space:]][[:space:]]*[0-9.]*[[:space:]]*$//;p}' "$1" |
                tr ' ' '\n' | sed '/^$/d' | sort
}
device_acl "$DIR/security" >"$DIR/acl"
check "the packaged unit opens no NVIDIA device (the GPU drop-in is not active by default)" \
        sh -c "! grep -q -e 195 -e nvidia '$DIR/acl'"

# The GPU hosts' drop-in (systemd/mttd.service.d/nvidia.conf) beside the unit, as an
# administrator activates it: the units still verify cleanly, the exposure stays the plain
# unit's (PrivateDevices= kept; at most 1.0 whatever it is), and the device ACL gains NVIDIA's
# major and the MIG capabilities' class, nothing else.
DROPIN=$(dirname "$0")/../../systemd/mttd.service.d/nvidia.conf
mkdir -p "$DIR/gpu/mttd.service.d"
cp "$UNITS/mttd.service" "$UNITS/mttd.socket" "$DIR/gpu/"
cp "$DROPIN" "$DIR/gpu/mttd.service.d/"
systemd-analyze verify --man=no "$DIR/gpu/mttd.service" "$DIR/gpu/mttd.socket" >"$DIR/verify" 2>&1
check "with the GPU drop-in the units verify cleanly" sh -c "[ $? -eq 0 ] && [ ! -s '$DIR/verify' ]"
sed 's/^/#   /' "$DIR/verify"
systemd-analyze security --offline=true "$DIR/gpu/mttd.service" >"$DIR/security-gpu" 2>&1
gpu_score=$(sed -n 's/.*Overall exposure level for mttd.service: \([0-9.]*\).*/\1/p' "$DIR/security-gpu")
echo "# exposure with the GPU drop-in: ${gpu_score:-none} (without: ${score:-none})"
check "the GPU drop-in leaves the exposure as it was" test "${gpu_score:-none}" = "${score:-}"
check "... at most 1.0" awk -v s="${gpu_score:-99}" 'BEGIN { exit !(s <= 1.0) }'
check "... PrivateDevices= still on" grep -q 'PrivateDevices=  *Service has no access to hardware devices' "$DIR/security-gpu"
device_acl "$DIR/security-gpu" >"$DIR/acl-gpu"
sed 's/^/#   device ACL with the drop-in: /' "$DIR/acl-gpu"
printf '%s\n' char-195:rw char-nvidia-caps:r >"$DIR/acl-added"
check "... and the device ACL gains char-195:rw and char-nvidia-caps:r, nothing else" \
        sh -c "comm -13 '$DIR/acl' '$DIR/acl-gpu' | cmp -s - '$DIR/acl-added' && [ -z \"\$(comm -23 '$DIR/acl' '$DIR/acl-gpu')\" ]"
# What it binds into mttd's private /dev: the control node, nvidia0 to nvidia31 (the driver's
# most), the MIG capabilities; each only where it exists. And it turns no protection off.
binds=$(sed -n 's/^BindReadOnlyPaths=//p' "$DROPIN" | tr ' ' '\n' | sed '/^$/d' | sort | tr '\n' ' ')
want=$( (printf -- '-/dev/nvidiactl\n-/dev/nvidia-caps\n'; seq 0 31 | sed 's|^|-/dev/nvidia|') | sort | tr '\n' ' ')
check "the drop-in binds exactly nvidiactl, nvidia0..31 and nvidia-caps, each optional" test "$binds" = "$want"
check "... and sets nothing else (no PrivateDevices=, DevicePolicy=, Bind*=)" \
        sh -c "! grep -v -e '^#' -e '^\$' -e '^\[' -e '^BindReadOnlyPaths=' -e '^DeviceAllow=' -e '^After=nvidia-persistenced.service\$' '$DROPIN'"

# Socket activation: the activator listens; mttd starts on the first connection.
export MTT_SOCKET="$DIR/sock"
systemd-socket-activate -l "$MTT_SOCKET" --fdname=varlink "$MTTD" 2>"$DIR/mttd.log" &
ACTIVATOR=$!
i=0
while [ ! -S "$MTT_SOCKET" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
"$MTTCTL" run -o "$DIR/activated.csv" -l activated -- true 2>"$DIR/err"
check "a session completes through the passed socket" test $? -eq 0
check "its report completed" "$MTTCTL" check "$DIR/activated.csv"
"$MTTCTL" list >"$DIR/out"
check "the same mttd lists it" grep -q " activated .*completed" "$DIR/out"
check "mttd says it was socket-activated" grep -q "listening on .* (socket activation)" "$DIR/mttd.log"
kill -TERM "$ACTIVATOR"
wait "$ACTIVATOR"
check "mttd stops cleanly (exit 0)" test $? -eq 0
ACTIVATOR=
check "the socket file stays the activator's (mttd does not unlink it)" test -S "$MTT_SOCKET"

# Passed fds under names mttd does not know (an earlier mttd's stored ones) are not its socket:
# the listening socket is found by its kind, the rest closed. A file alone is refused, said why.
systemd-socket-activate -l "$DIR/sock2" --fdname=state "$MTTD" 2>"$DIR/mttd2.log" &
ACTIVATOR=$!
i=0
while [ ! -S "$DIR/sock2" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
MTT_SOCKET="$DIR/sock2" "$MTTCTL" run -o "$DIR/named.csv" -- true 2>"$DIR/err"
check "a listening socket under another name serves" test $? -eq 0
kill -TERM "$ACTIVATOR"
wait "$ACTIVATOR"
ACTIVATOR=
sh -c 'exec 3<"$1"; shift; LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=varlink exec "$@"' sh \
        "$DIR/named.csv" "$MTTD" >"$DIR/mttd3.log" 2>&1
check "a passed file that is no socket: mttd exits 1" test $? -eq 1
check "... and says why" grep -q "not a listening UNIX stream socket" "$DIR/mttd3.log"

summary
