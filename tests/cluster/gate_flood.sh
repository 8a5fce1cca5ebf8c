#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/cluster/gate_flood.sh — strangers at a serving master's door
# (issue #16). A master serves (squares --serve, no worker of its own, so
# its tasks wait for a joiner); its resident memory (VmRSS of the pid in
# the join file) is sampled for a few seconds as the baseline. Then
# tests/support/stranger floods its join gate from 100 threads for
# FLOOD_S seconds — wrong keys, made-up MACs followed by 4 KiB messages
# without end (the issue's attacker), garbage bytes, oversized frames,
# connections that never speak — while a real job joins and runs the
# master's tasks. Passes when:
#   - every stranger was refused or disconnected (stranger's exit status);
#   - the master's VmRSS, sampled every 20 ms during the flood, stayed
#     within LIMIT_KIB of the baseline's highest sample (before the gate,
#     the issue measured 18 MB -> 549 MB for 60,000 such messages; the
#     flood here pushes more bytes than that, and the figure is printed);
#   - the real join ran tasks and the master got every result;
#   - the master logged the gate's refusals.
# Usage (CTest sets these): BUILD=build SRC=. tests/cluster/gate_flood.sh
# Exit status: 0 pass, 1 fail.
source "$(dirname "$0")/lib.sh"
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
FLOOD_S=${FLOOD_S:-20}
LIMIT_KIB=${LIMIT_KIB:-4096} # "a few MiB"
T=$(mktemp -d "${TMPDIR:-/tmp}/loom-gate-flood.XXXXXX")
SQ="$BUILD/apps/loom-squares"
cleanup() {
    rc=$?
    step "tear-down"
    for f in "$T"/*.sid; do
        [ -f "$f" ] && pkill -9 -s "$(cat "$f")" 2>/dev/null || true
    done
    "$SRC/cluster/ompi-server" stop "$T/srv" || rc=1
    [ "$rc" = 0 ] && rm -rf "$T"
    finish $rc
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

step "set-up (ompi-server on loopback)"
FLAG=$("$SRC/cluster/ompi-server" start "$T/srv" --loopback)
MPI="mpirun $FLAG --oversubscribe --bind-to none --timeout 240"
launch() { # launch NAME CMD...: in its own session; output NAME.out, status NAME.rc
    name=$1
    shift
    setsid bash -c 'echo $$ >"$1.sid"; shift; "$@" >"$0.out" 2>&1; echo $? >"$0.rc"' \
        "$T/$name" "$T/$name" "$@" &
    disown
    wait_for 10 test -s "$T/$name.sid" || fail "$name did not start"
}
ended() { test -s "$T/$1.rc"; }
wait_end() { # wait_end NAME SECS EXPECTED-STATUS
    wait_for "$2" ended "$1" || { cat "$T/$1.out"; fail "$1 did not end within $2 s"; }
    [ "$(cat "$T/$1.rc")" = "$3" ] || { cat "$T/$1.out"; fail "$1 exited $(cat "$T/$1.rc"), not $3"; }
}
rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }

step "a serving master; its resident memory before the flood"
# 60 tasks of 0.5 s on one joined thread: about 30 s, longer than the flood
launch m $MPI -np 1 "$SQ" --serve "$T/d" --count 60 --sleep 500
wait_for 30 test -f "$T/d/loom.join" || { cat "$T/m.out"; fail "no join file"; }
GATE=$(awk '$1 == "gate" { print $2 }' "$T/d/loom.join")
PID=$(awk '$1 == "pid" { print $2 }' "$T/d/loom.join")
[ -n "$GATE" ] && [ -n "$PID" ] || fail "no gate or pid in the join file"
BASE=0
LOW=
for _ in $(seq 50); do # 50 samples over about 5 s
    v=$(rss "$PID")
    [ "$v" -gt "$BASE" ] && BASE=$v
    [ -z "$LOW" ] || [ "$v" -lt "$LOW" ] && LOW=$v
    sleep 0.1
done
echo "[$NAME] master pid $PID, gate $GATE: baseline VmRSS $LOW..$BASE KiB"

step "the flood (${FLOOD_S} s, 100 threads) while a real job joins and runs"
launch flood "$BUILD/tests/stranger" "$GATE" "$PID" "$FLOOD_S" 100
wait_for 10 grep -q "stranger: flooding" "$T/flood.out" || { cat "$T/flood.out"; fail "no flood"; }
launch j $MPI -np 1 "$SQ" --join "$T/d" --pool-threads 1 --sleep 500
wait_for $((FLOOD_S + 60)) ended flood || fail "the stranger did not end"
cat "$T/flood.out"
[ "$(cat "$T/flood.rc")" = 0 ] || { cat "$T/m.out"; fail "not every stranger was refused"; }
MAX=$(awk '$2 == "rss_max_kib" { print $3 }' "$T/flood.out")
SENT=$(awk '$2 == "rss_max_kib" { print $7 }' "$T/flood.out")
[ -n "$MAX" ] || fail "the stranger measured no VmRSS"
echo "[$NAME] VmRSS during the flood: max $MAX KiB, baseline $BASE KiB, growth $((MAX - BASE)) KiB" \
    "(limit $LIMIT_KIB KiB); strangers got $SENT KiB into the gate's sockets"
[ $((MAX - BASE)) -le "$LIMIT_KIB" ] ||
    { cat "$T/m.out"; fail "the master's VmRSS grew $((MAX - BASE)) KiB under the flood"; }
ended m && { cat "$T/m.out"; fail "the master ended during the flood"; }

step "the real join finishes the job"
wait_end m 120 0
wait_end j 60 0
assert_grep "loom-squares: 60 results, all correct" "$T/m.out" "the master did not get every result"
[ "$(grep -c 'run task' "$T/j.out")" = 60 ] || { cat "$T/j.out"; fail "the joined job did not run the 60 tasks"; }
assert_grep "join gate: refused [0-9]+ connections" "$T/m.out" "the master did not log the refusals"
grep "join gate: refused" "$T/m.out" | tail -3
