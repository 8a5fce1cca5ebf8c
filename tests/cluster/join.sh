#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/cluster/join.sh — workers that join a running master (the seed's
# task_master / task_worker), through an ompi-server bound to loopback
# (cluster/ompi-server), with squares --serve DIR / --join DIR:
#   1. the seed's flow: mpirun -np 1 squares --serve, later mpirun -np 2
#      squares --join: every result printed and correct, both exit 0, the
#      join file gone afterwards, and a late join refused with a clear
#      message;
#   2. a join in the middle of a long run: tasks run on both jobs;
#   3. a joined job killed with SIGKILL: the master declares its workers
#      lost, another job joins and the run ends with every result correct,
#      each exactly once; while that master runs, a join file with the wrong
#      key and a corrupted join file are refused with clear messages on the
#      joining side, and the master's join gate logs the refusal and carries
#      on (tests/cluster/gate_flood.sh floods that gate);
#   4. a join file left by a killed master is refused as stale at once, and
#      a joined job whose master is killed leaves after the worker timeout;
#   5. 20 joins and leaves (SIGKILL) during one run, then a last job
#      finishes it: all results correct, 21 joins logged;
#   6. loom-run --serve and a later loom-run --join, both started without
#      mpirun (they start it, with --ompi-server): every command runs once,
#      some on the joined worker.
# --sleep makes a task work that long on the worker that runs it (the
# seed's worker sleeps), so it is given to the joining jobs.
# squares checks every result itself (right value, each task exactly once)
# and prints "loom-squares: N results, all correct" only then.
# Usage (CTest sets these): BUILD=build SRC=. tests/cluster/join.sh
# Exit status: 0 pass, 1 fail.
source "$(dirname "$0")/lib.sh"
# Every job here runs on this machine: Open MPI's TCP between the master's
# job and each joined job, and each mpirun's out-of-band channel, stay on
# loopback like the ompi-server (by default Open MPI leaves lo out and
# connects to the host's eth0 address). The variables reach the mpiruns
# loom-run starts itself (step 6) too.
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
T=$(mktemp -d "${TMPDIR:-/tmp}/loom-join-test.XXXXXX")
SQ="$BUILD/apps/loom-squares"
cleanup() {
    rc=$?
    step "tear-down"
    for f in "$T"/*.sid; do
        [ -f "$f" ] && pkill -9 -s "$(cat "$f")" 2>/dev/null || true
    done
    "$SRC/cluster/ompi-server" stop "$T/srv" || rc=1
    [ "$rc" = 0 ] || [ -n "${KEEP:-}" ] || rm -rf "$T"
    [ "$rc" = 0 ] && rm -rf "$T"
    finish $rc
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

step "set-up (ompi-server on loopback)"
FLAG=$("$SRC/cluster/ompi-server" start "$T/srv" --loopback)
MPI="mpirun $FLAG --oversubscribe --bind-to none --timeout 240"

# launch NAME CMD...: CMD in its own session, output in $T/NAME.out, exit
# status in $T/NAME.rc when it ends
#
# Each job gets TCP ports of its own for Open MPI's TCP transport, which
# otherwise listens on the lowest free port from 1024 up. A job started
# right after another was killed (steps 3 and 5) then listens on the dead
# job's port, and the master, still sending to the dead worker until it
# declares it lost, connects to the new job instead: Open MPI drops that
# connection ("received unexpected process identifier") and the new job's
# join hangs ("no valid introduction within 10 s"). The master's
# "connect() to 127.0.0.1:<port> failed" warnings while it tries to reach a
# killed worker are expected.
JOBS=0
launch() {
    name=$1
    shift
    rm -f "$T/$name.rc"
    JOBS=$((JOBS + 1))
    OMPI_MCA_btl_tcp_port_min_v4=$((20000 + 32 * JOBS)) OMPI_MCA_btl_tcp_port_range_v4=32 \
        OMPI_MCA_btl_tcp_port_min_v6=$((30000 + 32 * JOBS)) OMPI_MCA_btl_tcp_port_range_v6=32 \
        setsid bash -c 'echo $$ >"$1.sid"; shift; "$@" >"$0.out" 2>&1; echo $? >"$0.rc"' \
        "$T/$name" "$T/$name" "$@" &
    disown # its end is in $T/NAME.rc; a kill is not news
    wait_for 10 test -s "$T/$name.sid" || fail "$name did not start"
}
ended() { test -s "$T/$1.rc"; }
# wait_end NAME SECS EXPECTED-STATUS
wait_end() {
    wait_for "$2" ended "$1" || { cat "$T/$1.out"; fail "$1 did not end within $2 s"; }
    [ "$(cat "$T/$1.rc")" = "$3" ] || { cat "$T/$1.out"; fail "$1 exited $(cat "$T/$1.rc"), not $3"; }
}
gone() { ! pgrep -s "$1" >/dev/null; }
kill_job() { # SIGKILL to mpirun and every rank (they share its session)
    sid=$(cat "$T/$1.sid")
    pkill -9 -s "$sid" || true
    wait_for 10 gone "$sid" || fail "$1 survived SIGKILL"
}
count() { grep -Ec -- "$1" "$2" || true; }
has_at_least() { [ "$(count "$1" "$2")" -ge "$3" ]; }

step "1. the seed's flow: squares --serve, then squares --join"
launch m1 $MPI -np 1 "$SQ" --serve "$T/d1" --count 10 --seed 7
wait_for 20 test -f "$T/d1/loom.join" || { cat "$T/m1.out"; fail "no join file"; }
[ "$(stat -c %a "$T/d1/loom.join")" = 600 ] || fail "the join file is not mode 0600"
[ "$(stat -c %a "$T/d1")" = 700 ] || fail "the join directory is not mode 0700"
launch j1 $MPI -np 2 "$SQ" --join "$T/d1"
wait_end m1 60 0
wait_end j1 60 0
assert_grep "loom-squares: 10 results, all correct" "$T/m1.out" "the master did not get every result"
[ "$(count '^Result: ' "$T/m1.out")" = 10 ] || fail "the master did not print 10 results"
[ "$(count 'run task' "$T/j1.out")" = 10 ] || fail "the joined job did not run the 10 tasks"
assert_grep "worker exit. \(rank 2\)" "$T/j1.out" "the joined workers did not end cleanly"
[ ! -e "$T/d1/loom.join" ] || fail "the join file was left behind"
launch late $MPI -np 1 "$SQ" --join "$T/d1"
wait_end late 30 1
assert_grep "cannot join: no join file in .*is the master running with --serve" "$T/late.out" \
    "joining an ended job: no clear message"

step "2. a join in the middle of a long run"
# the master's own worker alone would need 30 s: the join lands mid-run
launch m2 $MPI -np 2 "$SQ" --serve "$T/d2" --count 300 --sleep 200 --pool-threads 2
wait_for 30 has_at_least 'run task' "$T/m2.out" 4 || { cat "$T/m2.out"; fail "no progress"; }
launch j2 $MPI -np 1 "$SQ" --join "$T/d2" --pool-threads 2 --sleep 20
wait_end m2 120 0
wait_end j2 60 0
assert_grep "loom-squares: 300 results, all correct" "$T/m2.out" "not every result came back"
has_at_least 'run task.*\(rank 1,' "$T/m2.out" 1 || fail "the master's own worker ran nothing"
has_at_least 'run task.*\(rank 2,' "$T/j2.out" 10 || fail "the joined job ran (almost) nothing"

step "3. a joined job killed with SIGKILL; a wrong key and a corrupted join file refused"
launch m3 $MPI -np 1 "$SQ" --serve "$T/d3" --count 400 --sleep 50 --job-worker-timeout 3
wait_for 20 test -f "$T/d3/loom.join" || fail "no join file"
launch j3a $MPI -np 2 "$SQ" --join "$T/d3" --pool-threads 2 --sleep 50
wait_for 30 has_at_least 'run task' "$T/j3a.out" 10 || { cat "$T/j3a.out"; fail "no progress"; }
kill_job j3a
wait_for 30 has_at_least 'declared lost' "$T/m3.out" 2 ||
    { cat "$T/m3.out"; fail "the master did not declare the killed job's 2 workers lost"; }
"$BUILD/tests/joinfile_rekey" "$T/d3" "$T/wrongkey"
launch bad1 $MPI -np 1 "$SQ" --join "$T/wrongkey"
wait_end bad1 30 1
assert_grep "cannot join: the master refused our key" "$T/bad1.out" "no clear wrong-key message"
# the gate logs a summary of its refusals at most every 10 s
wait_for 15 grep -Eq "join gate: refused [0-9]+ connections \(wrong key or not the protocol [1-9]" \
    "$T/m3.out" || { cat "$T/m3.out"; fail "the master did not log the refusal"; }
mkdir -m 700 "$T/corrupt"
sed 's/^gate \(.\)/gate X\1/' "$T/d3/loom.join" >"$T/corrupt/loom.join"
chmod 600 "$T/corrupt/loom.join"
launch bad2 $MPI -np 1 "$SQ" --join "$T/corrupt"
wait_end bad2 30 1
assert_grep "cannot join: corrupted join file" "$T/bad2.out" "no clear corrupted-file message"
ended m3 && { cat "$T/m3.out"; fail "the master ended early"; }
launch j3b $MPI -np 1 "$SQ" --join "$T/d3" --pool-threads 2 --sleep 10
wait_end m3 120 0
wait_end j3b 60 0
assert_grep "loom-squares: 400 results, all correct" "$T/m3.out" "results lost or doubled after the kill"

step "4. a join file left by a killed master is refused as stale"
launch m4 $MPI -np 1 "$SQ" --serve "$T/d4" --count 10 --sleep 1000
wait_for 20 test -f "$T/d4/loom.join" || fail "no join file"
kill_job m4
launch j4 $MPI -np 1 "$SQ" --join "$T/d4"
wait_end j4 30 1
assert_grep "cannot join: the master of .* has ended; the join file is stale" "$T/j4.out" \
    "no clear stale-file message"

step "4b. the master of a joined job killed: the joined job leaves"
launch m7 $MPI -np 1 "$SQ" --serve "$T/d7" --count 1000 --sleep 100 --job-worker-timeout 2
wait_for 20 test -f "$T/d7/loom.join" || fail "no join file"
launch j7 $MPI -np 2 "$SQ" --join "$T/d7" --sleep 100
wait_for 30 has_at_least 'run task' "$T/j7.out" 2 || { cat "$T/j7.out"; fail "no progress"; }
kill_job m7
wait_end j7 30 1
assert_grep "the master has been silent for .* leaving the job" "$T/j7.out" \
    "the joined job did not say why it left"

step "5. 20 joins and leaves during one run"
# enough tasks that 20 short-lived joiners cannot finish the run. The test
# kills the joiners, not the tasks: a task in flight on a lost worker runs
# next alone on the next joiner (job.crash_limit), which this loop kills
# too, so the limit is lifted here (3 would give such a task up)
launch m5 $MPI -np 1 "$SQ" --serve "$T/d5" --count 3000 --sleep 5 --quiet --job-worker-timeout 3 \
    --job-crash-limit 1000
wait_for 20 test -f "$T/d5/loom.join" || fail "no join file"
for i in $(seq 1 20); do
    launch "j5_$i" $MPI -np 1 "$SQ" --join "$T/d5" --pool-threads 2 --sleep 5 --quiet
    wait_for 30 has_at_least "joined from .*: ranks" "$T/m5.out" "$i" ||
        { cat "$T/m5.out" "$T/j5_$i.out"; fail "join $i was not accepted"; }
    kill_job "j5_$i"
done
ended m5 && { cat "$T/m5.out"; fail "the master ended before the last join"; }
launch j5_last $MPI -np 1 "$SQ" --join "$T/d5" --pool-threads 2 --sleep 5 --quiet
wait_end m5 180 0
wait_end j5_last 60 0
assert_grep "loom-squares: 3000 results, all correct" "$T/m5.out" "results lost or doubled"
[ "$(count "joined from .*: ranks" "$T/m5.out")" = 21 ] || fail "not 21 joins logged"

step "6. loom-run --serve, then loom-run --join, both self-launched"
LR="$BUILD/apps/loom-run/loom-run"
URI="$T/srv/ompi-server.uri"
# every task waits until the joined worker (rank 2) has run one: the run
# cannot end before the join, however slowly it starts
for i in $(seq 1 60); do
    echo "[ \$LOOM_RANK = 2 ] && touch $T/joined6; until [ -e $T/joined6 ]; do sleep 0.05; done; echo \$LOOM_RANK"
done >"$T/tasks.txt"
launch lm "$LR" --serve "$T/d6" --ompi-server "$URI" --joblog "$T/joblog" --pool-threads 1 \
    --events "$T/ev6.jsonl" --no-progress "$T/tasks.txt"
wait_for 20 test -f "$T/d6/loom.join" || { cat "$T/lm.out"; fail "loom-run wrote no join file"; }
launch lj "$LR" --join "$T/d6" --ompi-server "$URI" --pool-threads 2
wait_end lm 120 0
wait_end lj 60 0
[ "$(awk -F'\t' 'NR > 1 && $7 == 0' "$T/joblog" | wc -l)" = 60 ] ||
    { cat "$T/joblog"; fail "the job log has not 60 succeeded tasks"; }
[ "$(awk -F'\t' 'NR > 1 { print $1 }' "$T/joblog" | sort -u | wc -l)" = 60 ] ||
    fail "a task is in the job log twice"
has_at_least '^2$' "$T/lm.out" 1 || { cat "$T/lm.out"; fail "no task ran on the joined worker"; }
# a joined worker's rank is past the job's own: its join is an event too
has_at_least '"event":"worker_join","time":[0-9.]+,"rank":2,"host":"[^"]+"' "$T/ev6.jsonl" 1 ||
    { cat "$T/ev6.jsonl"; fail "no worker_join event with a host for the joined worker"; }
