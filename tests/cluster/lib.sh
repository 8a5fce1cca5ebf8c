# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Shared helpers of the cluster tests (sourced, bash). The tests run as
# CTest shell tests: exit 0 pass, 1 fail, 77 skipped (not root, no namespaces).
#
#   BUILD, SRC       set by CTest (the build tree, the source tree)
#   step NAME        start a timed step; the previous one's time is printed
#   fail MSG         print MSG and exit 1 (the EXIT trap still cleans up)
#   wait_for SECS CMD...   poll CMD every 0.1 s until it succeeds; fail
#                  after SECS (a bounded deadline, never a bare sleep)
set -eu
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_mpi_yield_when_idle=1

: "${BUILD:?BUILD must name the build tree}"
: "${SRC:?SRC must name the source tree}"
NAME=$(basename "$0" .sh)

now() { date +%s.%N; }
T_START=$(now)
T_STEP=$T_START
STEP=""
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
step() {
    [ -z "$STEP" ] || echo "[$NAME] time: $STEP $(elapsed "$T_STEP") s"
    STEP=$1
    T_STEP=$(now)
}
finish() { # finish EXIT-STATUS: the last step's time, the verdict, the total
    step ""
    case "${1:-0}" in 0) v=PASS ;; 77) v=SKIP ;; *) v=FAIL ;; esac
    echo "[$NAME] $v, total $(elapsed "$T_START") s"
}
fail() {
    echo "[$NAME] FAIL: $*" >&2
    exit 1
}
skip() {
    echo "[$NAME] SKIP: $*"
    exit 77
}
wait_for() {
    secs=$1
    shift
    deadline=$(awk -v t="$(now)" -v s="$secs" 'BEGIN { printf "%d", t + s + 1 }')
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}
need_root() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    unshare --net true 2>/dev/null || skip "cannot create network namespaces here"
}
# assert_grep PATTERN FILE WHAT
assert_grep() {
    grep -Eq -- "$1" "$2" || { echo "--- $2:"; cat "$2"; fail "$3"; }
}
# Namespaces, /etc/hosts lines and Slurm's ports are machine-wide: hold a
# machine-wide lock (also across build trees and worktrees) while using them.
global_lock() {
    exec 9>/run/lock/loom-cluster-tests.lock
    flock -w 150 9 || fail "another cluster test has held /run/lock/loom-cluster-tests.lock for 150 s"
}
