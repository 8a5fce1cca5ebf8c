/* SPDX-License-Identifier: MIT */
/*
 * Promises of a job's settings and life cycle (test_mpi_settings.c):
 *
 *   --scenario env     the job is created without a config (NULL opts, as
 *                      the README's program): LOOM_* variables and
 *                      $LOOM_CONFIG still apply. Every task replies its
 *                      worker's pool threads: "ENV tasks=N threads=MIN..MAX".
 *   --scenario gate    no task runs on a worker before loom_job_serve(): the
 *                      last worker's main thread holds before serve until
 *                      the master has submitted, then gives tasks a bounded
 *                      chance to run (measured, below) and serves; every
 *                      task says whether its worker had served:
 *                      "GATE tasks=N ok=N before_serve=K". --no-serve: that
 *                      worker destroys its job without serving.
 *   --scenario refuse  tasks whose loom_task_reply or loom_task_submit is
 *                      refused (run with --job-max-payload 1K): one line
 *                      "REFUSE kind=K status=S cause=C code=E len=L" each,
 *                      "MAP i=I status=S len=L" for a map.
 *   --scenario leak    the master keeps some results without
 *                      loom_result_free() (next_result, a future's copy, a
 *                      map's) and destroys the job: loom warns how many;
 *                      it frees them afterwards ("LEAK kept=N values_ok=1").
 *                      --free-all: it frees everything first.
 *
 * Exit status: 0 checks passed, 1 failed, 2 configuration refused.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>

#include "prog_common.h"

/* ---- env ---------------------------------------------------------------- */

static int
threads_task(loom_task *t, void *user)
{
    (void)user;
    return loom_task_reply_i64(t, (int64_t)loom_job_threads(loom_task_job(t))) == LOOM_OK ? 0 : 1;
}

/* No config, no prog_config(): only what loom reads by itself. */
static int
run_env(int *argc, char ***argv)
{
    int provided = 0, rank = 0, failed = 0;
    loom_job *job = NULL;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
        return 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    loom_err rc = loom_job_create(MPI_COMM_WORLD, NULL, &job);
    if (rc != LOOM_OK) {
        out("CREATE rank=%d rc=%s\n", rank, loom_err_name(rc));
        MPI_Finalize();
        return rc == LOOM_ECONFIG ? 2 : 1;
    }
    if (loom_job_register(job, "threads", threads_task, NULL) != LOOM_OK ||
        loom_job_start(job) != LOOM_OK) {
        loom_job_destroy(job);
        MPI_Finalize();
        return 1;
    }
    if (loom_job_is_master(job)) {
        int n = 8, ok = 0;
        int64_t lo = INT64_MAX, hi = -1;
        for (int i = 0; i < n; i++)
            failed |= loom_job_submit(job, "threads", NULL, 0, LOOM_FOREVER, NULL) != LOOM_OK;
        loom_result r;
        while (loom_job_next_result(job, LOOM_FOREVER, &r) == LOOM_OK) {
            int64_t v;
            if (r.status == 0 && loom_result_i64(&r, &v) == LOOM_OK) {
                ok++;
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
            loom_result_free(&r);
        }
        failed |= loom_job_finish(job) != LOOM_OK || ok != n;
        out("ENV tasks=%d threads=%lld..%lld\n", ok, (long long)lo, (long long)hi);
    } else {
        failed |= loom_job_serve(job) != LOOM_OK;
    }
    loom_job_destroy(job);
    MPI_Finalize();
    return failed;
}

/* ---- gate --------------------------------------------------------------- */

static atomic_int served; /* this process's main thread has called serve */
static pthread_mutex_t started_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t started_cv = PTHREAD_COND_INITIALIZER;
static int started; /* tasks started in this process */

/* Replies rank * 2 + 1 if its worker had not served yet, rank * 2 if it had. */
static int
probe_task(loom_task *t, void *user)
{
    (void)user;
    int before = !atomic_load(&served);
    pthread_mutex_lock(&started_mu);
    started++;
    pthread_cond_broadcast(&started_cv);
    pthread_mutex_unlock(&started_mu);
    int64_t v = (int64_t)loom_job_rank(loom_task_job(t)) * 2 + before;
    return loom_task_reply_i64(t, v) == LOOM_OK ? 0 : 1;
}

/* One round trip through the master and this worker's comm thread, ns:
 * the fastest of a few put + get pairs on a queue of its own. */
static double
queue_round_trip(loom_job *job)
{
    char name[32];
    loom_queue *q = NULL;
    double best = 1e18;
    snprintf(name, sizeof name, "rt-%d", loom_job_rank(job));
    if (loom_queue_open(job, name, 4, &q) != LOOM_OK)
        return -1;
    for (int i = 0; i < 5; i++) {
        void *data = NULL;
        size_t len = 0;
        double t0 = prog_now();
        if (loom_queue_put(q, "x", 1, LOOM_FOREVER) != LOOM_OK ||
            loom_queue_get(q, &data, &len, LOOM_FOREVER) != LOOM_OK)
            best = -1;
        free(data);
        double dt = (prog_now() - t0) * 1e9;
        best = best >= 0 && dt < best ? dt : best;
    }
    loom_queue_release(q);
    return best;
}

/* The held worker: wait until the master has submitted ("gate"), then
 * give a task the time of 200 round trips through the same threads a task
 * travels (at least 1 s) to start here. With the promise kept none does. */
static int
hold_before_serve(loom_job *job)
{
    loom_queue *gate = NULL;
    void *data = NULL;
    size_t len = 0;
    if (loom_queue_open(job, "gate", 4, &gate) != LOOM_OK ||
        loom_queue_get(gate, &data, &len, LOOM_FOREVER) != LOOM_OK)
        return 1;
    free(data);
    loom_queue_release(gate);
    double rt = queue_round_trip(job);
    if (rt < 0)
        return 1;
    double wait_s = 200 * rt / 1e9 < 1 ? 1 : 200 * rt / 1e9, t0 = prog_now();
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += (time_t)wait_s;
    dl.tv_nsec += (long)((wait_s - (double)(time_t)wait_s) * 1e9);
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&started_mu);
    while (started == 0 && pthread_cond_timedwait(&started_cv, &started_mu, &dl) == 0)
        ;
    int seen = started;
    pthread_mutex_unlock(&started_mu);
    out("HELD rank=%d round_trip_us=%.0f waited_ms=%.0f of %.0f started_before_serve=%d\n",
        loom_job_rank(job), rt / 1e3, (prog_now() - t0) * 1e3, wait_s * 1e3, seen);
    /* the master finishes only after this: queue calls end with the job */
    loom_queue *held = NULL;
    int failed = loom_queue_open(job, "held", 4, &held) != LOOM_OK ||
                 loom_queue_put(held, "done", 4, LOOM_FOREVER) != LOOM_OK;
    loom_queue_release(held);
    return failed;
}

static int
run_gate_master(loom_job *job, int n)
{
    int failed = 0, ok = 0, before = 0;
    loom_queue *gate = NULL;
    for (int i = 0; i < n; i++)
        failed |= loom_job_submit(job, "probe", NULL, 0, LOOM_FOREVER, NULL) != LOOM_OK;
    failed |= loom_queue_open(job, "gate", 4, &gate) != LOOM_OK ||
              loom_queue_put(gate, "go", 2, LOOM_FOREVER) != LOOM_OK;
    loom_queue_release(gate);
    loom_result r;
    while (loom_job_next_result(job, LOOM_FOREVER, &r) == LOOM_OK) {
        int64_t v;
        if (r.status == 0 && loom_result_i64(&r, &v) == LOOM_OK) {
            ok++;
            before += (int)(v & 1);
            if (v & 1)
                out("RAN task=%llu rank=%d before its worker served\n", (unsigned long long)r.id,
                    (int)(v / 2));
        }
        loom_result_free(&r);
    }
    /* the held worker may still be measuring through the queues: finish
     * (which ends every queue call) only once it says it is done */
    loom_queue *held = NULL;
    void *data = NULL;
    size_t len = 0;
    failed |= loom_queue_open(job, "held", 4, &held) != LOOM_OK ||
              loom_queue_get(held, &data, &len, LOOM_FOREVER) != LOOM_OK;
    free(data);
    loom_queue_release(held);
    failed |= loom_job_finish(job) != LOOM_OK;
    out("GATE tasks=%d ok=%d before_serve=%d\n", n, ok, before);
    return failed || ok != n || before != 0;
}

static int
run_gate(struct prog *p, int no_serve)
{
    if (loom_job_register(p->job, "probe", probe_task, NULL) != LOOM_OK || prog_start(p) != 0)
        return 1;
    if (loom_job_is_master(p->job))
        return run_gate_master(p->job, 16);
    int held = p->rank == p->size - 1, failed = 0;
    if (held)
        failed = hold_before_serve(p->job);
    atomic_store(&served, 1);
    if (!(held && no_serve))
        failed |= loom_job_serve(p->job) != LOOM_OK;
    return failed; /* --no-serve: loom_job_destroy serves */
}

/* ---- refuse ------------------------------------------------------------- */

/* What each kind of task does; the payload is its kind (int64). */
static int
refusing_task(loom_task *t, void *user)
{
    static char big[2048];
    int64_t kind = -1;
    (void)user;
    loom_task_arg_i64(t, &kind);
    switch (kind) {
    case 0: /* a reply above job.max_payload, unchecked */
        loom_task_reply(t, big, sizeof big);
        return 0;
    case 1: /* a submit of an unknown function, unchecked */
        loom_task_submit(t, "no-such-function", NULL, 0);
        return 0;
    case 2: /* a refused reply replaced by one that succeeds: handled */
        loom_task_reply(t, big, sizeof big);
        return loom_task_reply_i64(t, 42) == LOOM_OK ? 0 : 1;
    case 3: /* a refused submit the task reports itself: its status stands */
        return loom_task_submit(t, "no-such-function", NULL, 0) != LOOM_OK ? 7 : 0;
    case 4: /* nothing refused */
        return loom_task_reply_i64(t, 4) == LOOM_OK ? 0 : 1;
    case 5: /* a reply does not make up for a refused submit */
        loom_task_submit(t, "refusing", big, sizeof big);
        return loom_task_reply_i64(t, 5) == LOOM_OK ? 0 : 1;
    case 6: /* a NULL string */
        loom_task_reply_str(t, NULL);
        return 0;
    case 7: /* submitting from an isolated task, unchecked */
        loom_task_submit(t, "refusing", &kind, sizeof kind);
        return 0;
    default:
        return 99;
    }
}

static int
run_refuse(struct prog *p)
{
    if (loom_job_register(p->job, "refusing", refusing_task, NULL) != LOOM_OK || prog_start(p) != 0)
        return 1;
    if (!loom_job_is_master(p->job))
        return loom_job_serve(p->job) != LOOM_OK;
    int failed = 0, n = 0;
    for (int64_t k = 0; k <= 7; k++) {
        unsigned flags = k == 7 ? LOOM_TASK_ISOLATED : 0;
        failed |= loom_job_submit_flags(p->job, "refusing", &k, sizeof k, flags, LOOM_FOREVER,
                                        NULL) != LOOM_OK;
    }
    loom_result r;
    while (loom_job_next_result(p->job, LOOM_FOREVER, &r) == LOOM_OK) {
        out("REFUSE kind=%llu status=%d cause=%s code=%s len=%zu\n", (unsigned long long)r.id - 1,
            r.status, loom_cause_name(r.cause), loom_err_name((loom_err)r.cause_code), r.len);
        n++;
        loom_result_free(&r);
    }
    int64_t kinds[3] = {4, 0, 2};
    const void *inputs[3] = {&kinds[0], &kinds[1], &kinds[2]};
    size_t lens[3] = {8, 8, 8};
    loom_result res[3];
    failed |= loom_job_map(p->job, "refusing", inputs, lens, 3, res) != LOOM_OK;
    for (int i = 0; i < 3 && !failed; i++) {
        out("MAP i=%d status=%d len=%zu\n", i, res[i].status, res[i].len);
        loom_result_free(&res[i]);
    }
    failed |= loom_job_finish(p->job) != LOOM_OK;
    return failed || n != 8;
}

/* ---- leak --------------------------------------------------------------- */

static int
value_task(loom_task *t, void *user)
{
    int64_t v = 0;
    (void)user;
    loom_task_arg_i64(t, &v);
    return loom_task_reply_i64(t, v * 10) == LOOM_OK ? 0 : 1;
}

/* Results the master keeps past loom_job_destroy (4 of them, unless
 * free_all): two from next_result, a future's copy, a map's. */
static int
run_leak_master(struct prog *p, int free_all, loom_result kept[4], int *nkept)
{
    int failed = 0, got = 0;
    *nkept = 0;
    for (int64_t i = 1; i <= 5; i++)
        failed |= loom_job_submit_i64(p->job, "value", i, LOOM_FOREVER, NULL) != LOOM_OK;
    loom_result r;
    while (got < 5 && loom_job_next_result(p->job, LOOM_FOREVER, &r) == LOOM_OK) {
        if (got++ < 2 && !free_all)
            kept[(*nkept)++] = r;
        else
            loom_result_free(&r);
    }
    loom_job_future *f = NULL;
    int64_t six = 6;
    failed |=
        loom_job_submit_future(p->job, "value", &six, sizeof six, LOOM_FOREVER, &f) != LOOM_OK ||
        loom_job_future_wait(f, LOOM_FOREVER, &r) != LOOM_OK;
    loom_job_future_release(f);
    if (free_all)
        loom_result_free(&r);
    else
        kept[(*nkept)++] = r;
    int64_t xs[2] = {7, 8};
    const void *inputs[2] = {&xs[0], &xs[1]};
    size_t lens[2] = {8, 8};
    loom_result res[2];
    failed |= loom_job_map(p->job, "value", inputs, lens, 2, res) != LOOM_OK;
    loom_result_free(&res[0]);
    if (free_all)
        loom_result_free(&res[1]);
    else
        kept[(*nkept)++] = res[1];
    failed |= loom_job_finish(p->job) != LOOM_OK || got != 5;
    return failed;
}

static int
run_leak(struct prog *p, int free_all)
{
    loom_result kept[4];
    int nkept = 0, failed = 0;
    if (loom_job_register(p->job, "value", value_task, NULL) != LOOM_OK || prog_start(p) != 0)
        return 1;
    if (!loom_job_is_master(p->job))
        return loom_job_serve(p->job) != LOOM_OK;
    failed = run_leak_master(p, free_all, kept, &nkept);
    out("LEAK destroying with kept=%d\n", nkept);
    loom_job_destroy(p->job);
    p->job = NULL;
    /* still valid after destroy, and released then */
    int values_ok = 1;
    for (int i = 0; i < nkept; i++) {
        int64_t v = 0;
        values_ok &= loom_result_i64(&kept[i], &v) == LOOM_OK && v % 10 == 0 && v > 0;
        loom_result_free(&kept[i]);
    }
    out("LEAK kept=%d values_ok=%d\n", nkept, values_ok);
    return failed || !values_ok;
}

int
main(int argc, char **argv)
{
    struct prog p;
    const char *scenario = "";
    int no_serve = 0, free_all = 0, w = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--scenario") == 0 && i + 1 < argc)
            scenario = argv[++i];
        else if (strcmp(argv[i], "--no-serve") == 0)
            no_serve = 1;
        else if (strcmp(argv[i], "--free-all") == 0)
            free_all = 1;
        else
            argv[w++] = argv[i]; /* loom's options, for prog_config */
    }
    argc = w;
    argv[argc] = NULL;
    if (strcmp(scenario, "env") == 0)
        return run_env(&argc, &argv);
    int st = prog_config(&p, "prog_settings", &argc, argv);
    if (st != 0)
        return st;
    if (argc > 1) {
        fprintf(stderr, "prog_settings: unknown argument %s\n", argv[1]);
        return 2;
    }
    if ((st = prog_init(&p, &argc, &argv)) != 0)
        return prog_end(&p, st);
    if (strcmp(scenario, "gate") == 0)
        st = run_gate(&p, no_serve);
    else if (strcmp(scenario, "refuse") == 0)
        st = run_refuse(&p);
    else if (strcmp(scenario, "leak") == 0)
        st = run_leak(&p, free_all);
    else
        st = 2;
    return prog_end(&p, st);
}
