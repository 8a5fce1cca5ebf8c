/* SPDX-License-Identifier: MIT */
/*
 * The queue store (qstore.c): the named queues themselves, kept by the
 * master's progress thread; and the request (struct qreq) that carries a
 * queue call to it.
 */
#ifndef LOOM_QSTORE_H
#define LOOM_QSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "loom/error.h"

struct local_call;
struct qstore;

enum qop { QOP_OPEN = 1, QOP_PUT = 2, QOP_GET = 3, QOP_CLOSE = 4 };

/* A named-queue request on its way to the master's queue store. `local`
 * is set for requests from the master's own threads (answered in place),
 * else (rank, req) says where the reply goes. */
struct qreq {
    uint32_t op;
    int rank;
    uint64_t req;
    int64_t deadline_ns; /* 0: none (wait forever); set by the store */
    int timeout_ms;
    uint64_t capacity;
    char name[64];
    void *data;
    size_t len;
    struct local_call *local;
    struct qreq *next;
};

/* How the store answers a request. The store owns each request it is
 * given until it answers it through reply(ctx, rq, err, data, len); reply
 * then owns rq, rq->data (NULL if the store kept it as an item) and data
 * (the answer's bytes, malloc'd or NULL). */
typedef void (*qstore_reply_fn)(void *ctx, struct qreq *rq, loom_err err, void *data, size_t len);

/* An empty store that answers through reply(ctx, ...); NULL without memory. */
struct qstore *loom__qstore_create(qstore_reply_fn reply, void *ctx);
/* Answer every parked request LOOM_ECLOSED, free the queues, their items
 * and qs. Accepts NULL. */
void loom__qstore_destroy(struct qstore *qs);
/* Take rq (op, name, ...; timeout_ms < 0: wait forever) at monotonic time
 * now_ns: answered at once, or parked until an item or room appears, its
 * queue is closed, or its deadline passes (loom__qstore_expire). */
void loom__qstore_request(struct qstore *qs, struct qreq *rq, int64_t now_ns);
/* Answer the parked requests whose deadline is <= now_ns: gets
 * LOOM_ETIMEDOUT, puts LOOM_EFULL. */
void loom__qstore_expire(struct qstore *qs, int64_t now_ns);
/* Answer every parked request LOOM_ECLOSED (the job is ending); the
 * queues and their items stay. */
void loom__qstore_shutdown(struct qstore *qs);
/* The job has ended: loom__qstore_shutdown, and every request handed in
 * from now on is answered LOOM_ECLOSED too. */
void loom__qstore_end(struct qstore *qs);
/* The earliest deadline of a parked request, or 0 when none has one. */
int64_t loom__qstore_next_deadline(const struct qstore *qs);

#endif /* LOOM_QSTORE_H */
