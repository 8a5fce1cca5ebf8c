/* SPDX-License-Identifier: MIT */
/*
 * The thread pool.
 *
 * One mutex (pool->mu) guards the ring of queued tasks and every counter
 * below; three condition variables hang off it:
 *   not_empty  workers wait here while the ring is empty;
 *   not_full   submitters wait here while the ring is full;
 *   all_done   joiners (and create, for start-up) wait here.
 * Signals are sent only when someone is known to wait (the idle / waiting
 * counters), which keeps the uncontended submit path at one lock/unlock.
 *
 * Invariants (under mu):
 *   0 <= count <= capacity;  pending = count + tasks running;
 *   closed implies no new task enters the ring;
 *   stopping implies closed and the ring is empty (destroy drained it).
 *
 * Futures have their own mutex and condition variable and a reference
 * count (one for the pool's task, one for the caller), so they outlive the
 * pool and cost nothing when the caller passes future == NULL.
 *
 * Lock order: pool->mu, then a future's mu (never the other way round).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context_internal.h"
#include "internal.h"
#include "loom/cpu.h"
#include "loom/pool.h"

#define POOL_DEFAULT_CAPACITY 4096
#define POOL_PREFIX_MAX       20

struct loom_future {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int refs;
    atomic_int done; /* 0 pending, 1 finished, 2 canceled */
    int waiters;
    void *result;
};

struct pool_task {
    loom_pool_fn fn;
    void *arg;
    loom_future *fut;
};

struct pool_thread {
    loom_pool *pool;
    unsigned index;
    int cpu; /* the CPU it binds itself to (opts.pin), or -1 */
    pthread_t tid;
};

struct loom_pool {
    pthread_mutex_t mu;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    pthread_cond_t all_done;

    struct pool_task *ring;
    size_t capacity, head, count;
    size_t pending;

    unsigned idle_workers;
    unsigned waiting_submitters;
    unsigned joiners;
    unsigned started; /* threads that finished thread_init */
    int closed;
    int stopping;

    unsigned n_threads;
    struct pool_thread *threads;
    char prefix[POOL_PREFIX_MAX + 1];
    void (*thread_init)(loom_context *, void *);
    void (*thread_fini)(loom_context *, void *);
    void *hook_arg;
};

/* The pool whose thread is running, to refuse self-deadlocking calls. */
static _Thread_local loom_pool *tls_pool;

/* Wait on cv until woken or the deadline passes; dl == NULL waits forever.
 * Returns 0, or ETIMEDOUT. */
static int
cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, const struct timespec *dl)
{
    if (!dl) {
        pthread_cond_wait(cv, mu);
        return 0;
    }
    return pthread_cond_timedwait(cv, mu, dl);
}

/* ---- futures ----------------------------------------------------------- */

static loom_future *
future_new(void)
{
    loom_future *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    if (pthread_mutex_init(&f->mu, NULL) != 0)
        goto fail_mutex;
    if (loom__cond_init_monotonic(&f->cv) != 0)
        goto fail_cond;
    atomic_init(&f->refs, 2);
    return f;
fail_cond:
    pthread_mutex_destroy(&f->mu);
fail_mutex:
    free(f);
    return NULL;
}

static void
future_complete(loom_future *f, void *result, int how)
{
    pthread_mutex_lock(&f->mu);
    f->result = result;
    atomic_store(&f->done, how);
    if (f->waiters)
        pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    loom_future_release(f);
}

loom_err
loom_future_wait(loom_future *f, int timeout_ms, void **result)
{
    LOOM_ASSERT(f);
    struct timespec dl;
    if (timeout_ms >= 0)
        dl = loom__deadline(timeout_ms);
    loom_err rc = LOOM_OK;
    pthread_mutex_lock(&f->mu);
    while (!atomic_load(&f->done)) {
        if (timeout_ms == 0) {
            rc = LOOM_ETIMEDOUT;
            break;
        }
        f->waiters++;
        int w = cond_wait_until(&f->cv, &f->mu, timeout_ms > 0 ? &dl : NULL);
        f->waiters--;
        if (w == ETIMEDOUT && !atomic_load(&f->done)) {
            rc = LOOM_ETIMEDOUT;
            break;
        }
    }
    if (rc == LOOM_OK && atomic_load(&f->done) == 2)
        rc = LOOM_ECANCELED;
    if (rc == LOOM_OK && result)
        *result = f->result;
    pthread_mutex_unlock(&f->mu);
    return loom__ret(rc);
}

int
loom_future_done(const loom_future *f)
{
    LOOM_ASSERT(f);
    return atomic_load(&f->done) != 0;
}

void
loom_future_release(loom_future *f)
{
    if (!f)
        return;
    if (atomic_fetch_sub(&f->refs, 1) == 1) {
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        free(f);
    }
}

/* ---- worker threads ------------------------------------------------------ */

static void *
pool_thread_main(void *p)
{
    struct pool_thread *t = p;
    loom_pool *pool = t->pool;
    char name[LOOM_CONTEXT_NAME_MAX + 1];
    snprintf(name, sizeof name, "%s-%u", pool->prefix, t->index + 1);
    if (t->cpu >= 0)
        (void)loom__cpu_pin_self((unsigned)t->cpu);
    loom_context *ctx = loom__context_enter(name, (int)t->index);
    if (!ctx)
        ctx = loom_context_current(); /* static fallback: named, no slots */
    tls_pool = pool;
    if (pool->thread_init)
        pool->thread_init(ctx, pool->hook_arg);

    pthread_mutex_lock(&pool->mu);
    if (++pool->started == pool->n_threads)
        pthread_cond_broadcast(&pool->all_done);
    for (;;) {
        while (pool->count == 0 && !pool->stopping) {
            pool->idle_workers++;
            pthread_cond_wait(&pool->not_empty, &pool->mu);
            pool->idle_workers--;
        }
        if (pool->count == 0)
            break; /* stopping and drained */
        struct pool_task task = pool->ring[pool->head];
        pool->head = (pool->head + 1) % pool->capacity;
        pool->count--;
        if (pool->waiting_submitters)
            pthread_cond_signal(&pool->not_full);
        pthread_mutex_unlock(&pool->mu);

        void *result = task.fn(task.arg);
        if (task.fut)
            future_complete(task.fut, result, 1);

        pthread_mutex_lock(&pool->mu);
        if (--pool->pending == 0 && pool->joiners)
            pthread_cond_broadcast(&pool->all_done);
    }
    pthread_mutex_unlock(&pool->mu);

    if (pool->thread_fini)
        pool->thread_fini(ctx, pool->hook_arg);
    tls_pool = NULL;
    loom__context_leave();
    return NULL;
}

/* ---- pool ---------------------------------------------------------------- */

static void
pool_free(loom_pool *pool)
{
    pthread_cond_destroy(&pool->all_done);
    pthread_cond_destroy(&pool->not_full);
    pthread_cond_destroy(&pool->not_empty);
    pthread_mutex_destroy(&pool->mu);
    free(pool->threads);
    free(pool->ring);
    free(pool);
}

/* Stop and join the first n threads: used by destroy and by a failed create. */
static void
pool_stop_threads(loom_pool *pool, unsigned n)
{
    pthread_mutex_lock(&pool->mu);
    pool->closed = 1;
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->not_empty);
    pthread_cond_broadcast(&pool->not_full);
    pthread_cond_broadcast(&pool->all_done);
    pthread_mutex_unlock(&pool->mu);
    for (unsigned i = 0; i < n; i++)
        pthread_join(pool->threads[i].tid, NULL);
}

loom_err
loom_pool_create(const loom_pool_opts *opts, loom_pool **out)
{
    static const loom_pool_opts defaults;
    LOOM_ASSERT(out);
    if (!opts)
        opts = &defaults;
    const char *prefix = opts->name_prefix ? opts->name_prefix : "Worker";
    if (!*prefix || strlen(prefix) > POOL_PREFIX_MAX)
        return loom__fail(LOOM_EINVAL, "loom_pool_create: name_prefix is 1 to %d bytes, not %zu",
                          POOL_PREFIX_MAX, strlen(prefix));

    loom_err rc = LOOM_ENOMEM;
    loom_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        goto fail_alloc;
    pool->n_threads = opts->threads ? opts->threads : loom_cpu_count(NULL);
    pool->capacity = opts->queue_capacity ? opts->queue_capacity : POOL_DEFAULT_CAPACITY;
    pool->ring = calloc(pool->capacity, sizeof *pool->ring);
    pool->threads = calloc(pool->n_threads, sizeof *pool->threads);
    if (!pool->ring || !pool->threads)
        goto fail_arrays;
    snprintf(pool->prefix, sizeof pool->prefix, "%s", prefix);
    pool->thread_init = opts->thread_init;
    pool->thread_fini = opts->thread_fini;
    pool->hook_arg = opts->hook_arg;
    if (pthread_mutex_init(&pool->mu, NULL) != 0)
        goto fail_arrays;
    if (pthread_cond_init(&pool->not_empty, NULL) != 0)
        goto fail_not_empty;
    if (loom__cond_init_monotonic(&pool->not_full) != 0)
        goto fail_not_full;
    if (loom__cond_init_monotonic(&pool->all_done) != 0)
        goto fail_all_done;

    unsigned ncpu = 0, *cpus = opts->pin ? loom__cpu_pin_list(&ncpu) : NULL;
    unsigned i;
    for (i = 0; i < pool->n_threads; i++) {
        pool->threads[i].pool = pool;
        pool->threads[i].index = i;
        pool->threads[i].cpu = cpus && ncpu ? (int)cpus[i % ncpu] : -1;
        if (pthread_create(&pool->threads[i].tid, NULL, pool_thread_main, &pool->threads[i]) != 0)
            break;
    }
    free(cpus);
    if (i < pool->n_threads) {
        rc = LOOM_ESYS;
        pool_stop_threads(pool, i);
        goto fail_threads;
    }
    pthread_mutex_lock(&pool->mu);
    while (pool->started < pool->n_threads)
        pthread_cond_wait(&pool->all_done, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
    *out = pool;
    return LOOM_OK;

fail_threads:
    pthread_cond_destroy(&pool->all_done);
fail_all_done:
    pthread_cond_destroy(&pool->not_full);
fail_not_full:
    pthread_cond_destroy(&pool->not_empty);
fail_not_empty:
    pthread_mutex_destroy(&pool->mu);
fail_arrays:
    free(pool->threads);
    free(pool->ring);
    free(pool);
fail_alloc:
    return loom__ret(rc);
}

unsigned
loom_pool_threads(const loom_pool *pool)
{
    LOOM_ASSERT(pool);
    return pool->n_threads;
}

loom_err
loom_pool_submit(loom_pool *pool, loom_pool_fn fn, void *arg, int timeout_ms, loom_future **future)
{
    LOOM_ASSERT(pool && fn);
    loom_future *f = NULL;
    if (future) {
        f = future_new();
        if (!f)
            return loom__ret(LOOM_ENOMEM);
    }
    struct timespec dl;
    if (timeout_ms > 0)
        dl = loom__deadline(timeout_ms);

    loom_err rc = LOOM_OK;
    pthread_mutex_lock(&pool->mu);
    while (!pool->closed && pool->count == pool->capacity) {
        if (timeout_ms == 0) {
            rc = LOOM_EFULL;
            break;
        }
        pool->waiting_submitters++;
        int w = cond_wait_until(&pool->not_full, &pool->mu, timeout_ms > 0 ? &dl : NULL);
        pool->waiting_submitters--;
        if (w == ETIMEDOUT && !pool->closed && pool->count == pool->capacity) {
            rc = LOOM_EFULL;
            break;
        }
    }
    if (rc == LOOM_OK && pool->closed)
        rc = LOOM_ECLOSED;
    if (rc == LOOM_OK) {
        size_t tail = (pool->head + pool->count) % pool->capacity;
        pool->ring[tail] = (struct pool_task){fn, arg, f};
        pool->count++;
        pool->pending++;
        if (pool->idle_workers)
            pthread_cond_signal(&pool->not_empty);
    }
    pthread_mutex_unlock(&pool->mu);

    if (rc != LOOM_OK) {
        if (f) { /* never queued: drop both references */
            loom_future_release(f);
            loom_future_release(f);
        }
        return loom__ret(rc);
    }
    if (future)
        *future = f;
    return LOOM_OK;
}

/* map: a few helper tasks share one job and take indices in chunks from an
 * atomic counter, so n items cost a handful of queue operations. The caller
 * waits on the job's own condition variable. */
struct map_job {
    loom_pool_fn fn;
    void *const *args;
    void **results;
    size_t n, chunk;
    atomic_size_t next;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t finished;       /* items done, under mu */
    unsigned helpers_left; /* helper tasks still to return, under mu */
};

static void *
map_helper(void *p)
{
    struct map_job *job = p;
    size_t done = 0;
    for (;;) {
        size_t i = atomic_fetch_add(&job->next, job->chunk);
        if (i >= job->n)
            break;
        size_t end = i + job->chunk < job->n ? i + job->chunk : job->n;
        for (; i < end; i++) {
            void *r = job->fn(job->args ? job->args[i] : NULL);
            if (job->results)
                job->results[i] = r;
            done++;
        }
    }
    pthread_mutex_lock(&job->mu);
    job->finished += done;
    /* The caller frees job once helpers_left hits 0, so this is the last
     * touch of job by this helper. */
    if (--job->helpers_left == 0)
        pthread_cond_signal(&job->cv);
    pthread_mutex_unlock(&job->mu);
    return NULL;
}

loom_err
loom_pool_map(loom_pool *pool, loom_pool_fn fn, void *const *args, void **results, size_t n)
{
    LOOM_ASSERT(pool && fn);
    if (tls_pool == pool)
        return loom__fail(LOOM_EDEADLK, "loom_pool_map from one of the pool's own threads would "
                                        "wait for itself");
    if (n == 0) {
        pthread_mutex_lock(&pool->mu);
        int closed = pool->closed;
        pthread_mutex_unlock(&pool->mu);
        return loom__ret(closed ? LOOM_ECLOSED : LOOM_OK);
    }
    struct map_job job = {.fn = fn, .args = args, .results = results, .n = n};
    /* ~8 chunks per thread balances uneven tasks; at most 256 items per
     * chunk keeps stragglers short. */
    job.chunk = n / ((size_t)pool->n_threads * 8);
    job.chunk = job.chunk < 1 ? 1 : job.chunk > 256 ? 256 : job.chunk;
    atomic_init(&job.next, 0);
    if (pthread_mutex_init(&job.mu, NULL) != 0)
        return loom__ret(LOOM_ENOMEM);
    if (pthread_cond_init(&job.cv, NULL) != 0) {
        pthread_mutex_destroy(&job.mu);
        return loom__ret(LOOM_ENOMEM);
    }
    size_t chunks = (n + job.chunk - 1) / job.chunk;
    unsigned want = pool->n_threads < chunks ? pool->n_threads : (unsigned)chunks;

    /* Any one helper finishes the whole job, so only the first submission
     * must succeed; later ones are best effort and never wait. */
    loom_err rc = LOOM_OK;
    pthread_mutex_lock(&job.mu);
    for (unsigned h = 0; h < want; h++) {
        job.helpers_left++;
        loom_err s =
            loom_pool_submit(pool, map_helper, &job, h == 0 ? LOOM_FOREVER : LOOM_NOWAIT, NULL);
        if (s != LOOM_OK) {
            job.helpers_left--;
            if (h == 0)
                rc = s;
            break;
        }
    }
    while (job.helpers_left > 0)
        pthread_cond_wait(&job.cv, &job.mu);
    LOOM_ASSERT(rc != LOOM_OK || job.finished == n);
    pthread_mutex_unlock(&job.mu);
    pthread_cond_destroy(&job.cv);
    pthread_mutex_destroy(&job.mu);
    return loom__ret(rc);
}

void
loom_pool_close(loom_pool *pool)
{
    LOOM_ASSERT(pool);
    pthread_mutex_lock(&pool->mu);
    pool->closed = 1;
    pthread_cond_broadcast(&pool->not_full); /* waiting submitters get ECLOSED */
    pthread_mutex_unlock(&pool->mu);
}

loom_err
loom_pool_join(loom_pool *pool, int timeout_ms)
{
    LOOM_ASSERT(pool);
    if (tls_pool == pool)
        return loom__fail(LOOM_EDEADLK, "loom_pool_join from one of the pool's own threads would "
                                        "wait for itself");
    struct timespec dl;
    if (timeout_ms > 0)
        dl = loom__deadline(timeout_ms);
    loom_err rc = LOOM_OK;
    pthread_mutex_lock(&pool->mu);
    while (pool->pending > 0) {
        if (timeout_ms == 0) {
            rc = LOOM_ETIMEDOUT;
            break;
        }
        pool->joiners++;
        int w = cond_wait_until(&pool->all_done, &pool->mu, timeout_ms > 0 ? &dl : NULL);
        pool->joiners--;
        if (w == ETIMEDOUT && pool->pending > 0) {
            rc = LOOM_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&pool->mu);
    return loom__ret(rc);
}

void
loom_pool_destroy(loom_pool *pool)
{
    if (!pool)
        return;
    LOOM_ASSERT(tls_pool != pool);
    /* Cancel what never started (lock order: pool->mu, then a future's). */
    pthread_mutex_lock(&pool->mu);
    for (size_t i = 0; i < pool->count; i++) {
        struct pool_task *t = &pool->ring[(pool->head + i) % pool->capacity];
        if (t->fut)
            future_complete(t->fut, NULL, 2);
    }
    pool->pending -= pool->count;
    pool->count = 0;
    pthread_mutex_unlock(&pool->mu);

    pool_stop_threads(pool, pool->n_threads);
    pool_free(pool);
}
