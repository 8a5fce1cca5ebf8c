/* SPDX-License-Identifier: MIT */
/*
 * prog_retry — job.retries: a task whose function fails is run again by
 * the framework, with increasing attempt numbers, on another worker.
 *
 *   mpirun -np 4 prog_retry --tasks N --ok-from A --job-retries R
 *
 * Every task fails (returns 1) on attempts below A and succeeds from A on;
 * each reports the ranks its attempts ran on. The master prints
 *   RETRY tasks=N ok=K failed=F attempts=<sum of final attempt numbers>
 *         same_rank=S
 * (S: retries that ran on the rank of the attempt before).
 *
 *   mpirun -np 3 prog_retry --crash --tasks N --job-retries R --job-crash-limit C
 *
 * Every task runs isolated and dies of SIGSEGV each time: it must be given
 * up after C attempts (retries left or not). The master prints
 *   CRASH tasks=N gave_up=K attempts=<sum> crashed=<tasks whose last cause was a crash>
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>

#include "prog_common.h"

static uint64_t ok_from = 2;

/* Each attempt records (task id, attempt, rank) in the queue "attempts"
 * (a failing attempt's reply never reaches the master), then fails below
 * --ok-from. */
static int
flaky(loom_task *task, void *user)
{
    (void)user;
    int32_t me = loom_context_rank(loom_task_context(task));
    unsigned attempt = loom_task_attempt(task);
    uint64_t id = loom_task_id(task);
    int64_t rec[3] = {(int64_t)id, (int64_t)attempt, me};
    loom_queue *q = NULL;
    if (loom_queue_open(loom_task_job(task), "attempts", 0, &q) != LOOM_OK ||
        loom_queue_put(q, rec, sizeof rec, LOOM_FOREVER) != LOOM_OK) {
        loom_queue_release(q);
        return 2;
    }
    loom_queue_release(q);
    return attempt < ok_from ? 1 : 0;
}

/* always crashes (run isolated: the worker lives on) */
static int
crasher(loom_task *task, void *user)
{
    (void)task;
    (void)user;
    raise(SIGSEGV);
    return 0;
}

static int
crash_run(struct prog *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (loom_job_submit_flags(p->job, "crasher", NULL, 0, LOOM_TASK_ISOLATED, LOOM_FOREVER,
                                  NULL) != LOOM_OK)
            return 1;
    uint64_t gave_up = 0, attempts = 0, sig = 0;
    loom_result r;
    while (loom_job_next_result(p->job, LOOM_FOREVER, &r) == LOOM_OK) {
        gave_up += r.status != 0;
        attempts += r.attempt;
        /* SIGSEGV; under ASan the helper reports it as exit(1) instead */
        sig +=
            (r.cause == LOOM_CAUSE_SIGNAL && r.cause_code == SIGSEGV) || r.cause == LOOM_CAUSE_EXIT;
        loom_result_free(&r);
    }
    int status = loom_job_finish(p->job) == LOOM_OK ? 0 : 1;
    out("CRASH tasks=%llu gave_up=%llu attempts=%llu crashed=%llu\n", (unsigned long long)n,
        (unsigned long long)gave_up, (unsigned long long)attempts, (unsigned long long)sig);
    return status;
}

int
main(int argc, char **argv)
{
    struct prog p;
    uint64_t n = 100;
    int crash = 0;
    int status = prog_config(&p, "prog_retry", &argc, argv);
    if (status != 0)
        return prog_end(&p, status);
    for (int i = 1; i < argc; i++) {
        if (prog_opt_u64(argc, argv, &i, "--tasks", &n) ||
            prog_opt_u64(argc, argv, &i, "--ok-from", &ok_from))
            continue;
        if (strcmp(argv[i], "--crash") == 0) {
            crash = 1;
            continue;
        }
        fprintf(stderr, "prog_retry: unknown argument '%s'\n", argv[i]);
        return prog_end(&p, 2);
    }
    if ((status = prog_init(&p, &argc, &argv)) != 0)
        return prog_end(&p, status);
    if (loom_job_register(p.job, "flaky", flaky, NULL) != LOOM_OK ||
        loom_job_register(p.job, "crasher", crasher, NULL) != LOOM_OK || prog_start(&p) != 0)
        return prog_end(&p, 1);
    if (!loom_job_is_master(p.job))
        return prog_end(&p, loom_job_serve(p.job) == LOOM_OK ? 0 : 1);
    if (crash)
        return prog_end(&p, crash_run(&p, n));

    loom_queue *q = NULL;
    if (loom_queue_open(p.job, "attempts", 1 << 20, &q) != LOOM_OK)
        return prog_end(&p, 1);
    for (uint64_t i = 0; i < n; i++)
        if (loom_job_submit(p.job, "flaky", NULL, 0, LOOM_FOREVER, NULL) != LOOM_OK)
            return prog_end(&p, 1);
    uint64_t ok = 0, failed = 0, attempts = 0;
    loom_result r;
    while (loom_job_next_result(p.job, LOOM_FOREVER, &r) == LOOM_OK) {
        ok += r.status == 0;
        failed += r.status != 0;
        attempts += r.attempt;
        loom_result_free(&r);
    }
    /* the ranks of every attempt, to see whether retries moved */
    int32_t *rank_of = calloc((n + 1) * 64, sizeof *rank_of);
    uint64_t same = 0, recs = 0;
    void *d;
    size_t len;
    while (rank_of && recs < attempts && loom_queue_get(q, &d, &len, 5000) == LOOM_OK) {
        int64_t rec[3];
        if (len == sizeof rec) {
            memcpy(rec, d, sizeof rec);
            if (rec[0] >= 1 && (uint64_t)rec[0] <= n && rec[1] >= 1 && rec[1] < 64)
                rank_of[rec[0] * 64 + rec[1]] = (int32_t)rec[2];
        }
        free(d);
        recs++;
    }
    for (uint64_t id = 1; rank_of && id <= n; id++)
        for (int a = 2; a < 64 && rank_of[id * 64 + a]; a++)
            same += rank_of[id * 64 + a] == rank_of[id * 64 + a - 1];
    free(rank_of);
    loom_queue_release(q);
    if (loom_job_finish(p.job) != LOOM_OK)
        status = 1;
    out("RETRY tasks=%llu ok=%llu failed=%llu attempts=%llu same_rank=%llu\n",
        (unsigned long long)n, (unsigned long long)ok, (unsigned long long)failed,
        (unsigned long long)attempts, (unsigned long long)same);
    return prog_end(&p, status);
}
