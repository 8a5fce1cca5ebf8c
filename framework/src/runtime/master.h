/* SPDX-License-Identifier: MIT */
/*
 * The master's life cycle (master.c): what rank 0 prepares before the
 * start-up agreement, starts after it and stops at destroy.
 */
#ifndef LOOM_MASTER_H
#define LOOM_MASTER_H

#include "job_types.h"

/* Before start, on rank 0: create the job.events / job.report files and
 * open the journal (if any) into job->rec, job->jnl, job->jnl_done. A bad
 * path or journal: its error (said in the log), nothing left open. */
loom_err loom__master_prepare(loom_job *job);
/* Undo loom__master_prepare (what start has not taken over). Idempotent. */
void loom__master_unprepare(loom_job *job);
/* Start the master: take over what prepare opened, start the acceptor
 * (job->serve_dir), the recorder's writer and the progress thread. Sets
 * job->m. On failure nothing runs and prepare's files are the job's
 * again. */
loom_err loom__master_start(loom_job *job);
/* Finish the job (loom_job_finish), stop the progress thread and the
 * acceptor, answer queue calls still waiting LOOM_ECLOSED, close the
 * journal and free everything; job->m is NULL afterwards. */
void loom__master_stop(loom_job *job);

#endif /* LOOM_MASTER_H */
