/* SPDX-License-Identifier: MIT */
/*
 * A worker rank (worker.c): its communication thread and task runners.
 * loom_job_serve is the public side (loom/job.h).
 */
#ifndef LOOM_WORKER_H
#define LOOM_WORKER_H

#include <stddef.h>

#include "job_types.h"
#include "qstore.h"

/* Start the worker of job (rank >= 1, job->started set): its pool and
 * communication thread, which says hello to the master. Sets job->w.
 * LOOM_ENOMEM, LOOM_ESYS or the pool's error, with nothing left running. */
loom_err loom__worker_start(loom_job *job);

/* Wait for the master's STOP (as loom_job_serve), say goodbye, then end
 * the threads and free the worker; job->w is NULL afterwards. */
void loom__worker_stop(loom_job *job);

/* A queue call from one of this worker's threads: send rq to the master's
 * store through the communication thread and wait for the answer. Takes
 * ownership of rq (and rq->data); the answer's data (malloc'd, may be
 * NULL) goes to *data, its length to *len. LOOM_ECLOSED once the worker
 * has left the job. */
loom_err loom__worker_queue_call(loom_job *job, struct qreq *rq, void **data, size_t *len);

#endif /* LOOM_WORKER_H */
