/* SPDX-License-Identifier: MIT */
/*
 * bench_tasks — the distributed runtime under load: one MPI program, one
 * workload per run, one machine-readable line printed by the master.
 * run.sh runs it next to the references (ref_mpi.c, ref_futures.py,
 * ref_pool.py) and prints the tables; see bench/README.md.
 *
 *   mpirun -np 3 bench_tasks MODE [options] [loom options such as --pool-threads=1]
 *
 * MODE
 *   tiny     N int64 tasks (n in, n*n out) submitted one by one with
 *            loom_job_submit_i64; results consumed with loom_job_next_result
 *            while submitting (whenever submit reports the job full), or by a
 *            second thread with -C. Clock: first submit → last result.
 *   map      loom_job_map over N int64 payloads (results in order).
 *   stream   `tiny` with 10M tasks by default; the line adds the master's
 *            peak RSS (VmHWM), which must not grow with N.
 *   compute  N tasks burning ITERS rounds of the calibrated loop (10 ms;
 *            ref_mpi calibrate). Clock: first submit → last result. run.sh
 *            turns secs into parallel efficiency.
 *   queue    ping-pong through two named queues: rank A puts on "ping",
 *            rank B gets it and puts it on "pong", A gets it. A times each
 *            round trip (put→get→put→get). -p 1-2 (default) pairs two
 *            workers, with the master hosting both queues; -p 0-1 pairs the
 *            master with worker 1.
 *   idle     run W warm-up tasks, then let the job sit idle for S seconds;
 *            report the CPU time every process used over the idle period, as
 *            % of one core (CLOCK_PROCESS_CPUTIME_ID: all threads, user+sys).
 *
 * Options: -n N  -i ITERS  -s SECS  -w WARM  -t MAX_SECS (tiny/stream/queue:
 *          stop early, rate over what completed)  -p PAIR  -C (consumer thread)
 *
 * Every line starts with "loom MODE" and carries key=value fields, e.g.
 *   loom tiny tasks=5000000 secs=0.91 rate=5494505 ok=1 hwm_mib=21.3
 */
#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <loom.h>

#include "bench_common.h"

struct opts {
    const char *mode;
    uint64_t n;
    uint64_t iters;
    double secs;
    uint64_t warm;
    double max_secs;
    int pair_a, pair_b;
    int consumer_thread;
};

static int g_rank;

static void
fail(const char *what, loom_err err)
{
    fprintf(stderr, "bench_tasks: rank %d: %s: %s (%s)\n", g_rank, what, loom_err_name(err),
            loom_strerror(err));
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 3);
}

/* ---- task functions (registered on every rank, same order) ------------- */

static int
square_task(loom_task *task, void *user)
{
    int64_t v;
    if (loom_task_arg_i64(task, &v) != LOOM_OK)
        return 1;
    return loom_task_reply_i64(task, v * v) == LOOM_OK ? 0 : 1;
}

/* CPU seconds spent inside burn tasks on this rank (in ns): the compute
 * workload subtracts it from the process's CPU time to get loom's own. */
static _Atomic int64_t g_task_cpu_ns;

static int
burn_task(loom_task *task, void *user)
{
    int64_t iters;
    if (loom_task_arg_i64(task, &iters) != LOOM_OK)
        return 1;
    double c0 = bc_cpu_thread();
    uint64_t v = bc_burn((uint64_t)iters, 1);
    g_task_cpu_ns += (int64_t)((bc_cpu_thread() - c0) * 1e9);
    return loom_task_reply_i64(task, (int64_t)v) == LOOM_OK ? 0 : 1;
}

/* ---- consuming results -------------------------------------------------- */

struct sink {
    loom_job *job;
    _Atomic uint64_t consumed;
    _Atomic uint64_t target; /* tasks the consumer thread must see */
    uint64_t sum;            /* sum of int64 replies (mod 2^64) */
    uint64_t bad;            /* results with a failure status or no int64 */
    uint64_t submitted;      /* tasks accepted by submit so far */
};

/* Take one result: 1 if one was taken, 0 on timeout, -1 if none is left to
 * take (LOOM_EDRAINED: every result submitted so far has been taken). */
static int
take(struct sink *s, int timeout_ms)
{
    loom_result res;
    loom_err err = loom_job_next_result(s->job, timeout_ms, &res);
    if (err == LOOM_ETIMEDOUT)
        return 0;
    if (err == LOOM_EDRAINED)
        return -1;
    if (err != LOOM_OK) {
        fprintf(stderr, "bench_tasks: %llu tasks submitted, %llu results consumed so far\n",
                (unsigned long long)s->submitted, (unsigned long long)atomic_load(&s->consumed));
        fail("loom_job_next_result", err);
    }
    int64_t v;
    if (res.status != 0 || loom_result_i64(&res, &v) != LOOM_OK)
        s->bad++;
    else
        s->sum += (uint64_t)v;
    loom_result_free(&res);
    atomic_fetch_add(&s->consumed, 1);
    return 1;
}

static void *
consumer_main(void *p)
{
    struct sink *s = p;
    while (atomic_load(&s->consumed) < atomic_load(&s->target)) {
        loom_result res;
        loom_err err = loom_job_next_result(s->job, 100, &res);
        if (err == LOOM_ETIMEDOUT)
            continue;
        if (err == LOOM_EDRAINED) { /* the producer has not caught up yet */
            bc_sleep(20e-6);
            continue;
        }
        if (err != LOOM_OK)
            fail("loom_job_next_result (consumer thread)", err);
        int64_t v;
        if (res.status != 0 || loom_result_i64(&res, &v) != LOOM_OK)
            s->bad++;
        else
            s->sum += (uint64_t)v;
        loom_result_free(&res);
        atomic_fetch_add(&s->consumed, 1);
    }
    return NULL;
}

/* Submit n tasks of `fn` (payload i, or `arg` if arg >= 0) and consume every
 * result. Returns seconds; *submitted is n unless the -t cap stopped it. */
static double
submit_all(loom_job *job, const char *fn, uint64_t n, int64_t arg, const struct opts *o,
           struct sink *s, uint64_t *submitted)
{
    pthread_t th;
    uint64_t i;
    s->job = job;
    atomic_store(&s->consumed, 0);
    atomic_store(&s->target, n);
    s->sum = 0;
    s->bad = 0;
    s->submitted = 0;
    double t0 = bc_now();
    if (o->consumer_thread && pthread_create(&th, NULL, consumer_main, s) != 0) {
        fprintf(stderr, "bench_tasks: cannot start the consumer thread\n");
        MPI_Abort(MPI_COMM_WORLD, 3);
    }
    for (i = 0; i < n; i++) {
        int64_t v = arg >= 0 ? arg : (int64_t)i;
        for (;;) {
            loom_err err = loom_job_submit_i64(
                job, fn, v, o->consumer_thread ? LOOM_FOREVER : LOOM_NOWAIT, NULL);
            if (err == LOOM_OK) {
                s->submitted++;
                break;
            }
            if (err != LOOM_EFULL)
                fail("loom_job_submit_i64", err);
            /* at the bound: wait for one result, then take all that are ready */
            take(s, LOOM_FOREVER);
            while (take(s, LOOM_NOWAIT) > 0)
                ;
        }
        if (o->max_secs > 0 && (i & 1023) == 1023 && bc_now() - t0 > o->max_secs) {
            i++;
            break;
        }
    }
    *submitted = i;
    if (o->consumer_thread) {
        atomic_store(&s->target, i);
        pthread_join(th, NULL);
    } else {
        while (atomic_load(&s->consumed) < i)
            if (take(s, LOOM_FOREVER) < 0)
                fail("loom_job_next_result (results missing)", LOOM_EDRAINED);
    }
    return bc_now() - t0;
}

static void
run_tiny(loom_job *job, const struct opts *o)
{
    struct sink s;
    uint64_t done;
    double secs = submit_all(job, "square", o->n, -1, o, &s, &done);
    int ok = s.bad == 0 && s.sum == bc_sum_squares(done);
    printf("loom %s tasks=%llu secs=%.4f rate=%.0f ok=%d consumer=%s hwm_mib=%.1f\n", o->mode,
           (unsigned long long)done, secs, (double)done / secs, ok,
           o->consumer_thread ? "thread" : "inline", bc_vmhwm_mib());
}

/* The compute line, printed once every rank's own CPU is known (main). */
static char g_compute_line[512];
static uint64_t g_compute_done;

static void
run_compute(loom_job *job, const struct opts *o, int64_t pool_threads)
{
    struct sink s;
    uint64_t done;
    double secs = submit_all(job, "burn", o->n, (int64_t)o->iters, o, &s, &done);
    g_compute_done = done;
    snprintf(g_compute_line, sizeof g_compute_line,
             "loom compute tasks=%llu iters=%llu workers=%d pool_threads=%lld secs=%.4f "
             "checksum=%llx ok=%d hwm_mib=%.1f",
             (unsigned long long)done, (unsigned long long)o->iters, loom_job_size(job) - 1,
             (long long)pool_threads, secs, (unsigned long long)s.sum, s.bad == 0, bc_vmhwm_mib());
}

/* compute: every rank's CPU time from the job's start to its end, less
 * the time spent in the tasks themselves, summed over the ranks: what
 * loom's threads (and the master's submitting thread) cost per task. */
static void
report_compute(double own_secs)
{
    double sum = 0;
    MPI_Reduce(&own_secs, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    if (g_rank == 0)
        printf("%s own_ms_per_task=%.4f\n", g_compute_line,
               g_compute_done ? 1e3 * sum / (double)g_compute_done : 0.0);
}

static void
run_map(loom_job *job, const struct opts *o)
{
    size_t n = (size_t)o->n;
    int64_t *vals = malloc(n * sizeof *vals);
    const void **ptrs = malloc(n * sizeof *ptrs);
    size_t *lens = malloc(n * sizeof *lens);
    loom_result *res = malloc(n * sizeof *res);
    if (!vals || !ptrs || !lens || !res) {
        fprintf(stderr, "bench_tasks: out of memory for %zu map inputs\n", n);
        MPI_Abort(MPI_COMM_WORLD, 3);
    }
    for (size_t i = 0; i < n; i++) {
        vals[i] = (int64_t)i;
        ptrs[i] = &vals[i];
        lens[i] = sizeof vals[i];
    }
    memset(res, 0, n * sizeof *res); /* fault the pages in before the clock */
    double t0 = bc_now();
    loom_err err = loom_job_map(job, "square", ptrs, lens, n, res);
    double secs = bc_now() - t0;
    if (err != LOOM_OK)
        fail("loom_job_map", err);
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        if (res[i].status != 0 || loom_result_i64(&res[i], &v) != LOOM_OK ||
            v != (int64_t)i * (int64_t)i)
            ok = 0;
        loom_result_free(&res[i]);
    }
    printf("loom map tasks=%zu secs=%.4f rate=%.0f ok=%d hwm_mib=%.1f\n", n, secs, (double)n / secs,
           ok, bc_vmhwm_mib());
    free(res);
    free(lens);
    free(ptrs);
    free(vals);
}

/* ---- queue ping-pong ---------------------------------------------------- */

struct pp_stats {
    double trips, median_us, p99_us, min_us;
};

struct pp_ctx {
    loom_job *job;
    const struct opts *o;
    int rank;
};

static loom_queue *
open_q(loom_job *job, const char *name)
{
    loom_queue *q;
    loom_err err = loom_queue_open(job, name, 0, &q);
    if (err != LOOM_OK)
        fail("loom_queue_open", err);
    return q;
}

static int64_t
get_i64(loom_queue *q)
{
    void *data;
    size_t len;
    int64_t v = 0;
    loom_err err = loom_queue_get(q, &data, &len, LOOM_FOREVER);
    if (err != LOOM_OK)
        fail("loom_queue_get", err);
    if (len == sizeof v)
        memcpy(&v, data, sizeof v);
    free(data);
    return v;
}

static void
put_i64(loom_queue *q, int64_t v)
{
    loom_err err = loom_queue_put(q, &v, sizeof v, LOOM_FOREVER);
    if (err != LOOM_OK)
        fail("loom_queue_put", err);
}

/* Rank A: time the round trips; the stats go to the "done" queue (or are
 * returned, when A is the master). */
static struct pp_stats
pp_pinger(loom_job *job, const struct opts *o)
{
    const uint64_t warm = 200;
    loom_queue *ping = open_q(job, "ping"), *pong = open_q(job, "pong");
    double *rtt = malloc(o->n * sizeof *rtt);
    uint64_t done = 0;
    if (!rtt) {
        fprintf(stderr, "bench_tasks: out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 3);
    }
    double start = bc_now();
    for (uint64_t i = 0; i < warm + o->n; i++) {
        double t0 = bc_now();
        put_i64(ping, (int64_t)i);
        int64_t back = get_i64(pong);
        double t1 = bc_now();
        if (back != (int64_t)i) {
            fprintf(stderr, "bench_tasks: ping-pong got %lld, expected %llu\n", (long long)back,
                    (unsigned long long)i);
            MPI_Abort(MPI_COMM_WORLD, 3);
        }
        if (i >= warm)
            rtt[done++] = (t1 - t0) * 1e6;
        if (o->max_secs > 0 && i >= warm && t1 - start > o->max_secs)
            break;
    }
    /* stop the ponger and wait for its acknowledgement, so the master does
     * not end the job while the ponger still waits on a queue */
    put_i64(ping, -1);
    (void)get_i64(pong);
    struct pp_stats st;
    st.trips = (double)done;
    st.median_us = bc_quantile(rtt, done, 0.5); /* sorts rtt */
    st.p99_us = bc_quantile(rtt, done, 0.99);
    st.min_us = done ? rtt[0] : 0;
    free(rtt);
    loom_queue_release(ping);
    loom_queue_release(pong);
    return st;
}

static void
pp_ponger(loom_job *job)
{
    loom_queue *ping = open_q(job, "ping"), *pong = open_q(job, "pong");
    for (;;) {
        int64_t v = get_i64(ping);
        put_i64(pong, v);
        if (v < 0)
            break;
    }
    loom_queue_release(ping);
    loom_queue_release(pong);
}

static void *
pp_worker_main(void *p)
{
    struct pp_ctx *c = p;
    if (c->rank == c->o->pair_a) {
        struct pp_stats st = pp_pinger(c->job, c->o);
        loom_queue *done = open_q(c->job, "done");
        loom_err err = loom_queue_put(done, &st, sizeof st, LOOM_FOREVER);
        if (err != LOOM_OK)
            fail("loom_queue_put(done)", err);
        loom_queue_release(done);
    } else {
        pp_ponger(c->job);
    }
    return NULL;
}

static void
run_queue_master(loom_job *job, const struct opts *o)
{
    struct pp_stats st;
    if (o->pair_a == 0) {
        st = pp_pinger(job, o);
    } else {
        loom_queue *done = open_q(job, "done");
        void *data;
        size_t len;
        loom_err err = loom_queue_get(done, &data, &len, LOOM_FOREVER);
        if (err != LOOM_OK)
            fail("loom_queue_get(done)", err);
        if (len != sizeof st) {
            fprintf(stderr, "bench_tasks: bad stats item (%zu bytes)\n", len);
            MPI_Abort(MPI_COMM_WORLD, 3);
        }
        memcpy(&st, data, sizeof st);
        free(data);
        loom_queue_release(done);
    }
    printf("loom queue pair=%d-%d trips=%.0f median_us=%.3f p99_us=%.3f min_us=%.3f "
           "hwm_mib=%.1f\n",
           o->pair_a, o->pair_b, st.trips, st.median_us, st.p99_us, st.min_us, bc_vmhwm_mib());
}

/* ---- idle --------------------------------------------------------------- */

struct idle_ctx {
    double secs;
    double pct; /* CPU of this process over the window, % of one core */
};

/* Worker side: a plain thread (not loom's) waits at a barrier on
 * MPI_COMM_WORLD for the master's warm-up to end, then measures this whole
 * process's CPU time over the same idle period as the master. */
static void *
idle_monitor(void *p)
{
    struct idle_ctx *c = p;
    MPI_Barrier(MPI_COMM_WORLD);
    double w0 = bc_now(), c0 = bc_cpu_process();
    bc_sleep(c->secs);
    c->pct = 100.0 * (bc_cpu_process() - c0) / (bc_now() - w0);
    return NULL;
}

static double
run_idle_master(loom_job *job, const struct opts *o)
{
    struct sink s;
    uint64_t done;
    if (o->warm > 0) /* real traffic first: the idle back-off must follow activity */
        submit_all(job, "square", o->warm, -1, o, &s, &done);
    MPI_Barrier(MPI_COMM_WORLD);
    double w0 = bc_now(), c0 = bc_cpu_process();
    bc_sleep(o->secs);
    return 100.0 * (bc_cpu_process() - c0) / (bc_now() - w0);
}

/* ---- main --------------------------------------------------------------- */

static void
usage(void)
{
    fprintf(stderr, "usage: bench_tasks tiny|map|stream|compute|queue|idle [-n N] [-i ITERS]"
                    " [-s SECS] [-w WARM] [-t MAX_SECS] [-p A-B] [-C] [loom options]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    setvbuf(stdout, NULL, _IOLBF, 0);

    loom_config *cfg;
    if (loom_config_create(&cfg) != LOOM_OK)
        return 1;
    if (loom_config_load(cfg, &argc, argv) != LOOM_OK) {
        if (g_rank == 0)
            fprintf(stderr, "bench_tasks: %s\n", loom_config_error(cfg));
        MPI_Finalize();
        return 2;
    }
    if (argc < 2)
        usage();
    struct opts o = {.mode = argv[1], .secs = 10, .warm = 1000, .pair_a = 1, .pair_b = 2};
    int opt;
    optind = 2;
    while ((opt = getopt(argc, argv, "n:i:s:w:t:p:Ch")) != -1) {
        switch (opt) {
        case 'n':
            o.n = strtoull(optarg, NULL, 10);
            break;
        case 'i':
            o.iters = strtoull(optarg, NULL, 10);
            break;
        case 's':
            o.secs = strtod(optarg, NULL);
            break;
        case 'w':
            o.warm = strtoull(optarg, NULL, 10);
            break;
        case 't':
            o.max_secs = strtod(optarg, NULL);
            break;
        case 'p':
            if (sscanf(optarg, "%d-%d", &o.pair_a, &o.pair_b) != 2)
                usage();
            break;
        case 'C':
            o.consumer_thread = 1;
            break;
        default:
            usage();
        }
    }
    const char *m = o.mode;
    int tiny = !strcmp(m, "tiny"), stream = !strcmp(m, "stream"), map = !strcmp(m, "map");
    int compute = !strcmp(m, "compute"), queue = !strcmp(m, "queue"), idle = !strcmp(m, "idle");
    if (!(tiny || stream || map || compute || queue || idle))
        usage();
    if (o.n == 0)
        o.n = tiny      ? 5000000
              : stream  ? 10000000
              : map     ? 10000000
              : compute ? 200
              : queue   ? 20000
                        : 0;
    if (compute && o.iters == 0) {
        if (g_rank == 0)
            fprintf(stderr, "bench_tasks: compute needs -i ITERS (ref_mpi calibrate)\n");
        MPI_Finalize();
        return 2;
    }
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if ((queue &&
         (o.pair_a == o.pair_b || o.pair_b == 0 || o.pair_a >= size || o.pair_b >= size)) ||
        (idle && provided < MPI_THREAD_MULTIPLE)) {
        if (g_rank == 0)
            fprintf(stderr,
                    "bench_tasks: queue needs ranks A-B (B a worker) below %d; idle "
                    "needs MPI_THREAD_MULTIPLE\n",
                    size);
        MPI_Finalize();
        return 2;
    }
    int64_t pool_threads = 0;
    loom_config_get_int(cfg, "pool.threads", &pool_threads);

    loom_job *job;
    loom_job_opts jo = {.config = cfg};
    loom_err err = loom_job_create(MPI_COMM_WORLD, &jo, &job);
    if (err != LOOM_OK)
        fail("loom_job_create", err);
    if ((err = loom_job_register(job, "square", square_task, NULL)) != LOOM_OK ||
        (err = loom_job_register(job, "burn", burn_task, NULL)) != LOOM_OK)
        fail("loom_job_register", err);
    if ((err = loom_job_start(job)) != LOOM_OK)
        fail("loom_job_start", err);

    double idle_pct = -1, cpu0 = bc_cpu_process();
    if (loom_job_is_master(job)) {
        if (tiny || stream)
            run_tiny(job, &o);
        else if (map)
            run_map(job, &o);
        else if (compute)
            run_compute(job, &o, pool_threads);
        else if (queue)
            run_queue_master(job, &o);
        else
            idle_pct = run_idle_master(job, &o);
        if ((err = loom_job_finish(job)) != LOOM_OK)
            fail("loom_job_finish", err);
    } else {
        pthread_t th;
        int have_thread = 0;
        struct pp_ctx pc = {job, &o, g_rank};
        struct idle_ctx ic = {o.secs, -1};
        if (queue && (g_rank == o.pair_a || g_rank == o.pair_b))
            have_thread = pthread_create(&th, NULL, pp_worker_main, &pc) == 0;
        else if (idle)
            have_thread = pthread_create(&th, NULL, idle_monitor, &ic) == 0;
        if ((err = loom_job_serve(job)) != LOOM_OK)
            fail("loom_job_serve", err);
        if (have_thread)
            pthread_join(th, NULL);
        idle_pct = ic.pct;
    }
    loom_job_destroy(job);
    if (compute)
        report_compute(bc_cpu_process() - cpu0 - (double)g_task_cpu_ns / 1e9);

    if (idle) {
        double *all = g_rank == 0 ? calloc((size_t)size, sizeof *all) : NULL;
        MPI_Gather(&idle_pct, 1, MPI_DOUBLE, all, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        if (g_rank == 0) {
            double wmax = -1;
            for (int r = 1; r < size; r++)
                wmax = all[r] > wmax ? all[r] : wmax;
            printf("loom idle secs=%.2f warm=%llu master_cpu_pct=%.2f worker_cpu_pct=%.2f "
                   "hwm_mib=%.1f\n",
                   o.secs, (unsigned long long)o.warm, all[0], wmax, bc_vmhwm_mib());
            free(all);
        }
    }
    loom_config_destroy(cfg);
    MPI_Finalize();
    return 0;
}
