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
# bench_swarm or loom options), RAW_IN=FILE (run nothing: print the table
# of a KEEP file again, e.g. with other model costs), and the model's
# costs and settings (docs/scaling.md): MODEL_US_TASK (0.45, progress-thread
# us per task), MODEL_US_MSG (6, us per message), MODEL_PREFETCH (0.005 s,
# job.prefetch), MODEL_HEARTBEAT (0.5 s, job.heartbeat: say 2 with
# EXTRA=--job-heartbeat=2).
# The model's columns beside each measured point: "demand" N*C/d tasks/s
# (workers x threads / duration); "b" the tasks per message the model
# expects (half what a worker holds: C x max(1, prefetch/d), at most the
# driver's window / N, at most 4096); "model tasks/s" min(demand, what one
# progress thread sustains at c = MODEL_US_TASK + 2 MODEL_US_MSG / b per
# task); "model progress CPU %" the measured tasks/s x c (idle: 2N/heartbeat
# messages a second x MODEL_US_MSG), to set beside the measured one.
set -u
B=${1:?usage: run.sh BUILD_DIR}
PROG=$B/bench/swarm/bench_swarm
[ -n "${RAW_IN:-}" ] || [ -x "$PROG" ] || { echo "run.sh: $PROG not built (cmake --build $B --target bench_swarm)" >&2; exit 2; }
WORKERS=${WORKERS:-10 100 1000 10000}
THREADS=${THREADS:-64}
DURATIONS=${DURATIONS:-idle,0,100us,1ms,10ms}
SECS=${SECS:-2}
SWARM_RANKS=${SWARM_RANKS:-2}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
EXTRA=${EXTRA:-}
MODEL_US_TASK=${MODEL_US_TASK:-0.45}
MODEL_US_MSG=${MODEL_US_MSG:-6}
MODEL_PREFETCH=${MODEL_PREFETCH:-0.005}
MODEL_HEARTBEAT=${MODEL_HEARTBEAT:-0.5}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
RAW=$(mktemp)
trap 'rm -f "$RAW"' EXIT

failed=""
[ -n "${RAW_IN:-}" ] && { cp "$RAW_IN" "$RAW"; WORKERS=""; }
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
awk -v ct="$MODEL_US_TASK" -v cm="$MODEL_US_MSG" -v pf="$MODEL_PREFETCH" -v hb="$MODEL_HEARTBEAT" '
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
    printf "| workers | x threads | task | tasks/s | master CPU %% | progress thread CPU %% | progress us/task | latency median | latency p99 | master VmHWM MiB | swarm CPU %% | load | demand N*C/d | b | model us/task | model tasks/s | model progress CPU %% |\n"
    printf "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    for (i = 1; i <= n; i++) {
        l = line[i]; k = val(l, "w") " " phase[i]
        nw = val(l, "workers"); th = val(l, "threads"); d = val(l, "dur_ns"); rate = val(l, "tasks_per_s")
        demand = d < 0 ? 0 : d == 0 ? -1 : nw * th * 1e9 / d
        hold = d <= 0 ? 65536 : th * pf * 1e9 / d; if (hold < th) hold = th; if (hold > 65536) hold = 65536
        if (hold > val(l, "window") / nw) hold = val(l, "window") / nw
        b = hold / 2; if (b > 4096) b = 4096; if (b < 1) b = 1
        c = ct + 2 * cm / b
        cap = 1e6 / c
        model = d < 0 ? 0 : demand < 0 || demand > cap ? cap : demand
        cpu = d < 0 ? 2 * nw / hb * cm / 1e4 : rate * c / 1e4
        printf "| %s | %s | %s | %.0f | %.0f | %.0f | %.2f | %.2f ms | %.2f ms | %.0f | %.0f | %.1f | %s | %.0f | %.2f | %.0f | %.0f |\n",
            nw, th, dur(d), rate,
            val(l, "master_cpu_pct"), val(l, "progress_cpu_pct"), val(l, "progress_us_per_task"),
            val(l, "lat_med_us") / 1000, val(l, "lat_p99_us") / 1000, val(l, "vmhwm_mib"),
            100 * scpu[k] / val(l, "secs"), val(l, "load"),
            d < 0 ? "0" : demand < 0 ? "unbounded" : sprintf("%.0f", demand), d < 0 ? 0 : b, d < 0 ? 0 : c, model, cpu
    }
}' "$RAW"
if [ -n "$failed" ]; then
    echo "FAILED (no CHECK line or non-zero exit) for workers:$failed" >&2
    exit 1
fi
