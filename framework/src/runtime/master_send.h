/* SPDX-License-Identifier: MIT */
/*
 * What the master sends down to its workers (master_send.c). Progress
 * thread only, except where said.
 */
#ifndef LOOM_MASTER_SEND_H
#define LOOM_MASTER_SEND_H

#include <stddef.h>
#include <stdint.h>

#include "master_types.h"
#include "qstore.h"

/* The queue store's reply callback (qstore_reply_fn; ctx is the master):
 * complete a local call in place, or append a WIRE_QREP to the asking
 * worker's outgoing frame — unless that worker has said goodbye or is
 * lost (its calls ended there). Frees rq, rq->data, and data once sent. Also
 * run by loom__master_stop after the progress thread has ended. */
void loom__master_queue_reply(void *ctx, struct qreq *rq, loom_err err, void *data, size_t len);

/* Make room in worker rank's outgoing frame for a data record (TASK,
 * QREP) of blen body bytes: when the record would take the frame past
 * job.max_frame less WIRE_CONTROL_ROOM, what the frame holds is sent
 * first. The frame is sent at the end of the round (m->dirty). Panics
 * when the send cannot be started for want of memory (the frame would
 * otherwise outgrow what the worker accepts). */
void loom__master_frame_room(struct master *m, int rank, size_t blen);

/* Tell every worker not lost to stop (WIRE_STOP with the number of lost
 * workers) and publish that number in job->peers_lost. Takes m->mu. */
void loom__master_send_stop(struct master *m);

/* Worker rank was declared lost, yet a message came from it: it lives
 * (it was stopped or cut off for a while). Send it, once, the STOP that
 * makes it leave — it would wait for one for ever — without waiting for
 * the send to complete. Takes m->mu. */
void loom__master_send_go(struct master *m, int rank);

/* End of a progress round at monotonic time now: ping workers that
 * heard nothing for a heartbeat, send every outgoing frame that holds
 * something, and free the sends MPI has completed. Costs what those
 * workers need, not a visit to every worker: frames are known from
 * loom__master_frame_room and m->dirty, overdue pings from m->pinged
 * (which the master fills with every worker at its start or join). */
void loom__master_send_all(struct master *m, int64_t now);

#endif /* LOOM_MASTER_SEND_H */
