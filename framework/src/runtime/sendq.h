/* SPDX-License-Identifier: MIT */
/*
 * Sends in progress (sendq.c): the frames a polling thread has handed to
 * MPI_Isend and must keep until MPI is done with them. Used by the
 * master's progress thread and a worker's communication thread.
 */
#ifndef LOOM_SENDQ_H
#define LOOM_SENDQ_H

#include <mpi.h>

#include "wire.h"

struct loom__send;

/* Start it zeroed ({0}). Owned by one thread, which alone calls the
 * functions below on it. It holds memory only while sends are in
 * progress (none to free once it is empty). */
struct loom__sendq {
    MPI_Request *reqs;    /* one per send, for MPI_Testsome */
    struct loom__send *s; /* beside reqs */
    int *idx;             /* MPI_Testsome's scratch */
    size_t n, cap;
};

/* Send the frame in b (wire_finish) to rank `peer` of comm with tag; the
 * send takes b's bytes (*b is left zeroed: wire_buf_reset it to reuse it).
 * `owner` labels the send for loom__sendq_abandon. 0; -1: no memory for
 * the send (b untouched: try again later); -2: MPI_Isend failed (the
 * frame is dropped, *b zeroed; the caller says so). */
int loom__sendq_post(struct loom__sendq *q, struct wire_buf *b, MPI_Comm comm, int peer, int tag,
                     int owner);

/* Free the sends MPI has completed (one MPI_Testsome over them all). */
void loom__sendq_progress(struct loom__sendq *q);

/* Whether no send is in progress. */
int loom__sendq_empty(const struct loom__sendq *q);

/* Give up the sends of owner (-1: every send) towards a peer that is
 * gone: their requests are freed (MPI_Request_free), their buffers are
 * not — MPI may still read them. */
void loom__sendq_abandon(struct loom__sendq *q, int owner);

#endif /* LOOM_SENDQ_H */
