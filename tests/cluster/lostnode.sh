#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/cluster/lostnode.sh — a node is lost under the user's own mpirun.
# loom-run runs 90 tasks on 3 simulated nodes (cluster/simnet), started as
# the README advises: `mpirun --enable-recovery --timeout 140 ... loom-run`
# (the master and a worker on loom-node1, one worker on loom-node2 and one
# on loom-node3). After 10 tasks are in the job log, loom-node3's cable is
# unplugged. Expected: the master declares the worker on loom-node3 lost
# after job.worker_timeout (2 s), every task is in the job log exactly once
# as succeeded, and the master, whose parent is mpirun, ends mpirun at its
# exit (framework/src/runtime/job.c) instead of leaving it waiting for
# loom-node3 until --timeout (138 s after the cut): mpirun exits 1 soon
# after the master's last line, with the master's output complete, and
# nothing of the job is left on loom-node1 and loom-node2 (loom-node3,
# unreachable, keeps only Open MPI's daemon: the worker and its tasks end
# by themselves once the master is silent).
# The same for a C-API program with a journal (loom-squares): every number
# squared once, the journal complete, mpirun ended the same way.
# Usage (CTest sets these): BUILD=build SRC=. tests/cluster/lostnode.sh
# Exit status: 0 pass, 1 fail, 77 skipped (not root).
source "$(dirname "$0")/lib.sh"
need_root
SIM="$SRC/cluster/simnet"
export LOOM_SIMNET_DIR="$BUILD/tests/cluster/simnet-state"
global_lock
T=$(mktemp -d "${TMPDIR:-/tmp}/loom-lostnode-test.XXXXXX")
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
WT=2 # job.worker_timeout

# ps lines of what runs on a node (loom-node1..3)
on_node() { for p in $(ip netns pids "loom-n$1" 2>/dev/null); do ps -o pid=,comm=,args= -p "$p"; done; }
nothing_on() { [ -z "$(on_node "$1")" ]; }
# what of the job runs on loom-node3 besides Open MPI's daemon
no_loom_on_3() { ! on_node 3 | grep -Eq '^ *[0-9]+ (loom-run|prog_resume|sleep) |LOOM_TASK_ID'; }
# lines in the job log (header included)
jl_lines() { wc -l 2>/dev/null <"$1" || echo 0; }
at() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# run_lost NAME DONE-PATTERN CMD...: run mpirun CMD... in the background
# (--enable-recovery --timeout 140, as the README advises), cut loom-node3
# once `progress` (a function) says the job is under way, and wait for
# mpirun, noting when the master declared the worker lost and when
# DONE-PATTERN (the master's last line) appeared in its stderr. Sets rc,
# cut_at, lost_at, done_at, end_at (absolute times).
run_lost() {
    name=$1 pattern=$2
    shift 2
    t0=$(now)
    "$SIM" run --enable-recovery --timeout 140 --bind-to none -np 4 "$@" \
        >"$name.out" 2>"$name.err" &
    mp=$!
    wait_for 90 progress || {
        cat "$name.err"
        fail "$name: no progress before the cut"
    }
    "$SIM" cut loom-node3
    cut_at=$(now) lost_at="" done_at=""
    while kill -0 "$mp" 2>/dev/null; do
        [ -n "$lost_at" ] || ! grep -q 'declared lost' "$name.err" || lost_at=$(now)
        [ -n "$done_at" ] || ! grep -Eq -- "$pattern" "$name.err" "$name.out" || done_at=$(now)
        sleep 0.1
    done
    end_at=$(now)
    rc=0
    wait "$mp" || rc=$?
    [ -n "$lost_at" ] || lost_at=$end_at
    [ -n "$done_at" ] || done_at=$end_at
    echo "$name: mpirun exited $rc; cut at $(at "$t0" "$cut_at") s; after the cut: worker" \
        "declared lost $(at "$cut_at" "$lost_at") s, master's last line" \
        "$(at "$cut_at" "$done_at") s, mpirun exit $(at "$cut_at" "$end_at") s"
}

# check_end NAME: what every run must show once mpirun is gone
check_end() {
    name=$1
    # mpirun was ended by the master, not by --timeout: status 1, the
    # master's message, and soon after the master's last line. The master
    # waits for mpirun to read its output (up to 5 s) before it ends it;
    # what is allowed beyond is the time the lost worker took to be
    # declared lost, measured in this run (at least job.worker_timeout).
    [ "$rc" = 1 ] || { cat "$name.err"; fail "$name: mpirun exited $rc, not 1"; }
    assert_grep 'rank=0 .*worker rank [0-9]* silent for .* declared lost' "$name.err" \
        "$name: no worker declared lost"
    assert_grep 'rank=0 .*[0-9]+ workers? lost on other hosts: ending mpirun \(pid [0-9]+\) now.*this process exits 0, mpirun exits 1' \
        "$name.err" "$name: the master did not say it ends mpirun"
    ! grep -q 'time limit for job execution has been reached' "$name.err" ||
        fail "$name: mpirun ran into its --timeout"
    bound=$(awk -v l="$lost_at" -v c="$cut_at" -v w="$WT" \
        'BEGIN { d = l - c; if (d < w) d = w; printf "%.1f", d + 5 }')
    awk -v d="$done_at" -v e="$end_at" -v b="$bound" 'BEGIN { exit !(e - d <= b) }' || {
        cat "$name.err"
        fail "$name: mpirun exited $(at "$done_at" "$end_at") s after the master's last line" \
            "(bound $bound s: declared lost after $(at "$cut_at" "$lost_at") s + 5 s)"
    }
    # nothing of the job left on the nodes mpirun reaches; on loom-node3
    # the worker and its tasks end once the master is silent for
    # job.worker_timeout (since the cut, long past)
    wait_for 10 nothing_on 1 || { on_node 1; fail "$name: processes left on loom-node1"; }
    wait_for 10 nothing_on 2 || { on_node 2; fail "$name: processes left on loom-node2"; }
    wait_for 10 no_loom_on_3 || { on_node 3; fail "$name: the job's processes left on loom-node3"; }
    echo "$name: left on loom-node3 (unreachable):"
    on_node 3
    echo "$name: the end of mpirun's stderr:"
    tail -3 "$name.err"
}

step "set-up (simnet up 3)"
"$SIM" down
"$SIM" up 3
for _ in $(seq 1 90); do echo "sleep 0.3; echo \$LOOM_TASK_ID \$LOOM_HOST"; done >"$T/tasks.txt"
cd "$T" || exit 1
export LOOM_JOB_WORKER_TIMEOUT=$WT LOOM_JOB_HEARTBEAT=0.2

step "loom-run under mpirun; loom-node3's link cut after 10 tasks"
progress() { [ "$(jl_lines jl)" -gt 10 ]; }
run_lost lr '^loom-run: 90 tasks:' "$BUILD/apps/loom-run/loom-run" --joblog jl \
    --progress-interval 0 tasks.txt
check_end lr
assert_grep '^loom-run: 90 tasks: 90 succeeded, 0 failed' lr.err "not every task succeeded"
[ "$(awk -F'\t' 'NR > 1 && $7 == 0 && $8 == 0 { print $1 }' jl | sort -n | uniq | wc -l)" = 90 ] ||
    fail "the job log does not have every task as succeeded"
[ "$(awk -F'\t' 'NR > 1 { print $1 }' jl | sort | uniq -d | wc -l)" = 0 ] ||
    fail "a task is in the job log twice"

# A C-API program with a journal (tests/mpi/prog_resume: 60 tasks of
# 300 ms, the master prints a RESUME line at the end); built with the MPI
# tests.
PROG="$BUILD/tests/mpi/prog_resume"
if [ ! -x "$PROG" ]; then
    echo "[$NAME] no $PROG (MPI tests not built): the C-API case is not run"
    exit 0
fi
step "a C-API program with a journal under mpirun; loom-node3's link cut after 10 tasks"
"$SIM" down
"$SIM" up 3
# tasks recorded as succeeded in the journal so far (torn ends allowed)
journal_once() { "$PROG" --check jnl --tasks 60 2>/dev/null | sed -n 's/.* once=\([0-9]*\) .*/\1/p'; }
progress() { [ "$(journal_once)" -gt 10 ] 2>/dev/null; }
run_lost capi '^RESUME tasks=' "$PROG" --journal jnl --tasks 60 --ms 300
check_end capi
assert_grep '^RESUME tasks=60 ran=60 resumed=0 failed=0' capi.out "not every task succeeded"
"$PROG" --check jnl --tasks 60 >check.out
assert_grep '^JOURNAL tasks=60 once=60 twice=0 missing=0 other=0 bad_regions=0 torn=0' check.out \
    "the journal does not have every task once"
