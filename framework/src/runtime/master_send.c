/* SPDX-License-Identifier: MIT */
/*
 * What goes down to the workers. Each worker has an outgoing frame
 * (mworker.out) that the progress thread fills during a round — tasks
 * (master_progress.c: dispatch), queue answers, STOP, pings — and sends
 * as one message at the end of the round (loom__master_send_all), or
 * earlier when the next task or answer would take it past job.max_frame
 * (loom__master_frame_room); the sends stay in m->sends until MPI is done
 * with them (sendq.c).
 *
 * Progress thread only (and loom__master_stop after it has ended): the
 * frames and sends need no lock.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "local_call.h"
#include "loom/log.h"
#include "master_send.h"

void
loom__master_queue_reply(void *ctx, struct qreq *rq, loom_err err, void *data, size_t len)
{
    struct master *m = ctx;
    if (rq->local) {
        loom__local_call_complete(rq->local, err, data, len);
    } else if (m->workers[rq->rank].bye) {
        /* it has left (or is lost): its calls were answered there */
        free(data);
    } else {
        struct wire_qrep q = {rq->req, (uint32_t)err, (uint32_t)len};
        loom__master_frame_room(m, rq->rank, sizeof q + len);
        if (wire_put(&m->workers[rq->rank].out, WIRE_QREP, &q, sizeof q, data, len, NULL, 0) !=
            LOOM_OK)
            LOOM_ERROR("out of memory answering a queue request of rank %d", rq->rank);
        free(data);
    }
    free(rq->data);
    free(rq);
}

void
loom__master_send_stop(struct master *m)
{
    pthread_mutex_lock(&m->mu);
    struct wire_stop stop = {(uint32_t)m->lost};
    pthread_mutex_unlock(&m->mu);
    atomic_store(&m->job->peers_lost, m->lost);
    for (int r = 1; r < m->nworkers; r++)
        if (!m->workers[r].lost && wire_put(&m->workers[r].out, WIRE_STOP, &stop, sizeof stop, NULL,
                                            0, NULL, 0) != LOOM_OK)
            loom__panic(__FILE__, __LINE__, __func__, "out of memory stopping workers");
}

void
loom__master_send_go(struct master *m, int rank)
{
    struct mworker *w = &m->workers[rank];
    if (w->told)
        return;
    w->told = 1;
    pthread_mutex_lock(&m->mu);
    struct wire_stop stop = {(uint32_t)m->lost};
    pthread_mutex_unlock(&m->mu);
    struct wire_buf b = {0};
    wire_buf_reset(&b);
    if (wire_put(&b, WIRE_STOP, &stop, sizeof stop, NULL, 0, NULL, 0) != LOOM_OK ||
        loom__sendq_post(&m->sends, &b, w->comm, w->peer, w->tag ? w->tag : LOOM_TAG_DOWN, rank) !=
            0) {
        wire_buf_free(&b);
        LOOM_ERROR("could not tell worker rank %d, declared lost, to leave", rank);
        return;
    }
    /* not waited for: the rank may be gone again (the buffer stays) */
    loom__sendq_abandon(&m->sends, rank);
    LOOM_WARN("worker rank %d spoke after it was declared lost: told to leave", rank);
}

/* Send worker rank's outgoing frame, if it holds anything. */
static void
flush_worker(struct master *m, int rank)
{
    struct mworker *w = &m->workers[rank];
    if (wire_empty(&w->out))
        return;
    if (w->lost) { /* it will never read it */
        wire_buf_reset(&w->out);
        return;
    }
    int rc = loom__sendq_post(&m->sends, &w->out, w->comm, w->peer, w->tag ? w->tag : LOOM_TAG_DOWN,
                              rank); /* tag: swarm.h */
    if (rc == -1)
        return; /* no memory: try again next round */
    wire_buf_reset(&w->out);
    w->sent = loom__now_ns();
    if (rc != 0)
        LOOM_ERROR("MPI_Isend to rank %d failed", rank);
}

void
loom__master_frame_room(struct master *m, int rank, size_t blen)
{
    struct mworker *w = &m->workers[rank];
    /* after the progress thread has ended (loom__master_stop) nothing is sent */
    if (wire_empty(&w->out) ||
        wire_fits(&w->out, blen, m->job->set.max_frame - WIRE_CONTROL_ROOM) ||
        atomic_load(&m->quit))
        return;
    flush_worker(m, rank);
    if (!wire_empty(&w->out) && !w->lost)
        loom__panic(__FILE__, __LINE__, __func__, "out of memory sending to a worker");
}

void
loom__master_send_all(struct master *m, int64_t now)
{
    for (int r = 1; r < m->nworkers; r++) {
        struct mworker *w = &m->workers[r];
        /* a worker cannot tell a quiet master from a dead one either */
        if (!w->lost && !w->bye && wire_empty(&w->out) &&
            now - w->sent >= m->job->set.heartbeat_ns &&
            wire_put(&w->out, WIRE_PING, NULL, 0, NULL, 0, NULL, 0) != LOOM_OK)
            loom__panic(__FILE__, __LINE__, __func__, "out of memory pinging a worker");
        flush_worker(m, r);
    }
    loom__sendq_progress(&m->sends);
}
