#!/bin/sh
# A fake meminfo (mttd --meminfo) whose used memory (MemTotal - MemFree - Buffers - Cached -
# Slab) is USED_MIB: the harness's layout, fixed-width numbers rewritten in place, since
# mttd keeps the file open and must never read half of one value and half of another.
# Usage: set-used.sh FILE USED_MIB
free=$((16777216 - $2 * 1024 - 1000 - 20000 - 30000))
printf 'MemTotal:       %12d kB\nMemFree:        %12d kB\nMemAvailable:   %12d kB\nBuffers:        %12d kB\nCached:         %12d kB\nSwapCached:     %12d kB\nSlab:           %12d kB\n' \
        16777216 "$free" "$free" 1000 20000 0 30000 1<>"$1"
