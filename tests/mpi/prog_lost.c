/* SPDX-License-Identifier: MIT */
/*
 * prog_lost — workers die mid-run (SIGKILL, raised by the process itself
 * after it has run a given number of tasks); the master must notice their
 * silence (job.worker_timeout), run their tasks elsewhere and finish.
 *
 *   mpirun --enable-recovery -np 4 prog_lost --tasks 200 --ms 20 --die 2:10
 *          --job-worker-timeout 1 --job-heartbeat 0.1
 *
 * --die RANK:AFTER[,RANK:AFTER...]  rank RANK kills itself when it starts
 * its AFTER-th task. --poison ID  task ID kills whichever worker runs it
 * (raise(SIGKILL), or abort() with --poison-abort), every time: it runs in
 * a pool thread, not isolated. --journal FILE  the job's journal
 * (prog_resume --check reads it). The master prints
 *   LOST tasks=N once=N dup=0 missing=0 bad=0 lost=K secs=S
 * (every task's result exactly once, K workers declared lost, S seconds
 * from the first submit to the last result; the poison task is not
 * counted in N) and, with --poison,
 *   POISON results=1 status=-1 cause=lost
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdatomic.h>

#include "prog_common.h"

static int die_after; /* this rank's; 0 = lives */
static atomic_int started;
static int64_t poison;   /* the task that kills its worker; 0 = none */
static int poison_abort; /* ... with abort(), not raise(SIGKILL) */

static int
sleep_task(loom_task *task, void *user)
{
    (void)user;
    if (die_after && atomic_fetch_add(&started, 1) + 1 >= die_after)
        raise(SIGKILL); /* as kill -9 from outside: no goodbye, no flush */
    int64_t v[2];       /* id, ms */
    size_t len;
    const void *p = loom_task_payload(task, &len);
    if (len != sizeof v)
        return 1;
    memcpy(v, p, sizeof v);
    if (poison && v[0] == poison) {
        if (poison_abort)
            abort();
        raise(SIGKILL);
    }
    prog_sleep_ms((int)v[1]); /* the task's work */
    return loom_task_reply(task, &v[0], sizeof v[0]) == LOOM_OK ? 0 : 1;
}

int
main(int argc, char **argv)
{
    struct prog p;
    int n = 200, ms = 20;
    const char *die = "";
    int status = prog_config(&p, "prog_lost", &argc, argv);
    if (status != 0)
        return prog_end(&p, status);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tasks") == 0 && i + 1 < argc) {
            n = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--ms") == 0 && i + 1 < argc) {
            ms = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--die") == 0 && i + 1 < argc) {
            die = argv[++i];
        } else if (strcmp(argv[i], "--poison") == 0 && i + 1 < argc) {
            poison = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--poison-abort") == 0) {
            poison_abort = 1;
        } else if (strcmp(argv[i], "--journal") == 0 && i + 1 < argc) {
            p.journal = argv[++i];
        } else {
            fprintf(stderr, "prog_lost: unknown argument '%s'\n", argv[i]);
            return prog_end(&p, 2);
        }
    }
    if ((status = prog_init(&p, &argc, &argv)) != 0)
        return prog_end(&p, status);
    for (const char *s = die; *s;) {
        char *end;
        long r = strtol(s, &end, 10), after = *end == ':' ? strtol(end + 1, &end, 10) : 0;
        if (r == p.rank)
            die_after = (int)after;
        s = *end ? end + 1 : end;
    }
    if (loom_job_register(p.job, "sleep", sleep_task, NULL) != LOOM_OK || prog_start(&p) != 0)
        return prog_end(&p, 1);
    if (!loom_job_is_master(p.job))
        return prog_end(&p, loom_job_serve(p.job) == LOOM_OK ? 0 : 1);

    status = 0;
    unsigned char *seen = calloc((size_t)n + 1, 1);
    double t0 = prog_now();
    uint64_t poison_tid = 0;
    for (int i = 1; i <= n; i++) {
        int64_t v[2] = {i, ms};
        uint64_t tid = 0;
        if (loom_job_submit(p.job, "sleep", v, sizeof v, LOOM_FOREVER, &tid) != LOOM_OK)
            status = 1;
        if (i == poison)
            poison_tid = tid;
    }
    int dup = 0, bad = 0, once = 0, poison_results = 0, poison_status = 0;
    loom_cause poison_cause = LOOM_CAUSE_OK;
    loom_result r;
    while (loom_job_next_result(p.job, LOOM_FOREVER, &r) == LOOM_OK) {
        int64_t id = 0;
        if (poison_tid && r.id == poison_tid) {
            poison_results++;
            poison_status = r.status;
            poison_cause = r.cause;
        } else if (r.status != 0 || r.len != sizeof id) {
            bad++;
        } else {
            memcpy(&id, r.data, sizeof id);
            if (id < 1 || id > n)
                bad++;
            else if (seen[id]++)
                dup++;
            else
                once++;
        }
        loom_result_free(&r);
    }
    double secs = prog_now() - t0;
    if (loom_job_finish(p.job) != LOOM_OK)
        status = 1;
    int innocent = n - (poison_tid != 0);
    out("LOST tasks=%d once=%d dup=%d missing=%d bad=%d lost=%d secs=%.1f\n", innocent, once, dup,
        innocent - once, bad, loom_job_workers_lost(p.job), secs);
    if (poison_tid)
        out("POISON results=%d status=%d cause=%s\n", poison_results, poison_status,
            loom_cause_name(poison_cause));
    free(seen);
    return prog_end(&p, status || once != innocent || dup || bad);
}
