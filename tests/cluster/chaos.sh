#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/cluster/chaos.sh — a chaos run (issue #16). Two long jobs run on the
# simulated 3-node cluster (cluster/simnet) at the same time:
#   lr    loom-run started as a user starts it (LOOM_MPIRUN, LOOM_RUN_NODES=3),
#         with a job log and --serve (workers may join), tasks of 1 s;
#   capi  a C-API job with a journal (tests/mpi/prog_resume), tasks of 0.1 s;
# while, at random moments drawn from a seeded generator, the test
#   - SIGKILLs a worker rank (kill-worker),
#   - SIGSTOPs a worker rank and SIGCONTs it 0.5-5 s later (stop, cont),
#   - cuts a node's link and restores it 1-8 s later (cut, restore),
#   - starts a job that joins lr (join-start: loom-run --join from
#     loom-node2 or 3) and SIGKILLs a joined job (join-kill),
#   - SIGKILLs a job's master rank (kill-master).
# Each job is started again (loom-run --resume-failed from its job log;
# prog_resume --resume from its journal) whenever an attempt ends before
# every task succeeded, at most MAX_ATTEMPTS times. --resume-failed, not
# --resume: when every worker is lost the job log gets the waiting tasks
# as failed (status -1), and --resume would skip them for good. An attempt
# is ended by the test (SIGKILL to its session) when its master has been
# gone for 30 s and its mpirun has not exited (Open MPI's mpirun
# --enable-recovery waits for orteds of a node it lost), and the lr
# attempt is stopped (SIGTERM to loom-run) when it has had no worker for
# 20 s: a serving master whose workers are all lost waits for a join.
# Once (seed 9090, 600 s, 1 of 15 master kills) a loom-run launcher had
# not ended its job 30 s after its master was SIGKILLed (launcher, mpirun
# and two workers still running): not explained yet; the 30 s rule above
# ends such an attempt and says so.
#
# Joins end the lr attempt: with Open MPI 4.1.4, MPI_Comm_connect between
# two mpiruns whose ranks run on the simulated nodes makes both mpiruns
# segfault (orte_rml_base_parse_uris called with NULL from
# pmix_server_keyval_client), whichever node the joining rank is on and
# however the ompi-server is reached; on one node over loopback
# (tests/cluster/join.sh) joins work. loom-run reports "the master ended
# without an exit status (mpirun: signal 11)" and the attempt is resumed.
#
# What is checked at the end ("every task succeeded exactly once"):
#   lr:   for every line 1..N of the task file, the job log (one file,
#         appended by every attempt) has exactly one line with Exitval 0 and
#         Signal 0; lines of failed attempts (status -1 when every worker was
#         lost) may be there too; and the task's own record of its runs
#         (each run that finished appends one line to runs/lr/SEQ) exists;
#   capi: prog_resume --check counts, per task id, the journal's successful
#         records: once=N twice=0 missing=0 (no task recorded as succeeded
#         twice, none lost), and runs/capi/ID exists for each task;
#   tasks in flight when a worker or master was killed may have run more
#         than once: the runs files count them (printed, not a failure);
#   nothing is left: no process in any node's namespace and no process
#         whose command line names this run's directory, once both jobs
#         are done (bounded wait, then the leftovers are listed: failure).
# Every fault is printed with the time it was injected and when loom
# noticed it (the first matching log line: "declared lost", "spoke after
# it was declared lost", "joining", the attempt's end and the next one's
# start), or "not noticed".
#
# Length and seed: LOOM_CHAOS_SECS (default 150 s of chaos), LOOM_CHAOS_SEED
# (default: from the clock; printed). The seed fixes the generator: which
# fault, which target among those alive, and when; the system's own timing
# still varies from run to run.
#
#   sudo LOOM_CHAOS_SECS=1800 LOOM_CHAOS_SEED=42 BUILD=build SRC=. tests/cluster/chaos.sh
#
# Exit status: 0 pass, 1 fail, 77 skipped (not root).
source "$(dirname "$0")/lib.sh"
set +e # every failure below is checked and explained
need_root
SECS=${LOOM_CHAOS_SECS:-150}
SEED=${LOOM_CHAOS_SEED:-$(($(date +%s) % 1000000))}
case "$SECS$SEED" in *[!0-9]*) fail "LOOM_CHAOS_SECS and LOOM_CHAOS_SEED must be numbers" ;; esac
unset LOOM_CHAOS_SECS LOOM_CHAOS_SEED # not loom settings: keep them from the ranks
RANDOM=$SEED
echo "[chaos] seed $SEED, $SECS s of chaos (repeat: LOOM_CHAOS_SEED=$SEED LOOM_CHAOS_SECS=$SECS)"
SIM="$SRC/cluster/simnet"
LR="$BUILD/apps/loom-run/loom-run"
PR="$BUILD/tests/mpi/prog_resume"
[ -x "$LR" ] && [ -x "$PR" ] || fail "build loom-run and prog_resume first"
export LOOM_SIMNET_DIR="$BUILD/tests/cluster/simnet-state"
# a worker silent for 2 s is lost; the master silent for 4 s makes its
# workers leave (job.master_timeout)
export LOOM_JOB_WORKER_TIMEOUT=2 LOOM_JOB_HEARTBEAT=0.2
WORKER_TIMEOUT=2
N_LR=$((SECS * 4))
N_CAPI=$((SECS * 30))
MAX_ATTEMPTS=$((12 + SECS / 4))
global_lock
T=$(mktemp -d "${TMPDIR:-/tmp}/loom-chaos-test.XXXXXX")
FAULTS="$T/faults.tsv"   # sod id kind job ranks detail
EVID="$T/evidence.tsv"   # sod job kind rank text (the supervisors' part)
: >"$FAULTS"
: >"$EVID"
cleanup() {
    rc=$?
    step "tear-down"
    for f in "$T"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
    for f in "$T"/*.sid; do [ -f "$f" ] && pkill -9 -s "$(cat "$f")" 2>/dev/null; done
    [ -d "$T/srv" ] && "$SRC/cluster/ompi-server" stop "$T/srv" >/dev/null 2>&1
    "$SIM" down || rc=1
    if [ -z "${KEEP:-}" ]; then rm -rf "$T"; else echo "[chaos] kept $T (KEEP is set)"; fi
    finish $rc
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

sod() { # seconds since midnight UTC, ms
    date -u +%s.%N | awk '{ printf "%.3f", $1 % 86400 }'
}
hms() { # SOD -> HH:MM:SS.mmm
    awk -v s="$1" 'BEGIN { printf "%02d:%02d:%06.3f", int(s / 3600), int(s % 3600 / 60), s % 60 }'
}
say() { echo "[chaos] $(hms "$(sod)") $*"; }
evidence() { printf '%s\t%s\t%s\t%s\t%s\n' "$(sod)" "$1" "$2" "${3:--}" "$4" >>"$EVID"; }

# procs JOB: "pid rank node" of the live ranks of JOB (lr, capi, or join:
# the joined jobs), found by their command line, which names this run's
# directory
procs() {
    case "$1" in lr | join) comm=loom-run ;; capi) comm=prog_resume ;; esac
    for p in $(pgrep -x "$comm"); do
        cmd=$({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null) || continue
        case "$cmd" in *"$T"/*) ;; *) continue ;; esac
        case "$1:$cmd" in join:*--join*) ;; join:*) continue ;; *:*--join*) continue ;; esac
        # a task's child between fork and exec looks like its rank: skip it
        pp=$({ cut -d' ' -f4 <"/proc/$p/stat"; } 2>/dev/null)
        case "$({ cat "/proc/$pp/comm"; } 2>/dev/null)" in loom-run | prog_resume) continue ;; esac
        r=$({ tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')
        [ -n "$r" ] || continue # loom-run's launcher, not a rank
        ns=$(readlink "/proc/$p/ns/net" 2>/dev/null) && [ -n "$ns" ] || continue
        echo "$p $r ${NETNS[$ns]:-?}"
    done
}
ours() { # every live process whose command line names $T (not this shell's)
    for p in $(pgrep -f -- "$T/"); do
        [ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
        grep -q . "/proc/$p/cmdline" 2>/dev/null && echo "$p"
    done
}

step "set-up (simnet up 3, ompi-server on loom-node1, task files)"
"$SIM" down
"$SIM" up 3 || fail "simnet up failed"
declare -A NETNS # "net:[inode]" -> the node's namespace, to place a rank
for i in 1 2 3; do NETNS["net:[$(stat -L -c %i "/run/netns/loom-n$i")]"]=loom-n$i; done
printf '#!/bin/sh\nexec "%s" run --bind-to none "$@"\n' "$SIM" >"$T/mpirun-on-simnet"
chmod +x "$T/mpirun-on-simnet"
# the rendezvous of joins, inside loom-node1 on the nodes' network
"$SIM" exec loom-node1 "$SRC/cluster/ompi-server" start "$T/srv" --if eth0 >/dev/null ||
    fail "ompi-server did not start"
URI="$T/srv/ompi-server.uri"
mkdir -p "$T/runs/lr" "$T/runs/capi"
for i in $(seq 1 "$N_LR"); do
    echo "sleep 1; echo \"$i \$LOOM_HOST \$LOOM_RANK\" >>$T/runs/lr/$i"
done >"$T/lr.tasks"
echo "[chaos] lr: $N_LR tasks of 1 s; capi: $N_CAPI tasks of 0.1 s; at most $MAX_ATTEMPTS attempts each"

# start_attempt JOB N: one attempt in a session of its own; its exit
# status goes to $T/JOB.N.rc, its output to $T/JOB.N.out
start_attempt() {
    job=$1
    n=$2
    case "$job" in
    lr)
        again=""
        [ "$n" -gt 1 ] && again=--resume-failed
        set -- env LOOM_MPIRUN="$T/mpirun-on-simnet" LOOM_RUN_NODES=3 \
            OMPI_MCA_orte_data_server_uri="file:$URI" "$LR" \
            --joblog "$T/lr.joblog" $again --pool-threads 2 --no-progress \
            --serve "$T/jd" --ompi-server "$URI" "$T/lr.tasks"
        ;;
    capi)
        again=""
        [ "$n" -gt 1 ] && again=--resume
        set -- "$SIM" run --enable-recovery --oversubscribe --map-by node -np 4 "$PR" \
            --journal "$T/capi.journal" $again --tasks "$N_CAPI" --ms 100 --runs "$T/runs/capi" \
            --pool-threads 2
        ;;
    esac
    setsid bash -c '"$@"; echo $? >"$0"' "$T/$job.$n.rc" "$@" >"$T/$job.$n.out" 2>&1 &
    echo $! >"$T/$job.sid"
}

master_alive() { procs "$1" | awk '$2 == 0 { f = 1 } END { exit !f }'; }
session_gone() { ! pgrep -s "$1" >/dev/null; }

lr_complete() {
    [ "$(awk -F'\t' 'NR > 1 && $7 == 0 && $8 == 0 { print $1 }' "$T/lr.joblog" 2>/dev/null |
        sort -u | wc -l)" = "$N_LR" ]
}
capi_complete() { grep -Eq "^RESUME tasks=$N_CAPI .* failed=0" "$T/capi.$1.out"; }

# supervise JOB: attempts until the job is complete (JOB.done) or
# MAX_ATTEMPTS were made (JOB.gaveup). An attempt ends when its launcher
# exits; a master dead for 30 s with its launcher still there (mpirun
# waiting for a rank it cannot reach) ends it by SIGKILL to its session.
supervise() {
    job=$1
    n=0
    while [ "$n" -lt "$MAX_ATTEMPTS" ]; do
        n=$((n + 1))
        echo "$n" >"$T/$job.attempt"
        start_attempt "$job" "$n"
        sid=$(cat "$T/$job.sid")
        evidence "$job" start - "attempt $n started"
        say "$job: attempt $n started (session $sid)"
        seen=0
        dead_since=""
        alone_since=""
        t0=$(date +%s)
        while [ ! -s "$T/$job.$n.rc" ]; do
            sleep 0.2
            if master_alive "$job"; then
                seen=1
                dead_since=""
                # a serving master (lr) whose workers are all lost waits for
                # one to join (docs/jobs.md): 20 s of that, and the attempt
                # is stopped as a user would stop it (SIGTERM to loom-run)
                if [ "$job" = lr ] && ! procs lr | awk '$2 != 0 { f = 1 } END { exit !f }' &&
                    ! procs join | grep -q .; then
                    [ -n "$alone_since" ] || alone_since=$(date +%s)
                    if [ $(($(date +%s) - alone_since)) -ge 20 ]; then
                        say "$job: attempt $n: no worker for 20 s (all lost, none joins): SIGTERM to loom-run"
                        evidence "$job" alone - "attempt $n had no worker for 20 s"
                        pkill -TERM -P "$sid"
                        alone_since=$(($(date +%s) + 3600))
                    fi
                else
                    alone_since=""
                fi
                continue
            fi
            [ -n "$dead_since" ] || dead_since=$(date +%s)
            # gone (or never there) for 30 s / 120 s: the launcher is stuck
            if { [ "$seen" = 1 ] && [ $(($(date +%s) - dead_since)) -ge 30 ]; } ||
                { [ "$seen" = 0 ] && [ $(($(date +%s) - t0)) -ge 120 ]; }; then
                left=$(pgrep -s "$sid" | xargs -r ps -o pid=,stat=,wchan:16=,comm= -p | tr -s ' \n' ' ')
                say "$job: attempt $n: master gone, launcher still running 30 s later ($left): SIGKILL to its session"
                evidence "$job" stuck - "attempt $n launcher stuck"
                pkill -9 -s "$sid"
                wait_for 10 test -s "$T/$job.$n.rc"
                break
            fi
        done
        wait "$(cat "$T/$job.sid")" 2>/dev/null
        # loom-run's own word on how the attempt ended, if it has one
        why=$(grep -E '^loom-run: (the master|mpirun)' "$T/$job.$n.out" | tail -n 1 | cut -c1-100)
        [ -s "$T/$job.$n.rc" ] || echo killed >"$T/$job.$n.rc"
        evidence "$job" ended - "attempt $n ended, status $(cat "$T/$job.$n.rc" 2>/dev/null) $why"
        say "$job: attempt $n ended, status $(cat "$T/$job.$n.rc" 2>/dev/null) $why"
        if ! wait_for 20 session_gone "$sid"; then
            left=$(pgrep -s "$sid" | xargs -r ps -o pid=,comm= -p | tr '\n' ' ')
            say "$job: attempt $n left processes 20 s after its launcher ended: $left (SIGKILL)"
            evidence "$job" leftover - "$left"
            pkill -9 -s "$sid"
        fi
        if { [ "$job" = lr ] && lr_complete; } || { [ "$job" = capi ] && capi_complete "$n"; }; then
            say "$job: complete after $n attempt(s)"
            touch "$T/$job.done"
            return
        fi
    done
    say "$job: not complete after $MAX_ATTEMPTS attempts"
    touch "$T/$job.gaveup"
}

step "chaos: $SECS s"
supervise lr >"$T/sup-lr.log" 2>&1 &
echo $! >"$T/sup-lr.pid"
supervise capi >"$T/sup-capi.log" 2>&1 &
echo $! >"$T/sup-capi.pid"
tail -q -n +1 -f "$T/sup-lr.log" "$T/sup-capi.log" &
echo $! >"$T/tail.pid"

FID=0
fault() { # KIND JOB RANKS DETAIL: record and print a fault now
    FID=$((FID + 1))
    s=$(sod)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$FID" "$1" "$2" "$3" "$4" >>"$FAULTS"
    echo "[chaos] $(hms "$s") fault $FID: $1 $2 ${3:+rank(s) $3 }$4"
}
PENDING=() # "due-epoch action args": SIGCONTs and link restores to come
pick() { # pick LINES: one line, at random (empty if none)
    [ -n "$1" ] || return 0
    cnt=$(printf '%s\n' "$1" | wc -l)
    printf '%s\n' "$1" | sed -n "$((RANDOM % cnt + 1))p"
}
run_due() { # the pending actions whose time has come (all with ALL)
    keep=()
    for a in "${PENDING[@]}"; do
        set -- $a
        if [ -z "${ALL:-}" ] && [ "$(date +%s%N | cut -c1-13)" -lt "$1" ]; then
            keep+=("$a")
            continue
        fi
        case "$2" in
        cont)
            kill -CONT "$3" 2>/dev/null && fault cont "$4" "$5" "pid $3"
            ;;
        restore)
            "$SIM" restore "$3" >/dev/null && fault restore "$4" "$5" "$3"
            ;;
        esac
    done
    PENDING=("${keep[@]}")
}
later() { # MS ACTION ARGS: queue ACTION MS ms from now
    due=$(($(date +%s%N | cut -c1-13) + $1))
    shift
    PENDING+=("$due $*")
}
joins=0
ITER=0
CUT=""
end=$(($(date +%s) + SECS))
while [ "$(date +%s)" -lt "$end" ] && ! { [ -e "$T/lr.done" ] && [ -e "$T/capi.done" ]; }; do
    # the chaos itself: a random pause of 0.1-2 s before the next fault
    sleep "$((RANDOM % 2)).$((RANDOM % 10))1"
    run_due
    job=lr
    [ $((RANDOM % 2)) = 0 ] && job=capi
    roll=$((RANDOM % 100))
    ITER=$((ITER + 1))
    if [ "$roll" -lt 22 ]; then
        t=$(procs "$job" | awk '$2 != 0')
        t=$(pick "$t")
        [ -n "$t" ] || continue
        set -- $t
        kill -KILL "$1" 2>/dev/null && fault kill-worker "$job" "$2" "pid $1 on $3"
    elif [ "$roll" -lt 44 ]; then
        t=$(procs "$job" | awk '$2 != 0')
        t=$(pick "$t")
        [ -n "$t" ] || continue
        set -- $t
        ms=$((500 + RANDOM % 4500))
        kill -STOP "$1" 2>/dev/null || continue
        fault stop "$job" "$2" "pid $1 on $3 for ${ms} ms"
        later "$ms" cont "$1" "$job" "$2"
    elif [ "$roll" -lt 60 ]; then
        node=loom-node$((1 + RANDOM % 3))
        case " $CUT " in *" $node "*) continue ;; esac
        "$SIM" cut "$node" >/dev/null || continue
        ms=$((1000 + RANDOM % 7000))
        CUT="$CUT $node"
        # which job's which ranks the cut separates from their master (all
        # but node1's when the master's own node1 is cut)
        l=$(procs lr | awk -v ns="loom-n${node#loom-node}" '($3 == ns) != (ns == "loom-n1") { print $2 }' | tr '\n' ',')
        c=$(procs capi | awk -v ns="loom-n${node#loom-node}" '($3 == ns) != (ns == "loom-n1") { print $2 }' | tr '\n' ',')
        fault cut "lr+capi" "lr:${l%,} capi:${c%,}" "$node for ${ms} ms"
        later "$ms" restore "$node" "lr+capi" "lr:${l%,}_capi:${c%,}"
    elif [ "$roll" -lt 70 ]; then
        [ ! -e "$T/lr.done" ] && [ -e "$T/jd/loom.join" ] || continue
        [ "$(procs join | wc -l)" -lt 2 ] || continue
        joins=$((joins + 1))
        node=loom-node$((2 + RANDOM % 2))
        setsid bash -c '"$@"; echo $? >"$0"' "$T/join.$joins.rc" \
            env OMPI_MCA_orte_data_server_uri="file:$URI" "$SIM" run --ompi-server "file:$URI" \
            --oversubscribe --bind-to none -np 1 --host "$node" "$LR" --join "$T/jd" \
            --pool-threads 1 >"$T/join.$joins.out" 2>&1 &
        echo $! >"$T/join.$joins.sid"
        fault join-start lr "" "join $joins from $node"
    elif [ "$roll" -lt 78 ]; then
        t=$(pick "$(procs join)")
        [ -n "$t" ] || continue
        set -- $t
        kill -KILL "$1" 2>/dev/null && fault join-kill lr "" "pid $1 on $3"
    else
        # the master: not in an attempt's first 10 s (let each make progress)
        n=$(cat "$T/$job.attempt" 2>/dev/null)
        [ -n "$n" ] && [ ! -e "$T/$job.done" ] || continue
        started=$(awk -F'\t' -v j="$job" '$2 == j && $3 == "start" { s = $1 } END { print s }' "$EVID")
        awk -v s="$started" -v n="$(sod)" 'BEGIN { exit !(n - s >= 10 || n < s) }' || continue
        t=$(procs "$job" | awk '$2 == 0')
        [ -n "$t" ] || continue
        set -- $t
        kill -KILL "$1" 2>/dev/null && fault kill-master "$job" 0 "pid $1 (attempt $n)"
    fi
    case "$(printf '%s\n' "${PENDING[@]}")" in *restore*) ;; *) CUT="" ;; esac
done
echo "[chaos] $ITER draws, $FID faults (a draw whose kind had no target is skipped)"
step "after the chaos: SIGCONT and restore what is pending, the jobs finish"
ALL=1 run_due
CUT=""
# no fault any more: each job must end within its own bound (the time left
# of its tasks at full speed is far below this)
FINISH=$((240 + SECS / 2))
both_settled() {
    { [ -e "$T/lr.done" ] || [ -e "$T/lr.gaveup" ]; } &&
        { [ -e "$T/capi.done" ] || [ -e "$T/capi.gaveup" ]; }
}
wait_for "$FINISH" both_settled || say "the jobs did not settle within $FINISH s after the chaos"
kill "$(cat "$T/tail.pid")" 2>/dev/null
wait "$(cat "$T/tail.pid")" 2>/dev/null
rm -f "$T/tail.pid"

step "checks: each task succeeded exactly once; nothing left running"
ok=1
problem() {
    echo "[chaos] PROBLEM: $*"
    ok=0
}
[ -e "$T/lr.done" ] || problem "lr did not complete (attempts: $(cat "$T/lr.attempt"))"
[ -e "$T/capi.done" ] || problem "capi did not complete (attempts: $(cat "$T/capi.attempt"))"
# lr: job log
succ=$(awk -F'\t' 'NR > 1 && $7 == 0 && $8 == 0 { print $1 }' "$T/lr.joblog" | sort -n)
once=$(printf '%s\n' "$succ" | uniq -u | grep -c .)
dup=$(printf '%s\n' "$succ" | uniq -d | tr '\n' ' ')
other=$(awk -F'\t' 'NR > 1 && !($7 == 0 && $8 == 0)' "$T/lr.joblog" | wc -l)
[ -z "$dup" ] || problem "lr: tasks with more than one success in the job log: $dup"
[ "$once" = "$N_LR" ] || problem "lr: $once of $N_LR tasks succeeded once in the job log"
# runs: "MISSING RERAN" of the tasks 1..N whose files in DIR list their finished runs
runs() { # DIR N
    find "$1" -type f -exec cat {} + | awk -v n="$2" '
        { c[$1]++ }
        END { for (i = 1; i <= n; i++) { m += !c[i]; r += c[i] > 1 } print m + 0, r + 0 }'
}
read -r missing reran <<<"$(runs "$T/runs/lr" "$N_LR")"
[ "$missing" = 0 ] || problem "lr: $missing tasks never recorded a finished run"
echo "[chaos] lr: $once/$N_LR tasks succeeded once in the job log, $other failed attempt lines," \
    "$reran tasks ran to the end more than once (in flight at a fault), $(cat "$T/lr.attempt") attempts"
# capi: journal
chk=$("$PR" --check "$T/capi.journal" --tasks "$N_CAPI" 2>&1)
echo "[chaos] capi: $chk"
case "$chk" in
*"once=$N_CAPI twice=0 missing=0 other=0 "*) ;;
*) problem "capi: the journal does not have every task succeeded exactly once" ;;
esac
read -r missing reran <<<"$(runs "$T/runs/capi" "$N_CAPI")"
[ "$missing" = 0 ] || problem "capi: $missing tasks never recorded a finished run"
echo "[chaos] capi: $reran tasks ran to the end more than once, $(cat "$T/capi.attempt") attempts"
# joined jobs end by themselves once lr has ended (its master gone)
joins_gone() { ! procs join | grep -q .; }
wait_for 60 joins_gone || problem "joined jobs still running 60 s after lr ended: $(procs join | tr '\n' ' ')"
# each joined job's wrapper (our child) has written its status: reap it
for f in "$T"/join.*.sid; do
    [ -f "$f" ] || continue
    wait_for 20 test -s "${f%.sid}.rc" || {
        problem "joined job ${f%.sid} still running after lr ended"
        pkill -9 -s "$(cat "$f")"
    }
    wait "$(cat "$f")" 2>/dev/null
done
# nothing left on the nodes (the ompi-server stopped first: it is ours)
"$SRC/cluster/ompi-server" stop "$T/srv" >/dev/null 2>&1
nodes_empty() {
    for ns in loom-n1 loom-n2 loom-n3; do [ -z "$(ip netns pids "$ns")" ] || return 1; done
    [ -z "$(ours)" ]
}
if ! wait_for 30 nodes_empty; then
    for ns in loom-n1 loom-n2 loom-n3; do
        p=$(ip netns pids "$ns" | tr '\n' ' ')
        [ -z "$p" ] || problem "left on $ns: $(ps -o pid=,comm= -p "${p// /,}" 2>/dev/null | tr '\n' ';')"
    done
    p=$(ours | tr '\n' ',')
    [ -z "$p" ] || problem "left running: $(ps -o pid=,args= -p "${p%,}" | cut -c1-150)"
fi
cat "$T"/sup-*.log | grep -q "left processes" &&
    echo "[chaos] note: some attempts left processes after their launcher ended (see above)"

step "report: each fault, when it was injected and when loom noticed it"
# loom's own lines, as evidence: "SOD job kind rank text"
for f in "$T"/lr.*.out "$T"/capi.*.out "$T"/join.*.out; do
    [ -f "$f" ] || continue
    job=$(basename "$f" | cut -d. -f1)
    [ "$job" = join ] && job=lr
    awk -v job="$job" '
        match($0, /^[0-9-]+T[0-9:.]+Z/) {
            t = substr($0, 12, 12); s = substr(t, 1, 2) * 3600 + substr(t, 4, 2) * 60 + substr(t, 7)
            kind = ""; rank = "-"
            if ($0 ~ /spoke after it was declared lost/) kind = "spoke"
            else if ($0 ~ /declared lost/) kind = "lost"
            else if ($0 ~ /proved the key: joining/) kind = "joined"
            if (kind == "") next
            if (match($0, /worker rank [0-9]+/)) rank = substr($0, RSTART + 12, RLENGTH - 12)
            printf "%.3f\t%s\t%s\t%s\t%s\n", s, job, kind, rank, substr($0, 1, 160)
        }' "$f" >>"$EVID"
done
sort -n -o "$EVID" "$EVID"
awk -F'\t' -v wt="$WORKER_TIMEOUT" '
    function hms(s) { return sprintf("%02d:%02d:%06.3f", int(s / 3600), int(s % 3600 / 60), s % 60) }
    # the first evidence of KIND for JOB, one of RANKS (",r,s," or "" for
    # any), at or after S and before the end of the attempt S fell in
    function find(job, kind, ranks, s, minrank,   i) {
        for (i = 1; i <= ne; i++) {
            if (et[i] + 0 < s - 0.001 || et[i] > s + 120) continue
            if (ej[i] != job) continue
            if (ek[i] == "ended" && kind != "ended") return 0
            if (ek[i] != kind) continue
            if (ranks != "" && index(ranks, "," er[i] ",") == 0) continue
            if (minrank != "" && er[i] + 0 < minrank) continue
            return i
        }
        return 0
    }
    FNR == NR { ne++; et[ne] = $1; ej[ne] = $2; ek[ne] = $3; er[ne] = $4; ex[ne] = $5; next }
    {
        s = $1; kind = $3; job = $4; ranks = $5; what = ""
        count[kind]++
        if (kind == "kill-worker" || kind == "stop") {
            i = find(job, "lost", "," ranks ",", s, "")
            if (kind == "stop" && i == 0) what = "not declared lost (stopped for less than the worker timeout, or ended first)"
            if (i == 0 && (j = find(job, "ended", "", s, "")) && et[j] - s < 15)
                what = "not noticed before the attempt ended at " hms(et[j])
        } else if (kind == "cut") {
            split(ranks, parts, " "); i = 0
            l = parts[1]; sub(/^lr:/, "", l); c = parts[2]; sub(/^capi:/, "", c)
            a = l != "" ? find("lr", "lost", "," l ",", s, "") : 0
            b = c != "" ? find("capi", "lost", "," c ",", s, "") : 0
            i = a; if (b && (!a || et[b] < et[a])) i = b
            if (i == 0 && (i = find("lr", "ended", "", s, "")) && et[i] - s < 15) what = " (the lr attempt ended first)"
            else if (i == 0 && (i = find("capi", "ended", "", s, "")) && et[i] - s < 15) what = " (the capi attempt ended first)"
            else if (et[i] - s >= 15) i = 0
        } else if (kind == "cont") {
            i = find(job, "spoke", "," ranks ",", s, "")
            if (i == 0) what = "carried on (was not declared lost, or had left)"
        } else if (kind == "restore") {
            i = 0; what = "link up again"
        } else if (kind == "join-start") {
            i = find("lr", "joined", "", s, "")
            if (i == 0 && (i = find("lr", "ended", "", s, "")) && et[i] - s < 15) what = " (the attempt ended)"
            else if (et[i] - s >= 15) i = 0
        } else if (kind == "join-kill") {
            i = find("lr", "lost", "", s, 4)
        } else if (kind == "kill-master") {
            i = find(job, "ended", "", s, "")
            if (i) { j = find(job, "start", "", et[i], ""); if (j) what = "; resumed " hms(et[j]) }
        }
        if (i) {
            noticed[kind]++
            printf "[chaos] fault %3d %s %-11s %-7s %-18s noticed %s (+%.1f s): %s%s\n", $2, hms(s), kind, job, $6, hms(et[i]), et[i] - s, ex[i], what
        } else
            printf "[chaos] fault %3d %s %-11s %-7s %-18s %s\n", $2, hms(s), kind, job, $6, what == "" ? "not noticed" : what
    }
    END {
        line = ""
        for (k in count) line = line sprintf(" %s=%d(noticed %d)", k, count[k], noticed[k])
        print "[chaos] faults:" line
    }' "$EVID" "$FAULTS"
# what each joined job said of its end
for f in "$T"/join.*.out; do
    [ -f "$f" ] || continue
    why=$(grep -m1 -E 'cannot join|Segmentation fault|leaving the job|joining' "$f" | cut -c1-140)
    echo "[chaos] $(basename "$f" .out): status $(cat "${f%.out}.rc" 2>/dev/null): ${why:-(nothing said)}"
done
[ "$(wc -l <"$FAULTS")" -gt 0 ] || problem "no fault was injected"
[ "$ok" = 1 ] || {
    for f in "$T"/lr.*.out "$T"/capi.*.out; do echo "--- $f (last 30 lines)"; tail -n 30 "$f"; done
    fail "see the PROBLEM lines above (seed $SEED)"
}
echo "[chaos] seed $SEED: every task succeeded exactly once, nothing left running"
