#!/bin/sh
# SPDX-License-Identifier: MIT
# bench/swarm/run.sh BUILD_DIR — one master against swarms of virtual workers
# (issue 18): for each swarm size, one mpirun of bench_swarm (1 master rank +
# SWARM_RANKS swarm ranks), one phase per task duration, then one table.
# Builds nothing. See bench/README.md ("The master against a swarm").
#
# Knobs (environment): WORKERS ("10 100 1000 10000"), THREADS (64),
# DURATIONS ("idle,0,100us,1ms,10ms"; idle: no task, the workers connected), SECS (2, per phase), SWARM_RANKS (2),
# RUN_TIMEOUT (300 s per mpirun), KEEP=FILE (the raw lines), EXTRA (more
# bench_swarm or loom options).
set -u
B=${1:?usage: run.sh BUILD_DIR}
PROG=$B/bench/swarm/bench_swarm
[ -x "$PROG" ] || { echo "run.sh: $PROG not built (cmake --build $B --target bench_swarm)" >&2; exit 2; }
WORKERS=${WORKERS:-10 100 1000 10000}
THREADS=${THREADS:-64}
DURATIONS=${DURATIONS:-idle,0,100us,1ms,10ms}
SECS=${SECS:-2}
SWARM_RANKS=${SWARM_RANKS:-2}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
EXTRA=${EXTRA:-}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
RAW=$(mktemp)
trap 'rm -f "$RAW"' EXIT

failed=""
for w in $WORKERS; do
    per=$(( (w + SWARM_RANKS - 1) / SWARM_RANKS ))
    cmd="LOOM_SWARM=$per mpirun -x LOOM_SWARM --oversubscribe --bind-to none --timeout $RUN_TIMEOUT \
--mca pml ob1 --mca btl self,vader -np $((SWARM_RANKS + 1)) $PROG --threads $THREADS \
--durations $DURATIONS --seconds $SECS $EXTRA"
    echo "# $cmd" >&2
    out=$(env LOOM_SWARM=$per mpirun -x LOOM_SWARM --oversubscribe --bind-to none \
        --timeout "$RUN_TIMEOUT" --mca pml ob1 --mca btl self,vader -np $((SWARM_RANKS + 1)) \
        "$PROG" --threads "$THREADS" --durations "$DURATIONS" --seconds "$SECS" $EXTRA 2>&1)
    rc=$?
    printf '%s\n' "$out" | grep -E '^(CELL|SWARMCPU|CHECK) ' | sed "s/^/ w=$w /" >>"$RAW"
    check=$(printf '%s\n' "$out" | grep '^CHECK ')
    if [ $rc -ne 0 ] || [ -z "$check" ]; then
        failed="$failed $w"
        printf '%s\n' "$out" | tail -5 >&2
    fi
    [ -n "$check" ] && echo "# $check" >&2
done
[ -n "${KEEP:-}" ] && cp "$RAW" "$KEEP"

# One row per CELL; the swarm's CPU of the same phase summed over its ranks.
awk '
function val(line, key,    re, s) {
    re = " " key "=[^ ]*"
    if (!match(line, re)) return ""
    s = substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 2)
    return s
}
function dur(ns) {
    if (ns < 0) return "idle"
    if (ns == 0) return "0"
    if (ns < 1000000) return ns / 1000 " us"
    if (ns < 1000000000) return ns / 1000000 " ms"
    return ns / 1000000000 " s"
}
/^ w=[0-9]+ SWARMCPU/ { k = val($0, "w") " " val($0, "phase"); scpu[k] += val($0, "cpu_s") }
/^ w=[0-9]+ CELL/ { n++; line[n] = $0; ph[val($0, "w")]++; phase[n] = ph[val($0, "w")] - 1 }
END {
    printf "| workers | x threads | task | tasks/s | master CPU %% | progress thread CPU %% | progress us/task | latency median | latency p99 | master VmHWM MiB | swarm CPU %% | load |\n"
    printf "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    for (i = 1; i <= n; i++) {
        l = line[i]; k = val(l, "w") " " phase[i]
        printf "| %s | %s | %s | %.0f | %.0f | %.0f | %.2f | %.2f ms | %.2f ms | %.0f | %.0f | %.1f |\n",
            val(l, "workers"), val(l, "threads"), dur(val(l, "dur_ns")), val(l, "tasks_per_s"),
            val(l, "master_cpu_pct"), val(l, "progress_cpu_pct"), val(l, "progress_us_per_task"),
            val(l, "lat_med_us") / 1000, val(l, "lat_p99_us") / 1000, val(l, "vmhwm_mib"),
            100 * scpu[k] / val(l, "secs"), val(l, "load")
    }
}' "$RAW"
if [ -n "$failed" ]; then
    echo "FAILED (no CHECK line or non-zero exit) for workers:$failed" >&2
    exit 1
fi
