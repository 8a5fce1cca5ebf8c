#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/cluster/linkcut.sh — a node's link is cut in the middle of a job.
# loom-run runs 90 tasks on 3 simulated nodes (cluster/simnet), started as
# a user starts it — without mpirun; LOOM_MPIRUN points at a wrapper that
# runs mpirun from loom-node1 with the nodes' hostfile, LOOM_RUN_NODES=3
# puts one worker on each node. After 10 tasks are in the job log,
# loom-node3's cable is unplugged. Expected: the master declares the
# worker on loom-node3 lost after job.worker_timeout (2 s) of silence, its
# tasks run on the other nodes, every task is in the job log exactly once
# as succeeded, and loom-run exits 0 in bounded time — Open MPI's mpirun,
# which would wait for the unreachable node, is ended by the master as it
# exits (framework/src/runtime/job.c; lostnode.sh tests it under the
# user's own mpirun), else by loom-run's launcher 10 s after the master
# finished.
# Usage (CTest sets these): BUILD=build SRC=. tests/cluster/linkcut.sh
# Exit status: 0 pass, 1 fail, 77 skipped (not root).
source "$(dirname "$0")/lib.sh"
need_root
SIM="$SRC/cluster/simnet"
export LOOM_SIMNET_DIR="$BUILD/tests/cluster/simnet-state"
global_lock
T=$(mktemp -d "${TMPDIR:-/tmp}/loom-linkcut-test.XXXXXX")
cleanup() {
    rc=$?
    step "tear-down"
    "$SIM" down || rc=1
    rm -rf "$T"
    finish $rc
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

step "set-up (simnet up 3)"
"$SIM" down
"$SIM" up 3
printf '#!/bin/sh\nexec "%s" run --bind-to none "$@"\n' "$SIM" >"$T/mpirun-on-simnet"
chmod +x "$T/mpirun-on-simnet"
for _ in $(seq 1 90); do echo "sleep 0.3; echo \$LOOM_TASK_ID \$LOOM_HOST"; done >"$T/tasks.txt"

step "loom-run on 3 nodes; loom-node3's link cut after 10 tasks"
cd "$T" || exit 1
t0=$(now)
LOOM_MPIRUN="$T/mpirun-on-simnet" LOOM_RUN_NODES=3 LOOM_JOB_WORKER_TIMEOUT=2 \
    LOOM_JOB_HEARTBEAT=0.2 timeout 150 "$BUILD/apps/loom-run/loom-run" --joblog jl \
    --progress-interval 0 tasks.txt >out 2>err &
lr=$!
done_lines() { [ "$(wc -l 2>/dev/null <jl || echo 0)" -gt 10 ]; }
wait_for 60 done_lines || { cat err; fail "no progress before the cut"; }
"$SIM" cut loom-node3
cut_at=$(now)
wait "$lr"
rc=$?
took=$(elapsed "$t0")
echo "loom-run exited $rc after $took s (link cut at $(awk -v a="$t0" -v b="$cut_at" \
    'BEGIN { printf "%.1f", b - a }') s)"
cat err
[ "$rc" = 0 ] || fail "loom-run exited $rc, not 0"
assert_grep 'rank=0 .*worker rank [0-9]* silent for .* declared lost' err "no worker declared lost"
assert_grep '^loom-run: 90 tasks: 90 succeeded, 0 failed' err "not every task succeeded"
[ "$(awk -F'\t' 'NR > 1 && $7 == 0 && $8 == 0 { print $1 }' jl | sort -n | uniq | wc -l)" = 90 ] ||
    fail "the job log does not have every task as succeeded"
[ "$(awk -F'\t' 'NR > 1 { print $1 }' jl | sort | uniq -d | wc -l)" = 0 ] ||
    fail "a task is in the job log twice"
ran_on=$(awk '{ print $2 }' out | sort -u | tr '\n' ' ')
case "$ran_on" in *loom-node1*loom-node2*) ;; *) fail "tasks ran on '$ran_on'" ;; esac
awk -v t="$took" 'BEGIN { exit !(t < 90) }' || fail "took $took s"
