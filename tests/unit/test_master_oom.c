/* SPDX-License-Identifier: MIT */
/* Out of memory on a program's thread (master_api.c): loom_job_submit_future
 * and loom_job_map promise LOOM_ENOMEM, so each allocation they make is made
 * to fail in turn (malloc, calloc and realloc are wrapped at link time:
 * -Wl,--wrap, tests/CMakeLists.txt) and the call must return LOOM_ENOMEM
 * with nothing changed, never end the process. A master without MPI: the
 * job and its state are built here, and a stand-in progress thread answers
 * every dispatched task with a failed result. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "loom/job.h"
#include "loom_test.h"
#include "master_state.h"
#include "master_types.h"

/* ---- allocations that fail on request ------------------------------------------ */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

/* This thread's allocations to let through before one fails; -1: none fails. */
static _Thread_local long fail_in = -1;

static int
should_fail(void)
{
    if (fail_in < 0)
        return 0;
    return fail_in-- == 0;
}

void *
__wrap_malloc(size_t n)
{
    return should_fail() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : __real_realloc(p, n);
}

/* ---- a master without MPI ------------------------------------------------------- */

struct fake {
    loom_job job;
    struct master m;
    pthread_t progress;
    int stop;
};

/* The progress thread's part: every pending task gets a failed result. */
static void *
fake_progress(void *arg)
{
    struct fake *fk = arg;
    struct master *m = &fk->m;
    pthread_mutex_lock(&m->mu);
    while (!fk->stop) {
        struct mtask *t;
        if (loom__tring_take(&m->pending, &t, 1) == 1) {
            loom_result r = {.id = t->id,
                             .status = -1,
                             .attempt = 1,
                             .rank = 1,
                             .host = "",
                             .cause = LOOM_CAUSE_FAILED};
            loom__master_deliver(m, &r);
            loom__master_wake_waiters(m);
            loom__mtask_recycle(&m->tasks, loom__inflight_tag(t));
            continue;
        }
        m->sleeping = 1;
        pthread_cond_wait(&m->wake, &m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

static void
fake_start(struct fake *fk)
{
    memset(fk, 0, sizeof *fk);
    loom_job *job = &fk->job;
    job->started = 1;
    job->size = 3;
    job->fns = calloc(JOB_MAX_FUNCS, sizeof *job->fns);
    cr_assert(job->fns);
    strcpy(job->fns[0].name, "f");
    job->nfns = 1;
    job->set.threads = 1;
    job->set.max_outstanding = 1 << 20;
    job->set.max_payload = 1 << 20;
    struct master *m = &fk->m;
    m->job = job;
    m->nworkers = 3;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    pthread_cond_init(&m->wake, NULL);
    cr_assert_eq(loom__mtask_pool_init(&m->tasks), 0);
    job->m = m;
    cr_assert_eq(pthread_create(&fk->progress, NULL, fake_progress, fk), 0);
}

static void
fake_stop(struct fake *fk)
{
    struct master *m = &fk->m;
    pthread_mutex_lock(&m->mu);
    fk->stop = 1;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->mu);
    pthread_join(fk->progress, NULL);
    cr_assert_eq(m->pending.count, 0);
    free(m->pending.a);
    free(m->results.a);
    loom__u64map_free(&m->futures);
    loom__mtask_pool_destroy(&m->tasks);
    pthread_cond_destroy(&m->wake);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    free(fk->job.fns);
}

/* What a failed call must leave as it found it (read under mu). */
struct counts {
    size_t unfinished, results, futures; /* results not taken yet, in memory or the file */
    uint64_t next_id;
};

static struct counts
counts_of(struct master *m)
{
    pthread_mutex_lock(&m->mu);
    struct counts c = {m->unfinished, m->results.count + m->spill.count, m->futures.count,
                       m->next_id};
    pthread_mutex_unlock(&m->mu);
    return c;
}

static void
assert_unchanged(struct master *m, struct counts before, long k)
{
    struct counts now = counts_of(m);
    cr_assert(now.unfinished == before.unfinished && now.results == before.results &&
                  now.futures == before.futures && now.next_id == before.next_id,
              "allocation %ld failed and the state changed: unfinished %zu -> %zu, results "
              "%zu -> %zu, futures %zu -> %zu, next id %llu -> %llu",
              k, before.unfinished, now.unfinished, before.results, now.results, before.futures,
              now.futures, (unsigned long long)before.next_id, (unsigned long long)now.next_id);
}

/* ---- the tests ------------------------------------------------------------------ */

/* Fail the k-th allocation of a submit, k = 0, 1, ... (each on a new
 * master) until a submit makes fewer than k + 1: every failure is
 * LOOM_ENOMEM with nothing changed, then the same call succeeds and its
 * result arrives. */
Test(master_oom, submit_future_returns_enomem_at_every_allocation, .timeout = 60)
{
    int64_t x = 42;
    int failed = 0;
    for (long k = 0;; k++) {
        struct fake fk;
        fake_start(&fk);
        struct counts before = counts_of(&fk.m);
        loom_job_future *fut = NULL;
        fail_in = k;
        loom_err rc = loom_job_submit_future(&fk.job, "f", &x, sizeof x, LOOM_NOWAIT, &fut);
        int reached = fail_in < 0;
        fail_in = -1;
        if (!reached) { /* every allocation it makes went through */
            cr_assert_eq(rc, LOOM_OK, "%s", loom_last_error());
            loom_result r;
            loom_assert_ok(loom_job_future_wait(fut, LOOM_FOREVER, &r));
            cr_assert_eq(r.status, -1);
            loom_result_free(&r);
            loom_job_future_release(fut);
            fake_stop(&fk);
            break;
        }
        cr_assert_eq(rc, LOOM_ENOMEM, "allocation %ld failed: %s (%s)", k, loom_err_name(rc),
                     loom_last_error());
        cr_assert(strstr(loom_last_error(), "out of memory") != NULL, "%s", loom_last_error());
        assert_unchanged(&fk.m, before, k);
        fake_stop(&fk);
        failed++;
    }
    /* the future, the task, room in the pending ring, the future's slot */
    cr_assert_geq(failed, 4, "only %d allocations were made to fail", failed);
}

/* The same for a map of 3 inputs in 3 chunks: a chunk that cannot be
 * queued ends the map with LOOM_ENOMEM once the chunks already queued
 * are back; the counters are as they were. */
Test(master_oom, map_returns_enomem_at_every_allocation, .timeout = 60)
{
    int64_t xs[3] = {1, 2, 3};
    const void *in[3] = {&xs[0], &xs[1], &xs[2]};
    size_t lens[3] = {8, 8, 8};
    int failed = 0;
    for (long k = 0;; k++) {
        struct fake fk;
        fake_start(&fk);
        loom_result res[3];
        fail_in = k;
        loom_err rc = loom_job_map(&fk.job, "f", in, lens, 3, res);
        int reached = fail_in < 0;
        fail_in = -1;
        struct counts now = counts_of(&fk.m);
        fake_stop(&fk);
        if (!reached) {
            cr_assert_eq(rc, LOOM_OK, "%s", loom_last_error());
            for (int i = 0; i < 3; i++) {
                cr_assert_eq(res[i].status, -1);
                loom_result_free(&res[i]);
            }
            break;
        }
        cr_assert_eq(rc, LOOM_ENOMEM, "allocation %ld failed: %s (%s)", k, loom_err_name(rc),
                     loom_last_error());
        cr_assert(now.unfinished == 0 && now.results == 0,
                  "allocation %ld failed: %zu tasks unfinished, %zu results", k, now.unfinished,
                  now.results);
        failed++;
    }
    /* the plan, then per chunk the task, room in the ring, its slot */
    cr_assert_geq(failed, 4, "only %d allocations were made to fail", failed);
}
