/* SPDX-License-Identifier: MIT */
/**
 * \file loom/pool.h
 * \brief The node-local thread pool — the seed's `multiprocessing.Pool`,
 *        with real threads running truly in parallel.
 *
 * | seed (Python)               | loom                                   |
 * | --------------------------- | -------------------------------------- |
 * | `p = Pool(4)`               | loom_pool_create() with threads = 4    |
 * | `Pool()` (size = cores)     | threads = 0: loom_cpu_count()          |
 * | `p.apply_async(f, (i,))`    | loom_pool_submit() → a ::loom_future   |
 * | `r.get(timeout=10)`         | loom_future_wait()                     |
 * | `p.map(f, xs)`              | loom_pool_map()                        |
 * | `p.close()`                 | loom_pool_close()                      |
 * | `p.join()`                  | loom_pool_join()                       |
 *
 * Threads are named `Worker-1` … `Worker-N` (the prefix is an option), both
 * in their loom_context and in the kernel (`top -H`, `ps -L`). Each has a
 * context; optional hooks run on each thread when it starts and before it
 * ends (the seed's one-connection-per-thread). The submission queue is
 * bounded: when it is full, submit waits up to its timeout, so a fast
 * producer is held back instead of exhausting memory.
 *
 * Tasks are started in submission order (FIFO). Each task runs exactly once,
 * unless the pool is destroyed before it starts: then it never runs and its
 * future completes with #LOOM_ECANCELED.
 */
#ifndef LOOM_POOL_H
#define LOOM_POOL_H

#include <stddef.h>

#include "loom/common.h"
#include "loom/context.h"
#include "loom/error.h"

/** A thread pool (opaque). */
typedef struct loom_pool loom_pool;

/** The result of one submitted task (opaque, reference-counted). */
typedef struct loom_future loom_future;

/** A task: runs on a pool thread with `arg`; its return value is the result. */
typedef void *(*loom_pool_fn)(void *arg);

/** Options for loom_pool_create(). Zero-initialise, then set what you need. */
typedef struct loom_pool_opts {
    /** Number of threads; 0 means loom_cpu_count(). */
    unsigned threads;
    /** Bound of the submission queue (tasks waiting to start); 0 means 4096. */
    size_t queue_capacity;
    /** Thread name prefix (names are "<prefix>-<i>", i from 1); NULL means
     *  "Worker". At most 20 characters. Copied. */
    const char *name_prefix;
    /** Runs on each pool thread before it takes its first task. */
    void (*thread_init)(loom_context *ctx, void *hook_arg);
    /** Runs on each pool thread after its last task, before the context's
     *  slot destructors. */
    void (*thread_fini)(loom_context *ctx, void *hook_arg);
    /** Passed to both hooks. */
    void *hook_arg;
} loom_pool_opts;

/**
 * \brief Create a pool and start its threads.
 * \param[in]  opts may be NULL for all defaults.
 * \param[out] out  the pool; destroy with loom_pool_destroy().
 * \return #LOOM_OK, #LOOM_EINVAL (name prefix too long), #LOOM_ENOMEM,
 *         #LOOM_ESYS if threads cannot be started (none are left running).
 * \note Blocks until every thread has run its thread_init hook, so the pool
 *       is fully up when this returns. Any thread.
 */
LOOM_EXTERN loom_err loom_pool_create(const loom_pool_opts *opts, loom_pool **out);

/**
 * \brief Queue one task — the seed's `apply_async`.
 * \param[in]  fn, arg   the task.
 * \param[in]  timeout_ms how long to wait for room in a full queue:
 *             #LOOM_NOWAIT, a number of ms, or #LOOM_FOREVER.
 * \param[out] future    may be NULL (fire and forget: no allocation). If not,
 *             receives a future the caller must loom_future_release().
 * \return #LOOM_OK; #LOOM_ECLOSED after loom_pool_close() (also when the
 *         pool is closed while waiting); #LOOM_EFULL if the queue stayed
 *         full for timeout_ms; #LOOM_ENOMEM.
 * \note Any thread, including pool threads (a task may submit tasks; with
 *       #LOOM_FOREVER on a full queue that can deadlock if every pool
 *       thread does it — use a finite timeout there).
 */
LOOM_EXTERN loom_err loom_pool_submit(loom_pool *pool, loom_pool_fn fn, void *arg, int timeout_ms,
                                      loom_future **future);

/**
 * \brief Run fn over args[0..n) on the pool and store fn(args[i]) in
 *        results[i] — the seed's `Pool.map`. Order is preserved.
 * \param[in]  args    n arguments (may be NULL when n == 0).
 * \param[out] results n slots (may be NULL to discard results).
 * \return #LOOM_OK once every call has returned; #LOOM_ECLOSED if the pool
 *         is closed (nothing ran); #LOOM_EDEADLK if called from a thread of
 *         this pool; #LOOM_ENOMEM.
 * \note Blocks. Work is handed out in small chunks, so one call costs a few
 *       queue operations, not n.
 */
LOOM_EXTERN loom_err loom_pool_map(loom_pool *pool, loom_pool_fn fn, void *const *args,
                                   void **results, size_t n);

/**
 * \brief Refuse further submissions (#LOOM_ECLOSED); queued tasks still run.
 *        Idempotent, cannot fail, any thread.
 */
LOOM_EXTERN void loom_pool_close(loom_pool *pool);

/**
 * \brief Wait until every task submitted so far has finished (queue empty,
 *        no task running).
 * \param[in] timeout_ms #LOOM_NOWAIT, ms, or #LOOM_FOREVER.
 * \return #LOOM_OK, #LOOM_ETIMEDOUT, #LOOM_EDEADLK if called from a thread
 *         of this pool.
 * \note Unlike Python, join does not require close first; tasks submitted
 *       during the wait are waited for too.
 */
LOOM_EXTERN loom_err loom_pool_join(loom_pool *pool, int timeout_ms);

/**
 * \brief Stop the pool: queued tasks are canceled (their futures complete
 *        with #LOOM_ECANCELED), running tasks finish, threads run their
 *        fini hooks and slot destructors and exit, memory is freed.
 * \note Blocks until the running tasks return. Accepts NULL. Must not be
 *       called from a pool thread or while another thread uses the pool.
 *       Futures stay valid until released.
 */
LOOM_EXTERN void loom_pool_destroy(loom_pool *pool);

/** \brief Number of threads of the pool. */
LOOM_EXTERN unsigned loom_pool_threads(const loom_pool *pool);

/**
 * \brief Wait for a task's result — the seed's `AsyncResult.get(timeout)`.
 * \param[in]  timeout_ms #LOOM_NOWAIT, ms, or #LOOM_FOREVER.
 * \param[out] result     may be NULL; receives the task's return value.
 * \return #LOOM_OK, #LOOM_ETIMEDOUT (the future stays valid and may be
 *         waited on again), #LOOM_ECANCELED (the pool was destroyed before
 *         the task started).
 * \note Any thread; several threads may wait on one future.
 */
LOOM_EXTERN loom_err loom_future_wait(loom_future *future, int timeout_ms, void **result);

/** \brief 1 if the task has finished or was canceled, else 0. Never blocks. */
LOOM_EXTERN int loom_future_done(const loom_future *future);

/** \brief Drop the caller's reference. Accepts NULL. The task still runs. */
LOOM_EXTERN void loom_future_release(loom_future *future);

#endif /* LOOM_POOL_H */
