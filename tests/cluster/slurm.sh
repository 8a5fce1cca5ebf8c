#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/cluster/slurm.sh — loom under a real Slurm (cluster/slurm-local:
# munged, slurmctld, slurmd on this machine), through the job scripts users
# run (cluster/slurm/*.sbatch), all jobs submitted at once:
#   - squares with one-node.sbatch, many-nodes-mpirun.sbatch and
#     many-nodes-srun.sbatch (srun --mpi=pmix): COMPLETED, ExitCode 0:0,
#     every result right
#   - loom-run with one-node.sbatch: every task once, a job log
#   - loom-run with a failing task: Slurm shows FAILED with ExitCode 1:0
#   - pool sizes from Slurm: --cpus-per-task=1 gives a pool of 1; no
#     --cpus-per-task and one CPU on the node (SLURM_CPUS_ON_NODE=1) too
#   - a Slurm job joins a loom-run started outside Slurm (--serve/--join,
#     through an ompi-server on loopback): its worker runs tasks, the job
#     COMPLETES, the run ends with every task once
# Usage (CTest sets these): BUILD=build SRC=. tests/cluster/slurm.sh
# Exit status: 0 pass, 1 fail, 77 skipped (not root, Slurm not installed).
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root"
command -v slurmctld >/dev/null && command -v munged >/dev/null ||
    skip "Slurm is not installed (cluster/bootstrap installs it; or cluster/slurm-local install)"
SL="$SRC/cluster/slurm-local"
export LOOM_SLURM_DIR="$BUILD/tests/cluster/slurm"
eval "$("$SL" env)"
global_lock
T=$(mktemp -d "${TMPDIR:-/tmp}/loom-slurm-test.XXXXXX")
cleanup() {
    rc=$?
    step "tear-down (slurm-local down)"
    [ $rc -eq 0 ] || { tail -n 20 "$LOOM_SLURM_DIR"/*.log 2>/dev/null || true; }
    [ -f "$T/lrserve.pgid" ] && kill -9 -- "-$(cat "$T/lrserve.pgid")" 2>/dev/null || true
    "$SRC/cluster/ompi-server" stop "$T/srv" || rc=1
    "$SL" down || rc=1
    pgrep -f "$LOOM_SLURM_DIR" >/dev/null && { echo "daemons left behind"; rc=1; }
    rm -rf "$T"
    finish $rc
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

step "set-up (slurm-local up)"
"$SL" down # what a killed earlier run left
"$SL" up 16

step "submit 7 jobs"
S="$SRC/cluster/slurm"
for _ in $(seq 1 12); do echo "echo task=\$LOOM_TASK_ID host=\$LOOM_HOST"; done >"$T/tasks.txt"
printf 'true\nexit 7\ntrue\n' >"$T/failing.txt"
cd "$T" || exit 1 # jobs start in the submission directory: job logs land here
sub() { "$SL" submit "$@"; }
j_sq1=$(sub -c 2 "$S/one-node.sbatch" "$BUILD/apps/loom-squares" --count 10)
j_sqm=$(sub -N 1 -c 2 "$S/many-nodes-mpirun.sbatch" "$BUILD/apps/loom-squares" --count 10)
j_sqs=$(sub -N 1 -c 2 "$S/many-nodes-srun.sbatch" "$BUILD/apps/loom-squares" --count 10)
j_lr=$(sub -c 2 "$S/one-node.sbatch" "$BUILD/apps/loom-run/loom-run" --joblog "$T/joblog" "$T/tasks.txt")
j_fail=$(sub -c 2 "$S/one-node.sbatch" "$BUILD/apps/loom-run/loom-run" "$T/failing.txt")
j_c1=$(sub -c 1 "$S/one-node.sbatch" "$BUILD/apps/loom-hello")
j_n1=$(sub -n 1 --wrap "mpirun -np 2 --oversubscribe --bind-to none $BUILD/apps/loom-hello")

out() { cat "$LOOM_SLURM_DIR/job-$1.out"; }
ok() { # ok JOBID WHAT: the job ended COMPLETED with ExitCode 0:0
    "$SL" wait "$1" 120 || { out "$1"; fail "$2: job $1 did not complete with 0"; }
}
step "wait: squares, one-node.sbatch (mpirun)"
ok "$j_sq1" "squares one-node"
out "$j_sq1" | grep -q '^loom-squares: 10 results, all correct$' || { out "$j_sq1"; fail "squares one-node"; }

step "wait: squares, many-nodes-mpirun.sbatch"
ok "$j_sqm" "squares many-nodes-mpirun"
out "$j_sqm" | grep -q '^loom-squares: 10 results, all correct$' || { out "$j_sqm"; fail "squares mpirun"; }

step "wait: squares, many-nodes-srun.sbatch (srun --mpi=pmix)"
ok "$j_sqs" "squares many-nodes-srun"
out "$j_sqs" | grep -q '^loom-squares: 10 results, all correct$' || { out "$j_sqs"; fail "squares srun"; }

step "wait: loom-run, one-node.sbatch"
ok "$j_lr" "loom-run"
out "$j_lr" | grep -q '^loom-run: 12 tasks: 12 succeeded, 0 failed' || { out "$j_lr"; fail "loom-run"; }
[ "$(out "$j_lr" | sed -n 's/^task=\([0-9]*\) .*/\1/p' | sort -nu | wc -l)" = 12 ] ||
    { out "$j_lr"; fail "loom-run: not every task once"; }
[ "$(grep -vc '^Seq' "$T/joblog")" = 12 ] || fail "loom-run: job log has not 12 lines"

step "wait: a failing loom-run job"
if "$SL" wait "$j_fail" 120 >"$T/w"; then fail "the failing job completed"; fi
cat "$T/w"
grep -q 'JobState=FAILED ExitCode=1:0' "$T/w" || { out "$j_fail"; fail "failing job: $(cat "$T/w")"; }
out "$j_fail" | grep -q 'loom-run: 3 tasks: 2 succeeded, 1 failed' || { out "$j_fail"; fail "failing job output"; }

step "wait: pool sizes from Slurm's variables"
ok "$j_c1" "hello -c 1"
out "$j_c1" | grep -q '^rank=1 role=worker .* pool=1 ' || { out "$j_c1"; fail "-c 1: pool is not 1"; }
ok "$j_n1" "hello -n 1"
out "$j_n1" | grep -q '^rank=1 role=worker .* pool=1 ' ||
    { out "$j_n1"; fail "SLURM_CPUS_ON_NODE=1: pool is not 1"; }

step "a Slurm job joins a running loom-run"
# both jobs run on this machine: Open MPI's TCP between them and each
# mpirun's out-of-band channel stay on loopback, like the ompi-server (by
# default Open MPI leaves lo out and connects to eth0's address); sbatch
# passes the variables on to the joining job
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
FLAGFILE="$T/srv/ompi-server.uri"
# (neither may inherit the lock's descriptor: it would outlive the test)
"$SRC/cluster/ompi-server" start "$T/srv" --loopback >/dev/null 9>&-
# every task waits until the joined worker (rank 2) has run one, so the
# run cannot end before the Slurm job joins, however late it starts
for _ in $(seq 1 40); do
    echo "[ \$LOOM_RANK = 2 ] && touch $T/joined; until [ -e $T/joined ]; do sleep 0.05; done; echo rank=\$LOOM_RANK"
done >"$T/long.txt"
setsid bash -c 'echo $$ >"$0/lrserve.pgid"; "$@" >"$0/lrserve.out" 2>&1; echo $? >"$0/lrserve.rc"' \
    "$T" "$BUILD/apps/loom-run/loom-run" --serve "$T/jd" --ompi-server "$FLAGFILE" \
    --pool-threads 1 --joblog "$T/jjoblog" --no-progress "$T/long.txt" 9>&- &
disown
wait_for 20 test -f "$T/jd/loom.join" || { cat "$T/lrserve.out"; fail "no join file"; }
j_join=$(sub -c 2 --wrap "$BUILD/apps/loom-run/loom-run --join $T/jd --ompi-server $FLAGFILE")
ok "$j_join" "the joining job"
wait_for 60 test -s "$T/lrserve.rc" || { cat "$T/lrserve.out"; fail "the serving loom-run did not end"; }
[ "$(cat "$T/lrserve.rc")" = 0 ] || { cat "$T/lrserve.out"; fail "the serving loom-run failed"; }
[ "$(grep -vc '^Seq' "$T/jjoblog")" = 40 ] || fail "the job log has not 40 lines"
grep -q '^rank=2$' "$T/lrserve.out" || { cat "$T/lrserve.out"; fail "no task ran in the Slurm job"; }
