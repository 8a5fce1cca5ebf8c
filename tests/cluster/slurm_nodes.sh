#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/cluster/slurm_nodes.sh — loom under a real 3-node Slurm: one slurmd
# on each node of the simulated cluster (cluster/simnet up 3, then
# cluster/slurm-local up --sim), jobs submitted through the job scripts
# users run:
#   - many-nodes-mpirun.sbatch with hello: 4 ranks, one worker on each of
#     the 3 nodes and the master on loom-node1, pools of --cpus-per-task
#   - many-nodes-mpirun.sbatch with squares, many-nodes-srun.sbatch
#     (srun --mpi=pmix) with loom-run: COMPLETED, ExitCode 0:0, every task
#     once and on every node
#   - `sbatch -N 3 --wrap "loom-run tasks.txt"`: loom-run launches mpirun
#     itself, one worker per node: the same
# Usage (CTest sets these): BUILD=build SRC=. tests/cluster/slurm_nodes.sh
# Exit status: 0 pass, 1 fail, 77 skipped (not root, Slurm not installed).
source "$(dirname "$0")/lib.sh"
need_root
command -v slurmctld >/dev/null && command -v munged >/dev/null ||
    skip "Slurm is not installed (cluster/bootstrap installs it; or cluster/slurm-local install)"
SIM="$SRC/cluster/simnet"
SL="$SRC/cluster/slurm-local"
export LOOM_SIMNET_DIR="$BUILD/tests/cluster/simnet-state"
export LOOM_SLURM_DIR="$BUILD/tests/cluster/slurm-nodes"
global_lock
T=$(mktemp -d "${TMPDIR:-/tmp}/loom-slurm-nodes-test.XXXXXX")
cleanup() {
    rc=$?
    step "tear-down (slurm-local down, simnet down)"
    [ $rc -eq 0 ] || { tail -n 20 "$LOOM_SLURM_DIR"/*.log 2>/dev/null || true; }
    "$SL" down || rc=1
    "$SIM" down || rc=1
    pgrep -f "$LOOM_SLURM_DIR" >/dev/null && { echo "daemons left behind"; rc=1; }
    rm -rf "$T"
    finish $rc
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

step "set-up (simnet up 3, slurm-local up --sim)"
"$SL" down
"$SIM" down
"$SIM" up 3
"$SL" up --sim 4

step "submit 4 jobs"
S="$SRC/cluster/slurm"
for _ in $(seq 1 18); do echo "sleep 0.2; echo task=\$LOOM_TASK_ID host=\$LOOM_HOST"; done >"$T/tasks.txt"
cd "$T" || exit 1
# The four jobs share the three nodes at the same time. Open MPI's TCP
# transport listens on the lowest free port from 1024 up, so without ports
# of its own a job's rank can receive another job's connection while it is
# still in MPI_Init, and Open MPI 4.1 then crashes in it (SIGSEGV in
# mca_btl_tcp, seen about once in six runs). Each job gets its own range.
sub() {
    n=$1
    shift
    OMPI_MCA_btl_tcp_port_min_v4=$((20000 + 64 * n)) OMPI_MCA_btl_tcp_port_range_v4=64 \
        "$SL" submit "$@"
}
j_hello=$(sub 1 -N 3 -c 2 "$S/many-nodes-mpirun.sbatch" "$BUILD/apps/loom-hello")
j_sq=$(sub 2 -N 3 -c 2 "$S/many-nodes-mpirun.sbatch" "$BUILD/apps/loom-squares" --count 1000 --quiet)
j_lr=$(sub 3 -N 3 -c 2 "$S/many-nodes-srun.sbatch" "$BUILD/apps/loom-run/loom-run" "$T/tasks.txt")
# loom-run typed as is inside an allocation: it starts mpirun itself, one
# worker per node
j_self=$(sub 4 -N 3 -c 2 --wrap "$BUILD/apps/loom-run/loom-run --joblog $T/self.log $T/tasks.txt")

out() { cat "$LOOM_SLURM_DIR/job-$1.out"; }
ok() { "$SL" wait "$1" 120 || { out "$1"; fail "$2: job $1 did not complete with 0"; }; }

step "wait: hello, many-nodes-mpirun.sbatch"
ok "$j_hello" hello
out "$j_hello" >"$T/hello"
[ "$(grep -c '^rank=' "$T/hello")" = 4 ] || { cat "$T/hello"; fail "loom-hello: not 4 ranks"; }
for h in loom-node1 loom-node2 loom-node3; do
    [ "$(grep -c "role=worker .*host=$h pool=2 " "$T/hello")" = 1 ] ||
        { cat "$T/hello"; fail "loom-hello: not one worker with a pool of 2 on $h"; }
done
assert_grep '^rank=0 role=master .*host=loom-node1 ' "$T/hello" "master not on loom-node1"

step "wait: squares, many-nodes-mpirun.sbatch"
ok "$j_sq" squares
out "$j_sq" | grep -q '^loom-squares: 1000 results, all correct$' || { out "$j_sq"; fail "squares"; }

step "wait: loom-run, many-nodes-srun.sbatch"
ok "$j_lr" loom-run
out "$j_lr" >"$T/lr"
assert_grep '^loom-run: 18 tasks: 18 succeeded, 0 failed' "$T/lr" "loom-run: not all succeeded"
[ "$(sed -n 's/^task=\([0-9]*\) .*/\1/p' "$T/lr" | sort -nu | wc -l)" = 18 ] ||
    fail "loom-run: not every task once"
ran_on=$(sed -n 's/^task=.* host=\([^ ]*\)$/\1/p' "$T/lr" | sort -u | tr '\n' ' ')
[ "$ran_on" = "loom-node1 loom-node2 loom-node3 " ] || fail "loom-run: tasks ran on '$ran_on'"

step "wait: loom-run started by hand in the allocation (sbatch --wrap)"
ok "$j_self" loom-run-self
out "$j_self" >"$T/self"
assert_grep '^loom-run: 18 tasks: 18 succeeded, 0 failed' "$T/self" "loom-run self-launched"
[ "$(grep -c $'^[0-9]*\t' "$T/self.log")" = 18 ] || fail "loom-run self-launched: job log"
ran_on=$(sed -n 's/^task=.* host=\([^ ]*\)$/\1/p' "$T/self" | sort -u | tr '\n' ' ')
[ "$ran_on" = "loom-node1 loom-node2 loom-node3 " ] ||
    fail "loom-run self-launched: tasks ran on '$ran_on', not on every node"
