/* SPDX-License-Identifier: MIT */
/*
 * The master reads a worker's message: one handler per record type
 * (wire.h: WIRE_RESULT, WIRE_SUBMIT, WIRE_CREDIT, WIRE_HELLO, WIRE_QREQ,
 * WIRE_BYE).
 *
 * Progress thread only. A message is read in two phases: the handlers
 * run without m->mu (the in-flight map, credits, the journal and the
 * queue store belong to the progress thread) and gather what changes the
 * shared state in m->fx; apply_effects then hands it over under m->mu in
 * one go, so program threads are held up only for the hand-over.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "journal.h"
#include "loom/log.h"
#include "master_frames.h"
#include "master_state.h"
#include "qstore.h"
#include "recorder.h"

/* One message being read. */
struct frame {
    struct master *m;
    int rank;
    struct mworker *w;
    struct loom__msg *msg;
    struct frame_effects *fx;
    long refs;       /* results pointing into msg, added to its count at the end */
    int beat;        /* only heartbeats (credits of 0) so far */
    int results;     /* results of tasks in flight on its rank */
    int64_t rec_now; /* one wall-clock time for the frame's attempts; 0: not recorded */
};

/* Where a worker runs, for results: "" until its hello. */
static const char *
worker_host(const struct mworker *w)
{
    return w->host ? w->host : "";
}

static void
effects_reset(struct frame_effects *fx)
{
    fx->nresults = 0;
    fx->submits = NULL;
    fx->submits_tail = &fx->submits;
    fx->ndone = 0;
    fx->retries = NULL;
    fx->retries_tail = &fx->retries;
    fx->hello_threads = 0;
    fx->bye = 0;
}

static void
effects_add_result(struct frame_effects *fx, const loom_result *r)
{
    if (fx->nresults == fx->cap) {
        size_t cap = fx->cap ? fx->cap * 2 : 256;
        loom_result *a = realloc(fx->results, cap * sizeof *a);
        if (!a)
            loom__panic(__FILE__, __LINE__, __func__, "out of memory for results");
        fx->results = a;
        fx->cap = cap;
    }
    fx->results[fx->nresults++] = *r;
}

static void
effects_add_done(struct frame_effects *fx, void *tagged)
{
    if (fx->ndone == fx->done_cap) {
        size_t cap = fx->done_cap ? fx->done_cap * 2 : 256;
        struct mtask **d = realloc(fx->done, cap * sizeof *d);
        if (!d)
            loom__panic(__FILE__, __LINE__, __func__, "out of memory for results");
        fx->done = d;
        fx->done_cap = cap;
    }
    fx->done[fx->ndone++] = tagged;
}

/* The journal's record of a finished attempt, appended before the result
 * can be delivered (journal.h: what a crash may then lose). A failing
 * journal is said once and makes loom_job_finish() fail; the job goes on. */
static void
journal_record(struct master *m, const struct mtask *t, const struct wire_result *wr, int rank)
{
    struct loom__journal_rec rec = {.task_id = t->id,
                                    .def_hash = t->hash,
                                    .attempt = t->attempt,
                                    .status = wr->status,
                                    /* how an isolated task ended */
                                    .exit_code = wr->cause == LOOM_CAUSE_EXIT ? wr->code : 0,
                                    .signal = wr->cause == LOOM_CAUSE_SIGNAL ? wr->code : 0,
                                    .rank = rank,
                                    .thread = wr->slot ? (int32_t)wr->slot - 1 : -1,
                                    .start_ns = wr->start_ns,
                                    .duration_ns = wr->run_ns,
                                    .host = worker_host(&m->workers[rank])};
    if (loom__journal_append(m->jnl, &rec) != LOOM_OK && !atomic_exchange(&m->jnl_failed, 1)) {
        LOOM_ERROR("%s: results from now on are not recorded (they run again on resume)",
                   loom__journal_errmsg(m->jnl));
    }
}

/* Whether a finished attempt runs again (job.retries, job.crash_limit;
 * a map chunk never does). Counts a crash of its isolated process. */
static int
should_retry(struct master *m, struct mtask *t, const struct wire_result *wr)
{
    int crashed = wr->cause == LOOM_CAUSE_SIGNAL || wr->cause == LOOM_CAUSE_EXIT ||
                  wr->cause == LOOM_CAUSE_TIMEOUT || wr->cause == LOOM_CAUSE_MEMORY;
    if (crashed && ++t->crashes >= m->job->set.crash_limit && t->attempt <= m->job->set.retries)
        LOOM_WARN("task %llu crashed %u times (last: %s %d): no more attempts "
                  "(job.crash_limit)",
                  (unsigned long long)t->id, t->crashes, loom_cause_name((loom_cause)wr->cause),
                  wr->code);
    return wr->status != 0 && t->attempt <= m->job->set.retries &&
           !(crashed && t->crashes >= m->job->set.crash_limit) && !(t->flags & WIRE_TASK_CHUNK);
}

/* WIRE_RESULT: a task finished. Ignored unless its attempt is in flight
 * on the rank that sent it: no rank can answer for another's task. */
static int
on_result(struct frame *f, const char *body, size_t blen)
{
    struct master *m = f->m;
    struct wire_result wr;
    const char *reply;
    if (wire_get_result(body, blen, &wr, &reply) != LOOM_OK)
        return -1;
    void *tagged = loom__u64map_take(&m->inflight, wr.id);
    struct mtask *t = loom__inflight_task(tagged);
    if (!t || t->attempt != wr.attempt || t->rank != f->rank) {
        if (t && t->attempt == wr.attempt) /* in flight, but elsewhere */
            LOOM_WARN("refusing a result for task %llu attempt %u from rank %d: the task "
                      "runs on rank %d",
                      (unsigned long long)wr.id, wr.attempt, f->rank, t->rank);
        else /* not in flight (a duplicate, or an attempt given up on) */
            LOOM_DEBUG("ignoring a result for task %llu attempt %u from rank %d",
                       (unsigned long long)wr.id, wr.attempt, f->rank);
        if (t)
            loom__u64map_put(&m->inflight, t->id, tagged);
        return 0;
    }
    f->results = 1;
    /* it ran to its end on this worker: no longer a suspect (lose_worker) */
    t->suspect = 0;
    if (f->w->busy && --f->w->busy == 0)
        f->w->alone = 0;
    if (m->jnl) /* every attempt, failed ones too */
        journal_record(m, t, &wr, f->rank);
    int retry = should_retry(m, t, &wr);
    if (f->rec_now)
        loom__recorder_result(m->rec, f->rec_now, t->id, t->attempt, t->fn, f->rank, wr.slot,
                              wr.start_ns, wr.run_ns, wr.status, (loom_cause)wr.cause, wr.code,
                              !retry);
    if (retry) {
        /* job.retries: run it again, on another worker if there is one */
        LOOM_DEBUG("task %llu attempt %u failed on rank %d (status %d): retrying",
                   (unsigned long long)t->id, t->attempt, f->rank, wr.status);
        t->attempt++;
        t->rank = f->rank;
        t->next = NULL;
        *f->fx->retries_tail = t;
        f->fx->retries_tail = &t->next;
        return 0;
    }
    effects_add_done(f->fx, tagged);
    /* the result points into the message: no copy */
    loom_result res = {wr.id,
                       wr.status,
                       wr.attempt,
                       f->rank,
                       NULL,
                       wr.len,
                       0,
                       wr.len ? f->msg : NULL,
                       (loom_cause)wr.cause,
                       wr.code,
                       worker_host(f->w),
                       (int)wr.slot,
                       wr.start_ns,
                       wr.run_ns};
    if (wr.len) {
        res.data = (void *)reply;
        f->refs++;
    }
    effects_add_result(f->fx, &res);
    return 0;
}

/* WIRE_SUBMIT: a task submitted a task. */
static int
on_submit(struct frame *f, const char *body, size_t blen)
{
    struct master *m = f->m;
    struct wire_submit sub;
    const char *payload;
    if (wire_get_submit(body, blen, &sub, &payload) != LOOM_OK || sub.fn >= m->job->nfns ||
        sub.len > m->job->set.max_payload)
        return -1;
    struct mtask *t = loom__mtask_new(sub.fn, 0, payload, sub.len);
    if (!t)
        loom__panic(__FILE__, __LINE__, __func__, "out of memory for a task");
    if (m->jnl)
        t->hash = loom__journal_def_hash(m->job->fns[sub.fn].name, payload, sub.len);
    *f->fx->submits_tail = t;
    f->fx->submits_tail = &t->next;
    return 0;
}

/* WIRE_CREDIT: room for more tasks (0: a heartbeat). A worker never
 * holds more than WIRE_CREDITS_MAX: credits past it are refused. */
static int
on_credit(struct frame *f, const char *body, size_t blen)
{
    struct wire_credit c;
    if (wire_get_credit(body, blen, &c) != LOOM_OK)
        return -1;
    size_t room = WIRE_CREDITS_MAX - f->w->credits; /* credits <= WIRE_CREDITS_MAX */
    if (c.credits > room) {
        LOOM_WARN("refusing %zu of the %u credits from rank %d: a worker holds at most %zu "
                  "tasks",
                  (size_t)c.credits - room, c.credits, f->rank, WIRE_CREDITS_MAX);
        c.credits = (uint32_t)room;
    }
    f->w->credits += c.credits;
    if (c.credits)
        f->beat = 0;
    return 0;
}

/* WIRE_HELLO: the worker is up. Only once: a second hello would change a
 * host results point to. */
static int
on_hello(struct frame *f, const char *body, size_t blen)
{
    struct mworker *w = f->w;
    struct wire_hello h;
    const char *host;
    if (w->hello || wire_get_hello(body, blen, &h, &host) != LOOM_OK)
        return -1;
    if (!(w->host = strndup(host, h.host_len)))
        loom__panic(__FILE__, __LINE__, __func__, "out of memory for a worker's host");
    w->hello = 1;
    loom__recorder_join(f->m->rec, f->rank, w->host, h.threads);
    w->threads = h.threads;
    f->fx->hello_threads += h.threads;
    LOOM_DEBUG("worker rank %d is up on %s: pid %d, %u threads", f->rank, w->host, h.pid,
               h.threads);
    return 0;
}

/* WIRE_QREQ: a queue call of one of the worker's threads, for the store. */
static int
on_qreq(struct frame *f, const char *body, size_t blen)
{
    struct master *m = f->m;
    struct wire_qreq q;
    const char *name, *data;
    struct qreq *rq;
    if (wire_get_qreq(body, blen, &q, &name, &data) != LOOM_OK || q.name_len > 63 ||
        q.data_len > m->job->set.max_payload || !(rq = calloc(1, sizeof *rq)))
        return -1;
    rq->op = q.op;
    rq->rank = f->rank;
    rq->req = q.req;
    rq->timeout_ms = q.timeout_ms;
    rq->capacity = q.capacity;
    memcpy(rq->name, name, q.name_len);
    rq->len = q.data_len;
    if (q.data_len && !(rq->data = malloc(q.data_len)))
        loom__panic(__FILE__, __LINE__, __func__, "out of memory for a queue item");
    if (q.data_len)
        memcpy(rq->data, data, q.data_len);
    m->qreq_at = loom__now_ns(); /* more may follow: master_progress.c polls for them */
    loom__qstore_request(m->qs, rq, m->qreq_at);
    return 0;
}

/* WIRE_BYE: the worker has left serve(). Counted once per worker: the
 * job ends when every worker has said it. */
static int
on_bye(struct frame *f, const char *body, size_t blen)
{
    if (wire_get_empty(body, blen) != LOOM_OK)
        return -1;
    if (f->w->bye) {
        LOOM_WARN("refusing a second goodbye from rank %d", f->rank);
        return 0;
    }
    f->w->bye = 1;
    f->fx->bye = 1;
    return 0;
}

/* One record; 0, or -1 when malformed or of a type workers do not send. */
static int
on_record(struct frame *f, uint32_t type, const char *body, size_t blen)
{
    switch (type) {
    case WIRE_RESULT:
        return on_result(f, body, blen);
    case WIRE_SUBMIT:
        return on_submit(f, body, blen);
    case WIRE_CREDIT:
        return on_credit(f, body, blen);
    case WIRE_HELLO:
        return on_hello(f, body, blen);
    case WIRE_QREQ:
        return on_qreq(f, body, blen);
    case WIRE_BYE:
        return on_bye(f, body, blen);
    default:
        return -1;
    }
}

/* Phase 2: hand what the message changed over to the shared state. */
static void
apply_effects(struct master *m, struct frame_effects *fx)
{
    if (!fx->nresults && !fx->submits && !fx->ndone && !fx->hello_threads && !fx->bye &&
        !fx->retries)
        return;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < fx->nresults; i++)
        loom__master_deliver(m, &fx->results[i]);
    for (struct mtask *t = fx->submits, *next; t; t = next) {
        next = t->next;
        t->next = NULL;
        t->id = ++m->next_id;
        loom__master_pending_push(m, t);
        m->unfinished++;
    }
    for (size_t i = 0; i < fx->ndone; i++)
        loom__mtask_recycle(&m->tasks, fx->done[i]);
    for (struct mtask *t = fx->retries, *next; t; t = next) {
        next = t->next;
        t->next = NULL;
        if (m->nworkers <= 2 || loom__master_avoid_push(m, t, t->rank) != 0)
            loom__master_pending_push(m, t);
    }
    m->worker_threads += fx->hello_threads;
    m->byes += fx->bye;
    if (fx->nresults || fx->bye)
        loom__master_wake_waiters(m);
    pthread_mutex_unlock(&m->mu);
}

/* Results came from w at now: the time since its last ones (or since
 * tasks went to it while it had none) goes into its average gap and the
 * deviation from it, which say when its next ones are due. */
static void
note_results(struct mworker *w, int64_t now)
{
    if (w->res_at && w->res_gap) {
        int64_t d = now - w->res_at, err = d > w->res_gap ? d - w->res_gap : w->res_gap - d;
        w->res_dev = (w->res_dev * 3 + err) / 4;
        w->res_gap = (w->res_gap * 3 + d) / 4;
    } else if (w->res_at) {
        w->res_gap = now - w->res_at;
        w->res_dev = w->res_gap / 2; /* one sample: trust it little */
    }
    w->res_at = now;
}

int
loom__master_handle_frame(struct master *m, int rank, struct loom__msg *msg)
{
    struct frame f = {m, rank, &m->workers[rank], msg, &m->fx, 0, 1, 0, 0};
    struct wire_reader r;
    uint32_t type = 0;
    const char *body;
    size_t blen;
    int rc;
    if (msg->len > m->job->set.max_frame || wire_open(&r, msg->data, msg->len) != LOOM_OK) {
        LOOM_ERROR("dropping a malformed message from rank %d (%zu bytes%s)", rank, msg->len,
                   msg->len > m->job->set.max_frame ? ", above job.max_frame" : "");
        return -1;
    }
    effects_reset(f.fx);
    f.rec_now = loom__recorder_wants_results(m->rec) ? loom__wall_ns() : 0;
    while ((rc = wire_next(&r, &type, &body, &blen)) == 1) {
        if (type != WIRE_CREDIT)
            f.beat = 0;
        if (on_record(&f, type, body, blen) != 0) {
            rc = -1;
            break;
        }
    }
    if (f.refs) /* one atomic add for the whole frame, not one per result */
        atomic_fetch_add(&msg->refs, f.refs);
    if (rc < 0)
        LOOM_ERROR("malformed record (type %u) in a message from rank %d: ignoring the rest of it",
                   type, rank);
    apply_effects(m, f.fx);
    if (f.results)
        note_results(f.w, loom__now_ns());
    return rc < 0 ? -1 : f.beat;
}
