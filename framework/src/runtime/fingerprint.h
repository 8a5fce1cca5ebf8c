/* SPDX-License-Identifier: MIT */
/*
 * The fingerprint (fingerprint.c): what every rank of a job must agree on
 * before tasks run — at start-up (job.c) and when a job joins (join.c).
 */
#ifndef LOOM_FINGERPRINT_H
#define LOOM_FINGERPRINT_H

#include <stdint.h>

#include "loom/error.h"

struct loom_job;

/* Sent as bytes between ranks of the same build (MPI_Allgather, the join
 * handshake): plain fixed-size fields only. */
struct loom__fingerprint {
    uint64_t binary;
    uint64_t registry;
    uint32_t nfns;
    uint32_t wire_version;
    uint32_t ready;   /* rank 0: its own preparation (journal, events, report) succeeded */
    int32_t prep_err; /* rank 0: else why (every rank returns it) */
    /* virtual workers per worker rank (swarm.h, benchmarks only): rank 0
     * says LOOM_SWARM, a real worker 0, a swarm (bench/swarm) its width */
    int32_t swarm;
    uint32_t pad;
};

/* This process's fingerprint for job: the executable's identity (its GNU
 * build id, else a hash of its bytes), a hash of the registered names in
 * order, their number, WIRE_VERSION, prep (ready = prep == LOOM_OK), and
 * on rank 0 LOOM_SWARM (loom__swarm_width; 0 on every other rank). */
void loom__job_fingerprint(const struct loom_job *job, loom_err prep, struct loom__fingerprint *fp);

/* How `fp` differs from the reference `ref` ("runs a different binary than
 * ...", for a message), or NULL when the two may run tasks together
 * (ready and prep_err are not compared; swarm is). */
const char *loom__fingerprint_differs(const struct loom__fingerprint *fp,
                                      const struct loom__fingerprint *ref);

#endif /* LOOM_FINGERPRINT_H */
