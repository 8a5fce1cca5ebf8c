/* SPDX-License-Identifier: MIT */
/*
 * Named queues: the public calls (any rank, any thread). Each call
 * becomes a request (struct qreq) that travels to the store (qstore.c, on
 * the master): from a worker through its communication thread and MPI
 * (worker.c), from the master's own threads through the progress thread's
 * mailbox (master_api.c). The caller blocks until the answer comes back
 * (local_call.c); waiting for an item or room costs no messages.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "job_types.h"
#include "loom/queue.h"
#include "master_api.h"
#include "qstore.h"
#include "worker.h"

struct loom_queue {
    loom_job *job;
    char name[LOOM_QUEUE_NAME_MAX + 1];
};

/* Send one request and wait for the answer. Takes ownership of data. */
static loom_err
call(loom_job *job, uint32_t op, const char *name, size_t capacity, void *data, size_t len,
     int timeout_ms, void **out, size_t *out_len)
{
    static const char *const ops[] = {"", "open", "put", "get", "close"};
    if (!job->started) {
        free(data);
        return loom__fail(LOOM_ESTATE, "queue \"%s\": %s before loom_job_start()", name, ops[op]);
    }
    struct qreq *rq = calloc(1, sizeof *rq);
    if (!rq) {
        free(data);
        return loom__fail(LOOM_ENOMEM, "queue \"%s\": out of memory", name);
    }
    rq->op = op;
    rq->capacity = capacity;
    rq->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
    memcpy(rq->name, name, strlen(name) + 1);
    rq->data = data;
    rq->len = len;
    void *ignored = NULL;
    size_t ignored_len = 0;
    if (!out) {
        out = &ignored;
        out_len = &ignored_len;
    }
    loom_err rc = job->rank == 0 ? loom__master_queue_call(job, rq, out, out_len)
                                 : loom__worker_queue_call(job, rq, out, out_len);
    free(ignored);
    if (rc == LOOM_EINVAL) /* the store's answer: never opened on any rank */
        return loom__fail(rc, "queue \"%s\": %s: no queue of that name was opened", name, ops[op]);
    if (rc == LOOM_ETIMEDOUT || rc == LOOM_EFULL)
        return loom__fail(rc, "queue \"%s\": %s: %s (waited %d ms)", name, ops[op],
                          loom_strerror(rc), timeout_ms);
    return rc == LOOM_OK ? LOOM_OK
                         : loom__fail(rc, "queue \"%s\": %s: %s", name, ops[op], loom_strerror(rc));
}

loom_err
loom_queue_open(loom_job *job, const char *name, size_t capacity, loom_queue **out)
{
    LOOM_ASSERT(job && out);
    if (!name || !*name || strlen(name) > LOOM_QUEUE_NAME_MAX)
        return loom__fail(LOOM_EINVAL, "loom_queue_open: a queue name is 1 to %d bytes, not %zu",
                          LOOM_QUEUE_NAME_MAX, name ? strlen(name) : (size_t)0);
    loom_queue *q = calloc(1, sizeof *q);
    if (!q)
        return loom__fail(LOOM_ENOMEM, "queue \"%s\": out of memory", name);
    q->job = job;
    memcpy(q->name, name, strlen(name) + 1);
    loom_err rc = call(job, QOP_OPEN, name, capacity, NULL, 0, 0, NULL, NULL);
    if (rc != LOOM_OK) {
        free(q);
        return rc;
    }
    *out = q;
    return LOOM_OK;
}

loom_err
loom_queue_put(loom_queue *q, const void *data, size_t len, int timeout_ms)
{
    LOOM_ASSERT(q);
    if (len > q->job->set.max_payload)
        return loom__fail(LOOM_ERANGE,
                          "queue \"%s\": an item of %zu bytes is over the limit job.max_payload "
                          "(%zu bytes)",
                          q->name, len, q->job->set.max_payload);
    void *copy = NULL;
    if (len) {
        copy = malloc(len);
        if (!copy)
            return loom__fail(LOOM_ENOMEM, "queue \"%s\": out of memory for an item of %zu bytes",
                              q->name, len);
        memcpy(copy, data, len);
    }
    return call(q->job, QOP_PUT, q->name, 0, copy, len, timeout_ms, NULL, NULL);
}

loom_err
loom_queue_get(loom_queue *q, void **data, size_t *len, int timeout_ms)
{
    LOOM_ASSERT(q && data && len);
    *data = NULL;
    *len = 0;
    return call(q->job, QOP_GET, q->name, 0, NULL, 0, timeout_ms, data, len);
}

loom_err
loom_queue_close(loom_queue *q)
{
    LOOM_ASSERT(q);
    return call(q->job, QOP_CLOSE, q->name, 0, NULL, 0, 0, NULL, NULL);
}

void
loom_queue_release(loom_queue *q)
{
    free(q);
}
