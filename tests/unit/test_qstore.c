/* SPDX-License-Identifier: MIT */
/* The queue store (qstore.c) without MPI: requests go in as the master's
 * progress thread hands them over, answers come out through the reply
 * callback, recorded here in order. Times are given, not measured. */
#include <stdlib.h>
#include <string.h>

#include "loom_test.h"
#include "qstore.h"

#define MAX_ANSWERS 256

struct answer {
    uint64_t req; /* which request */
    uint32_t op;
    loom_err err;
    char data[64]; /* the answer's bytes, as a string */
    size_t len;
    int had_item; /* rq->data came back (the store did not keep it) */
};

struct answers {
    struct answer a[MAX_ANSWERS];
    int n;
};

static void
record(void *ctx, struct qreq *rq, loom_err err, void *data, size_t len)
{
    struct answers *as = ctx;
    cr_assert_lt(as->n, MAX_ANSWERS);
    struct answer *a = &as->a[as->n++];
    a->req = rq->req;
    a->op = rq->op;
    a->err = err;
    a->len = len;
    a->had_item = rq->data != NULL;
    cr_assert_lt(len, sizeof a->data);
    if (len)
        memcpy(a->data, data, len);
    a->data[len] = '\0';
    free(data);
    free(rq->data);
    free(rq);
}

static uint64_t next_req;

/* A request for the store; returns its number (struct answer.req). */
static uint64_t
ask(struct qstore *qs, uint32_t op, const char *name, const char *item, int timeout_ms,
    uint64_t capacity, int64_t now)
{
    struct qreq *rq = calloc(1, sizeof *rq);
    cr_assert(rq);
    rq->op = op;
    rq->req = ++next_req;
    rq->timeout_ms = timeout_ms;
    rq->capacity = capacity;
    snprintf(rq->name, sizeof rq->name, "%s", name);
    if (item) {
        rq->len = strlen(item);
        rq->data = malloc(rq->len);
        cr_assert(rq->data);
        memcpy(rq->data, item, rq->len);
    }
    uint64_t req = rq->req;
    loom__qstore_request(qs, rq, now); /* rq may be answered (freed) at once */
    return req;
}

/* The answer to request req (it must have been answered exactly once). */
static const struct answer *
answer_of(const struct answers *as, uint64_t req)
{
    const struct answer *found = NULL;
    for (int i = 0; i < as->n; i++)
        if (as->a[i].req == req) {
            cr_assert_null(found, "request %llu answered twice", (unsigned long long)req);
            found = &as->a[i];
        }
    cr_assert_not_null(found, "request %llu not answered", (unsigned long long)req);
    return found;
}

static void
expect(const struct answers *as, uint64_t req, loom_err err, const char *data)
{
    const struct answer *a = answer_of(as, req);
    cr_assert_eq(a->err, err, "request %llu: %s, want %s", (unsigned long long)req,
                 loom_err_name(a->err), loom_err_name(err));
    cr_assert_str_eq(a->data, data, "request %llu's data", (unsigned long long)req);
}

static int
answered(const struct answers *as, uint64_t req)
{
    for (int i = 0; i < as->n; i++)
        if (as->a[i].req == req)
            return 1;
    return 0;
}

Test(qstore, put_then_get_in_order)
{
    struct answers as = {0};
    struct qstore *qs = loom__qstore_create(record, &as);
    cr_assert(qs);
    expect(&as, ask(qs, QOP_OPEN, "q", NULL, 0, 0, 0), LOOM_OK, "");
    uint64_t p1 = ask(qs, QOP_PUT, "q", "one", 0, 0, 0);
    uint64_t p2 = ask(qs, QOP_PUT, "q", "two", 0, 0, 0);
    expect(&as, p1, LOOM_OK, "");
    expect(&as, p2, LOOM_OK, "");
    cr_assert_not(answer_of(&as, p1)->had_item, "the store keeps a put's item");
    expect(&as, ask(qs, QOP_GET, "q", NULL, 0, 0, 0), LOOM_OK, "one");
    expect(&as, ask(qs, QOP_GET, "q", NULL, 0, 0, 0), LOOM_OK, "two");
    expect(&as, ask(qs, QOP_GET, "q", NULL, 0, 0, 0), LOOM_ETIMEDOUT, "");
    /* reopening keeps the queue and its items */
    ask(qs, QOP_PUT, "q", "three", 0, 0, 0);
    expect(&as, ask(qs, QOP_OPEN, "q", NULL, 0, 0, 0), LOOM_OK, "");
    expect(&as, ask(qs, QOP_GET, "q", NULL, 0, 0, 0), LOOM_OK, "three");
    loom__qstore_destroy(qs);
}

Test(qstore, unknown_queue_and_bad_op)
{
    struct answers as = {0};
    struct qstore *qs = loom__qstore_create(record, &as);
    expect(&as, ask(qs, QOP_PUT, "nope", "x", 0, 0, 0), LOOM_EINVAL, "");
    expect(&as, ask(qs, QOP_GET, "nope", NULL, 0, 0, 0), LOOM_EINVAL, "");
    ask(qs, QOP_OPEN, "q", NULL, 0, 0, 0);
    expect(&as, ask(qs, 99, "q", NULL, 0, 0, 0), LOOM_EPROTO, "");
    loom__qstore_destroy(qs);
}

Test(qstore, parked_gets_are_served_oldest_first)
{
    struct answers as = {0};
    struct qstore *qs = loom__qstore_create(record, &as);
    ask(qs, QOP_OPEN, "q", NULL, 0, 0, 0);
    uint64_t g1 = ask(qs, QOP_GET, "q", NULL, -1, 0, 0);
    uint64_t g2 = ask(qs, QOP_GET, "q", NULL, 1000, 0, 0);
    cr_assert_not(answered(&as, g1) || answered(&as, g2), "gets on an empty queue wait");
    cr_assert_eq(loom__qstore_next_deadline(qs), 1000 * 1000000LL, "g2's deadline");
    uint64_t p1 = ask(qs, QOP_PUT, "q", "a", 0, 0, 5);
    expect(&as, g1, LOOM_OK, "a");
    expect(&as, p1, LOOM_OK, "");
    cr_assert_not(answered(&as, g2));
    uint64_t p2 = ask(qs, QOP_PUT, "q", "b", 0, 0, 6);
    expect(&as, g2, LOOM_OK, "b");
    expect(&as, p2, LOOM_OK, "");
    cr_assert_eq(loom__qstore_next_deadline(qs), 0, "nobody waits");
    expect(&as, ask(qs, QOP_GET, "q", NULL, 0, 0, 7), LOOM_ETIMEDOUT, "");
    loom__qstore_destroy(qs);
}

Test(qstore, a_full_queue_parks_puts_until_room)
{
    struct answers as = {0};
    struct qstore *qs = loom__qstore_create(record, &as);
    ask(qs, QOP_OPEN, "q", NULL, 0, 2, 0);
    ask(qs, QOP_PUT, "q", "1", 0, 0, 0);
    ask(qs, QOP_PUT, "q", "2", 0, 0, 0);
    expect(&as, ask(qs, QOP_PUT, "q", "no", 0, 0, 0), LOOM_EFULL, "");
    uint64_t p3 = ask(qs, QOP_PUT, "q", "3", -1, 0, 0);
    uint64_t p4 = ask(qs, QOP_PUT, "q", "4", -1, 0, 0);
    cr_assert_not(answered(&as, p3) || answered(&as, p4), "puts on a full queue wait");
    expect(&as, ask(qs, QOP_GET, "q", NULL, 0, 0, 0), LOOM_OK, "1");
    expect(&as, p3, LOOM_OK, "");
    cr_assert_not(answered(&as, p4), "one get makes room for one put");
    expect(&as, ask(qs, QOP_GET, "q", NULL, 0, 0, 0), LOOM_OK, "2");
    expect(&as, p4, LOOM_OK, "");
    expect(&as, ask(qs, QOP_GET, "q", NULL, 0, 0, 0), LOOM_OK, "3");
    expect(&as, ask(qs, QOP_GET, "q", NULL, 0, 0, 0), LOOM_OK, "4");
    loom__qstore_destroy(qs);
}

Test(qstore, deadlines_expire_gets_and_puts)
{
    struct answers as = {0};
    struct qstore *qs = loom__qstore_create(record, &as);
    ask(qs, QOP_OPEN, "empty", NULL, 0, 0, 0);
    ask(qs, QOP_OPEN, "full", NULL, 0, 1, 0);
    ask(qs, QOP_PUT, "full", "x", 0, 0, 0);
    uint64_t g = ask(qs, QOP_GET, "empty", NULL, 10, 0, 0); /* deadline 10 ms */
    uint64_t p = ask(qs, QOP_PUT, "full", "y", 20, 0, 0);   /* 20 ms */
    uint64_t forever = ask(qs, QOP_GET, "empty", NULL, -1, 0, 0);
    cr_assert_eq(loom__qstore_next_deadline(qs), 10000000);
    loom__qstore_expire(qs, 9999999);
    cr_assert_not(answered(&as, g) || answered(&as, p), "nothing is due before 10 ms");
    loom__qstore_expire(qs, 10000000);
    expect(&as, g, LOOM_ETIMEDOUT, "");
    cr_assert_not(answered(&as, p));
    cr_assert_eq(loom__qstore_next_deadline(qs), 20000000);
    loom__qstore_expire(qs, (int64_t)1 << 60);
    expect(&as, p, LOOM_EFULL, "");
    cr_assert(answer_of(&as, p)->had_item, "an expired put's item comes back to its owner");
    cr_assert_not(answered(&as, forever), "no deadline: waits forever");
    cr_assert_eq(loom__qstore_next_deadline(qs), 0);
    loom__qstore_shutdown(qs);
    expect(&as, forever, LOOM_ECLOSED, "");
    /* shutdown keeps the items */
    expect(&as, ask(qs, QOP_GET, "full", NULL, 0, 0, 0), LOOM_OK, "x");
    loom__qstore_destroy(qs);
}

/* The job has ended: what waits is answered LOOM_ECLOSED, whatever its
 * timeout, and so is every request afterwards — open, put, get (even of an
 * item still there) and close. */
Test(qstore, end_answers_everything_closed)
{
    struct answers as = {0};
    struct qstore *qs = loom__qstore_create(record, &as);
    ask(qs, QOP_OPEN, "empty", NULL, 0, 0, 0);
    ask(qs, QOP_OPEN, "full", NULL, 0, 1, 0);
    ask(qs, QOP_PUT, "full", "x", 0, 0, 0);
    uint64_t forever = ask(qs, QOP_GET, "empty", NULL, -1, 0, 0);
    uint64_t timed = ask(qs, QOP_GET, "empty", NULL, 600000, 0, 0);
    uint64_t put = ask(qs, QOP_PUT, "full", "y", -1, 0, 0);
    cr_assert_not(answered(&as, forever) || answered(&as, timed) || answered(&as, put));
    loom__qstore_end(qs);
    expect(&as, forever, LOOM_ECLOSED, "");
    expect(&as, timed, LOOM_ECLOSED, "");
    expect(&as, put, LOOM_ECLOSED, "");
    cr_assert(answer_of(&as, put)->had_item, "a refused put's item comes back to its owner");
    expect(&as, ask(qs, QOP_OPEN, "new", NULL, 0, 0, 0), LOOM_ECLOSED, "");
    expect(&as, ask(qs, QOP_GET, "full", NULL, 0, 0, 0), LOOM_ECLOSED, "");
    expect(&as, ask(qs, QOP_PUT, "empty", "z", 0, 0, 0), LOOM_ECLOSED, "");
    expect(&as, ask(qs, QOP_CLOSE, "full", NULL, 0, 0, 0), LOOM_ECLOSED, "");
    loom__qstore_destroy(qs); /* frees the item "x" still held */
}

Test(qstore, close_drains_then_refuses)
{
    struct answers as = {0};
    struct qstore *qs = loom__qstore_create(record, &as);
    ask(qs, QOP_OPEN, "a", NULL, 0, 0, 0);
    ask(qs, QOP_OPEN, "b", NULL, 0, 1, 0);
    uint64_t getter = ask(qs, QOP_GET, "a", NULL, -1, 0, 0);
    ask(qs, QOP_PUT, "b", "kept", 0, 0, 0);
    uint64_t putter = ask(qs, QOP_PUT, "b", "late", -1, 0, 0);
    expect(&as, ask(qs, QOP_CLOSE, "a", NULL, 0, 0, 0), LOOM_OK, "");
    expect(&as, getter, LOOM_EDRAINED, "");
    expect(&as, ask(qs, QOP_CLOSE, "b", NULL, 0, 0, 0), LOOM_OK, "");
    expect(&as, putter, LOOM_ECLOSED, "");
    expect(&as, ask(qs, QOP_PUT, "b", "no", 0, 0, 0), LOOM_ECLOSED, "");
    expect(&as, ask(qs, QOP_GET, "b", NULL, 0, 0, 0), LOOM_OK, "kept");
    expect(&as, ask(qs, QOP_GET, "b", NULL, -1, 0, 0), LOOM_EDRAINED, "");
    loom__qstore_destroy(qs);
}

Test(qstore, destroy_answers_waiters_and_frees_items)
{
    struct answers as = {0};
    struct qstore *qs = loom__qstore_create(record, &as);
    ask(qs, QOP_OPEN, "a", NULL, 0, 0, 0);
    ask(qs, QOP_OPEN, "b", NULL, 0, 0, 0);
    for (int i = 0; i < 10; i++)
        ask(qs, QOP_PUT, "b", "item", 0, 0, 0);
    uint64_t g = ask(qs, QOP_GET, "a", NULL, -1, 0, 0);
    loom__qstore_destroy(qs); /* the items' memory: ASan's leak check */
    expect(&as, g, LOOM_ECLOSED, "");
    loom__qstore_destroy(NULL);
}
