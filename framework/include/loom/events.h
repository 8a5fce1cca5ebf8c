/* SPDX-License-Identifier: MIT */
/**
 * \file loom/events.h
 * \brief What a job did, for people and tools: its events as JSON lines
 *        (`job.events`) and a self-contained HTML report (`job.report`),
 *        both written by the master.
 *
 * Set `job.events = "FILE"` and/or `job.report = "FILE.html"` (a config
 * file, `LOOM_JOB_EVENTS` / `LOOM_JOB_REPORT`, `--job-events` /
 * `--job-report`) and any job records itself; the program changes nothing:
 *
 *     LOOM_JOB_EVENTS=run.jsonl mpirun -np 3 squares --job-report run.html
 *
 * The master creates both files when the job starts: a path it cannot
 * write stops loom_job_start() with #LOOM_ECONFIG on every rank, before
 * any task runs. Events are written as the job runs by a thread of their
 * own (the progress thread only copies a few dozen bytes per attempt into
 * a buffer), each line within about 0.1 s of its event; the report is
 * written when loom_job_finish() has seen every worker leave. A write that
 * fails later (a full disk) is logged once and makes loom_job_finish()
 * return #LOOM_ESYS; the job and its results go on.
 *
 * The events, one JSON object a line, each with `event` and `time` (Unix
 * seconds, the master's clock), are `run_start`, one `attempt` per attempt
 * of a task (written when it ends), `worker_join` and `worker_lost` as
 * workers come and go, and `run_end`; docs/events.md has the schema,
 * shared with loom-run's `--events`.
 *
 * By default the job describes each attempt itself: its task id, the
 * function's name, where and when it ran, its status and cause. A program
 * that knows better what its tasks are sets loom_job_opts.own_attempts and
 * records each attempt with loom_job_record_attempt() and its totals with
 * loom_job_record_summary() — loom-run does, for its commands (line
 * numbers, command lines, exit codes and its own retries).
 */
#ifndef LOOM_EVENTS_H
#define LOOM_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "loom/common.h"
#include "loom/error.h"
#include "loom/job.h"

/** How an attempt ended, as the events' `outcome` and the report's colours
 *  say it. Values are append-only. */
typedef enum loom_outcome {
    LOOM_OUTCOME_OK = 0,      /**< succeeded ("ok") */
    LOOM_OUTCOME_FAILED = 1,  /**< failed ("failed"): loom_attempt.cause says how */
    LOOM_OUTCOME_TIMEOUT = 2, /**< ran past its time limit and was killed ("timeout") */
    LOOM_OUTCOME_KILLED = 3,  /**< stopped on purpose while running ("killed": loom-run's
                                   --halt now) */
    LOOM_OUTCOME_NOT_RUN = 4, /**< never ran ("not_run"): stopped before it started, or
                                   no worker was left (cause #LOOM_CAUSE_LOST) */
} loom_outcome;

/** \brief One attempt of a task, as the program describes it to
 *         loom_job_record_attempt(). Zero-initialise, then fill in. */
typedef struct loom_attempt {
    uint64_t seq;         /**< the task's number (`seq`): the program's own
                               (loom-run: the line number) */
    unsigned attempt;     /**< the attempt, from 1 */
    const char *host;     /**< where it ran, NUL-terminated (loom_result.host);
                               NULL is "" */
    int rank;             /**< worker rank that ran it; 0 when it did not run */
    int slot;             /**< the worker's pool thread, from 1 (loom_result.slot);
                               0 when it did not run */
    int64_t start_ns;     /**< when it started, Unix time in ns on the worker's
                               clock (loom_result.start_ns) */
    int64_t run_ns;       /**< how long it ran, ns (loom_result.run_ns) */
    int exit;             /**< its exit status: a command's (-1 after a timeout,
                               0 when a signal ended it, as GNU Parallel) or a
                               task function's status */
    int signal;           /**< the signal that ended it, 0 if none */
    int timed_out;        /**< 1 when it ran past its time limit */
    loom_outcome outcome; /**< how it ended */
    loom_cause cause;     /**< why a #LOOM_OUTCOME_FAILED or #LOOM_OUTCOME_NOT_RUN
                               one ended so; #LOOM_CAUSE_OK there means "from
                               the numbers": #LOOM_CAUSE_SIGNAL if signal is
                               set, else #LOOM_CAUSE_EXIT (a failed command),
                               or not run on purpose. Ignored otherwise. */
    int final;            /**< 1: the task's last attempt; 0: it runs again */
    const char *label;    /**< what ran, for people (`cmd`: a command line);
                               label_len bytes, any bytes (escaped when shown);
                               may be NULL when label_len is 0 */
    size_t label_len;     /**< bytes of label */
} loom_attempt;

/** \brief The totals of a run (the events' `run_end`, the report's
 *         summary), as the program counts them. */
typedef struct loom_run_summary {
    int status;          /**< the program's exit status */
    uint64_t tasks;      /**< tasks (not attempts) the run had */
    uint64_t succeeded;  /**< tasks that succeeded */
    uint64_t failed;     /**< tasks that failed after their retries */
    uint64_t retried;    /**< attempts that were run again */
    uint64_t timeouts;   /**< tasks whose last attempt timed out */
    uint64_t killed;     /**< tasks killed on purpose */
    uint64_t not_run;    /**< tasks that never ran */
    uint64_t skipped;    /**< tasks skipped (done in an earlier run) */
    uint64_t unrecorded; /**< tasks whose result could not be recorded */
} loom_run_summary;

/**
 * \brief Short lower-case name of an outcome ("ok", "failed", "timeout",
 *        "killed", "not_run"; "unknown" for other values).
 * \param outcome any value.
 * \return a static string. Never blocks, any thread, cannot fail.
 */
LOOM_EXTERN const char *loom_outcome_name(loom_outcome outcome);

/**
 * \brief Master: add one attempt to the job's events and report, in a job
 *        created with loom_job_opts.own_attempts.
 * \param[in] job a started job, on the master.
 * \param[in] a   the attempt; copied (host, label included), stays the
 *                caller's.
 * \return #LOOM_OK (also when neither `job.events` nor `job.report` is
 *         set: then nothing is kept); #LOOM_ESTATE on a worker, before
 *         start, after loom_job_finish() or without own_attempts;
 *         #LOOM_EINVAL for an outcome or cause out of range; #LOOM_ENOMEM.
 * \note Copies a few dozen bytes and returns; waits only while the events
 *       writer is more than 16 MiB behind. Master, any thread.
 */
LOOM_EXTERN loom_err loom_job_record_attempt(loom_job *job, const loom_attempt *a);

/**
 * \brief Master: the run's totals for the events' `run_end` and the
 *        report, in place of the ones the job would count itself (it
 *        counts final attempts by outcome, and status 0 when all
 *        succeeded, else 1). A later call replaces an earlier one.
 * \param[in] job a started job, on the master, before loom_job_finish().
 * \param[in] s   the totals; copied.
 * \return #LOOM_OK, #LOOM_ESTATE on a worker, before start or after
 *         loom_job_finish().
 * \note Never blocks. Master, any thread.
 */
LOOM_EXTERN loom_err loom_job_record_summary(loom_job *job, const loom_run_summary *s);

#endif /* LOOM_EVENTS_H */
