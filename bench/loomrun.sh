#!/bin/bash
# SPDX-License-Identifier: MIT
# loom-run against GNU Parallel, xargs and a bare posix_spawn loop: N runs
# of /bin/true two at a time, in the same run on the same machine, rounds
# interleaved. Prints the median (min-max) commands per second and the
# ratio to the bare loop, twice:
#   end to end   from the command's start to its exit (loom-run pays its
#                MPI start-up, ~0.3-0.4 s, in this figure);
#   running      N / (last task's end - first task's start), read from
#                the tool's own job log: the rate while tasks run.
#
#   bench/loomrun.sh [BUILD_DIR]      (N=2000 R=3 by default)
#
# loom-run captures each task's output and writes a job log; GNU Parallel
# does the same (-j2 --joblog). xargs runs /bin/true directly and through
# sh -c. The bare loop is bench_process's posix_spawn+waitpid reference
# from 2 threads (no capture, no log): the limit.
# Exit status: 0, or 2 when something it needs is missing.
set -euo pipefail
B=${1:-build}
N=${N:-2000}
R=${R:-3}
LR=$B/apps/loom-run/loom-run
BP=$B/bench/bench_process
[ -x "$LR" ] && [ -x "$BP" ] || { echo "build first: cmake --build $B" >&2; exit 2; }
command -v parallel >/dev/null || { echo "needs GNU Parallel (apt-get install parallel)" >&2; exit 2; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
for ((i = 0; i < N; i++)); do echo /bin/true; done >"$W/tasks.txt"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1

now() { date +%s.%N; }
rate() { echo "$N / ($2 - $1)" | bc -l; }
# tasks per second while running, from a GNU-format job log
log_rate() {
    awk -F'\t' -v n="$N" 'NR > 1 { s = $3 + 0; e = s + $4; if (!lo || s < lo) lo = s; if (e > hi) hi = e }
        END { if (hi > lo) printf "%.1f", n / (hi - lo); else print 0 }' "$1"
}

declare -A res run
systems=(loomrun_self loomrun_np3 parallel xargs_sh xargs bare)
for ((r = 1; r <= R; r++)); do
    for s in "${systems[@]}"; do
        rm -f "$W/jl"
        case $s in
        loomrun_self) t0=$(now); "$LR" --quiet --joblog "$W/jl" "$W/tasks.txt" >/dev/null; t1=$(now) ;;
        loomrun_np3) t0=$(now)
            mpirun --quiet --oversubscribe --bind-to none -np 3 "$LR" --pool-threads 1 --quiet \
                --joblog "$W/jl" "$W/tasks.txt" >/dev/null; t1=$(now) ;;
        parallel) t0=$(now); parallel -j2 --joblog "$W/jl" <"$W/tasks.txt" >/dev/null; t1=$(now) ;;
        xargs_sh) t0=$(now); xargs -P2 -I{} sh -c {} <"$W/tasks.txt" >/dev/null; t1=$(now) ;;
        xargs) t0=$(now); xargs -P2 -n1 /bin/true <"$W/tasks.txt" >/dev/null; t1=$(now) ;;
        bare) v=$("$BP" -n "$N" -r 1 | awk '/bare posix_spawn/ {print $(NF-4)}')
            v=$(echo "$v" | sed 's/k$/*1000/' | bc -l)
            res[$s]+="$v "; run[$s]+="$v "; continue ;;
        esac
        res[$s]+="$(rate "$t0" "$t1") "
        [ -s "$W/jl" ] && run[$s]+="$(log_rate "$W/jl") "
    done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {if (NR) printf "%.0f %.0f %.0f", a[int((NR+1)/2)], a[1], a[NR]}'; }
read -r bare _ _ <<<"$(echo "${res[bare]}" | median)"
printf 'loom-run benchmark: %d x /bin/true, 2 at a time, %d rounds (CPUs: %s)\n' "$N" "$R" "$(nproc)"
printf '%-56s %9s %15s %7s | %9s %7s\n' system "cmds/s" "(min - max)" "vs bare" "running" "vs bare"
label() {
    case $1 in
    loomrun_self) echo "loom-run tasks.txt (starts mpirun -np 2 itself), joblog" ;;
    loomrun_np3) echo "mpirun -np 3 loom-run --pool-threads 1, joblog" ;;
    parallel) echo "GNU Parallel -j2 --joblog" ;;
    xargs_sh) echo "xargs -P2 sh -c (a shell per task)" ;;
    xargs) echo "xargs -P2 /bin/true (no shell)" ;;
    bare) echo "bare posix_spawn+waitpid, 2 threads (the limit)" ;;
    esac
}
for s in "${systems[@]}"; do
    read -r m lo hi <<<"$(echo "${res[$s]}" | median)"
    rr="-" rv="-"
    if [ -n "${run[$s]:-}" ]; then
        read -r rr _ _ <<<"$(echo "${run[$s]}" | median)"
        rv=$(printf '%.2fx' "$(echo "$rr / $bare" | bc -l)")
    fi
    printf '%-56s %9s %15s %6.2fx | %9s %7s\n' "$(label "$s")" "$m" "($lo - $hi)" \
        "$(echo "$m / $bare" | bc -l)" "$rr" "$rv"
done
read -r lr _ _ <<<"$(echo "${res[loomrun_self]}" | median)"
read -r gp _ _ <<<"$(echo "${res[parallel]}" | median)"
printf 'loom-run / GNU Parallel, end to end: %.1fx\n' "$(echo "$lr / $gp" | bc -l)"
