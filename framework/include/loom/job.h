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
 * delay; no message between them exceeds `job.max_frame` (a batch that
 * would is cut in two). Every task's result is delivered exactly once to
 * the master. A task may submit further tasks; the job ends only when no
 * task is left.
 *
 * The master's memory grows with the tasks in flight, not with the tasks
 * submitted so far: submissions wait while `job.max_outstanding` tasks are
 * unfinished (their result not arrived yet). Results that have arrived
 * never hold a waiting submission back, so one thread may submit
 * everything first and take the results afterwards: the master keeps up
 * to `job.max_outstanding` results not taken yet in memory and the rest in
 * a temporary file ($TMPDIR, else /tmp; unlinked, emptied whenever the
 * last is taken). Taking results while submitting — loom_job_next_result()
 * with #LOOM_NOWAIT after each submit, as the README's program does —
 * keeps that file empty: the pattern that scales to any number of tasks.
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

/** \brief A distributed job (opaque). One per communicator; created with
 *         loom_job_create(), owned by the caller until loom_job_destroy(). */
typedef struct loom_job loom_job;

/** \brief A running task, handed to its function (opaque; owned by loom,
 *         valid during the call only). */
typedef struct loom_task loom_task;

/** \brief A master-side handle on one task's result (opaque), from
 *         loom_job_submit_future(); the caller releases it. */
typedef struct loom_job_future loom_job_future;

/**
 * \brief A task function. Runs on a pool thread of a worker rank, never on
 *        the master; it must not call MPI (loom's threads own it).
 * \param task  the task: its payload, its context, its reply.
 * \param user  the pointer given to loom_job_register().
 * \return 0 for success; any other value is the task's failure status,
 *         delivered in loom_result.status. A task that returns 0 after a
 *         refused loom_task_submit(), or after a refused loom_task_reply()
 *         that no later successful reply replaced, fails all the same:
 *         status -1, cause #LOOM_CAUSE_FAILED, cause_code the refusal's
 *         #loom_err (a map input: status -1 only). Returning non-zero is
 *         how a task says it handled the refusal: its own status stands.
 */
typedef int (*loom_task_fn)(loom_task *task, void *user);

/**
 * Why a task ended as it did (loom_result.cause). Values are append-only.
 * Only isolated tasks (see loom_job_submit_flags() and `job.isolate`) can
 * end with SIGNAL, EXIT, TIMEOUT, MEMORY or ISOLATION: an in-thread task
 * that crashes takes its worker rank with it. A task that never ran to its
 * end because no worker was left is LOST.
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
    LOOM_CAUSE_LOST = 7,      /**< never finished: every worker was lost first */
} loom_cause;

/**
 * \brief Short lower-case name of a cause, for logs and reports.
 * \param cause any value, known to this version or not.
 * \return "ok", "failed", "signal", "exit", "timeout", "memory",
 *         "isolation", "lost", or "unknown"; a static string.
 * \note Any thread; never fails.
 */
LOOM_EXTERN const char *loom_cause_name(loom_cause cause);

/** \brief The outcome of one task, as the master receives it. Its data
 *         belongs to it until loom_result_free(). */
typedef struct loom_result {
    uint64_t id;      /**< the id submit returned */
    int status;       /**< the task function's return value (0 = success);
                           -1 when an isolated task did not return */
    unsigned attempt; /**< attempt that produced it, from 1 */
    int rank;         /**< worker rank that ran it; -1 when it did not run */
    void *data;       /**< reply bytes (NULL when len is 0); owned by the result:
                           release with loom_result_free(), never free() */
    size_t len;       /**< reply length */
    int resumed;      /**< 1: not run in this job — the journal being resumed
                           had it succeeded; status 0, no reply data */
    void *loom__buf;  /**< private: the received message data points into */
    loom_cause cause; /**< why it ended: OK exactly when status is 0 */
    int cause_code;   /**< the signal (SIGNAL) or exit code (EXIT); FAILED
                           with status -1: the #loom_err of the refused
                           loom_task_reply()/loom_task_submit() that failed
                           a task returning 0 (see loom_task_fn), or 0 */
    const char *host; /**< host name of the worker that ran it (its
                           loom_context_host(), at most 255 bytes); points
                           into the job, valid until loom_job_destroy().
                           "" when it did not run (resumed, LOST) */
    int slot;         /**< the worker's pool thread that ran it, from 1
                           (its loom_context_index() + 1: `Worker-<slot>`);
                           0 when it did not run */
    int64_t start_ns; /**< when the attempt started: Unix time in ns on the
                           worker's wall clock (CLOCK_REALTIME), so starts
                           on several nodes compare as well as their clocks
                           agree; 0 when it did not run */
    int64_t run_ns;   /**< how long the task function ran, ns (an isolated
                           task: in its helper process, hand-over included;
                           a loom_job_map() input: its whole chunk); 0 when
                           it did not run. Tasks a thread runs back to back
                           are timed with one clock read each, end to end,
                           so loom's few tens of ns between two of them
                           count in the second */
} loom_result;

/** \brief Options of loom_job_create(). Zero-initialise, then set what you
 *         need. Read during create (journal path and title copied); not
 *         kept. */
typedef struct loom_job_opts {
    /** Settings (pool.threads, job.*); read during create only. NULL: the
     *  built-in defaults, the `$LOOM_CONFIG` file and the `LOOM_*`
     *  variables, as loom_config_load(cfg, NULL, NULL) reads them (and
     *  `log.level` applied when one of them sets it). */
    const loom_config *config;
    /** Master: a journal file of finished attempts (see "The journal and
     *  resume" in docs/jobs.md): one checksummed record per attempt,
     *  written before the result is delivered. NULL: none. */
    const char *journal;
    /** With journal: 1 = resume — tasks the journal has as succeeded (same
     *  id, same function and payload) are not run again; their result comes
     *  back at once with `resumed` set and no reply data. 0 = start a new
     *  journal (an existing one is replaced). */
    int resume;
    /** Master: also accept workers of jobs started later and separately
     *  (`loom_job_opts.join`). At start the master writes DIR/loom.join
     *  (mode 0600; DIR is created 0700) with its MPI port and a fresh
     *  random key, accepts joining jobs on a thread of its own (needs
     *  MPI_THREAD_MULTIPLE) and removes the file at the end. The job then
     *  runs with any number of workers, even none, and losing all of them
     *  does not fail its tasks: they wait for the next to join. Both
     *  mpiruns must be given the same `--ompi-server` (see
     *  docs/joining.md). NULL: no joins. */
    const char *serve;
    /** This job has no master of its own: every rank is a worker of the
     *  running job whose join file is in DIR (or is the file DIR names).
     *  loom_job_start() connects, proves the key (mutual HMAC-SHA256
     *  challenge–response) and gets worker ranks from the master; then the
     *  ranks run loom_job_serve() like any worker. NULL: a normal job. */
    const char *join;
    /** With join: how long connecting and the handshake may take, in ms
     *  (0: 20000). A master that has gone away never answers: after this
     *  time start fails with #LOOM_ETIMEDOUT and, since a thread stays
     *  inside MPI_Comm_connect, the process must end without MPI_Finalize
     *  (loom_job_master_lost() says so). */
    int join_timeout_ms;
    /** What the job runs, as its events (`job.events`: run_start's `tasks`)
     *  and its report (`job.report`: the heading) name it; copied. NULL:
     *  the program's command line. */
    const char *title;
    /** 1: the attempts in `job.events` and `job.report` are the program's
     *  own, recorded with loom_job_record_attempt() (loom/events.h), and
     *  the job records none itself (workers joining and lost it still
     *  does). 0: the job records every attempt of every task. */
    int own_attempts;
} loom_job_opts;

/**
 * \brief Create a job on a duplicate of `comm`. Not collective yet.
 * \param comm       the communicator of every rank of the job (usually
 *                   MPI_COMM_WORLD); duplicated, the caller keeps it.
 * \param[in] opts   may be NULL for defaults; not kept.
 * \param[out] out   the job, owned by the caller: loom_job_destroy() it.
 *                   Untouched on error.
 * \return #LOOM_OK, #LOOM_ESTATE if MPI is not initialised, #LOOM_EMPI,
 *         #LOOM_ENOMEM, #LOOM_ECONFIG (bad settings in opts->config or,
 *         without one, in `$LOOM_CONFIG` or a `LOOM_*` variable; settings
 *         that contradict each other; the log says why),
 *         #LOOM_EINVAL if opts sets both `serve` and `join`.
 * \note Every rank of comm must call it: MPI_Comm_dup() is collective and
 *       may wait for the others (loom itself sends nothing yet). Call from
 *       the thread that will call loom_job_start(), after MPI_Init_thread().
 */
LOOM_EXTERN loom_err loom_job_create(MPI_Comm comm, const loom_job_opts *opts, loom_job **out);

/**
 * \brief Register a task function under a name (at most 63 bytes). Every
 *        rank must register the same names in the same order before start.
 * \param[in] job  a job not yet started.
 * \param[in] name the name tasks are submitted under; copied.
 * \param[in] fn   the task function.
 * \param[in] user passed to every call of fn; stays the caller's and must
 *                 outlive the job.
 * \note Never blocks. The thread that created the job.
 * \return #LOOM_OK, #LOOM_EINVAL (bad or duplicate name), #LOOM_ESTATE
 *         after start, #LOOM_ERANGE (more than 4096 functions).
 */
LOOM_EXTERN loom_err loom_job_register(loom_job *job, const char *name, loom_task_fn fn,
                                       void *user);

/**
 * \brief Start the job: collective over the communicator. Checks that every
 *        rank runs the same binary (ELF build id) with the same registrations
 *        and that MPI gives enough thread support, then starts the master's
 *        progress thread or a worker's communication thread and pool. A
 *        worker runs no task before loom_job_serve().
 * \param[in] job a created job, its functions registered.
 * \note Blocks until every rank has called it (collective). A joining job
 *       (`loom_job_opts.join`) is collective over its own ranks only and
 *       also waits for the master's answer, `join_timeout_ms` at most. Call
 *       from the thread that created the job; loom then owns MPI on its
 *       own thread.
 * \return #LOOM_OK; #LOOM_EMISMATCH on every rank if ranks differ (the
 *         log says which rank and what); #LOOM_ESTATE if MPI's thread level
 *         is below MPI_THREAD_SERIALIZED (MPI_THREAD_MULTIPLE with `serve`)
 *         or the job has only one rank (allowed with `serve`);
 *         #LOOM_EMPI, #LOOM_ENOMEM, #LOOM_ESYS. When the master cannot
 *         prepare — open its journal, create the `job.events` or
 *         `job.report` file (#LOOM_ECONFIG) — every rank returns the
 *         master's error, its log says why, and no task runs.
 *         Joining, every rank returns the same of: #LOOM_ENOTFOUND (no
 *         join file), #LOOM_EINVAL (a join file loom refuses: readable by
 *         others, a symbolic link, another owner), #LOOM_EPROTO (a corrupt
 *         join file or a malformed answer), #LOOM_ECLOSED (its master has
 *         ended), #LOOM_EAUTH (the key was refused), #LOOM_EMISMATCH (the
 *         master runs another program), #LOOM_ETIMEDOUT (no answer in
 *         time), #LOOM_ESYS; the log says why.
 */
LOOM_EXTERN loom_err loom_job_start(loom_job *job);

/**
 * \brief This process's rank in the job: 0 is the master, workers 1 and up.
 *        Ranks of a joined job (`loom_job_opts.join`) follow the job's own
 *        and are known once loom_job_start() has returned.
 * \param[in] job the job.
 * \return the rank. Never blocks, any thread.
 */
LOOM_EXTERN int loom_job_rank(const loom_job *job);
/**
 * \brief Number of ranks (master + workers). On a serving master
 *        (`loom_job_opts.serve`) it grows as jobs join (ranks that left
 *        still count); on a joined worker it is what the master had when
 *        it joined.
 * \param[in] job the job.
 * \return the number of ranks. Never blocks, any thread.
 */
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
 * --enable-recovery`, or Open MPI ends the whole job when a rank dies);
 * loom then ends mpirun (loom_job_destroy()).
 * Call it before loom_job_destroy(). Any thread.
 * \param[in] job the job.
 * \return the number of workers lost (0 if none). Never blocks.
 */
LOOM_EXTERN int loom_job_workers_lost(const loom_job *job);
/**
 * \brief This worker lost its master: it went silent for longer than
 *        `job.worker_timeout` while the job ran (it died, hangs, its link
 *        is gone, or it ended without this worker: loom_job_serve() then
 *        returned #LOOM_ETIMEDOUT); or, for a joined job
 *        (`loom_job_opts.join`), it never answered the join (start failed
 *        with #LOOM_ETIMEDOUT).
 *
 * When it is not 0, do not call MPI_Finalize(): it may wait for the master
 * forever. Call it before loom_job_destroy(). Any thread.
 * \param[in] job the job.
 * \return 1 or 0. Never blocks.
 */
LOOM_EXTERN int loom_job_master_lost(const loom_job *job);
/**
 * \brief Whether this process is the master.
 * \param[in] job the job.
 * \return 1 on rank 0, else 0. Never blocks, any thread.
 */
LOOM_EXTERN int loom_job_is_master(const loom_job *job);
/**
 * \brief Pool threads of a worker rank; on the master, the sum over the
 *        workers connected so far (0 before the first says hello).
 * \param[in] job the job.
 * \return the thread count. Never blocks, any thread.
 */
LOOM_EXTERN unsigned loom_job_threads(const loom_job *job);

/**
 * \brief Worker: run tasks until the master finishes the job — or tells
 *        this worker to leave because it had declared it lost (it was
 *        silent past `job.worker_timeout`, e.g. stopped, and came back),
 *        or goes silent itself for longer than `job.worker_timeout` (the
 *        master pings every `job.heartbeat`).
 *
 * No task runs on a worker before it calls loom_job_serve(): what its
 * main thread prepares between loom_job_start() and here (globals the
 * tasks read, per-process resources) is ready before the first task, with
 * no lock. Until then the worker asks for no task; the master's tasks run
 * on workers that serve, or wait for one (its submissions may then block
 * at `job.max_outstanding`), and a master that waits for results while
 * the worker waits for the master deadlocks. Queue calls work before
 * serve. A worker destroyed without serving serves in loom_job_destroy()
 * until the master finishes. The same holds for a joined job's workers.
 * \param[in] job a started job, on a worker rank.
 * \return #LOOM_OK when the master ended the job or told it to leave;
 *         #LOOM_ETIMEDOUT when the master went silent
 *         (loom_job_master_lost() is then 1: skip MPI_Finalize());
 *         #LOOM_ESTATE on the master or before start; #LOOM_EMPI.
 * \note Blocks. Call from the thread that called loom_job_start().
 */
LOOM_EXTERN loom_err loom_job_serve(loom_job *job);

/**
 * \brief Master: submit a task (copies the payload).
 * \param[in]  job         a started job, on the master.
 * \param[in]  fn          a registered name.
 * \param[in]  payload     len bytes handed to the task; copied, stays the
 *                         caller's. May be NULL when len is 0.
 * \param      len         payload size in bytes (at most `job.max_payload`).
 * \param[in]  timeout_ms  how long to wait while `job.max_outstanding`
 *                         tasks are unfinished: ms or #LOOM_FOREVER; or
 *                         #LOOM_NOWAIT: #LOOM_EFULL at once when that many
 *                         are unfinished or their results not taken yet
 *                         (take some, then submit again).
 * \param[out] id          may be NULL; the task's id (from 1, increasing).
 * \return #LOOM_OK, #LOOM_ENOFUNC, #LOOM_EFULL (timed out at the bound),
 *         #LOOM_ESTATE (not the master, or after finish), #LOOM_ERANGE
 *         (payload above `job.max_payload`), #LOOM_ENOMEM, #LOOM_ECLOSED
 *         (every worker was lost, before or while it waited: nothing can
 *         run it; the tasks that were waiting came back with status -1 and
 *         the log says so), #LOOM_EMISMATCH (resuming a journal that has
 *         another task under this id).
 * \note Blocks while `job.max_outstanding` tasks are unfinished (up to
 *       timeout_ms), until one finishes: results not taken yet never make
 *       it wait (see the top of this file), so submitting every task with
 *       #LOOM_FOREVER before taking a result ends. Master only, any thread.
 */
LOOM_EXTERN loom_err loom_job_submit(loom_job *job, const char *fn, const void *payload, size_t len,
                                     int timeout_ms, uint64_t *id);

/**
 * \brief Master: loom_job_submit() for a task that should rather not run on
 *        worker `avoid_rank` — a retry of an attempt that failed there.
 *
 * The task goes to another worker when one asks for work. It may still run
 * on `avoid_rank` when every other worker has left or was lost, or after it has
 * waited a second for one (busy with long tasks): a preference, never a
 * stall. With one worker, or `avoid_rank` not a worker rank, this is
 * loom_job_submit().
 * \param      job, fn, payload, len, timeout_ms, id as for loom_job_submit().
 * \param      avoid_rank  the worker rank to keep the task away from.
 * \return as loom_job_submit().
 * \note Blocks as loom_job_submit(). Master only, any thread.
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
 *    the named-queue calls return #LOOM_ESTATE (a refused submit fails
 *    the task unless it returns non-zero, as in a thread);
 *  - a map chunk (loom_job_map) runs as one isolated task: a crash fails
 *    every input of the chunk.
 * With `task.isolate_mode = "fork"` each task runs in a fork() of the
 * worker instead (sees main()'s state, costs a fork per task; must not call
 * MPI or anything whose lock another thread may have held at the fork).
 * \param      job, fn, payload, len, timeout_ms, id as for loom_job_submit().
 * \param      flags #LOOM_TASK_ISOLATED, #LOOM_TASK_IN_THREAD or 0 (the
 *                   job's default); both: #LOOM_EINVAL.
 * \return as loom_job_submit(); #LOOM_EINVAL for unknown flags.
 * \note Blocks as loom_job_submit(). Master only, any thread.
 */
LOOM_EXTERN loom_err loom_job_submit_flags(loom_job *job, const char *fn, const void *payload,
                                           size_t len, unsigned flags, int timeout_ms,
                                           uint64_t *id);

/**
 * \brief loom_job_submit() with an int64 payload (see loom_task_arg_i64()).
 * \param      job, fn, timeout_ms, id as for loom_job_submit().
 * \param      value the payload (8 bytes, host byte order).
 * \return as loom_job_submit(). Blocks as it; master only, any thread.
 */
LOOM_EXTERN loom_err loom_job_submit_i64(loom_job *job, const char *fn, int64_t value,
                                         int timeout_ms, uint64_t *id);
/**
 * \brief loom_job_submit() with a double payload (see loom_task_arg_double()).
 * \param      job, fn, timeout_ms, id as for loom_job_submit().
 * \param      value the payload (8 bytes).
 * \return as loom_job_submit(). Blocks as it; master only, any thread.
 */
LOOM_EXTERN loom_err loom_job_submit_double(loom_job *job, const char *fn, double value,
                                            int timeout_ms, uint64_t *id);
/**
 * \brief loom_job_submit() with a NUL-terminated string payload (the NUL is
 *        sent; see loom_task_arg_str()).
 * \param      job, fn, timeout_ms, id as for loom_job_submit().
 * \param[in]  value the string; copied.
 * \return as loom_job_submit(). Blocks as it; master only, any thread.
 */
LOOM_EXTERN loom_err loom_job_submit_str(loom_job *job, const char *fn, const char *value,
                                         int timeout_ms, uint64_t *id);

/**
 * \brief Master: the next result to arrive, in completion order.
 * \param[in]  job        a started job, on the master.
 * \param      timeout_ms #LOOM_NOWAIT, ms, or #LOOM_FOREVER.
 * \param[out] out filled on #LOOM_OK; release with loom_result_free().
 * \return #LOOM_OK; #LOOM_ETIMEDOUT; #LOOM_EDRAINED when no task is
 *         outstanding and none can appear (nothing submitted and not yet
 *         consumed, no task running that could submit more); #LOOM_ESTATE
 *         on a worker; #LOOM_ESYS when a result kept in the temporary file
 *         could not be read back (the log says why; that result is lost,
 *         call again for the next).
 * \note Blocks up to timeout_ms. Master only, any thread (each result goes
 *       to one caller). Results of tasks that have a future go to the
 *       future instead.
 */
LOOM_EXTERN loom_err loom_job_next_result(loom_job *job, int timeout_ms, loom_result *out);

/**
 * \brief Master: submit a task and get a future for its result.
 * \param[in]  job, fn, payload, len, timeout_ms as for loom_job_submit().
 * \param[out] future receives the future on #LOOM_OK; the caller owns it and
 *             must loom_job_future_release() it before loom_job_destroy().
 * \return as loom_job_submit(); on success *future must be released.
 * \note Blocks as loom_job_submit(). Master only, any thread.
 */
LOOM_EXTERN loom_err loom_job_submit_future(loom_job *job, const char *fn, const void *payload,
                                            size_t len, int timeout_ms, loom_job_future **future);

/**
 * \brief Wait for a future's result.
 * \param[in]  future     from loom_job_submit_future(); still to be released.
 * \param      timeout_ms #LOOM_NOWAIT, ms, or #LOOM_FOREVER.
 * \param[out] out on #LOOM_OK a copy the caller frees with loom_result_free().
 * \return #LOOM_OK, #LOOM_ETIMEDOUT (wait again later), #LOOM_ENOMEM (the
 *         reply could not be copied; wait again later).
 * \note Blocks up to timeout_ms. Master, any thread; a future may be waited
 *       on more than once (each #LOOM_OK gives a new copy).
 */
LOOM_EXTERN loom_err loom_job_future_wait(loom_job_future *future, int timeout_ms,
                                          loom_result *out);

/**
 * \brief Release a future. Release every future before loom_job_destroy():
 *        the future refers to its job's master.
 * \param[in] future the future, or NULL (nothing happens); invalid afterwards.
 * \note Cannot fail, never blocks. Master, any thread.
 */
LOOM_EXTERN void loom_job_future_release(loom_job_future *future);

/**
 * \brief Master: run `fn` over n payloads and store the results in order.
 *
 * Payloads are grouped into chunks (many inputs per task message, spread
 * over all workers' threads), so per-input cost is a few copies, not a
 * round trip.
 * \param[in]  job           a started job, on the master.
 * \param[in]  fn            a registered name.
 * \param[in]  inputs        n payloads (inputs[i] has lens[i] bytes);
 *                           copied, they stay the caller's.
 * \param[in]  lens          n payload sizes.
 * \param      n             number of inputs (0 returns at once).
 * \param[out] results       n results, in input order; the caller owns each
 *                           and frees it with loom_result_free().
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
 * \param[in] job a started job, on the master.
 * \return #LOOM_OK, #LOOM_ESTATE on a worker or before start, #LOOM_ESYS
 *         if the journal could not be written (what was not recorded runs
 *         again on resume), #LOOM_EMPI.
 * \note Blocks until every worker has left. Master; call from one thread
 *       once no other thread submits.
 */
LOOM_EXTERN loom_err loom_job_finish(loom_job *job);

/**
 * \brief Stop loom's threads and free the job. On the master, calls
 *        loom_job_finish() if it was not called. The duplicated
 *        communicator is freed; MPI stays initialised.
 * \param[in] job the job, or NULL (nothing happens); invalid afterwards.
 *            Release futures and queue handles first.
 *
 * Results the program was given that hold reply data and were not
 * released with loom_result_free() are counted: destroy logs a warning
 * saying how many (a leak checker would blame loom's receive). They stay
 * valid, and may still be released after destroy.
 *
 * On a master that lost workers on other hosts than its own, started by
 * Open MPI's mpirun as its child (mpirun runs on the master's node): mpirun
 * would wait for the lost ranks until its `--timeout`, so when this
 * process exits (exit() or a return from main(), not _exit()) loom logs a
 * warning, waits until mpirun has read its output, and ends mpirun with
 * two stop signals: mpirun exits 1 at once, whatever this process's exit
 * status. Anything else the program wrote is flushed first. Nothing
 * changes when no worker was lost, or only on the master's host.
 * \note Blocks until loom's threads end (and, on the master, as
 *       loom_job_finish()). Cannot fail. The thread that created the job,
 *       before MPI_Finalize().
 */
LOOM_EXTERN void loom_job_destroy(loom_job *job);

/**
 * \brief Release a result's data and zero it. Results point into the
 *        message that carried them (no copy), so this is the only way to
 *        release one; copy `data` to keep it longer.
 * \param[in,out] res the result, or NULL (nothing happens); the struct
 *                itself stays the caller's storage.
 * \note Cannot fail, never blocks, any thread; also after
 *       loom_job_destroy() of the job it came from.
 */
LOOM_EXTERN void loom_result_free(loom_result *res);

/**
 * \brief The result's data as an int64 (a loom_task_reply_i64() reply).
 * \param[in]  res a received result.
 * \param[out] out the value, set only on #LOOM_OK.
 * \return #LOOM_OK, or #LOOM_EINVAL if the data is not 8 bytes. Never
 *         blocks, any thread.
 */
LOOM_EXTERN loom_err loom_result_i64(const loom_result *res, int64_t *out);
/**
 * \brief The result's data as a double (a loom_task_reply_double() reply).
 * \param[in]  res a received result.
 * \param[out] out the value, set only on #LOOM_OK.
 * \return #LOOM_OK, or #LOOM_EINVAL if the data is not 8 bytes. Never
 *         blocks, any thread.
 */
LOOM_EXTERN loom_err loom_result_double(const loom_result *res, double *out);

/* ---- inside a task -------------------------------------------------------- */

/**
 * \brief The task's payload.
 * \param[in]  task the running task.
 * \param[out] len  the payload's size; may be NULL.
 * \return the payload, owned by loom and valid during the call only (NULL
 *         or any pointer when empty). Never blocks; the task's thread.
 */
LOOM_EXTERN const void *loom_task_payload(const loom_task *task, size_t *len);
/**
 * \brief The payload as an int64 (from loom_job_submit_i64()).
 * \param[in]  task the running task.
 * \param[out] out  the value, set only on #LOOM_OK.
 * \return #LOOM_OK, or #LOOM_EINVAL if the payload is not 8 bytes. Never
 *         blocks; the task's thread.
 */
LOOM_EXTERN loom_err loom_task_arg_i64(const loom_task *task, int64_t *out);
/**
 * \brief The payload as a double (from loom_job_submit_double()).
 * \param[in]  task the running task.
 * \param[out] out  the value, set only on #LOOM_OK.
 * \return #LOOM_OK, or #LOOM_EINVAL if the payload is not 8 bytes. Never
 *         blocks; the task's thread.
 */
LOOM_EXTERN loom_err loom_task_arg_double(const loom_task *task, double *out);
/**
 * \brief The payload as a string (from loom_job_submit_str()).
 * \param[in]  task the running task.
 * \param[out] out  points into the payload (valid during the call only, do
 *                  not free); set only on #LOOM_OK.
 * \return #LOOM_OK, or #LOOM_EINVAL unless the payload is NUL-terminated.
 *         Never blocks; the task's thread.
 */
LOOM_EXTERN loom_err loom_task_arg_str(const loom_task *task, const char **out);

/**
 * \brief Set the task's reply (copied; a later call replaces it). It reaches
 *        the master as loom_result.data.
 * \param[in] task the running task.
 * \param[in] data len bytes; copied, stays the caller's. May be NULL when
 *                 len is 0.
 * \param     len  reply size (at most `job.max_payload`).
 * \return #LOOM_OK, #LOOM_ERANGE (above `job.max_payload`; the reply is
 *         unchanged), #LOOM_ENOMEM. A refusal fails the task unless a later
 *         reply succeeds or the task returns non-zero (see loom_task_fn).
 * \note Never blocks; the task's thread, during the call.
 */
LOOM_EXTERN loom_err loom_task_reply(loom_task *task, const void *data, size_t len);
/**
 * \brief Reply with an int64 (read it with loom_result_i64()).
 * \param[in] task  the running task.
 * \param     value the reply.
 * \return as loom_task_reply().
 */
LOOM_EXTERN loom_err loom_task_reply_i64(loom_task *task, int64_t value);
/**
 * \brief Reply with a double (read it with loom_result_double()).
 * \param[in] task  the running task.
 * \param     value the reply.
 * \return as loom_task_reply().
 */
LOOM_EXTERN loom_err loom_task_reply_double(loom_task *task, double value);
/**
 * \brief Reply with a NUL-terminated string (the NUL is sent).
 * \param[in] task  the running task.
 * \param[in] value the string; copied. NULL gives #LOOM_EINVAL.
 * \return as loom_task_reply(), or #LOOM_EINVAL.
 */
LOOM_EXTERN loom_err loom_task_reply_str(loom_task *task, const char *value);

/**
 * \brief The task's id.
 * \param[in] task the running task.
 * \return the id submit returned to the master (loom_result.id). Never
 *         blocks; the task's thread.
 */
LOOM_EXTERN uint64_t loom_task_id(const loom_task *task);
/**
 * \brief The attempt number: a task is delivered at least once, and a retry
 *        (its worker lost) runs with a higher number.
 * \param[in] task the running task.
 * \return the attempt, from 1. Never blocks; the task's thread.
 */
LOOM_EXTERN unsigned loom_task_attempt(const loom_task *task);
/**
 * \brief The job the task runs in (for loom_job_rank(), loom_job_threads()).
 * \param[in] task the running task.
 * \return the job; owned by the program, not to be destroyed by the task.
 */
LOOM_EXTERN loom_job *loom_task_job(const loom_task *task);
/**
 * \brief The running thread's context (name, index, rank, host, slots).
 * \param[in] task the running task.
 * \return the pool thread's context, owned by loom (as
 *         loom_context_current() on that thread).
 */
LOOM_EXTERN loom_context *loom_task_context(const loom_task *task);

/**
 * \brief Submit a new task from inside a task (tree searches, directory
 *        walks). The job does not end while it is outstanding; its result
 *        reaches the master like any other.
 * \param[in] task    the running task.
 * \param[in] fn      a registered name.
 * \param[in] payload len bytes; copied, stays the caller's. May be NULL
 *                    when len is 0.
 * \param     len     payload size (at most `job.max_payload`).
 * \return #LOOM_OK, #LOOM_ENOFUNC, #LOOM_ERANGE, #LOOM_ENOMEM;
 *         #LOOM_ESTATE inside an isolated task. A refusal fails the task
 *         unless it returns non-zero (see loom_task_fn); tasks submitted
 *         before it stand.
 * \note Never waits for room (the master's bound does not hold it back).
 *       The task's thread, during the call.
 */
LOOM_EXTERN loom_err loom_task_submit(loom_task *task, const char *fn, const void *payload,
                                      size_t len);

#endif /* LOOM_JOB_H */
