/* SPDX-License-Identifier: MIT */
/*
 * Sends in progress: a list of (request, buffer) pairs, newest first,
 * owned by the one polling thread that sends (the master's progress
 * thread, a worker's communication thread). No lock: that thread alone
 * touches its list. A buffer is freed once MPI_Test says its send is
 * complete; when the peer is gone the request is freed and the buffer
 * deliberately kept (MPI may still read it after MPI_Request_free).
 */
#include <stdlib.h>

#include "sendq.h"

struct loom__send {
    MPI_Request req;
    struct wire_buf buf;
    struct loom__send *next;
    int owner;
};

int
loom__sendq_post(struct loom__sendq *q, struct wire_buf *b, MPI_Comm comm, int peer, int tag,
                 int owner)
{
    struct loom__send *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->buf = *b;
    *b = (struct wire_buf){0};
    size_t len = wire_finish(&s->buf);
    if (MPI_Isend(s->buf.data, (int)len, MPI_BYTE, peer, tag, comm, &s->req) != MPI_SUCCESS) {
        wire_buf_free(&s->buf);
        free(s);
        return -2;
    }
    s->owner = owner;
    s->next = q->head;
    q->head = s;
    return 0;
}

void
loom__sendq_progress(struct loom__sendq *q)
{
    for (struct loom__send **pp = &q->head; *pp;) {
        int done = 0;
        MPI_Test(&(*pp)->req, &done, MPI_STATUS_IGNORE);
        if (!done) {
            pp = &(*pp)->next;
            continue;
        }
        struct loom__send *s = *pp;
        *pp = s->next;
        wire_buf_free(&s->buf);
        free(s);
    }
}

int
loom__sendq_empty(const struct loom__sendq *q)
{
    return q->head == NULL;
}

void
loom__sendq_abandon(struct loom__sendq *q, int owner)
{
    for (struct loom__send **pp = &q->head; *pp;) {
        struct loom__send *s = *pp;
        if (owner >= 0 && s->owner != owner) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        MPI_Request_free(&s->req);
        free(s);
    }
}
