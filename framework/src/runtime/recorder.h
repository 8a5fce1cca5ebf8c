/* SPDX-License-Identifier: MIT */
/*
 * The job's recorder (master only): turns what the master sees — workers
 * joining and lost, every attempt's result — into the events file
 * (job.events, events.h) and the report (job.report, report.h). See
 * recorder.c for how the work is kept off the progress thread.
 *
 * Life: open (loom__master_prepare: files created, so a bad path fails
 * before any task runs) -> start (the writer thread, run_start) -> record
 * calls from any thread -> close (loom_job_finish: run_end and the report)
 * -> destroy. Every function accepts a NULL recorder (nothing recorded).
 */
#ifndef LOOM_RECORDER_H
#define LOOM_RECORDER_H

#include <stdint.h>

#include "loom/events.h"
#include "loom/job.h"

typedef struct loom__recorder loom__recorder;

/* What to record and where; strings are copied. */
struct loom__recorder_opts {
    const char *events, *events_name; /* path ("" or NULL: none), the setting that gave it */
    const char *report, *report_name;
    const char *prog;  /* the program, for the report's title */
    const char *title; /* run_start's `tasks` and the report's heading */
    int ranks;
    int own_attempts;            /* the program records attempts (loom_job_record_attempt) */
    const char *const *fn_names; /* labels of the job's attempts, by function index */
    unsigned nfns;
};

/* *out is NULL when neither file is wanted. LOOM_OK; LOOM_ECONFIG when a
 * file cannot be created (logged, naming the setting and the file);
 * LOOM_ENOMEM. */
loom_err loom__recorder_open(const struct loom__recorder_opts *o, loom__recorder **out);

/* The writer thread, and run_start. LOOM_ESYS if the thread cannot start. */
loom_err loom__recorder_start(loom__recorder *r);

/* A worker said hello / was declared lost. */
void loom__recorder_join(loom__recorder *r, int rank, const char *host, unsigned threads);
void loom__recorder_lost(loom__recorder *r, int rank);

/* The job's own attempts (not with own_attempts): a result that came back
 * (final: the task does not run again), recorded at wall-clock time now_ns;
 * a task that never ran because no worker was left; one that resume
 * skipped. */
void loom__recorder_result(loom__recorder *r, int64_t now_ns, uint64_t id, unsigned attempt,
                           unsigned fn, int rank, unsigned slot, int64_t start_ns, int64_t run_ns,
                           int status, loom_cause cause, int code, int final);
void loom__recorder_not_run(loom__recorder *r, uint64_t id, unsigned attempt, unsigned fn);
void loom__recorder_skipped(loom__recorder *r);

/* Whether the job's own attempts are wanted (cheap: for the hot path). */
int loom__recorder_wants_results(const loom__recorder *r);

/* The program's attempt and totals (loom_job_record_attempt/_summary). */
loom_err loom__recorder_attempt(loom__recorder *r, const loom_attempt *a);
loom_err loom__recorder_summary(loom__recorder *r, const loom_run_summary *s);

/* run_end and the report; stops the writer thread. Once: later calls
 * return the first one's result. LOOM_ESYS if a file could not be written
 * (said in the log when it happened). */
loom_err loom__recorder_close(loom__recorder *r);

void loom__recorder_destroy(loom__recorder *r);

#endif /* LOOM_RECORDER_H */
