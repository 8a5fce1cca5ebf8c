#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/cluster/simnet.sh — loom across 3 simulated nodes (cluster/simnet):
# real network namespaces, a real mpirun whose orteds start through the
# ssh-like agent, traffic over TCP between the nodes' addresses.
#   - hello: 4 ranks report 3 different hostnames, one worker per node
#   - squares and pi: every task's result once and right, with btl tcp,self;
#     the bridge ports of nodes 2 and 3 carried the job's traffic
#   - btl vader,self cannot connect the nodes (they really are separate)
#   - loom-run: every task once, on all 3 nodes, each task sees PATH,
#     LD_LIBRARY_PATH and LOOM_* variables forwarded from the launch
#   - cut and restore a node's link, then a job works again (a cut in the
#     middle of a job: linkcut.sh)
#   - down leaves no namespace, process or /etc/hosts line behind
# Usage (CTest sets these): BUILD=build SRC=. tests/cluster/simnet.sh
# Exit status: 0 pass, 1 fail, 77 skipped (not root).
source "$(dirname "$0")/lib.sh"
need_root
SIM="$SRC/cluster/simnet"
export LOOM_SIMNET_DIR="$BUILD/tests/cluster/simnet-state"
global_lock
T=$(mktemp -d "${TMPDIR:-/tmp}/loom-simnet-test.XXXXXX")
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
"$SIM" down # anything a killed earlier run left
"$SIM" up 3
diff -u <(grep -v "^#" "$SRC/hostfiles/simulated") "$LOOM_SIMNET_DIR/hostfile" ||
    fail "hostfiles/simulated differs from what simnet up writes"

run() { timeout 60 "$SIM" run --timeout 50 --bind-to none "$@"; }
port_bytes() { # rx+tx bytes of node N's port on the bridge
    ip -n loom-br -s -j link show "p$1" |
        sed -E 's/.*"rx":\{"bytes":([0-9]+).*"tx":\{"bytes":([0-9]+).*/\1 \2/' |
        awk '{ print $1 + $2 }'
}

step "hello on 3 nodes"
run -np 4 --mca btl tcp,self "$BUILD/apps/loom-hello" >"$T/hello" 2>&1 || { cat "$T/hello"; fail "hello"; }
[ "$(grep -c '^rank=' "$T/hello")" = 4 ] || { cat "$T/hello"; fail "loom-hello: not 4 ranks"; }
hosts=$(sed -n 's/^rank=.* host=\([^ ]*\) .*/\1/p' "$T/hello" | sort -u | tr '\n' ' ')
[ "$hosts" = "loom-node1 loom-node2 loom-node3 " ] || fail "loom-hello: hosts are '$hosts'"
for h in loom-node2 loom-node3; do
    [ "$(grep -c "role=worker .*host=$h " "$T/hello")" = 1 ] || fail "not one worker on $h"
done
assert_grep 'rank=0 role=master .*host=loom-node1 ' "$T/hello" "master not on loom-node1"

step "squares, master on node1, workers on node2 and node3, btl tcp"
b2=$(port_bytes 2) b3=$(port_bytes 3)
run -np 3 --map-by node --mca btl tcp,self "$BUILD/apps/loom-squares" --count 30000 --quiet \
    >"$T/sq" 2>&1 || { cat "$T/sq"; fail "squares"; }
assert_grep '^loom-squares: 30000 results, all correct$' "$T/sq" "loom-squares: wrong or missing results"
d2=$(($(port_bytes 2) - b2)) d3=$(($(port_bytes 3) - b3))
echo "bytes through the bridge: node2 $d2, node3 $d3"
# every task (8 bytes) and result (8 bytes) crossed the bridge, plus framing
[ $((d2 + d3)) -gt 480000 ] || fail "too little traffic crossed the bridge"

step "pi on 3 nodes, btl tcp"
run -np 4 --mca btl tcp,self "$BUILD/apps/loom-pi" --tasks 24 --samples-per-task 200000 >"$T/pi" 2>&1 ||
    { cat "$T/pi"; fail "pi"; }
assert_grep '^pi = 3\.1[0-9]*, error .*, 3 workers x 2 threads' "$T/pi" "loom-pi: unexpected output"

step "btl vader,self cannot join the nodes"
if run -np 4 --mca btl vader,self "$BUILD/apps/loom-hello" >"$T/vader" 2>&1; then
    cat "$T/vader"
    fail "shared memory alone connected ranks on different nodes"
fi
assert_grep 'unable to reach each other|BTLs attempted' "$T/vader" "vader: unexpected failure"

step "loom-run on 3 nodes, environment forwarded"
for _ in $(seq 1 18); do
    echo "sleep 0.2; echo \"task=\$LOOM_TASK_ID host=\$LOOM_HOST rank=\$LOOM_RANK mark=\$LOOM_TEST_MARK ld=\$LD_LIBRARY_PATH path=\$PATH\""
done >"$T/tasks.txt"
LOOM_TEST_MARK=m42 LD_LIBRARY_PATH=/opt/loom-test/lib PATH="/opt/loom-test/bin:$PATH" \
    run -np 4 --mca btl tcp,self "$BUILD/apps/loom-run/loom-run" --joblog "$T/joblog" \
    "$T/tasks.txt" >"$T/lr" 2>&1 || { cat "$T/lr"; fail "loom-run"; }
assert_grep '^loom-run: 18 tasks: 18 succeeded, 0 failed' "$T/lr" "loom-run: not all tasks succeeded"
[ "$(grep -c '^task=' "$T/lr")" = 18 ] || fail "loom-run: not 18 task outputs"
[ "$(sed -n 's/^task=\([0-9]*\) .*/\1/p' "$T/lr" | sort -n | uniq | wc -l)" = 18 ] ||
    fail "loom-run: a task ran twice or not at all"
ran_on=$(sed -n 's/^task=.* host=\([^ ]*\) .*/\1/p' "$T/lr" | sort -u | tr '\n' ' ')
[ "$ran_on" = "loom-node1 loom-node2 loom-node3 " ] || fail "loom-run: tasks ran on '$ran_on'"
n_env=$(grep -c ' mark=m42 ld=/opt/loom-test/lib path=/opt/loom-test/bin:' "$T/lr")
[ "$n_env" = 18 ] || { cat "$T/lr"; fail "loom-run: only $n_env tasks saw the forwarded variables"; }
[ "$(grep -vc '^#\|^Seq' "$T/joblog")" = 18 ] || fail "joblog: not 18 lines"

step "cut and restore a link"
"$SIM" cut loom-node3
wait_for 5 sh -c "ip -n loom-n3 link show eth0 | grep -q NO-CARRIER" || fail "cut: eth0 has carrier"
"$SIM" status | grep -q 'loom-node3 .*link=DOWN' || fail "status does not show the cut"
"$SIM" restore loom-node3
wait_for 5 sh -c "ip -n loom-n3 link show eth0 | grep -q LOWER_UP" || fail "restore: no carrier"
run -np 4 --mca btl tcp,self "$BUILD/apps/loom-hello" >"$T/hello2" 2>&1 ||
    { cat "$T/hello2"; fail "hello after restore"; }
assert_grep 'host=loom-node3 ' "$T/hello2" "node3 not back"
"$SIM" cut loom-node9 2>"$T/bad" && fail "cut of an unknown node succeeded"
assert_grep "no node 'loom-node9'" "$T/bad" "unclear error for an unknown node"

step "tear-down leaves nothing"
# a stray process on a node, as an aborted job leaves orteds and ranks
"$SIM" exec loom-node2 sleep 300 &
stray=$!
wait_for 5 sh -c "ip netns pids loom-n2 | grep -qx $stray" || fail "stray process did not start"
"$SIM" down
[ -z "$(ip netns list | grep '^loom-\(n[0-9]\|br\)\b' || true)" ] || fail "namespaces left behind"
! grep -q '# loom-simnet$' /etc/hosts || fail "/etc/hosts lines left behind"
wait_for 5 sh -c "! { [ -d /proc/$stray ] && ! grep -q '^State:.*Z' /proc/$stray/status; }" ||
    fail "a process on a node survived down"
wait "$stray" 2>/dev/null || true
