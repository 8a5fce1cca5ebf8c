/* SPDX-License-Identifier: MIT */
/**
 * \file loom/job.h
 * \brief A distributed job: rank 0 is the master, every other rank a worker
 *        running tasks on its thread pool — the seed's task_master and
 *        task_worker, batched and spanning machines.
 *
 * Every rank runs the same program:
 *
 *     MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
 *     loom_job_create(MPI_COMM_WORLD, NULL, &job);
 *     loom_job_register(job, "square", square, NULL);      // same on every rank
 *     loom_job_start(job);                                 // collective
 *     if (loom_job_is_master(job)) {
 *         loom_job_submit_i64(job, "square", 7, LOOM_FOREVER, &id);
 *         loom_job_next_result(job, LOOM_FOREVER, &res);   // as results arrive
 *         loom_job_finish(job);                            // workers drain and stop
 *     } else {
 *         loom_job_serve(job);                             // until the master finishes
 *     }
 *     loom_job_destroy(job);
 *     MPI_Finalize();
 *
 * loom duplicates the communicator it is given, so the program may use MPI
 * itself. Inside loom, MPI is called from one thread per process (the
 * master's progress thread, a worker's communication thread); MPI must be
 * initialised with at least MPI_THREAD_SERIALIZED (loom_job_start checks).
 *
 * Tasks move in batches: workers grant credits (how many tasks they can
 * hold, sized from how long tasks take), the master answers with batches of
 * tasks, and results return in batches flushed by size or after a short
 * delay. Every task's result is delivered exactly once to the master.
 * A task may submit further tasks; the job ends only when no task is left.
 * The master's memory grows with the tasks in flight, not with the tasks
 * submitted so far: submissions wait while `job.max_outstanding` tasks are
 * unfinished or their results unconsumed.
 */
#ifndef LOOM_JOB_H
#define LOOM_JOB_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "loom/common.h"
#include "loom/config.h"
#include "loom/context.h"
#include "loom/error.h"

/** A distributed job (opaque). One per communicator. */
typedef struct loom_job loom_job;

/** A running task, handed to its function (opaque; valid during the call). */
typedef struct loom_task loom_task;

/** A master-side handle on one task's result (opaque). */
typedef struct loom_job_future loom_job_future;

/**
 * A task function. Runs on a pool thread of a worker rank.
 * \param task  the task: its payload, its context, its reply.
 * \param user  the pointer given to loom_job_register().
 * \return 0 for success; any other value is the task's failure status,
 *         delivered in loom_result.status.
 */
typedef int (*loom_task_fn)(loom_task *task, void *user);

/**
 * Why a task ended as it did (loom_result.cause). Values are append-only.
 * Only isolated tasks (see loom_job_submit_flags() and `job.isolate`) can
 * end with SIGNAL, EXIT, TIMEOUT, MEMORY or ISOLATION: an in-thread task
 * that crashes takes its worker rank with it.
 */
typedef enum loom_cause {
    LOOM_CAUSE_OK = 0,        /**< returned 0 */
    LOOM_CAUSE_FAILED = 1,    /**< returned non-zero: that value is the status */
    LOOM_CAUSE_SIGNAL = 2,    /**< killed by signal cause_code (SIGSEGV, SIGABRT, ...) */
    LOOM_CAUSE_EXIT = 3,      /**< called exit(cause_code) or _exit() */
    LOOM_CAUSE_TIMEOUT = 4,   /**< ran longer than `task.timeout`: killed */
    LOOM_CAUSE_MEMORY = 5,    /**< grew past `task.memory_limit`: killed */
    LOOM_CAUSE_ISOLATION = 6, /**< loom could not run it isolated (no helper
                                   process, function or user data not found
                                   in the helper); the worker log says why */
} loom_cause;

/** \brief Short lower-case name of a cause ("ok", "signal", ...); "unknown"
 *         for values this version does not know. Any thread. */
LOOM_EXTERN const char *loom_cause_name(loom_cause cause);

/** The outcome of one task, as the master receives it. */
typedef struct loom_result {
    uint64_t id;      /**< the id submit returned */
    int status;       /**< the task function's return value (0 = success);
                           -1 when an isolated task did not return */
    unsigned attempt; /**< attempt that produced it, from 1 */
    int rank;         /**< worker rank that ran it */
    void *data;       /**< reply bytes (NULL when len is 0); owned by the result:
                           release with loom_result_free(), never free() */
    size_t len;       /**< reply length */
    void *loom__buf;  /**< private: the received message data points into */
    loom_cause cause; /**< why it ended: OK exactly when status is 0 */
    int cause_code;   /**< the signal (SIGNAL) or exit code (EXIT), else 0 */
} loom_result;

/** Options of loom_job_create(). Zero-initialise, then set what you need. */
typedef struct loom_job_opts {
    /** Settings (pool.threads, job.*); NULL means built-in defaults. Read
     *  during create only. */
    const loom_config *config;
} loom_job_opts;

/**
 * \brief Create a job on a duplicate of `comm`. Not collective yet.
 * \return #LOOM_OK, #LOOM_ESTATE if MPI is not initialised, #LOOM_EMPI,
 *         #LOOM_ENOMEM, #LOOM_ECONFIG (bad settings in opts->config).
 */
LOOM_EXTERN loom_err loom_job_create(MPI_Comm comm, const loom_job_opts *opts, loom_job **out);

/**
 * \brief Register a task function under a name (at most 63 bytes). Every
 *        rank must register the same names in the same order before start.
 * \return #LOOM_OK, #LOOM_EINVAL (bad or duplicate name), #LOOM_ESTATE
 *         after start, #LOOM_ERANGE (more than 4096 functions).
 */
LOOM_EXTERN loom_err loom_job_register(loom_job *job, const char *name, loom_task_fn fn,
                                       void *user);

/**
 * \brief Start the job: collective over the communicator. Checks that every
 *        rank runs the same binary (ELF build id) with the same registrations
 *        and that MPI gives enough thread support, then starts the master's
 *        progress thread or a worker's communication thread and pool.
 * \return #LOOM_OK; #LOOM_EMISMATCH on every rank if ranks differ (the
 *         log says which rank and what); #LOOM_ESTATE if MPI's thread level
 *         is below MPI_THREAD_SERIALIZED or the job has only one rank;
 *         #LOOM_EMPI, #LOOM_ENOMEM, #LOOM_ESYS.
 */
LOOM_EXTERN loom_err loom_job_start(loom_job *job);

/** \brief This process's rank in the job's communicator. */
LOOM_EXTERN int loom_job_rank(const loom_job *job);
/** \brief Number of ranks (master + workers). */
LOOM_EXTERN int loom_job_size(const loom_job *job);
/**
 * \brief Workers declared lost — silent for longer than `job.worker_timeout`
 *        (killed, hung, their node or link gone: MPI does not tell). Their
 *        tasks in flight ran again on the others.
 *
 * On the master, the count so far; on a worker, what the master told it
 * when the job stopped (0 before). When it is not 0 after the job, do not
 * call MPI_Finalize(): Open MPI 4.1 may wait there for the dead rank
 * forever. Return from main() instead (run under `mpirun
 * --enable-recovery`, or Open MPI ends the whole job when a rank dies).
 * Call it before loom_job_destroy(). Any thread.
 */
LOOM_EXTERN int loom_job_workers_lost(const loom_job *job);
/** \brief 1 on rank 0. */
LOOM_EXTERN int loom_job_is_master(const loom_job *job);
/** \brief Pool threads of a worker rank; on the master, the sum over the
 *         workers connected so far (0 before the first says hello). */
LOOM_EXTERN unsigned loom_job_threads(const loom_job *job);

/**
 * \brief Worker: run tasks until the master finishes the job.
 * \return #LOOM_OK when the master ended the job; #LOOM_ESTATE on the
 *         master or before start; #LOOM_EMPI.
 * \note Blocks. Call from the thread that called loom_job_start().
 */
LOOM_EXTERN loom_err loom_job_serve(loom_job *job);

/**
 * \brief Master: submit a task (copies the payload).
 * \param[in]  fn          a registered name.
 * \param[in]  timeout_ms  how long to wait while the job is at
 *                         `job.max_outstanding`: #LOOM_NOWAIT, ms, #LOOM_FOREVER.
 * \param[out] id          may be NULL; the task's id (from 1, increasing).
 * \return #LOOM_OK, #LOOM_ENOFUNC, #LOOM_EFULL (timed out at the bound),
 *         #LOOM_ESTATE (not the master, or after finish), #LOOM_ERANGE
 *         (payload above `job.max_payload`), #LOOM_ENOMEM.
 * \note Master only, any thread.
 */
LOOM_EXTERN loom_err loom_job_submit(loom_job *job, const char *fn, const void *payload, size_t len,
                                     int timeout_ms, uint64_t *id);

/**
 * \brief Master: loom_job_submit() for a task that should rather not run on
 *        worker `avoid_rank` — a retry of an attempt that failed there.
 *
 * The task goes to another worker when one asks for work. It may still run
 * on `avoid_rank` when no other worker is connected, or after it has
 * waited a second for one (busy with long tasks): a preference, never a
 * stall. With one worker, or `avoid_rank` not a worker rank, this is
 * loom_job_submit().
 * \return as loom_job_submit().
 */
LOOM_EXTERN loom_err loom_job_submit_avoiding(loom_job *job, const char *fn, const void *payload,
                                              size_t len, int avoid_rank, int timeout_ms,
                                              uint64_t *id);

/** loom_job_submit_flags(): run the task in a child process of its worker
 *  (see "Isolated tasks" there). */
#define LOOM_TASK_ISOLATED 1u
/** loom_job_submit_flags(): run the task in a pool thread even when
 *  `job.isolate` is on. */
#define LOOM_TASK_IN_THREAD 2u

/**
 * \brief Master: loom_job_submit() with per-task flags.
 *
 * Isolated tasks. With #LOOM_TASK_ISOLATED (or `job.isolate = true` in the
 * config for every task without #LOOM_TASK_IN_THREAD) the worker runs the
 * function in a helper process: a segfault, abort(), exit(), a run longer
 * than `task.timeout` or resident memory above `task.memory_limit` ends the
 * task with loom_result.cause SIGNAL, EXIT, TIMEOUT or MEMORY (status -1)
 * and the worker rank goes on with the next task. Each pool thread keeps
 * one helper, started from the program's own executable (exec, not a bare
 * fork of the MPI process) and restarted after a death, so a helper is
 * paid for once per thread and crash, not per task. What differs for the
 * function (`task.isolate_mode = "helper"`, the default):
 *  - it runs in a process where main() never ran: globals hold their
 *    initial values, MPI is not initialised; the `user` pointer given to
 *    loom_job_register() must be NULL or point into static storage of the
 *    program or a library (it is translated), else the task ends with
 *    cause ISOLATION;
 *  - loom_task_payload/arg/reply/id/attempt/job work as usual
 *    (loom_job_rank(loom_task_job(t)) included); loom_task_submit() and
 *    the named-queue calls return #LOOM_ESTATE;
 *  - a map chunk (loom_job_map) runs as one isolated task: a crash fails
 *    every input of the chunk.
 * With `task.isolate_mode = "fork"` each task runs in a fork() of the
 * worker instead (sees main()'s state, costs a fork per task; must not call
 * MPI or anything whose lock another thread may have held at the fork).
 * \param flags #LOOM_TASK_ISOLATED, #LOOM_TASK_IN_THREAD or 0 (the job's
 *        default); both: #LOOM_EINVAL.
 * \return as loom_job_submit(); #LOOM_EINVAL for unknown flags.
 * \note Master only, any thread.
 */
LOOM_EXTERN loom_err loom_job_submit_flags(loom_job *job, const char *fn, const void *payload,
                                           size_t len, unsigned flags, int timeout_ms,
                                           uint64_t *id);

/** \brief loom_job_submit() with an int64 payload (see loom_task_arg_i64()). */
LOOM_EXTERN loom_err loom_job_submit_i64(loom_job *job, const char *fn, int64_t value,
                                         int timeout_ms, uint64_t *id);
/** \brief loom_job_submit() with a double payload. */
LOOM_EXTERN loom_err loom_job_submit_double(loom_job *job, const char *fn, double value,
                                            int timeout_ms, uint64_t *id);
/** \brief loom_job_submit() with a NUL-terminated string payload (the NUL is sent). */
LOOM_EXTERN loom_err loom_job_submit_str(loom_job *job, const char *fn, const char *value,
                                         int timeout_ms, uint64_t *id);

/**
 * \brief Master: the next result to arrive, in completion order.
 * \param[out] out filled on #LOOM_OK; release with loom_result_free().
 * \return #LOOM_OK; #LOOM_ETIMEDOUT; #LOOM_EDRAINED when no task is
 *         outstanding and none can appear (nothing submitted and not yet
 *         consumed, no task running that could submit more); #LOOM_ESTATE
 *         on a worker.
 * \note Results of tasks that have a future go to the future instead.
 */
LOOM_EXTERN loom_err loom_job_next_result(loom_job *job, int timeout_ms, loom_result *out);

/**
 * \brief Master: submit a task and get a future for its result.
 * \return as loom_job_submit(); on success *future must be released.
 */
LOOM_EXTERN loom_err loom_job_submit_future(loom_job *job, const char *fn, const void *payload,
                                            size_t len, int timeout_ms, loom_job_future **future);

/**
 * \brief Wait for a future's result.
 * \param[out] out on #LOOM_OK a copy the caller frees with loom_result_free().
 * \return #LOOM_OK, #LOOM_ETIMEDOUT (wait again later).
 */
LOOM_EXTERN loom_err loom_job_future_wait(loom_job_future *future, int timeout_ms,
                                          loom_result *out);

/** \brief Release a future. Accepts NULL. Release every future before
 *         loom_job_destroy(): the future refers to its job's master. */
LOOM_EXTERN void loom_job_future_release(loom_job_future *future);

/**
 * \brief Master: run `fn` over n payloads and store the results in order.
 *
 * Payloads are grouped into chunks (many inputs per task message, spread
 * over all workers' threads), so per-input cost is a few copies, not a
 * round trip.
 * \param[in]  inputs, lens  n payloads (lens[i] bytes at inputs[i]).
 * \param[out] results       n results, in input order; free each.
 * \return #LOOM_OK when all have returned; errors as loom_job_submit().
 * \note Blocks. Results of other tasks arriving meanwhile stay queued for
 *       loom_job_next_result().
 */
LOOM_EXTERN loom_err loom_job_map(loom_job *job, const char *fn, const void *const *inputs,
                                  const size_t *lens, size_t n, loom_result *results);

/**
 * \brief Master: wait until every task has finished (results not consumed
 *        are dropped), then stop the workers and wait until each has left
 *        loom_job_serve(). Named queues are served until then.
 * \return #LOOM_OK, #LOOM_ESTATE on a worker, #LOOM_EMPI.
 */
LOOM_EXTERN loom_err loom_job_finish(loom_job *job);

/**
 * \brief Stop loom's threads and free the job. On the master, calls
 *        loom_job_finish() if it was not called. Accepts NULL. The
 *        duplicated communicator is freed; MPI stays initialised.
 */
LOOM_EXTERN void loom_job_destroy(loom_job *job);

/**
 * \brief Release a result's data and zero it. Accepts NULL. Results point
 *        into the message that carried them (no copy), so this is the only
 *        way to release one; copy `data` to keep it longer.
 */
LOOM_EXTERN void loom_result_free(loom_result *res);

/** \brief The result's data as an int64 (#LOOM_EINVAL if it is not 8 bytes). */
LOOM_EXTERN loom_err loom_result_i64(const loom_result *res, int64_t *out);
/** \brief The result's data as a double (#LOOM_EINVAL if it is not 8 bytes). */
LOOM_EXTERN loom_err loom_result_double(const loom_result *res, double *out);

/* ---- inside a task -------------------------------------------------------- */

/** \brief The task's payload (valid during the call) and its length. */
LOOM_EXTERN const void *loom_task_payload(const loom_task *task, size_t *len);
/** \brief The payload as an int64 (#LOOM_EINVAL if it is not 8 bytes). */
LOOM_EXTERN loom_err loom_task_arg_i64(const loom_task *task, int64_t *out);
/** \brief The payload as a double (#LOOM_EINVAL if it is not 8 bytes). */
LOOM_EXTERN loom_err loom_task_arg_double(const loom_task *task, double *out);
/** \brief The payload as a string (#LOOM_EINVAL unless NUL-terminated). */
LOOM_EXTERN loom_err loom_task_arg_str(const loom_task *task, const char **out);

/** \brief Set the task's reply (copied; a later call replaces it). */
LOOM_EXTERN loom_err loom_task_reply(loom_task *task, const void *data, size_t len);
/** \brief Reply with an int64. */
LOOM_EXTERN loom_err loom_task_reply_i64(loom_task *task, int64_t value);
/** \brief Reply with a double. */
LOOM_EXTERN loom_err loom_task_reply_double(loom_task *task, double value);
/** \brief Reply with a NUL-terminated string. */
LOOM_EXTERN loom_err loom_task_reply_str(loom_task *task, const char *value);

/** \brief The task's id (as returned to the master by submit). */
LOOM_EXTERN uint64_t loom_task_id(const loom_task *task);
/** \brief Attempt number, from 1. */
LOOM_EXTERN unsigned loom_task_attempt(const loom_task *task);
/** \brief The job the task runs in (for loom_job_rank(), loom_job_threads()). */
LOOM_EXTERN loom_job *loom_task_job(const loom_task *task);
/** \brief The running thread's context (name, index, rank, host, slots). */
LOOM_EXTERN loom_context *loom_task_context(const loom_task *task);

/**
 * \brief Submit a new task from inside a task (tree searches, directory
 *        walks). The job does not end while it is outstanding; its result
 *        reaches the master like any other.
 * \return #LOOM_OK, #LOOM_ENOFUNC, #LOOM_ERANGE, #LOOM_ENOMEM;
 *         #LOOM_ESTATE inside an isolated task.
 */
LOOM_EXTERN loom_err loom_task_submit(loom_task *task, const char *fn, const void *payload,
                                      size_t len);

#endif /* LOOM_JOB_H */
