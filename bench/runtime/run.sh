#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/runtime/run.sh — loom's distributed runtime next to its references,
# in the same run on the same machine. Builds nothing.
#
#   bench/runtime/run.sh [BUILD_DIR]        (default: build)
#
# Environment (all optional):
#   R=3            rounds; in each round every system of a workload runs once,
#                  in alternating order (interleaved), tables show medians
#   WORKLOADS="tiny map compute queue idle stream"   which tables to produce
#   IDLE_SECS=10   idle period of the idle workload
#   RUN_TIMEOUT=120  seconds before one mpirun is killed (reported as TIMEOUT)
#   LOOM_OPTS=""   extra loom options for every bench_tasks run (--job-...=...)
#   OMPI_MCA_mpi_yield_when_idle (default 1, see below)
#
# Every loom/MPI run uses 1 master + 2 workers (mpirun -np 3) unless its label
# says otherwise, with --oversubscribe --bind-to none and the shared-memory
# transport (bench/README.md says why).
set -u

B=${1:-build}
R=${R:-3}
WORKLOADS=${WORKLOADS:-"tiny map compute queue idle stream"}
IDLE_SECS=${IDLE_SECS:-10}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}
LOOM_OPTS=${LOOM_OPTS:-}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
CORES=$(nproc)

# Sizes: each run takes ~1-3 s on the 2-core reference machine.
N_TINY=${N_TINY:-5000000}       # loom submit one by one (target 5M/s)
N_ONE=${N_ONE:-1500000}         # (d) C MPI, 1 task per message
N_ONE4=${N_ONE4:-4000000}       # (d) with 4 tasks in flight per worker
N_FUT_SUBMIT=${N_FUT_SUBMIT:-8000}
N_MAP=${N_MAP:-10000000}        # loom_job_map (target 20M/s)
N_BATCH=${N_BATCH:-150000000}   # (e) C MPI, 256 tasks per message
N_FUT_MAP=${N_FUT_MAP:-3000000}
N_POOL_MAP=${N_POOL_MAP:-8000000}
N_COMPUTE=${N_COMPUTE:-200}     # 10 ms tasks: 1 s of ideal time on 2 cores
N_QUEUE=${N_QUEUE:-20000}       # loom queue round trips (capped at 5 s)
N_PP=${N_PP:-1000000}           # MPI ping-pong round trips
N_STREAM=${N_STREAM:-10000000}

TASKS=$B/bench/runtime/bench_tasks
REF=$B/bench/runtime/ref_mpi
if [ ! -x "$REF" ]; then
  echo "run.sh: $REF not found: build first (cmake --build $B)" >&2
  exit 2
fi
HAVE_LOOM=1
[ -x "$TASKS" ] || HAVE_LOOM=0
HAVE_FUT=1
$PY -c 'import mpi4py.futures' 2>/dev/null || HAVE_FUT=0

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Yield when idle: a rank waiting in MPI calls sched_yield() between polls.
# Open MPI turns this on by itself when ranks outnumber cores (our -np 3 on 2
# cores) but not for -np 2; setting it for every run keeps all systems in the
# same mode. It changes nothing in loom (whose threads sleep, not poll) and
# it is what keeps the references' busy-polling masters from starving workers.
export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
# shellcheck disable=SC2054  # "self,vader" is one argument
MPIRUN=(mpirun --oversubscribe --bind-to none --mca pml ob1 --mca btl self,vader
        --mca oob_tcp_if_include lo)

WORK=$(mktemp -d /tmp/loom-bench.XXXXXX)
RES=$WORK/results      # one line per run: ID ROUND key=value ...
FAILS=$WORK/failures
: >"$RES"
: >"$FAILS"
trap 'rm -rf "$WORK"' EXIT

# run ID PREFIX CMD... — run one system once, keep the line starting with
# PREFIX (e.g. "loom tiny") as key=value fields.
run() {
  local id=$1 prefix=$2
  shift 2
  local log=$WORK/$id.$ROUND.log rc
  timeout -k 5 "$RUN_TIMEOUT" "$@" >"$log" 2>&1
  rc=$?
  local line
  line=$(grep -m1 "^$prefix " "$log")
  if [ -n "$line" ] && [ $rc -eq 0 ]; then
    echo "$id $ROUND ${line#"$prefix "}" >>"$RES"
  else
    local why="rc=$rc"
    [ $rc -eq 124 ] && why="TIMEOUT after ${RUN_TIMEOUT}s"
    echo "$id $ROUND FAILED" >>"$RES"
    {
      echo "--- $id (round $ROUND): $why"
      echo "    command: $*"
      sed 's/^/    | /' "$log" | tail -n 25
    } >>"$FAILS"
  fi
}

# rounds SYSTEM... — R rounds; each SYSTEM is a shell function run once per
# round; the order is reversed every other round.
rounds() {
  local sys=("$@") n=$# i
  for ((ROUND = 1; ROUND <= R; ROUND++)); do
    for ((i = 0; i < n; i++)); do
      if ((ROUND % 2)); then "${sys[i]}"; else "${sys[n - 1 - i]}"; fi
    done
  done
}

# ---- the systems ----------------------------------------------------------
# shellcheck disable=SC2206  # LOOM_OPTS is a list of words on purpose
LOOM3=("${MPIRUN[@]}" -np 3 "$TASKS" $LOOM_OPTS)
# shellcheck disable=SC2206
LOOM2=("${MPIRUN[@]}" -np 2 "$TASKS" $LOOM_OPTS)
FUT=("${MPIRUN[@]}" -np 3 "$PY" -m mpi4py.futures "$HERE/ref_futures.py")
REF3=("${MPIRUN[@]}" -np 3 "$REF")

s_loom_tiny() { [ $HAVE_LOOM = 1 ] && run loom_tiny "loom tiny" "${LOOM3[@]}" tiny -n "$N_TINY" -t 10; }
s_loom_tinyc() { [ $HAVE_LOOM = 1 ] && run loom_tinyc "loom tiny" "${LOOM3[@]}" tiny -C -n "$N_TINY" -t 10; }
s_ref_one() { run ref_one "ref one" "${REF3[@]}" one -n "$N_ONE"; }
s_ref_one4() { run ref_one4 "ref one" "${REF3[@]}" one -d 4 -n "$N_ONE4"; }
s_fut_submit() { [ $HAVE_FUT = 1 ] && run fut_submit "futures submit" "${FUT[@]}" submit "$N_FUT_SUBMIT"; }

s_loom_map() { [ $HAVE_LOOM = 1 ] && run loom_map "loom map" "${LOOM3[@]}" map -n "$N_MAP"; }
s_ref_batch() { run ref_batch "ref batch" "${REF3[@]}" batch -n "$N_BATCH"; }
s_fut_map() { [ $HAVE_FUT = 1 ] && run fut_map "futures map" "${FUT[@]}" map "$N_FUT_MAP"; }
s_pool_map() { run pool_map "pool map" "$PY" "$HERE/ref_pool.py" map "$N_POOL_MAP"; }

s_serial() { run serial "ref serial" "$REF" serial -n "$N_COMPUTE" -i "$ITERS"; }
s_loom_c3() {
  [ $HAVE_LOOM = 1 ] && run loom_c3 "loom compute" "${LOOM3[@]}" compute -n "$N_COMPUTE" -i "$ITERS" \
    --pool-threads=1
}
s_loom_c2() {
  [ $HAVE_LOOM = 1 ] && run loom_c2 "loom compute" "${LOOM2[@]}" compute -n "$N_COMPUTE" -i "$ITERS"
}
s_ref_compute() {
  run ref_compute "ref compute" "${REF3[@]}" compute -n "$N_COMPUTE" -i "$ITERS"
}
s_fut_compute() { [ $HAVE_FUT = 1 ] && run fut_compute "futures compute" "${FUT[@]}" compute "$N_COMPUTE"; }

s_loom_q12() { [ $HAVE_LOOM = 1 ] && run loom_q12 "loom queue" "${LOOM3[@]}" queue -p 1-2 -n "$N_QUEUE" -t 5; }
s_loom_q01() { [ $HAVE_LOOM = 1 ] && run loom_q01 "loom queue" "${LOOM3[@]}" queue -p 0-1 -n "$N_QUEUE" -t 5; }
s_ref_pp() { run ref_pp "ref pingpong" "${MPIRUN[@]}" -np 2 "$REF" pingpong -n "$N_PP" -t 5; }

s_loom_idle() { [ $HAVE_LOOM = 1 ] && run loom_idle "loom idle" "${LOOM3[@]}" idle -s "$IDLE_SECS"; }
s_ref_idle() { run ref_idle "ref idle" "${REF3[@]}" idle -s "$IDLE_SECS"; }

s_loom_stream() { [ $HAVE_LOOM = 1 ] && run loom_stream "loom stream" "${LOOM3[@]}" stream -C -n "$N_STREAM" -t 30; }
s_ref_stream() { run ref_stream "ref batch" "${REF3[@]}" batch -n "$N_STREAM"; }

# ---- tables ---------------------------------------------------------------
# table TITLE REF_ID EXTRA_HEADER ROW... ; ROW = "id|key|fmt|label|target|xkey|xfmt|needn"
#   fmt/xfmt: rate, us, pct, mib, secs, ms; target: ">=5e6", "<=10", ... or empty;
#   needn: the target only counts if the run completed at least needn tasks.
# A row's value is the median over the rounds (min–max beside it); "vs ref" is
# the row's median divided by the REF_ID row's median of the same key.
table() {
  local title=$1 refid=$2 xhead=$3
  shift 3
  printf '%s\n' "$@" >"$WORK/rows"
  echo
  echo "== $title"
  awk -v refid="$refid" -v xhead="$xhead" '
    function fmt(v, f) {
      if (v == "") return "-"
      if (f == "rate") {
        if (v >= 1e6) return sprintf("%.2fM", v / 1e6)
        if (v >= 1e3) return sprintf("%.1fk", v / 1e3)
        return sprintf("%.0f", v)
      }
      if (f == "us") return sprintf("%.2f us", v)
      if (f == "pct") return sprintf("%.1f%%", v)
      if (f == "mib") return sprintf("%.1f MiB", v)
      if (f == "secs") return sprintf("%.3f s", v)
      if (f == "ms") return sprintf("%.3f ms", v)
      return v
    }
    # values of key k for system id, sorted, into global arr; returns count
    function collect(id, k,    i, j, n, t) {
      n = 0
      for (i = 1; i <= nres; i++)
        if (rid[i] == id && ((id SUBSEP k) SUBSEP i) in kv) arr[++n] = kv[id, k, i] + 0
      for (i = 2; i <= n; i++) {  # insertion sort (mawk has no asort)
        t = arr[i]
        for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]
        arr[j + 1] = t
      }
      return n
    }
    function median(id, k,    n) {
      n = collect(id, k)
      return n ? arr[int((n + 1) / 2)] : ""
    }
    FNR == NR { rows[++nrows] = $0; next }
    {
      nres++
      rid[nres] = $1
      if ($3 == "FAILED") failed[$1]++
      for (f = 3; f <= NF; f++) {
        p = index($f, "=")
        if (p) kv[$1, substr($f, 1, p - 1), nres] = substr($f, p + 1)
      }
    }
    END {
      printf "%-52s %9s %-32s %8s %-12s %-9s %s\n", "system", "N", "median (min-max)", "vs ref", xhead, "target", "verdict"
      for (r = 1; r <= nrows; r++) {
        split(rows[r], c, "|")
        id = c[1]; k = c[2]; f = c[3]; label = c[4]; tgt = c[5]; xk = c[6]; xf = c[7]; needn = c[8] + 0
        n = collect(id, k)
        if (n) { med = arr[int((n + 1) / 2)]; lo = arr[1]; hi = arr[n] }
        nn = median(id, "tasks"); if (nn == "") nn = median(id, "trips")
        short = (needn > 0 && nn != "" && nn < needn)
        if (nn != "") nn = (nn >= 1e6 ? sprintf("%.3gM", nn / 1e6) : (nn >= 1e3 ? sprintf("%.3gk", nn / 1e3) : nn))
        if (n == 0) {
          why = (id in failed) ? "FAILED (see below)" : "not run"
          printf "%-52s %9s %-32s %8s %-12s %-9s %s\n", label, "-", why, "-", "-", (tgt == "" ? "-" : tgt), (tgt == "" ? "-" : "NOT MET")
          continue
        }
        cell = fmt(med, f) " (" fmt(lo, f) " - " fmt(hi, f) ")"
        if (id in failed) cell = cell " +" failed[id] "fail"
        refm = median(refid, k)
        ratio = (refm != "" && refm != 0) ? sprintf("%.3gx", med / refm) : "-"
        if (id == refid) ratio = "1x (ref)"
        x = (xk != "") ? fmt(median(id, xk), xf) : "-"
        verdict = "-"
        if (tgt != "") {
          op = substr(tgt, 1, 2); tv = substr(tgt, 3) + 0
          met = (op == ">=") ? (med >= tv) : (med <= tv)
          verdict = (met && !(id in failed)) ? "MET" : "NOT MET"
          if (short) verdict = "NOT TESTED (time cap hit before N tasks)"
        }
        printf "%-52s %9s %-32s %8s %-12s %-9s %s\n", label, nn, cell, ratio, x, (tgt == "" ? "-" : tgt), verdict
      }
    }' "$WORK/rows" "$RES"
}

want() { [[ " $WORKLOADS " == *" $1 "* ]]; }

# ---- header -----------------------------------------------------------------
echo "loom runtime benchmarks — $(date -u '+%Y-%m-%d %H:%M UTC'), $(hostname)"
echo "machine: $CORES CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(uname -r)"
echo "MPI: $(mpirun --version 2>/dev/null | head -1); ${MPIRUN[*]}"
echo "env: OMPI_MCA_mpi_yield_when_idle=$OMPI_MCA_mpi_yield_when_idle; rounds R=$R (interleaved," \
  "order reversed every other round); medians (min-max) over the rounds"
echo "loom: $([ $HAVE_LOOM = 1 ] && echo "$TASKS${LOOM_OPTS:+ $LOOM_OPTS}" || echo "bench_tasks NOT BUILT: loom rows skipped")"
echo "mpi4py.futures: $([ $HAVE_FUT = 1 ] && echo "$($PY -c 'import mpi4py; print(mpi4py.__version__)') ($PY)" || echo "NOT AVAILABLE ($PY has no mpi4py: apt-get install python3-mpi4py); its rows are skipped")"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
T_START=$(date +%s)

if want tiny || want map; then
  rounds s_loom_tiny s_loom_tinyc s_ref_one s_ref_one4 s_fut_submit
  want map && rounds s_loom_map s_ref_batch s_fut_map s_pool_map
fi
if want compute; then
  ITERS=$("$REF" calibrate -m 10 | sed -n 's/.*iters=\([0-9]*\).*/\1/p')
  rounds s_serial s_loom_c3 s_loom_c2 s_ref_compute s_fut_compute
  # efficiency = tasks x serial ms per task / (wall ms x CPUs): the C
  # systems use the median per-task time of the in-run serial reference (the
  # same loop in one thread), Python its own serial per-task time.
  SERIAL_MS=$(awk '$1 == "serial" { for (f = 3; f <= NF; f++) if ($f ~ /^task_ms=/) { split($f, a, "="); v[++n] = a[2] + 0 } }
    END { for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
          if (n) print v[int((n + 1) / 2)] }' "$RES")
  awk -v sms="${SERIAL_MS:-0}" -v cores="$CORES" '
    ($1 == "loom_c3" || $1 == "loom_c2" || $1 == "ref_compute" || $1 == "fut_compute") && $3 != "FAILED" {
      t = 0; s = 0; ms = sms
      for (f = 3; f <= NF; f++) {
        p = index($f, "="); k = substr($f, 1, p - 1); v = substr($f, p + 1)
        if (k == "tasks") t = v; else if (k == "secs") s = v; else if (k == "task_ms") ms = v
      }
      if (s > 0) $0 = $0 " eff_pct=" sprintf("%.2f", 100 * t * ms / (s * 1000 * cores))
    }
    { print }' "$RES" >"$RES.tmp" && mv "$RES.tmp" "$RES"
fi
want queue && rounds s_loom_q12 s_loom_q01 s_ref_pp
want idle && rounds s_loom_idle s_ref_idle
want stream && rounds s_loom_stream s_ref_stream

# ---- print --------------------------------------------------------------------
if want tiny; then
  table "W1 tiny tasks, submitted one by one (int64 n in, n*n out; 1 master + 2 workers). tasks/s; vs (d)" \
    ref_one "hwm master" \
    "loom_tiny|rate|rate|loom submit_i64, next_result when full (inline)|>=5e6|hwm_mib|mib" \
    "loom_tinyc|rate|rate|loom submit_i64 + next_result in 2nd thread (-C)|>=5e6|hwm_mib|mib" \
    "ref_one|rate|rate|(d) C MPI, 1 task/msg, blocking (reference)||hwm_mib|mib" \
    "ref_one4|rate|rate|(d') C MPI, 1 task/msg, 4 in flight per worker||hwm_mib|mib" \
    "fut_submit|rate|rate|(c) mpi4py.futures submit, one by one||hwm_mib|mib"
fi
if want map; then
  table "W1 tiny tasks through map. tasks/s; vs (d) 1 task/msg" \
    ref_one "hwm master" \
    "loom_map|rate|rate|loom_job_map|>=2e7|hwm_mib|mib" \
    "ref_one|rate|rate|(d) C MPI, 1 task/msg (reference)||hwm_mib|mib" \
    "ref_batch|rate|rate|(e) C MPI, 256 tasks/msg (upper reference)||hwm_mib|mib" \
    "fut_map|rate|rate|(c) mpi4py.futures map, chunksize=N/8||hwm_mib|mib" \
    "pool_map|rate|rate|(b) Python Pool(${CORES}).map, default chunks (no MPI)||hwm_mib|mib"
fi
if want compute; then
  table "W2 compute-bound, ${N_COMPUTE} tasks x 10 ms on all ${CORES} CPUs. parallel efficiency = tasks x serial ms/task / (wall x ${CORES} CPUs); serial ms/task = ${SERIAL_MS:-?} (C, in-run median); vs C MPI" \
    ref_compute "wall" \
    "loom_c3|eff_pct|pct|loom, 1 master + 2 workers x 1 thread|>=97|secs|secs" \
    "loom_c2|eff_pct|pct|loom, 1 master + 1 worker x ${CORES} threads (-np 2)|>=97|secs|secs" \
    "ref_compute|eff_pct|pct|C MPI master/worker, 1 task/msg (reference)||secs|secs" \
    "fut_compute|eff_pct|pct|(c) mpi4py.futures submit (Python loop, own serial)||secs|secs"
  table "W2 the same runs: CPU time of every rank less the time in tasks, per task (loom's threads and the submitting thread); ms" \
    none "-" \
    "loom_c3|own_ms_per_task|ms|loom, 1 master + 2 workers x 1 thread|<=0.1||" \
    "loom_c2|own_ms_per_task|ms|loom, 1 master + 1 worker x ${CORES} threads (-np 2)|<=0.1||"
fi
if want queue; then
  table "W4 round trip put->get (8-byte items); median of per-trip medians; vs MPI ping-pong" \
    ref_pp "p99" \
    "loom_q12|median_us|us|loom queues, worker 1 <-> worker 2 via master (-np 3)|<=10|p99_us|us" \
    "loom_q01|median_us|us|loom queues, master <-> worker 1 (-np 3)|<=10|p99_us|us" \
    "ref_pp|median_us|us|MPI_Send/MPI_Recv ping-pong, 2 ranks (reference)||p99_us|us"
fi
if want idle; then
  table "Idle job for ${IDLE_SECS} s (after 1000 warm-up tasks): CPU time used as % of one core (all threads); vs C MPI" \
    ref_idle "-" \
    "loom_idle|master_cpu_pct|pct|loom master (main + progress thread)|<=2||" \
    "loom_idle|worker_cpu_pct|pct|loom busiest worker (comm thread + pool)|||" \
    "ref_idle|master_cpu_pct|pct|C MPI master in blocking MPI_Recv (reference)|||" \
    "ref_idle|worker_cpu_pct|pct|C MPI worker in blocking MPI_Recv|||"
fi
if want stream; then
  table "Master peak memory (VmHWM) streaming tiny tasks submitted one by one; vs (e) C MPI master" \
    ref_stream "tasks/s" \
    "loom_stream|hwm_mib|mib|loom master, ${N_STREAM} tasks streamed (-C)|<=64|rate|rate|${N_STREAM}" \
    "loom_tiny|hwm_mib|mib|loom master, ${N_TINY} tasks (W1 runs, inline)||rate|rate" \
    "loom_tinyc|hwm_mib|mib|loom master, ${N_TINY} tasks (W1 runs, -C)||rate|rate" \
    "ref_stream|hwm_mib|mib|(e) C MPI master, ${N_STREAM} tasks, 256/msg (MPI floor)||rate|rate"
fi

echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); total $(($(date +%s) - T_START)) s"
if [ -s "$FAILS" ]; then
  echo
  echo "== failed runs (command and last lines of output)"
  cat "$FAILS"
fi
if [ -n "${KEEP_RESULTS:-}" ]; then
  cp "$RES" "$KEEP_RESULTS" && echo "raw results: $KEEP_RESULTS"
fi
