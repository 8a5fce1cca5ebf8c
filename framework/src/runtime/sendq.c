/* SPDX-License-Identifier: MIT */
/*
 * Sends in progress: arrays of requests and (buffer, owner) pairs, oldest first,
 * owned by the one polling thread that sends (the master's progress
 * thread, a worker's communication thread). No lock: that thread alone
 * touches them. A buffer is freed once MPI_Test says its send is
 * complete; when the peer is gone the request is freed and the buffer
 * deliberately kept (MPI may still read it after MPI_Request_free).
 */
#include <stdlib.h>

#include "sendq.h"

/* A send in progress: its frame, and whose it is (loom__sendq_abandon).
 * Its request is q->reqs[i] beside it, so one MPI_Testsome covers them all. */
struct loom__send {
    struct wire_buf buf;
    int owner;
};

/* Room for one more send; 0 or -1. */
static int
grow(struct loom__sendq *q)
{
    if (q->n < q->cap)
        return 0;
    size_t cap = q->cap ? q->cap * 2 : 16;
    MPI_Request *r = realloc(q->reqs, cap * sizeof *r);
    if (r)
        q->reqs = r;
    struct loom__send *s = r ? realloc(q->s, cap * sizeof *s) : NULL;
    if (s)
        q->s = s;
    int *idx = s ? realloc(q->idx, cap * sizeof *idx) : NULL;
    if (!idx)
        return -1;
    q->idx = idx;
    q->cap = cap;
    return 0;
}

/* Keep only the sends whose request is still active, in their order; the
 * arrays go when none is left (a polling thread's queue is mostly empty). */
static void
compact(struct loom__sendq *q)
{
    size_t keep = 0;
    for (size_t i = 0; i < q->n; i++) {
        if (q->reqs[i] == MPI_REQUEST_NULL)
            continue;
        q->reqs[keep] = q->reqs[i];
        q->s[keep++] = q->s[i];
    }
    q->n = keep;
    if (!keep) {
        free(q->reqs);
        free(q->s);
        free(q->idx);
        *q = (struct loom__sendq){0};
    }
}

int
loom__sendq_post(struct loom__sendq *q, struct wire_buf *b, MPI_Comm comm, int peer, int tag,
                 int owner)
{
    if (grow(q) != 0)
        return -1;
    struct loom__send *s = &q->s[q->n];
    s->buf = *b;
    *b = (struct wire_buf){0};
    size_t len = wire_finish(&s->buf);
    if (MPI_Isend(s->buf.data, (int)len, MPI_BYTE, peer, tag, comm, &q->reqs[q->n]) !=
        MPI_SUCCESS) {
        wire_buf_free(&s->buf);
        return -2;
    }
    s->owner = owner;
    q->n++;
    return 0;
}

void
loom__sendq_progress(struct loom__sendq *q)
{
    if (!q->n)
        return;
    /* one call for every send in progress: MPI's progress engine runs
     * once, not once per send (thousands at once on a large master) */
    int done = 0;
    if (MPI_Testsome((int)q->n, q->reqs, &done, q->idx, MPI_STATUSES_IGNORE) != MPI_SUCCESS ||
        done == MPI_UNDEFINED || done <= 0)
        return;
    for (int i = 0; i < done; i++)
        wire_buf_free(&q->s[q->idx[i]].buf);
    compact(q);
}

int
loom__sendq_empty(const struct loom__sendq *q)
{
    return q->n == 0;
}

void
loom__sendq_abandon(struct loom__sendq *q, int owner)
{
    for (size_t i = 0; i < q->n; i++)
        if (owner < 0 || q->s[i].owner == owner)
            MPI_Request_free(&q->reqs[i]); /* now MPI_REQUEST_NULL; the buffer stays */
    compact(q);
}
