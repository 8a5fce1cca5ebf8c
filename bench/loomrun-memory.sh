#!/bin/bash
# SPDX-License-Identifier: MIT
# loom-run streaming a very long task file: N `true` tasks (1,000,000 by
# default) from standard input, with a job log. Prints the master's peak
# memory (its own getrusage, from loom-run's summary), the time and the
# rate, against the target of 64 MiB for 1,000,000 tasks.
#
#   bench/loomrun-memory.sh [BUILD_DIR]      (N=1000000; ~5-8 minutes on 2 cores)
#
# Exit status: 0 (the figures printed), 1 loom-run failed, 2 not built.
set -euo pipefail
B=${1:-build}
N=${N:-1000000}
LR=$B/apps/loom-run/loom-run
[ -x "$LR" ] || { echo "build first: cmake --build $B" >&2; exit 2; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
t0=$(date +%s.%N)
yes true | head -n "$N" | "$LR" --progress-interval 30 --joblog "$W/jl" - >/dev/null 2>"$W/err" ||
    { cat "$W/err"; exit 1; }
t1=$(date +%s.%N)
grep -v progress "$W/err"
peak=$(sed -n 's/.*master peak memory \([0-9.]*\) MiB.*/\1/p' "$W/err")
lines=$(($(wc -l <"$W/jl") - 1))
printf 'loom-run memory: %d tasks from stdin in %.1f s (%.0f tasks/s), %d job log lines\n' \
    "$N" "$(echo "$t1 - $t0" | bc)" "$(echo "$N / ($t1 - $t0)" | bc -l)" "$lines"
printf 'master peak memory (VmHWM): %s MiB (target <= 64 MiB: %s)\n' "$peak" \
    "$(echo "$peak <= 64" | bc -l | sed 's/1/met/; s/0/NOT met/')"
