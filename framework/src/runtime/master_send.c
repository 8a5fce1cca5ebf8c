/* SPDX-License-Identifier: MIT */
/*
 * What goes down to the workers. Each worker has an outgoing frame
 * (mworker.out) that the progress thread fills during a round — tasks
 * (master_progress.c: dispatch), queue answers, STOP, pings — and sends
 * as one message at the end of the round (loom__master_send_all), or
 * earlier when the next task or answer would take it past job.max_frame
 * (loom__master_frame_room); the sends stay in m->sends until MPI is done
 * with them (sendq.c). A round looks only at the workers whose frame
 * holds something (m->dirty) and at those due a ping (the front of
 * m->pinged), never at every worker.
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

/* Worker rank's frame is about to hold something: send it this round. */
static void
mark_dirty(struct master *m, int rank)
{
    if (loom__wqueue_push(&m->dirty, rank) != 0)
        loom__panic(__FILE__, __LINE__, __func__, "out of memory sending to a worker");
}

void
loom__master_send_stop(struct master *m)
{
    pthread_mutex_lock(&m->mu);
    struct wire_stop stop = {(uint32_t)m->lost};
    pthread_mutex_unlock(&m->mu);
    atomic_store(&m->job->peers_lost, m->lost);
    for (int r = 1; r < m->nworkers; r++) {
        if (m->workers[r].lost)
            continue;
        if (wire_put(&m->workers[r].out, WIRE_STOP, &stop, sizeof stop, NULL, 0, NULL, 0) !=
            LOOM_OK)
            loom__panic(__FILE__, __LINE__, __func__, "out of memory stopping workers");
        mark_dirty(m, r);
    }
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
    if (loom__wlru_touch(&m->pinged, rank) != 0) /* its next ping: heartbeat from now */
        loom__panic(__FILE__, __LINE__, __func__, "out of memory sending to a worker");
    if (rc != 0)
        LOOM_ERROR("MPI_Isend to rank %d failed", rank);
}

void
loom__master_frame_room(struct master *m, int rank, size_t blen)
{
    struct mworker *w = &m->workers[rank];
    mark_dirty(m, rank); /* the record the caller puts there goes this round */
    /* after the progress thread has ended (loom__master_stop) nothing is sent */
    if (wire_empty(&w->out) ||
        wire_fits(&w->out, blen, m->job->set.max_frame - WIRE_CONTROL_ROOM) ||
        atomic_load(&m->quit))
        return;
    flush_worker(m, rank);
    if (!wire_empty(&w->out) && !w->lost)
        loom__panic(__FILE__, __LINE__, __func__, "out of memory sending to a worker");
}

/* A ping in the frame of every worker nothing has gone to for
 * job.heartbeat (a worker cannot tell a quiet master from a dead one
 * either): those are at the front of m->pinged, so this looks at the
 * workers due and one more, not at every worker. */
static void
ping_due(struct master *m, int64_t now)
{
    int r;
    for (int k = m->nworkers; k > 0 && (r = loom__wlru_head(&m->pinged)) >= 0; k--) {
        struct mworker *w = &m->workers[r];
        if (w->lost || w->bye) { /* never pinged again */
            loom__wlru_remove(&m->pinged, r);
            continue;
        }
        if (now - w->sent < m->job->set.heartbeat_ns)
            break;
        if (wire_empty(&w->out) &&
            wire_put(&w->out, WIRE_PING, NULL, 0, NULL, 0, NULL, 0) != LOOM_OK)
            loom__panic(__FILE__, __LINE__, __func__, "out of memory pinging a worker");
        mark_dirty(m, r);
        /* to the back: flush_worker touches it again once the ping has gone */
        if (loom__wlru_touch(&m->pinged, r) != 0)
            loom__panic(__FILE__, __LINE__, __func__, "out of memory pinging a worker");
    }
}

void
loom__master_send_all(struct master *m, int64_t now)
{
    ping_due(m, now);
    /* the frames that hold something; one that could not go (no memory) waits for the next round */
    for (size_t k = m->dirty.n; k > 0; k--) {
        int r = loom__wqueue_pop(&m->dirty);
        flush_worker(m, r);
        if (!wire_empty(&m->workers[r].out))
            mark_dirty(m, r);
    }
    loom__sendq_progress(&m->sends);
}
