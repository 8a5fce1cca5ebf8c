/* SPDX-License-Identifier: MIT */
/*
 * The queue store: the named queues of a job, kept on the master and run
 * by its progress thread only, so it needs no lock (the public calls that
 * send it requests are in queue.c).
 *
 * The store answers a request at once when it can; otherwise it parks it
 * (a get on an empty queue, a put on a full one) and answers when an item
 * or room appears, the queue is closed, or the request's deadline passes.
 * Parked requests are served in arrival order, oldest first. A put that
 * finds a parked get hands its item straight over.
 *
 * Invariants: a queue with parked gets is empty; one with parked puts is
 * full (count == capacity) and not closed; every request handed in is
 * answered exactly once, through the reply callback; once the store has
 * ended (so has the job) nothing waits in it.
 */
#include <stdlib.h>
#include <string.h>

#include "loom/queue.h"
#include "qstore.h"

#define QUEUE_DEFAULT_CAPACITY 1024

struct qitem {
    struct qitem *next;
    void *data;
    size_t len;
};

struct squeue {
    struct squeue *next;
    char name[LOOM_QUEUE_NAME_MAX + 1];
    size_t capacity, count;
    int closed;
    struct qitem *head, **tail;
    struct qreq *getters, **gtail; /* parked gets, oldest first */
    struct qreq *putters, **ptail; /* parked puts, oldest first */
};

struct qstore {
    struct squeue *queues;
    qstore_reply_fn reply;
    void *ctx;
    int ended; /* loom__qstore_end: every request is answered LOOM_ECLOSED */
};

struct qstore *
loom__qstore_create(qstore_reply_fn reply, void *ctx)
{
    struct qstore *qs = calloc(1, sizeof *qs);
    if (qs) {
        qs->reply = reply;
        qs->ctx = ctx;
    }
    return qs;
}

static struct squeue *
find(struct qstore *qs, const char *name)
{
    for (struct squeue *q = qs->queues; q; q = q->next)
        if (strcmp(q->name, name) == 0)
            return q;
    return NULL;
}

static void
park(struct qreq ***tail, struct qreq *rq, int64_t now)
{
    rq->deadline_ns = rq->timeout_ms < 0 ? 0 : now + (int64_t)rq->timeout_ms * 1000000;
    rq->next = NULL;
    **tail = rq;
    *tail = &rq->next;
}

static struct qreq *
unpark(struct qreq **head, struct qreq ***tail)
{
    struct qreq *rq = *head;
    if (rq) {
        *head = rq->next;
        if (!*head)
            *tail = head;
        rq->next = NULL;
    }
    return rq;
}

static void
answer(struct qstore *qs, struct qreq *rq, loom_err err, void *data, size_t len)
{
    qs->reply(qs->ctx, rq, err, data, len);
}

/* Room appeared: let the oldest parked put in. */
static void
admit_putter(struct qstore *qs, struct squeue *q)
{
    struct qreq *p = unpark(&q->putters, &q->ptail);
    if (!p)
        return;
    struct qitem *it = malloc(sizeof *it);
    if (!it) {
        answer(qs, p, LOOM_ENOMEM, NULL, 0);
        return;
    }
    *it = (struct qitem){NULL, p->data, p->len};
    p->data = NULL; /* the item owns it now */
    *q->tail = it;
    q->tail = &it->next;
    q->count++;
    answer(qs, p, LOOM_OK, NULL, 0);
}

static void
do_put(struct qstore *qs, struct squeue *q, struct qreq *rq, int64_t now)
{
    if (q->closed) {
        answer(qs, rq, LOOM_ECLOSED, NULL, 0);
        return;
    }
    struct qreq *g = unpark(&q->getters, &q->gtail);
    if (g) { /* someone is waiting: hand the item straight over */
        void *data = rq->data;
        size_t len = rq->len;
        rq->data = NULL;
        answer(qs, g, LOOM_OK, data, len);
        answer(qs, rq, LOOM_OK, NULL, 0);
        return;
    }
    if (q->count < q->capacity) {
        struct qitem *it = malloc(sizeof *it);
        if (!it) {
            answer(qs, rq, LOOM_ENOMEM, NULL, 0);
            return;
        }
        *it = (struct qitem){NULL, rq->data, rq->len};
        rq->data = NULL;
        *q->tail = it;
        q->tail = &it->next;
        q->count++;
        answer(qs, rq, LOOM_OK, NULL, 0);
        return;
    }
    if (rq->timeout_ms == 0)
        answer(qs, rq, LOOM_EFULL, NULL, 0);
    else
        park(&q->ptail, rq, now);
}

static void
do_get(struct qstore *qs, struct squeue *q, struct qreq *rq, int64_t now)
{
    if (q->head) {
        struct qitem *it = q->head;
        q->head = it->next;
        if (!q->head)
            q->tail = &q->head;
        q->count--;
        answer(qs, rq, LOOM_OK, it->data, it->len);
        free(it);
        admit_putter(qs, q);
        return;
    }
    if (q->closed)
        answer(qs, rq, LOOM_EDRAINED, NULL, 0);
    else if (rq->timeout_ms == 0)
        answer(qs, rq, LOOM_ETIMEDOUT, NULL, 0);
    else
        park(&q->gtail, rq, now);
}

static void
do_close(struct qstore *qs, struct squeue *q)
{
    q->closed = 1;
    struct qreq *p;
    /* getters only wait on an empty queue, which now stays empty */
    while ((p = unpark(&q->getters, &q->gtail)))
        answer(qs, p, LOOM_EDRAINED, NULL, 0);
    while ((p = unpark(&q->putters, &q->ptail)))
        answer(qs, p, LOOM_ECLOSED, NULL, 0);
}

void
loom__qstore_request(struct qstore *qs, struct qreq *rq, int64_t now)
{
    rq->name[LOOM_QUEUE_NAME_MAX] = '\0';
    if (qs->ended) {
        answer(qs, rq, LOOM_ECLOSED, NULL, 0);
        return;
    }
    struct squeue *q = find(qs, rq->name);
    if (rq->op == QOP_OPEN) {
        if (!q) {
            q = calloc(1, sizeof *q);
            if (!q) {
                answer(qs, rq, LOOM_ENOMEM, NULL, 0);
                return;
            }
            memcpy(q->name, rq->name, sizeof q->name);
            q->capacity = rq->capacity ? (size_t)rq->capacity : QUEUE_DEFAULT_CAPACITY;
            q->tail = &q->head;
            q->gtail = &q->getters;
            q->ptail = &q->putters;
            q->next = qs->queues;
            qs->queues = q;
        }
        answer(qs, rq, LOOM_OK, NULL, 0);
        return;
    }
    if (!q) {
        answer(qs, rq, LOOM_EINVAL, NULL, 0);
        return;
    }
    switch (rq->op) {
    case QOP_PUT:
        do_put(qs, q, rq, now);
        break;
    case QOP_GET:
        do_get(qs, q, rq, now);
        break;
    case QOP_CLOSE:
        do_close(qs, q);
        answer(qs, rq, LOOM_OK, NULL, 0);
        break;
    default:
        answer(qs, rq, LOOM_EPROTO, NULL, 0);
        break;
    }
}

/* Answer parked requests whose deadline has passed. */
static void
expire_list(struct qstore *qs, struct qreq **head, struct qreq ***tail, int64_t now, loom_err err)
{
    for (struct qreq **pp = head; *pp;) {
        struct qreq *rq = *pp;
        if (!rq->deadline_ns || rq->deadline_ns > now) {
            pp = &rq->next;
            continue;
        }
        *pp = rq->next;
        if (!*pp)
            *tail = pp;
        answer(qs, rq, err, NULL, 0);
    }
}

void
loom__qstore_expire(struct qstore *qs, int64_t now)
{
    for (struct squeue *q = qs->queues; q; q = q->next) {
        if (q->getters)
            expire_list(qs, &q->getters, &q->gtail, now, LOOM_ETIMEDOUT);
        if (q->putters)
            expire_list(qs, &q->putters, &q->ptail, now, LOOM_EFULL);
    }
}

int64_t
loom__qstore_next_deadline(const struct qstore *qs)
{
    int64_t next = 0;
    for (const struct squeue *q = qs->queues; q; q = q->next) {
        const struct qreq *lists[2] = {q->getters, q->putters};
        for (int i = 0; i < 2; i++)
            for (const struct qreq *rq = lists[i]; rq; rq = rq->next)
                if (rq->deadline_ns && (!next || rq->deadline_ns < next))
                    next = rq->deadline_ns;
    }
    return next;
}

void
loom__qstore_shutdown(struct qstore *qs)
{
    for (struct squeue *q = qs->queues; q; q = q->next) {
        struct qreq *p;
        while ((p = unpark(&q->getters, &q->gtail)))
            answer(qs, p, LOOM_ECLOSED, NULL, 0);
        while ((p = unpark(&q->putters, &q->ptail)))
            answer(qs, p, LOOM_ECLOSED, NULL, 0);
    }
}

void
loom__qstore_end(struct qstore *qs)
{
    qs->ended = 1;
    loom__qstore_shutdown(qs);
}

void
loom__qstore_destroy(struct qstore *qs)
{
    if (!qs)
        return;
    loom__qstore_shutdown(qs);
    for (struct squeue *q = qs->queues, *next; q; q = next) {
        next = q->next;
        for (struct qitem *it = q->head, *n; it; it = n) {
            n = it->next;
            free(it->data);
            free(it);
        }
        free(q);
    }
    free(qs);
}
