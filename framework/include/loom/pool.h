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

/** \brief A thread pool (opaque). Created by loom_pool_create(), owned by
 *         the caller until loom_pool_destroy(). */
typedef struct loom_pool loom_pool;

/** \brief The result of one submitted task (opaque, reference-counted):
 *         the submitter's reference is dropped with loom_future_release(). */
typedef struct loom_future loom_future;

/**
 * \brief A task: runs once on a pool thread.
 * \param arg the pointer given to loom_pool_submit() (or an element of
 *            loom_pool_map()'s args); loom never dereferences or frees it.
 * \return the task's result, handed unchanged to loom_future_wait() or
 *         loom_pool_map()'s results; its ownership is the task's business.
 */
typedef void *(*loom_pool_fn)(void *arg);

/** \brief Options for loom_pool_create(). Zero-initialise, then set what
 *         you need. Read during create only; not kept. */
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
    /** Nonzero: bind thread i to the i-th CPU of the process's affinity
     *  mask (round robin when there are more threads than CPUs), so the
     *  scheduler stops moving threads that start commands all the time;
     *  commands started from them with loom_proc_run() get the whole mask
     *  back. Best effort: a CPU that cannot be taken leaves its thread
     *  unbound. Only for a pool that is alone on its CPUs: two pinned pools
     *  in one mask share its first CPUs. */
    int pin;
} loom_pool_opts;

/**
 * \brief Create a pool and start its threads.
 * \param[in]  opts may be NULL for all defaults; not kept.
 * \param[out] out  the pool; destroy with loom_pool_destroy().
 * \return #LOOM_OK, #LOOM_EINVAL (name prefix too long), #LOOM_ENOMEM,
 *         #LOOM_ESYS if threads cannot be started (none are left running).
 * \note Blocks until every thread has run its thread_init hook, so the pool
 *       is fully up when this returns. Any thread.
 */
LOOM_EXTERN loom_err loom_pool_create(const loom_pool_opts *opts, loom_pool **out);

/**
 * \brief Queue one task — the seed's `apply_async`.
 * \param[in]  pool      the pool.
 * \param[in]  fn        the task function.
 * \param[in]  arg       passed to fn as is; stays the caller's (it must stay
 *                       valid until the task has run).
 * \param[in]  timeout_ms how long to wait for room in a full queue:
 *             #LOOM_NOWAIT, a number of ms, or #LOOM_FOREVER.
 * \param[out] future    may be NULL (fire and forget: no allocation). If not,
 *             receives a future the caller must loom_future_release().
 * \return #LOOM_OK; #LOOM_ECLOSED after loom_pool_close() (also when the
 *         pool is closed while waiting); #LOOM_EFULL if the queue stayed
 *         full for timeout_ms; #LOOM_ENOMEM.
 * \note Blocks up to timeout_ms while the queue is full, else never.
 *       Any thread, including pool threads (a task may submit tasks; with
 *       #LOOM_FOREVER on a full queue that can deadlock if every pool
 *       thread does it — use a finite timeout there).
 */
LOOM_EXTERN loom_err loom_pool_submit(loom_pool *pool, loom_pool_fn fn, void *arg, int timeout_ms,
                                      loom_future **future);

/**
 * \brief Run fn over args[0..n) on the pool and store fn(args[i]) in
 *        results[i] — the seed's `Pool.map`. Order is preserved.
 * \param[in]  pool    the pool.
 * \param[in]  fn      the task function.
 * \param[in]  args    n arguments (may be NULL when n == 0); the caller's.
 * \param[out] results n slots (may be NULL to discard results), the caller's.
 * \param      n       number of calls.
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
 * \param[in] pool the pool.
 * \note Idempotent, cannot fail, never blocks; wakes submitters waiting for
 *       room. Any thread, including pool threads.
 */
LOOM_EXTERN void loom_pool_close(loom_pool *pool);

/**
 * \brief Wait until every task submitted so far has finished (queue empty,
 *        no task running).
 * \param[in] pool       the pool.
 * \param[in] timeout_ms #LOOM_NOWAIT, ms, or #LOOM_FOREVER.
 * \return #LOOM_OK, #LOOM_ETIMEDOUT, #LOOM_EDEADLK if called from a thread
 *         of this pool.
 * \note Blocks up to timeout_ms. Any thread but the pool's own. Unlike
 *       Python, join does not require close first; tasks submitted during
 *       the wait are waited for too.
 */
LOOM_EXTERN loom_err loom_pool_join(loom_pool *pool, int timeout_ms);

/**
 * \brief Stop the pool: queued tasks are canceled (their futures complete
 *        with #LOOM_ECANCELED), running tasks finish, threads run their
 *        fini hooks and slot destructors and exit, memory is freed.
 * \param[in] pool the pool, or NULL (nothing happens); invalid afterwards.
 *            To run the queued tasks instead, loom_pool_close() and
 *            loom_pool_join() first.
 * \note Blocks until the running tasks return. Accepts NULL. Must not be
 *       called from a pool thread or while another thread uses the pool.
 *       Futures stay valid until released.
 */
LOOM_EXTERN void loom_pool_destroy(loom_pool *pool);

/**
 * \brief Number of threads of the pool.
 * \param[in] pool the pool.
 * \return the thread count fixed at create. Never blocks, any thread.
 */
LOOM_EXTERN unsigned loom_pool_threads(const loom_pool *pool);

/**
 * \brief Wait for a task's result — the seed's `AsyncResult.get(timeout)`.
 * \param[in]  future     from loom_pool_submit(); still the caller's to
 *                        release afterwards.
 * \param[in]  timeout_ms #LOOM_NOWAIT, ms, or #LOOM_FOREVER.
 * \param[out] result     may be NULL; receives the task's return value.
 * \return #LOOM_OK, #LOOM_ETIMEDOUT (the future stays valid and may be
 *         waited on again), #LOOM_ECANCELED (the pool was destroyed before
 *         the task started).
 * \note Blocks up to timeout_ms. Any thread; several threads may wait on
 *       one future. Waiting from a pool thread on a task of the same pool
 *       can deadlock if every thread does it; use a finite timeout there.
 */
LOOM_EXTERN loom_err loom_future_wait(loom_future *future, int timeout_ms, void **result);

/**
 * \brief Whether the task has finished or was canceled.
 * \param[in] future from loom_pool_submit().
 * \return 1 if it has (loom_future_wait() would not block), else 0. Never
 *         blocks, any thread.
 */
LOOM_EXTERN int loom_future_done(const loom_future *future);

/**
 * \brief Drop the caller's reference to a future; the last reference frees
 *        it. The task still runs.
 * \param[in] future the future, or NULL (nothing happens); invalid for the
 *            caller afterwards.
 * \note Cannot fail, never blocks, any thread.
 */
LOOM_EXTERN void loom_future_release(loom_future *future);

#endif /* LOOM_POOL_H */
