/* SPDX-License-Identifier: MIT */
/*
 * The master seen from the program's threads (master_api.c): besides the
 * public calls (submit, results, futures, map, finish), what other files
 * ask of a started master.
 */
#ifndef LOOM_MASTER_API_H
#define LOOM_MASTER_API_H

#include <stddef.h>

#include "job_types.h"
#include "qstore.h"

/* Ranks of the job so far: 1 + its workers, joined ones included. */
int loom__master_size(const loom_job *job);
/* Pool threads of the workers that have said hello so far (lost ones no
 * longer count). */
unsigned loom__master_worker_threads(const loom_job *job);
/* A queue call from one of the master's own threads: hand rq to the
 * progress thread's mailbox and wait for the store's answer. Takes
 * ownership of rq (and rq->data); the answer's data (malloc'd, may be
 * NULL) goes to *data, its length to *len. LOOM_ECLOSED once every worker
 * has said goodbye after STOP. */
loom_err loom__master_queue_call(loom_job *job, struct qreq *rq, void **data, size_t *len);

#endif /* LOOM_MASTER_API_H */
