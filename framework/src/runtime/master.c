/* SPDX-License-Identifier: MIT */
/*
 * The master (rank 0): the program's threads submit tasks and consume
 * results; one progress thread owns every MPI call and runs a non-blocking
 * event loop: receive frames (results, submits from tasks, credits, queue
 * requests), dispatch pending tasks in batches to workers with credits,
 * answer queue requests, send, and back off when idle.
 *
 * State and who touches it:
 *   under m->mu (program threads and progress thread):
 *     pending (FIFO of tasks to dispatch), results (FIFO for next_result),
 *     futures (id -> future), the map collector, counters, mailbox of
 *     local queue requests, finish state;
 *   progress thread only:
 *     inflight (id -> task, for requeueing once workers can be lost),
 *     per-worker credits and outgoing frames, sends in progress, the
 *     queue store.
 * One condition variable (m->cv) wakes program threads for any change they
 * may wait on; m->wake wakes a sleeping progress thread.
 *
 * Counters: `unfinished` counts tasks created (by submit or by tasks)
 * whose result has not arrived; `outstanding` counts tasks created whose
 * result has not been handed to the program (or dropped by finish).
 * Submitting waits while outstanding >= job.max_outstanding, which bounds
 * the master's memory by the tasks in flight, never by the tasks ever
 * submitted. The job is over when finish was called and unfinished == 0.
 *
 * A result is recorded only if its task is in `inflight`; it is removed
 * there on the first result, so a duplicate can never be delivered twice.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "internal.h"
#include "job_types.h"
#include "join.h"
#include "journal.h"
#include "local_call.h"
#include "loom/events.h"
#include "loom/log.h"
#include "master.h"
#include "master_api.h"
#include "msg.h"
#include "qstore.h"
#include "recorder.h"
#include "registry.h"
#include "wire.h"

/* ---- a small u64 -> pointer map (open addressing, linear probing) --------- */

struct u64map {
    uint64_t *keys; /* 0 = empty */
    void **vals;
    size_t cap, count;
};

/* Task ids are handed out in sequence and live a short while. Groups of 8
 * consecutive ids share a cache line of slots; the groups are scattered by
 * a mixing hash, so the ids in flight never form one long run of occupied
 * slots, which would make every deletion (a backward shift) walk the whole
 * run. (Measured: groups of 64 made tiny tasks 20% slower, plain identity
 * hashing 4x slower.) */
#define U64_GROUP_BITS 3

static size_t
u64_slot(uint64_t k, size_t cap)
{
    uint64_t g = k >> U64_GROUP_BITS;
    g ^= g >> 33;
    g *= 0xff51afd7ed558ccdull;
    g ^= g >> 33;
    return (size_t)((g << U64_GROUP_BITS) | (k & ((1u << U64_GROUP_BITS) - 1))) & (cap - 1);
}

static int
u64map_put(struct u64map *m, uint64_t k, void *v)
{
    if ((m->count + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        uint64_t *keys = calloc(cap, sizeof *keys);
        void **vals = calloc(cap, sizeof *vals);
        if (!keys || !vals) {
            free(keys);
            free(vals);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i])
                continue;
            size_t s = u64_slot(m->keys[i], cap);
            while (keys[s])
                s = (s + 1) & (cap - 1);
            keys[s] = m->keys[i];
            vals[s] = m->vals[i];
        }
        free(m->keys);
        free(m->vals);
        m->keys = keys;
        m->vals = vals;
        m->cap = cap;
    }
    size_t s = u64_slot(k, m->cap);
    while (m->keys[s] && m->keys[s] != k)
        s = (s + 1) & (m->cap - 1);
    if (!m->keys[s])
        m->count++;
    m->keys[s] = k;
    m->vals[s] = v;
    return 0;
}

/* Remove k and return its value, or NULL. Backward-shift deletion keeps
 * probe chains intact without tombstones. */
static void *
u64map_take(struct u64map *m, uint64_t k)
{
    if (!m->cap)
        return NULL;
    size_t s = u64_slot(k, m->cap);
    while (m->keys[s] && m->keys[s] != k)
        s = (s + 1) & (m->cap - 1);
    if (!m->keys[s])
        return NULL;
    void *v = m->vals[s];
    m->keys[s] = 0;
    m->count--;
    for (size_t i = (s + 1) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1)) {
        size_t home = u64_slot(m->keys[i], m->cap);
        /* move i back to s if its home is not in (s, i] cyclically */
        if ((i > s && (home <= s || home > i)) || (i < s && home <= s && home > i)) {
            m->keys[s] = m->keys[i];
            m->vals[s] = m->vals[i];
            m->keys[i] = 0;
            s = i;
        }
    }
    return v;
}

static void
u64map_free(struct u64map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- state ------------------------------------------------------------------ */

struct mtask {
    struct mtask *next;
    uint64_t id;
    uint32_t attempt, fn, flags, len;
    int32_t rank;     /* the worker it was sent to (in flight) */
    uint32_t crashes; /* attempts that crashed their isolated process */
    uint64_t hash;    /* of its definition, for the journal (0 without one) */
    char data[];
};

/* Results waiting for loom_job_next_result(): a ring that grows, so
 * queueing a result allocates nothing. */
struct rring {
    loom_result *a;
    size_t head, count, cap; /* cap is 0 or a power of two */
};

static int
rring_push(struct rring *q, const loom_result *r)
{
    if (q->count == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 1024;
        loom_result *a = malloc(cap * sizeof *a);
        if (!a)
            return -1;
        for (size_t i = 0; i < q->count; i++)
            a[i] = q->a[(q->head + i) & (q->cap - 1)];
        free(q->a);
        q->a = a;
        q->cap = cap;
        q->head = 0;
    }
    q->a[(q->head + q->count) & (q->cap - 1)] = *r;
    q->count++;
    return 0;
}

static loom_result
rring_pop(struct rring *q)
{
    loom_result r = q->a[q->head];
    q->head = (q->head + 1) & (q->cap - 1);
    q->count--;
    return r;
}

/* A map chunk's result on its way to the map's caller. */
struct mresult {
    struct mresult *next;
    size_t chunk;
    loom_result r;
};

struct loom_job_future {
    struct master *m;
    int refs; /* under m->mu: the master's table and the caller */
    int done;
    loom_result res;
};

/* The one map in progress: its chunks' ids (id -> chunk index + 1) and
 * the chunk results that have arrived. */
struct map_collect {
    struct u64map ids;
    struct mresult *head, **tail;
};

struct msend {
    MPI_Request req;
    struct wire_buf buf;
    struct msend *next;
    int rank;
};

struct mworker {
    size_t credits;
    int hello, bye;
    int lost; /* declared lost: nothing goes to it, nothing from it counts */
    unsigned threads;
    int64_t heard; /* when it last sent anything */
    int64_t sent;  /* joined: when something last went to it */
    MPI_Comm comm; /* where it is: job->comm, or a joined job's intercomm */
    int peer;      /* its rank there */
    int joined;    /* came through the acceptor (join.c) */
    struct wire_buf out;
    /* from its hello, NULL before. Its own allocation: loom_result.host
     * points to it, and the table moves when joined workers grow it. */
    char *host;
};

/* Where a worker runs, for results: "" until its hello. */
static const char *
worker_host(const struct mworker *w)
{
    return w->host ? w->host : "";
}

/* A job that joined (join.c): its ranks are workers base..base+n-1. */
struct mgroup {
    MPI_Comm comm;
    int base, n;
    struct mgroup *next;
};

/* Tasks waiting to be dispatched: a ring of pointers, so dispatch takes a
 * batch in O(1) under the lock without touching the tasks (cold in this
 * thread's cache: the program's thread wrote them). */
struct tring {
    struct mtask **a;
    size_t head, count, cap; /* cap is 0 or a power of two */
};

static int
tring_reserve(struct tring *q, size_t more)
{
    if (q->count + more <= q->cap)
        return 0;
    size_t cap = q->cap ? q->cap : 1024;
    while (cap < q->count + more)
        cap *= 2;
    struct mtask **a = malloc(cap * sizeof *a);
    if (!a)
        return -1;
    for (size_t i = 0; i < q->count; i++)
        a[i] = q->a[(q->head + i) & (q->cap - 1)];
    free(q->a);
    q->a = a;
    q->cap = cap;
    q->head = 0;
    return 0;
}

/* Give back the unsent tail of a batch: it goes first again. */
static void
tring_unshift(struct tring *q, struct mtask *const *t, size_t n)
{
    if (tring_reserve(q, n) != 0)
        loom__panic(__FILE__, __LINE__, __func__, "out of memory requeueing tasks");
    for (size_t i = n; i-- > 0;) {
        q->head = (q->head - 1) & (q->cap - 1);
        q->a[q->head] = t[i];
        q->count++;
    }
}

/* A task that would rather not run on `rank` (its last attempt failed
 * there): it waits here, beside the pending ring, until another worker
 * asks for work — or until no other worker is left, or it has waited
 * AVOID_WAIT_NS, so a preference never becomes a stall. */
struct avoiding {
    struct mtask *t;
    int rank;
    int64_t since;
};

#define AVOID_WAIT_NS ((int64_t)1000000000)

/* What one frame changes in the state under m->mu, gathered first without
 * the lock so program threads are held up only for the hand-over. */
struct frame_effects {
    loom_result *results;
    size_t nresults, cap;
    struct mtask *submits, **submits_tail;
    struct mtask **done; /* finished tasks, for the free list */
    size_t ndone, done_cap;
    struct mtask *retries, **retries_tail; /* failed, to run again (rank: where) */
    unsigned hello_threads;
    int bye;
};

struct master {
    loom_job *job;
    pthread_t progress;
    atomic_int quit;

    pthread_mutex_t mu;
    pthread_cond_t cv;   /* program threads wait here */
    pthread_cond_t wake; /* the progress thread sleeps here */
    int waiters, sleeping;

    struct tring pending;
    int64_t pending_since;
    struct avoiding *avoid; /* retries kept away from one worker (a vector) */
    size_t navoid, avoid_cap;
    unsigned worker_threads; /* sum over workers that said hello */
    struct rring results;
    struct u64map futures;
    struct map_collect *map;
    uint64_t next_id;
    size_t unfinished, outstanding;
    struct qreq *mailbox;
    struct mtask **free_tasks; /* small tasks to reuse (a stack) */
    size_t nfree_tasks;
    int finishing, stop_sent;
    int byes;
    int lost;                   /* workers declared lost */
    int64_t next_check;         /* when to look for silent workers next */
    loom__journal *jnl;         /* progress thread: the journal, if any */
    loom__journal_done *done;   /* resume: what the journal has (read-only) */
    atomic_int jnl_failed;      /* an append or sync failed (said once) */
    loom__recorder *rec;        /* job.events / job.report, if any (recorder.h) */
    int no_workers;             /* all lost: submits fail at once */
    int nworkers;               /* worker slots 1..nworkers-1 (0: the master);
                                   grows as jobs join; written under mu */
    struct loom__acceptor *acc; /* joining workers accepted (NULL: none) */

    /* progress thread only */
    struct u64map inflight;
    struct mworker *workers;
    int workers_cap;
    struct mgroup *groups;
    struct msend *sends;
    struct qstore *qs;
    unsigned rr;
    struct frame_effects fx;
    struct mtask **batch; /* dispatch scratch: job.batch_max pointers */
};

static void
wake_waiters(struct master *m)
{
    if (m->waiters)
        pthread_cond_broadcast(&m->cv);
}

/* (under mu) One signal is enough: until the thread has run again, more
 * would only cost system calls. */
static void
wake_progress(struct master *m)
{
    if (m->sleeping) {
        pthread_cond_signal(&m->wake);
        m->sleeping = 0;
    }
}

/* Wait on m->cv (m->mu held) until woken or the deadline; dl NULL = forever. */
static int
wait_cv(struct master *m, const struct timespec *dl)
{
    m->waiters++;
    int rc = dl ? pthread_cond_timedwait(&m->cv, &m->mu, dl) : pthread_cond_wait(&m->cv, &m->mu);
    m->waiters--;
    return rc;
}

/* ---- sending ------------------------------------------------------------------ */

static void
sends_progress(struct master *m)
{
    for (struct msend **pp = &m->sends; *pp;) {
        int done = 0;
        MPI_Test(&(*pp)->req, &done, MPI_STATUS_IGNORE);
        if (!done) {
            pp = &(*pp)->next;
            continue;
        }
        struct msend *s = *pp;
        *pp = s->next;
        wire_buf_free(&s->buf);
        free(s);
    }
}

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
    struct msend *s = calloc(1, sizeof *s);
    if (!s)
        return; /* try again next round */
    s->buf = w->out;
    memset(&w->out, 0, sizeof w->out);
    wire_buf_reset(&w->out);
    size_t len = wire_finish(&s->buf);
    w->sent = loom__now_ns();
    if (MPI_Isend(s->buf.data, (int)len, MPI_BYTE, w->peer, LOOM_TAG_DOWN, w->comm, &s->req) !=
        MPI_SUCCESS) {
        LOOM_ERROR("MPI_Isend to rank %d failed", rank);
        wire_buf_free(&s->buf);
        free(s);
        return;
    }
    s->rank = rank;
    s->next = m->sends;
    m->sends = s;
}

/* ---- queue store glue ------------------------------------------------------------ */

static void
queue_reply(void *ctx, struct qreq *rq, loom_err err, void *data, size_t len)
{
    struct master *m = ctx;
    if (rq->local) {
        loom__local_call_complete(rq->local, err, data, len);
    } else {
        struct wire_qrep q = {rq->req, (uint32_t)err, (uint32_t)len};
        if (wire_put(&m->workers[rq->rank].out, WIRE_QREP, &q, sizeof q, data, len, NULL, 0) !=
            LOOM_OK)
            LOOM_ERROR("out of memory answering a queue request of rank %d", rq->rank);
        free(data);
    }
    free(rq->data);
    free(rq);
}

loom_err
loom__master_queue_call(loom_job *job, struct qreq *rq, void **data, size_t *len)
{
    struct master *m = job->m;
    struct local_call call;
    loom__local_call_init(&call);
    rq->local = &call;
    rq->rank = 0;
    pthread_mutex_lock(&m->mu);
    int closed = m->stop_sent && m->byes == m->nworkers - 1;
    if (!closed) {
        rq->next = m->mailbox;
        m->mailbox = rq;
        wake_progress(m);
    }
    pthread_mutex_unlock(&m->mu);
    if (closed) {
        free(rq->data);
        free(rq);
        loom__local_call_destroy(&call);
        return LOOM_ECLOSED;
    }
    loom__local_call_wait(&call);
    *data = call.data;
    *len = call.len;
    loom__local_call_destroy(&call);
    return call.err;
}

/* ---- receiving -------------------------------------------------------------------- */

/* Small tasks are recycled through a free list (under mu): submit and
 * the progress thread then trade memory without malloc and free, which
 * otherwise dominate the cost of a tiny task. */
#define SMALL_TASK     64
#define FREE_TASKS_MAX 16384

/* A new task for len payload bytes, copied from data unless data is NULL.
 * Small tasks get room for SMALL_TASK bytes so they can be recycled. */
static struct mtask *
mtask_new(uint32_t fn, uint32_t flags, const void *data, size_t len)
{
    struct mtask *t = malloc(sizeof *t + (len <= SMALL_TASK ? SMALL_TASK : len));
    if (!t)
        return NULL;
    *t = (struct mtask){NULL, 0, 1, fn, flags, (uint32_t)len, 0, 0, 0};
    if (len && data)
        memcpy(t->data, data, len);
    return t;
}

/* In-flight tasks are kept as tagged pointers: bit 0 set for a small
 * task, so recycling one never has to read the task itself. */
static void *
inflight_tag(struct mtask *t)
{
    return (void *)((uintptr_t)t | (t->len <= SMALL_TASK));
}

static struct mtask *
inflight_task(void *v)
{
    return (struct mtask *)((uintptr_t)v & ~(uintptr_t)1);
}

static void
mtask_recycle(struct master *m, void *tagged)
{
    if (((uintptr_t)tagged & 1) && m->nfree_tasks < FREE_TASKS_MAX)
        m->free_tasks[m->nfree_tasks++] = inflight_task(tagged);
    else
        free(inflight_task(tagged));
}

/* A task for len payload bytes (under mu). */
static struct mtask *
mtask_get(struct master *m, uint32_t fn, uint32_t flags, const void *data, size_t len)
{
    if (len > SMALL_TASK || !m->nfree_tasks)
        return mtask_new(fn, flags, data, len);
    struct mtask *t = m->free_tasks[--m->nfree_tasks];
    *t = (struct mtask){NULL, 0, 1, fn, flags, (uint32_t)len, 0, 0, 0};
    if (len)
        memcpy(t->data, data, len);
    return t;
}

/* under mu */
static void
pending_push(struct master *m, struct mtask *t)
{
    if (tring_reserve(&m->pending, 1) != 0)
        loom__panic(__FILE__, __LINE__, __func__, "out of memory queueing a task");
    if (!m->pending.count)
        m->pending_since = loom__now_ns();
    m->pending.a[(m->pending.head + m->pending.count) & (m->pending.cap - 1)] = t;
    m->pending.count++;
}

/* Keep t away from `rank` (under mu); -1 when out of memory. */
static int
avoid_push(struct master *m, struct mtask *t, int rank)
{
    if (m->navoid == m->avoid_cap) {
        size_t cap = m->avoid_cap ? m->avoid_cap * 2 : 64;
        struct avoiding *a = realloc(m->avoid, cap * sizeof *a);
        if (!a)
            return -1;
        m->avoid = a;
        m->avoid_cap = cap;
    }
    m->avoid[m->navoid++] = (struct avoiding){t, rank, loom__now_ns()};
    return 0;
}

/* Deliver one result (under mu); the result's buffer reference is taken
 * over. */
static void
deliver(struct master *m, loom_result *r)
{
    m->unfinished--;
    struct loom_job_future *f;
    void *chunk;
    if (m->map && (chunk = u64map_take(&m->map->ids, r->id))) {
        struct mresult *mr = malloc(sizeof *mr);
        if (!mr)
            loom__panic(__FILE__, __LINE__, __func__, "out of memory for a map result");
        mr->next = NULL;
        mr->chunk = (size_t)(uintptr_t)chunk - 1;
        mr->r = *r;
        *m->map->tail = mr;
        m->map->tail = &mr->next;
        m->outstanding--;
    } else if ((f = u64map_take(&m->futures, r->id))) {
        f->res = *r;
        f->done = 1;
        m->outstanding--;
        if (--f->refs == 0) {
            loom_result_free(&f->res);
            free(f);
        }
    } else if (m->finishing) {
        loom_result_free(r);
        m->outstanding--;
    } else if (rring_push(&m->results, r) != 0) {
        loom__panic(__FILE__, __LINE__, __func__, "out of memory queueing a result");
    }
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

/* Read one frame: phase 1 without m->mu (the in-flight map, credits and
 * the queue store belong to the progress thread), phase 2 under it. */
static void
handle_frame(struct master *m, int rank, struct loom__msg *msg, struct frame_effects *fx)
{
    struct mworker *w = &m->workers[rank];
    struct wire_reader r;
    uint32_t type = 0;
    const char *body;
    size_t blen;
    int rc;
    long refs = 0;
    if (wire_open(&r, msg->data, msg->len) != LOOM_OK) {
        LOOM_ERROR("dropping a malformed message from rank %d (%zu bytes)", rank, msg->len);
        return;
    }
    fx->nresults = 0;
    fx->submits = NULL;
    fx->submits_tail = &fx->submits;
    fx->ndone = 0;
    fx->retries = NULL;
    fx->retries_tail = &fx->retries;
    fx->hello_threads = 0;
    fx->bye = 0;
    /* one wall-clock time for the frame's attempts, only if recorded */
    int64_t rec_now = loom__recorder_wants_results(m->rec) ? loom__wall_ns() : 0;
    while ((rc = wire_next(&r, &type, &body, &blen)) == 1) {
        if (type == WIRE_RESULT) {
            struct wire_result wr;
            const char *reply;
            if (wire_get_result(body, blen, &wr, &reply) != LOOM_OK) {
                rc = -1;
                break;
            }
            void *tagged = u64map_take(&m->inflight, wr.id);
            struct mtask *t = inflight_task(tagged);
            if (!t || t->attempt != wr.attempt) {
                /* not in flight (a duplicate, or an attempt given up on) */
                LOOM_DEBUG("ignoring a result for task %llu attempt %u from rank %d",
                           (unsigned long long)wr.id, wr.attempt, rank);
                if (t)
                    u64map_put(&m->inflight, t->id, tagged);
                continue;
            }
            if (m->jnl) /* every attempt, failed ones too */
                journal_record(m, t, &wr, rank);
            int crashed = wr.cause == LOOM_CAUSE_SIGNAL || wr.cause == LOOM_CAUSE_EXIT ||
                          wr.cause == LOOM_CAUSE_TIMEOUT || wr.cause == LOOM_CAUSE_MEMORY;
            if (crashed && ++t->crashes >= m->job->set.crash_limit &&
                t->attempt <= m->job->set.retries)
                LOOM_WARN("task %llu crashed %u times (last: %s %d): no more attempts "
                          "(job.crash_limit)",
                          (unsigned long long)t->id, t->crashes,
                          loom_cause_name((loom_cause)wr.cause), wr.code);
            int retry = wr.status != 0 && t->attempt <= m->job->set.retries &&
                        !(crashed && t->crashes >= m->job->set.crash_limit) &&
                        !(t->flags & WIRE_TASK_CHUNK);
            if (rec_now)
                loom__recorder_result(m->rec, rec_now, t->id, t->attempt, t->fn, rank, wr.slot,
                                      wr.start_ns, wr.run_ns, wr.status, (loom_cause)wr.cause,
                                      wr.code, !retry);
            if (retry) {
                /* job.retries: run it again, on another worker if there is one */
                LOOM_DEBUG("task %llu attempt %u failed on rank %d (status %d): retrying",
                           (unsigned long long)t->id, t->attempt, rank, wr.status);
                t->attempt++;
                t->rank = rank;
                t->next = NULL;
                *fx->retries_tail = t;
                fx->retries_tail = &t->next;
                continue;
            }
            if (fx->ndone == fx->done_cap) {
                size_t cap = fx->done_cap ? fx->done_cap * 2 : 256;
                struct mtask **d = realloc(fx->done, cap * sizeof *d);
                if (!d)
                    loom__panic(__FILE__, __LINE__, __func__, "out of memory for results");
                fx->done = d;
                fx->done_cap = cap;
            }
            fx->done[fx->ndone++] = tagged;
            /* the result points into the message: no copy */
            loom_result res = {wr.id,
                               wr.status,
                               wr.attempt,
                               rank,
                               NULL,
                               wr.len,
                               0,
                               wr.len ? msg : NULL,
                               (loom_cause)wr.cause,
                               wr.code,
                               worker_host(w),
                               (int)wr.slot,
                               wr.start_ns,
                               wr.run_ns};
            if (wr.len) {
                res.data = (void *)reply;
                refs++;
            }
            effects_add_result(fx, &res);
        } else if (type == WIRE_SUBMIT) {
            struct wire_submit sub;
            const char *payload;
            if (wire_get_submit(body, blen, &sub, &payload) != LOOM_OK || sub.fn >= m->job->nfns ||
                sub.len > m->job->set.max_payload) {
                rc = -1;
                break;
            }
            struct mtask *t = mtask_new(sub.fn, 0, payload, sub.len);
            if (!t)
                loom__panic(__FILE__, __LINE__, __func__, "out of memory for a task");
            if (m->jnl)
                t->hash = loom__journal_def_hash(m->job->fns[sub.fn].name, payload, sub.len);
            *fx->submits_tail = t;
            fx->submits_tail = &t->next;
        } else if (type == WIRE_CREDIT) {
            struct wire_credit c;
            if (wire_get_credit(body, blen, &c) != LOOM_OK) {
                rc = -1;
                break;
            }
            w->credits += c.credits;
        } else if (type == WIRE_HELLO) {
            struct wire_hello h;
            const char *host;
            if (w->hello || wire_get_hello(body, blen, &h, &host) != LOOM_OK) {
                rc = -1; /* a second hello would change a host results point to */
                break;
            }
            if (!(w->host = strndup(host, h.host_len)))
                loom__panic(__FILE__, __LINE__, __func__, "out of memory for a worker's host");
            w->hello = 1;
            loom__recorder_join(m->rec, rank, w->host, h.threads);
            w->threads = h.threads;
            fx->hello_threads += h.threads;
            LOOM_DEBUG("worker rank %d is up on %s: pid %d, %u threads", rank, w->host, h.pid,
                       h.threads);
        } else if (type == WIRE_QREQ) {
            struct wire_qreq q;
            const char *name, *data;
            struct qreq *rq;
            if (wire_get_qreq(body, blen, &q, &name, &data) != LOOM_OK || q.name_len > 63 ||
                q.data_len > m->job->set.max_payload || !(rq = calloc(1, sizeof *rq))) {
                rc = -1;
                break;
            }
            rq->op = q.op;
            rq->rank = rank;
            rq->req = q.req;
            rq->timeout_ms = q.timeout_ms;
            rq->capacity = q.capacity;
            memcpy(rq->name, name, q.name_len);
            rq->len = q.data_len;
            if (q.data_len && !(rq->data = malloc(q.data_len)))
                loom__panic(__FILE__, __LINE__, __func__, "out of memory for a queue item");
            if (q.data_len)
                memcpy(rq->data, data, q.data_len);
            loom__qstore_request(m->qs, rq, loom__now_ns());
        } else if (type == WIRE_BYE && wire_get_empty(body, blen) == LOOM_OK) {
            w->bye = 1;
            fx->bye = 1;
        } else {
            rc = -1;
            break;
        }
    }
    if (refs) /* one atomic add for the whole frame, not one per result */
        atomic_fetch_add(&msg->refs, refs);
    if (rc < 0)
        LOOM_ERROR("malformed record (type %u) in a message from rank %d: ignoring the rest of it",
                   type, rank);

    if (!fx->nresults && !fx->submits && !fx->ndone && !fx->hello_threads && !fx->bye &&
        !fx->retries)
        return;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < fx->nresults; i++)
        deliver(m, &fx->results[i]);
    for (struct mtask *t = fx->submits, *next; t; t = next) {
        next = t->next;
        t->next = NULL;
        t->id = ++m->next_id;
        pending_push(m, t);
        m->unfinished++;
        m->outstanding++;
    }
    for (size_t i = 0; i < fx->ndone; i++)
        mtask_recycle(m, fx->done[i]);
    for (struct mtask *t = fx->retries, *next; t; t = next) {
        next = t->next;
        t->next = NULL;
        if (m->nworkers <= 2 || avoid_push(m, t, t->rank) != 0)
            pending_push(m, t);
    }
    m->worker_threads += fx->hello_threads;
    m->byes += fx->bye;
    if (fx->nresults || fx->bye)
        wake_waiters(m);
    pthread_mutex_unlock(&m->mu);
}

/* ---- dispatch ---------------------------------------------------------------------- */

/* Hand pending tasks to workers with credits, in batches. */
/* Move up to `want` avoiding tasks that may go to `rank` into m->batch
 * (under mu); returns how many. */
static size_t
take_avoiding(struct master *m, int rank, size_t want, int64_t now)
{
    int others = 0;
    for (int r = 1; r < m->nworkers; r++)
        others += r != rank && !m->workers[r].bye; /* gone or lost: bye */
    size_t n = 0, keep = 0;
    for (size_t i = 0; i < m->navoid; i++) {
        struct avoiding *a = &m->avoid[i];
        if (n < want && (a->rank != rank || !others || now - a->since >= AVOID_WAIT_NS))
            m->batch[n++] = a->t;
        else
            m->avoid[keep++] = *a;
    }
    m->navoid = keep;
    return n;
}

static int
dispatch(struct master *m, int64_t now)
{
    int size = m->nworkers, did = 0;
    for (int i = 0; i < size - 1; i++) {
        int rank = 1 + (int)((m->rr + (unsigned)i) % (unsigned)(size - 1));
        struct mworker *w = &m->workers[rank];
        if (!w->credits || w->bye)
            continue;
        size_t want = w->credits < m->job->set.batch_max ? w->credits : m->job->set.batch_max;
        pthread_mutex_lock(&m->mu);
        size_t n = 0;
        if (!m->stop_sent && m->navoid)
            n = take_avoiding(m, rank, want, now);
        /* Let a batch build up while tasks keep coming in quickly, but
         * never hold the first one back for more than 20 us. */
        size_t have = m->pending.count;
        if (!m->stop_sent && have && (n || have >= want - n || now - m->pending_since >= 20000)) {
            size_t k = have < want - n ? have : want - n;
            for (size_t j = 0; j < k; j++)
                m->batch[n + j] = m->pending.a[(m->pending.head + j) & (m->pending.cap - 1)];
            m->pending.head = (m->pending.head + k) & (m->pending.cap - 1);
            m->pending.count -= k;
            if (m->pending.count)
                m->pending_since = now;
            n += k;
        }
        pthread_mutex_unlock(&m->mu);
        if (!n)
            continue;

        /* at most 8 MiB of payload per message: the rest goes back */
        size_t sent = 0, bytes = 0;
        for (; sent < n && (sent == 0 || bytes < ((size_t)8 << 20)); sent++) {
            struct mtask *t = m->batch[sent];
            struct wire_task wt = {t->id, t->attempt, t->fn, t->flags, t->len};
            t->rank = rank;
            if (wire_put(&w->out, WIRE_TASK, &wt, sizeof wt, t->data, t->len, NULL, 0) != LOOM_OK ||
                u64map_put(&m->inflight, t->id, inflight_tag(t)) != 0)
                loom__panic(__FILE__, __LINE__, __func__, "out of memory dispatching tasks");
            bytes += t->len;
        }
        if (sent < n) {
            pthread_mutex_lock(&m->mu);
            tring_unshift(&m->pending, m->batch + sent, n - sent);
            pthread_mutex_unlock(&m->mu);
        }
        n = sent;
        w->credits -= n;
        did = 1;
    }
    m->rr++;
    return did;
}

/* ---- the progress thread ------------------------------------------------------------ */

/* (under mu) Task t never ran and never will: no worker is left. */
static void
fail_lost(struct master *m, struct mtask *t)
{
    loom_result r = {t->id, -1, t->attempt, -1, NULL, 0, 0, NULL, LOOM_CAUSE_LOST, 0, "", 0, 0, 0};
    loom__recorder_not_run(m->rec, t->id, t->attempt, t->fn);
    mtask_recycle(m, inflight_tag(t));
    deliver(m, &r);
}

/* (under mu) Every worker is gone: fail what waits to run, with status
 * -1, so the program sees the end instead of waiting forever. */
static size_t
fail_all(struct master *m)
{
    size_t n = 0;
    m->no_workers = 1;
    while (m->pending.count) {
        struct mtask *t = m->pending.a[m->pending.head];
        m->pending.head = (m->pending.head + 1) & (m->pending.cap - 1);
        m->pending.count--;
        fail_lost(m, t);
        n++;
    }
    for (size_t i = 0; i < m->navoid; i++, n++)
        fail_lost(m, m->avoid[i].t);
    m->navoid = 0;
    return n;
}

/* A worker has been silent past job.worker_timeout: MPI will not say
 * whether it died, hangs or lost its link, so it is treated as gone.
 * Its tasks in flight go back to the front of the queue with a new
 * attempt number (a late result of the old attempt is then ignored, as
 * is anything else it sends); it counts as having said goodbye, so the
 * job can finish without it; sends to it are abandoned (their buffers
 * stay allocated: MPI may still hold them). */
static void
lose_worker(struct master *m, int rank, int64_t now)
{
    struct mworker *w = &m->workers[rank];
    w->lost = 1;
    w->credits = 0;
    loom__recorder_lost(m->rec, rank);
    wire_buf_reset(&w->out);
    size_t n = 0, cap = 0;
    struct mtask **back = NULL;
    for (size_t i = 0; i < m->inflight.cap; i++) {
        struct mtask *t;
        if (!m->inflight.keys[i] || (t = inflight_task(m->inflight.vals[i]))->rank != rank)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            struct mtask **a = realloc(back, cap * sizeof *a);
            if (!a)
                loom__panic(__FILE__, __LINE__, __func__, "out of memory requeueing tasks");
            back = a;
        }
        back[n++] = t;
    }
    for (size_t i = 0; i < n; i++) {
        u64map_take(&m->inflight, back[i]->id);
        back[i]->attempt++;
    }
    for (struct msend **pp = &m->sends; *pp;) {
        struct msend *s = *pp;
        if (s->rank != rank) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        MPI_Request_free(&s->req);
    }
    pthread_mutex_lock(&m->mu);
    if (n)
        tring_unshift(&m->pending, back, n);
    if (!w->bye) {
        w->bye = 1;
        m->byes++;
    }
    m->worker_threads -= w->hello ? w->threads : 0;
    /* a joined job that leaves or dies is part of normal life: only ranks
     * of the job itself count as lost (they decide MPI_Finalize's fate) */
    m->lost += !w->joined;
    int none_left = m->byes == m->nworkers - 1 && !m->acc;
    size_t failed = none_left ? fail_all(m) : 0;
    wake_waiters(m);
    pthread_mutex_unlock(&m->mu);
    LOOM_WARN("worker rank %d%s silent for %.1f s: declared lost; %zu of its tasks run again "
              "elsewhere",
              rank, w->joined ? " (joined)" : "", (double)(now - w->heard) / 1e9, n);
    if (none_left)
        LOOM_ERROR("no worker left: %zu unfinished tasks fail (status -1), and so will any "
                   "submitted from now on",
                   failed);
    free(back);
}

/* Up to 32 messages from the workers reachable on comm: its ranks
 * first..first+n-1 are workers base+first.. (the job's own communicator:
 * ranks 1..size-1 at base 0; a joined job's: ranks 0..n-1 after base). */
static int
receive_from(struct master *m, MPI_Comm comm, int first, int n, int base, struct frame_effects *fx)
{
    int did = 0;
    for (int k = 0; k < 32; k++) {
        int flag = 0;
        MPI_Message msg;
        MPI_Status st;
        if (MPI_Improbe(MPI_ANY_SOURCE, LOOM_TAG_UP, comm, &flag, &msg, &st) != MPI_SUCCESS ||
            !flag)
            break;
        int count = 0;
        MPI_Get_count(&st, MPI_BYTE, &count);
        struct loom__msg *buf = loom__msg_new(count > 0 ? (size_t)count : 0);
        if (!buf)
            loom__panic(__FILE__, __LINE__, __func__, "out of memory receiving a message");
        MPI_Mrecv(buf->data, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
        int rank = base + st.MPI_SOURCE;
        if (st.MPI_SOURCE >= first && st.MPI_SOURCE < first + n && !m->workers[rank].lost) {
            m->workers[rank].heard = loom__now_ns();
            handle_frame(m, rank, buf, fx);
        }
        loom__msg_release(buf);
        did = 1;
    }
    return did;
}

/* Jobs that passed the acceptor's handshake become workers — unless the
 * job has already sent STOP, when they are told it has ended. */
static int
adopt_arrivals(struct master *m)
{
    struct loom__arrival *j = loom__acceptor_take(m->acc);
    if (!j)
        return 0;
    while (j) {
        struct loom__arrival *next = j->next;
        struct mgroup *g = calloc(1, sizeof *g);
        pthread_mutex_lock(&m->mu);
        int ok = g && !m->stop_sent;
        int base = m->nworkers;
        if (ok && base + j->n > m->workers_cap) {
            int cap = m->workers_cap * 2 > base + j->n ? m->workers_cap * 2 : base + j->n;
            struct mworker *w = realloc(m->workers, (size_t)cap * sizeof *w);
            if (w) {
                memset(w + m->workers_cap, 0, (size_t)(cap - m->workers_cap) * sizeof *w);
                m->workers = w;
                m->workers_cap = cap;
            } else {
                ok = 0;
            }
        }
        if (ok) {
            int64_t now = loom__now_ns();
            for (int k = 0; k < j->n; k++) {
                struct mworker *w = &m->workers[base + k];
                wire_buf_reset(&w->out);
                w->heard = w->sent = now;
                w->comm = j->comm;
                w->peer = k;
                w->joined = 1;
            }
            m->nworkers = base + j->n;
        }
        pthread_mutex_unlock(&m->mu);
        if (ok) {
            g->comm = j->comm;
            g->base = base;
            g->n = j->n;
            g->next = m->groups;
            m->groups = g;
            LOOM_INFO("%d workers joined from %s (pid %ld): ranks %d-%d", j->n, j->host, j->pid,
                      base, base + j->n - 1);
            loom__arrival_welcome(j, 1, base, m->job->set.heartbeat_ns, m->job->set.lost_ns);
            free(j);
        } else {
            free(g);
            loom__arrival_welcome(j, 0, 0, 0, 0);
        }
        j = next;
    }
    return 1;
}

static int
progress_round(struct master *m)
{
    int did = 0;
    struct frame_effects *fx = &m->fx;
    did |= receive_from(m, m->job->comm, 1, m->job->size - 1, 0, fx);
    for (struct mgroup *g = m->groups; g; g = g->next)
        did |= receive_from(m, g->comm, 0, g->n, g->base, fx);
    if (m->acc)
        did |= adopt_arrivals(m);

    int64_t now = loom__now_ns();
    pthread_mutex_lock(&m->mu);
    struct qreq *mail = m->mailbox;
    m->mailbox = NULL;
    int send_stop = m->finishing && !m->stop_sent && m->unfinished == 0;
    if (send_stop)
        m->stop_sent = 1;
    pthread_mutex_unlock(&m->mu);
    /* the mailbox is LIFO: answer in arrival order */
    struct qreq *rev = NULL;
    while (mail) {
        struct qreq *next = mail->next;
        mail->next = rev;
        rev = mail;
        mail = next;
    }
    for (; rev; did = 1) {
        struct qreq *next = rev->next;
        loom__qstore_request(m->qs, rev, now);
        rev = next;
    }
    loom__qstore_expire(m->qs, now);
    if (m->jnl && !atomic_load(&m->jnl_failed) && loom__journal_sync_if_due(m->jnl) != LOOM_OK &&
        !atomic_exchange(&m->jnl_failed, 1))
        LOOM_ERROR("%s", loom__journal_errmsg(m->jnl));
    if (m->job->set.lost_ns > 0 && now >= m->next_check) {
        m->next_check = now + 100000000; /* 100 ms */
        for (int r = 1; r < m->nworkers; r++) {
            struct mworker *w = &m->workers[r];
            if (!w->bye && !w->lost && now - w->heard > m->job->set.lost_ns) {
                lose_worker(m, r, now);
                did = 1;
            }
        }
    }

    did |= dispatch(m, now);
    if (send_stop) {
        pthread_mutex_lock(&m->mu);
        struct wire_stop stop = {(uint32_t)m->lost};
        pthread_mutex_unlock(&m->mu);
        atomic_store(&m->job->peers_lost, m->lost);
        for (int r = 1; r < m->nworkers; r++)
            if (!m->workers[r].lost && wire_put(&m->workers[r].out, WIRE_STOP, &stop, sizeof stop,
                                                NULL, 0, NULL, 0) != LOOM_OK)
                loom__panic(__FILE__, __LINE__, __func__, "out of memory stopping workers");
        did = 1;
    }
    for (int r = 1; r < m->nworkers; r++) {
        struct mworker *w = &m->workers[r];
        /* a joined job cannot tell a quiet master from a dead one either */
        if (w->joined && !w->lost && !w->bye && wire_empty(&w->out) &&
            now - w->sent >= m->job->set.heartbeat_ns &&
            wire_put(&w->out, WIRE_PING, NULL, 0, NULL, 0, NULL, 0) != LOOM_OK)
            loom__panic(__FILE__, __LINE__, __func__, "out of memory pinging a worker");
        flush_worker(m, r);
    }
    sends_progress(m);
    return did;
}

static void *
progress_main(void *arg)
{
    struct master *m = arg;
    loom__polling_thread_init("Progress");
    unsigned idle = 0, start = 0;
    struct loom__gap gap = {0, 0};
    while (!atomic_load(&m->quit) || m->sends) {
        if (progress_round(m)) {
            loom__work_gap(&gap, loom__now_ns(), idle > start);
            idle = start = loom__idle_start(&gap);
            continue;
        }
        /* Idle. While tasks are in flight wake at least every 500 us to
         * collect results (their workers hold more work meanwhile); never
         * sleep past a queue request's deadline. */
        pthread_mutex_lock(&m->mu);
        int64_t cap = m->unfinished ? 500000 : 1000000;
        int64_t next = loom__qstore_next_deadline(m->qs);
        if (next && next - loom__now_ns() < cap)
            cap = next - loom__now_ns();
        if (m->jnl) { /* the journal's sync must not wait for work */
            long ms = loom__journal_next_sync_ms(m->jnl);
            if (ms >= 0 && ms * 1000000 < cap)
                cap = ms > 0 ? ms * 1000000 : 1000;
        }
        int64_t ns = loom__idle_pause(++idle, cap);
        if (ns > 0 && !m->mailbox && !(m->finishing && !m->stop_sent && !m->unfinished)) {
            m->sleeping = 1;
            loom__cond_sleep(&m->wake, &m->mu, ns);
            m->sleeping = 0;
        }
        pthread_mutex_unlock(&m->mu);
        if (ns < 0)
            sched_yield();
    }
    return NULL;
}

/* ---- life cycle ---------------------------------------------------------------------- */

/* The program's name, for the report's title. */
static const char *
program_name(void)
{
    return program_invocation_short_name && *program_invocation_short_name
               ? program_invocation_short_name
               : "loom";
}

/* What the job runs when the program gives no title: its command line
 * (the arguments as the kernel has them, joined by spaces, cut). */
static void
command_line(char *buf, size_t len)
{
    snprintf(buf, len, "%s", program_name());
    FILE *f = fopen("/proc/self/cmdline", "re");
    if (!f)
        return;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    if (!n)
        return;
    while (n > 0 && buf[n - 1] == '\0')
        n--;
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
}

/* job.events and job.report: created now, so a bad path stops the job
 * before any task runs (every rank returns the master's LOOM_ECONFIG). */
static loom_err
open_recorder(loom_job *job)
{
    const char *names[JOB_MAX_FUNCS];
    char cmd[256];
    for (unsigned i = 0; i < job->nfns; i++)
        names[i] = job->fns[i].name;
    if (!job->title)
        command_line(cmd, sizeof cmd);
    struct loom__recorder_opts o = {job->events,    job->events_name,
                                    job->report,    job->report_name,
                                    program_name(), job->title ? job->title : cmd,
                                    job->size,      job->own_attempts,
                                    names,          job->nfns};
    return loom__recorder_open(&o, &job->rec);
}

/* Create the job.events and job.report files, then open the job's
 * journal: its key is a hash of the registered function names (a journal
 * of another program is refused); resuming reads what it has into
 * job->jnl_done. Runs before the start-up check, whose result every rank
 * shares: a master without its files or journal stops the whole job. */
loom_err
loom__master_prepare(loom_job *job)
{
    loom_err rc = open_recorder(job);
    if (rc != LOOM_OK)
        return rc;
    if (!job->journal)
        return LOOM_OK;
    uint64_t key = 1469598103934665603ULL;
    for (unsigned i = 0; i < job->nfns; i++)
        key = loom__journal_def_hash(job->fns[i].name, &key, sizeof key);
    if (job->resume && (rc = loom__journal_done_create(&job->jnl_done)) != LOOM_OK) {
        loom__master_unprepare(job);
        return rc;
    }
    struct loom__journal_open_opts o = {key, job->resume,
                                        job->resume ? loom__journal_done_cb : NULL, job->jnl_done};
    struct loom__journal_stats st;
    char err[LOOM__JOURNAL_ERR_MAX];
    rc = loom__journal_open(job->journal, &o, &job->jnl, &st, err, sizeof err);
    if (rc != LOOM_OK) {
        LOOM_ERROR("%s", err);
        loom__master_unprepare(job);
        return rc;
    }
    if (job->resume)
        LOOM_INFO("journal %s: %llu records of earlier runs", job->journal,
                  (unsigned long long)st.records);
    return LOOM_OK;
}

void
loom__master_unprepare(loom_job *job)
{
    loom__journal_close(job->jnl);
    loom__journal_done_destroy(job->jnl_done);
    loom__recorder_destroy(job->rec);
    job->jnl = NULL;
    job->jnl_done = NULL;
    job->rec = NULL;
}

loom_err
loom__master_start(loom_job *job)
{
    struct master *m = calloc(1, sizeof *m);
    if (!m)
        return LOOM_ENOMEM;
    m->job = job;
    loom_err rc = LOOM_ENOMEM;
    m->workers = calloc((size_t)job->size, sizeof *m->workers);
    m->free_tasks = malloc(FREE_TASKS_MAX * sizeof *m->free_tasks);
    m->batch = malloc(job->set.batch_max * sizeof *m->batch);
    if (!m->workers || !m->free_tasks || !m->batch)
        goto fail_workers;
    m->nworkers = m->workers_cap = job->size;
    int64_t t0 = loom__now_ns();
    for (int r = 0; r < job->size; r++) {
        wire_buf_reset(&m->workers[r].out);
        m->workers[r].heard = t0; /* a worker that never speaks is lost too */
        m->workers[r].comm = job->comm;
        m->workers[r].peer = r;
    }
    if (job->serve_dir) {
        struct loom__fingerprint fp;
        loom__job_fingerprint(job, LOOM_OK, &fp);
        if ((rc = loom__acceptor_start(job->serve_dir, &fp, &m->acc)) != LOOM_OK)
            goto fail_workers;
        rc = LOOM_ENOMEM;
    }
    m->qs = loom__qstore_create(queue_reply, m);
    if (!m->qs)
        goto fail_qs;
    m->jnl = job->jnl; /* opened by loom__master_prepare */
    m->done = job->jnl_done;
    m->rec = job->rec;
    job->jnl = NULL;
    job->jnl_done = NULL;
    job->rec = NULL;
    /* Adaptive: the program's thread and the progress thread hold m->mu
     * for short stretches; spinning briefly beats a futex sleep and wake. */
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&m->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    loom__cond_init_monotonic(&m->cv);
    loom__cond_init_monotonic(&m->wake);
    job->m = m;
    rc = loom__recorder_start(m->rec); /* run_start, before any worker's hello */
    if (rc != LOOM_OK)
        goto fail_thread;
    rc = LOOM_ESYS;
    if (pthread_create(&m->progress, NULL, progress_main, m) != 0)
        goto fail_thread;
    return LOOM_OK;

fail_thread:
    job->m = NULL;
    pthread_cond_destroy(&m->wake);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    job->jnl = m->jnl; /* loom_job_start unprepares */
    job->jnl_done = m->done;
    job->rec = m->rec;
    loom__qstore_destroy(m->qs);
fail_qs:
    loom__acceptor_stop(m->acc);
fail_workers:
    free(m->batch);
    free(m->free_tasks);
    free(m->workers);
    free(m);
    return rc;
}

loom_err
loom_job_finish(loom_job *job)
{
    LOOM_ASSERT(job);
    if (!job->started || job->rank != 0)
        return LOOM_ESTATE;
    struct master *m = job->m;
    pthread_mutex_lock(&m->mu);
    m->finishing = 1;
    /* results nobody will consume */
    while (m->results.count) {
        loom_result r = rring_pop(&m->results);
        loom_result_free(&r);
        m->outstanding--;
    }
    wake_progress(m);
    wake_waiters(m);
    while (m->byes < m->nworkers - 1)
        wait_cv(m, NULL);
    pthread_mutex_unlock(&m->mu);
    /* every result is in: the events' run_end, the report */
    loom_err rec = loom__recorder_close(m->rec);
    return atomic_load(&m->jnl_failed) || rec != LOOM_OK ? LOOM_ESYS : LOOM_OK;
}

void
loom__master_stop(loom_job *job)
{
    struct master *m = job->m;
    loom_job_finish(job);
    atomic_store(&m->quit, 1);
    pthread_mutex_lock(&m->mu);
    wake_progress(m);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->progress, NULL);
    loom__acceptor_stop(m->acc);
    loom__qstore_shutdown(m->qs);
    for (struct qreq *q = m->mailbox, *next; q; q = next) {
        next = q->next;
        queue_reply(m, q, LOOM_ECLOSED, NULL, 0);
    }
    loom__qstore_destroy(m->qs);
    if (m->jnl && loom__journal_close(m->jnl) != LOOM_OK)
        LOOM_ERROR("closing the journal %s failed: results of the last moments may run again "
                   "on resume",
                   job->journal);
    loom__journal_done_destroy(m->done);
    loom__recorder_destroy(m->rec);
    for (size_t i = 0; i < m->inflight.cap; i++)
        if (m->inflight.keys[i])
            free(inflight_task(m->inflight.vals[i]));
    u64map_free(&m->inflight);
    for (size_t i = 0; i < m->futures.cap; i++) {
        struct loom_job_future *f = m->futures.vals[i];
        if (m->futures.keys[i] && --f->refs == 0) {
            loom_result_free(&f->res);
            free(f);
        }
    }
    u64map_free(&m->futures);
    for (size_t i = 0; i < m->pending.count; i++)
        free(m->pending.a[(m->pending.head + i) & (m->pending.cap - 1)]);
    free(m->pending.a);
    for (size_t i = 0; i < m->navoid; i++)
        free(m->avoid[i].t);
    free(m->avoid);
    for (int r = 0; r < m->nworkers; r++)
        wire_buf_free(&m->workers[r].out);
    for (struct mgroup *g = m->groups, *next; g; g = next) {
        next = g->next;
        MPI_Comm_free(&g->comm); /* not disconnect: a dead peer would hold it */
        free(g);
    }
    free(m->results.a);
    free(m->fx.results);
    free(m->fx.done);
    while (m->nfree_tasks)
        free(m->free_tasks[--m->nfree_tasks]);
    free(m->free_tasks);
    free(m->batch);
    for (int r = 0; r < m->nworkers; r++)
        free(m->workers[r].host);
    free(m->workers);
    pthread_cond_destroy(&m->wake);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    free(m);
    job->m = NULL;
}

/* ---- the program's own attempts (loom/events.h) ------------------------------------- */

loom_err
loom_job_record_attempt(loom_job *job, const loom_attempt *a)
{
    LOOM_ASSERT(job && a);
    if (!job->started || job->rank != 0 || !job->own_attempts)
        return LOOM_ESTATE;
    return loom__recorder_attempt(job->m->rec, a);
}

loom_err
loom_job_record_summary(loom_job *job, const loom_run_summary *s)
{
    LOOM_ASSERT(job && s);
    if (!job->started || job->rank != 0)
        return LOOM_ESTATE;
    return loom__recorder_summary(job->m->rec, s);
}

int
loom__master_size(const loom_job *job)
{
    struct master *m = job->m;
    pthread_mutex_lock(&m->mu);
    int n = m->nworkers;
    pthread_mutex_unlock(&m->mu);
    return n;
}

int
loom_job_workers_lost(const loom_job *job)
{
    LOOM_ASSERT(job);
    if (!job->m)
        return atomic_load(&job->peers_lost);
    struct master *m = job->m;
    pthread_mutex_lock(&m->mu);
    int n = m->lost;
    pthread_mutex_unlock(&m->mu);
    return n;
}

unsigned
loom__master_worker_threads(const loom_job *job)
{
    struct master *m = job->m;
    pthread_mutex_lock(&m->mu);
    unsigned n = m->worker_threads;
    pthread_mutex_unlock(&m->mu);
    return n;
}

/* ---- the program's side: submit, results, futures, map --------------------------------- */

static loom_err
master_only(loom_job *job)
{
    LOOM_ASSERT(job);
    return job->started && job->rank == 0 ? LOOM_OK : LOOM_ESTATE;
}

/* Resume (under mu, with room): the next task, of definition hash, as
 * the journal knows it. 0: run it. 1: it succeeded in an earlier run —
 * its result (status 0, `resumed`, no data) is delivered now. -1: the
 * journal has another definition under this id (the program submits
 * other tasks, or in another order). */
static int
resume_skip(struct master *m, uint64_t hash, uint64_t *id, struct loom_job_future *f)
{
    uint64_t tid = m->next_id + 1;
    if (loom__journal_done_changed(m->done, tid, hash, NULL)) {
        LOOM_ERROR("task %llu differs from the journal's task %llu: the job's tasks changed "
                   "since the journal was written",
                   (unsigned long long)tid, (unsigned long long)tid);
        return -1;
    }
    if (!loom__journal_done_succeeded(m->done, tid, hash))
        return 0;
    m->next_id = tid;
    m->unfinished++;
    m->outstanding++;
    if (id)
        *id = tid;
    if (f && u64map_put(&m->futures, tid, f) != 0)
        loom__panic(__FILE__, __LINE__, __func__, "out of memory for a future");
    loom_result r = {tid, 0, 1, -1, NULL, 0, 1, NULL, LOOM_CAUSE_OK, 0, "", 0, 0, 0};
    loom__recorder_skipped(m->rec);
    deliver(m, &r);
    wake_waiters(m);
    return 1;
}

/* Queue tasks (under mu, with room checked by the caller). */
static uint64_t
enqueue(struct master *m, struct mtask *t, int avoiding)
{
    t->id = ++m->next_id;
    if (!avoiding)
        pending_push(m, t); /* else avoid_push() has queued it */
    m->unfinished++;
    m->outstanding++;
    /* only the first task of a queue needs the thread: with more already
     * waiting it has been told, and what it waits for is credits */
    if (avoiding ? m->navoid == 1 : m->pending.count == 1)
        wake_progress(m);
    return t->id;
}

/* Wait (under mu) for room for one more outstanding task. */
static loom_err
wait_room(struct master *m, int timeout_ms)
{
    struct timespec dl;
    if (timeout_ms > 0)
        dl = loom__deadline(timeout_ms);
    while (!m->finishing && m->outstanding >= m->job->set.max_outstanding) {
        if (timeout_ms == 0)
            return LOOM_EFULL;
        if (wait_cv(m, timeout_ms > 0 ? &dl : NULL) == ETIMEDOUT &&
            m->outstanding >= m->job->set.max_outstanding)
            return LOOM_EFULL;
    }
    return m->finishing ? LOOM_ESTATE : LOOM_OK;
}

static loom_err
submit(loom_job *job, const char *fn, const void *payload, size_t len, int timeout_ms, uint64_t *id,
       struct loom_job_future *f, int avoid_rank, uint32_t flags)
{
    loom_err rc = master_only(job);
    if (rc != LOOM_OK)
        return rc;
    int idx = loom__job_fn_index(job, fn);
    if (idx < 0)
        return LOOM_ENOFUNC;
    if (len > job->set.max_payload)
        return LOOM_ERANGE;
    struct master *m = job->m;
    uint64_t hash = m->jnl ? loom__journal_def_hash(job->fns[idx].name, payload, len) : 0;
    pthread_mutex_lock(&m->mu);
    rc = m->no_workers ? LOOM_ECLOSED : wait_room(m, timeout_ms);
    int skip = rc == LOOM_OK && m->done ? resume_skip(m, hash, id, f) : 0;
    if (rc != LOOM_OK || skip) {
        pthread_mutex_unlock(&m->mu);
        return rc != LOOM_OK ? rc : skip > 0 ? LOOM_OK : LOOM_EMISMATCH;
    }
    struct mtask *t = mtask_get(m, (uint32_t)idx, flags, payload, len);
    if (!t)
        rc = LOOM_ENOMEM;
    else
        t->hash = hash;
    /* with one worker there is nowhere else to go */
    int avoiding = avoid_rank > 0 && avoid_rank < m->nworkers && m->nworkers > 2;
    if (rc == LOOM_OK && avoiding && avoid_push(m, t, avoid_rank) != 0) {
        mtask_recycle(m, inflight_tag(t));
        rc = LOOM_ENOMEM;
    }
    if (rc == LOOM_OK) {
        uint64_t tid = enqueue(m, t, avoiding);
        if (id)
            *id = tid;
        if (f && u64map_put(&m->futures, tid, f) != 0)
            loom__panic(__FILE__, __LINE__, __func__, "out of memory for a future");
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

loom_err
loom_job_submit(loom_job *job, const char *fn, const void *payload, size_t len, int timeout_ms,
                uint64_t *id)
{
    return submit(job, fn, payload, len, timeout_ms, id, NULL, 0, 0);
}

loom_err
loom_job_submit_avoiding(loom_job *job, const char *fn, const void *payload, size_t len,
                         int avoid_rank, int timeout_ms, uint64_t *id)
{
    return submit(job, fn, payload, len, timeout_ms, id, NULL, avoid_rank, 0);
}

/* Isolation flags travel as task flags; the worker decides (isolate.c). */
loom_err
loom_job_submit_flags(loom_job *job, const char *fn, const void *payload, size_t len,
                      unsigned flags, int timeout_ms, uint64_t *id)
{
    if ((flags & ~(LOOM_TASK_ISOLATED | LOOM_TASK_IN_THREAD)) ||
        flags == (LOOM_TASK_ISOLATED | LOOM_TASK_IN_THREAD))
        return LOOM_EINVAL;
    uint32_t wf = (flags & LOOM_TASK_ISOLATED ? WIRE_TASK_ISOLATE : 0) |
                  (flags & LOOM_TASK_IN_THREAD ? WIRE_TASK_IN_THREAD : 0);
    return submit(job, fn, payload, len, timeout_ms, id, NULL, 0, wf);
}

loom_err
loom_job_next_result(loom_job *job, int timeout_ms, loom_result *out)
{
    loom_err rc = master_only(job);
    if (rc != LOOM_OK)
        return rc;
    struct master *m = job->m;
    struct timespec dl;
    if (timeout_ms > 0)
        dl = loom__deadline(timeout_ms);
    pthread_mutex_lock(&m->mu);
    while (!m->results.count) {
        if (m->unfinished == 0) {
            rc = LOOM_EDRAINED;
            break;
        }
        if (timeout_ms == 0 ||
            (wait_cv(m, timeout_ms > 0 ? &dl : NULL) == ETIMEDOUT && !m->results.count)) {
            rc = LOOM_ETIMEDOUT;
            break;
        }
    }
    if (rc == LOOM_OK) {
        *out = rring_pop(&m->results);
        if (m->outstanding-- == m->job->set.max_outstanding)
            wake_waiters(m); /* a submitter may be waiting for room */
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

loom_err
loom_job_submit_future(loom_job *job, const char *fn, const void *payload, size_t len,
                       int timeout_ms, loom_job_future **future)
{
    LOOM_ASSERT(future);
    if (master_only(job) != LOOM_OK)
        return LOOM_ESTATE;
    struct loom_job_future *f = calloc(1, sizeof *f);
    if (!f)
        return LOOM_ENOMEM;
    f->m = job->m;
    f->refs = 2; /* the master's table and the caller */
    loom_err rc = submit(job, fn, payload, len, timeout_ms, NULL, f, 0, 0);
    if (rc != LOOM_OK) {
        free(f);
        return rc;
    }
    *future = f;
    return LOOM_OK;
}

loom_err
loom_job_future_wait(loom_job_future *f, int timeout_ms, loom_result *out)
{
    LOOM_ASSERT(f && out);
    struct master *m = f->m;
    struct timespec dl;
    if (timeout_ms > 0)
        dl = loom__deadline(timeout_ms);
    loom_err rc = LOOM_OK;
    pthread_mutex_lock(&m->mu);
    while (!f->done) {
        if (timeout_ms == 0 || (wait_cv(m, timeout_ms > 0 ? &dl : NULL) == ETIMEDOUT && !f->done)) {
            rc = LOOM_ETIMEDOUT;
            break;
        }
    }
    if (rc == LOOM_OK) {
        *out = f->res;
        out->data = NULL;
        out->loom__buf = NULL; /* the copy is the caller's own */
        if (f->res.len) {
            out->data = malloc(f->res.len);
            if (out->data)
                memcpy(out->data, f->res.data, f->res.len);
            else
                rc = LOOM_ENOMEM;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

void
loom_job_future_release(loom_job_future *f)
{
    if (!f)
        return;
    struct master *m = f->m;
    pthread_mutex_lock(&m->mu);
    int last = --f->refs == 0;
    pthread_mutex_unlock(&m->mu);
    if (last) {
        loom_result_free(&f->res);
        free(f);
    }
}

/* Unpack one chunk's replies into results[first..first+count). Each
 * result points into the message that carried the chunk (no copy) and
 * holds a reference on it; the chunk's own reference is released. */
static void
map_unpack(struct mresult *mr, size_t first, size_t count, loom_result *results)
{
    uint32_t n = 0;
    const char *st, *lens, *data;
    int ok = mr->r.status == 0 &&
             wire_chunk_reply_open(mr->r.data, mr->r.len, &n, &st, &lens, &data) == LOOM_OK &&
             n == count;
    struct loom__msg *msg = mr->r.loom__buf;
    long refs = 0;
    for (size_t i = 0; i < count; i++) {
        loom_result *r = &results[first + i];
        /* a chunk that failed as a whole (an isolated chunk that crashed)
         * gives every input its cause */
        *r = (loom_result){mr->r.id,
                           -1,
                           mr->r.attempt,
                           mr->r.rank,
                           NULL,
                           0,
                           0,
                           NULL,
                           mr->r.cause != LOOM_CAUSE_OK ? mr->r.cause : LOOM_CAUSE_FAILED,
                           mr->r.cause_code,
                           mr->r.host,
                           mr->r.slot,
                           mr->r.start_ns,
                           mr->r.run_ns};
        if (!ok)
            continue;
        int32_t status;
        uint32_t len;
        memcpy(&status, st + 4 * i, 4);
        memcpy(&len, lens + 4 * i, 4);
        r->status = status;
        r->cause = status ? LOOM_CAUSE_FAILED : LOOM_CAUSE_OK;
        r->cause_code = 0;
        if (len) {
            r->data = (void *)data;
            r->len = len;
            r->loom__buf = msg;
            refs++;
        }
        data += len;
    }
    if (refs)
        atomic_fetch_add(&msg->refs, refs);
    loom_result_free(&mr->r);
}

loom_err
loom_job_map(loom_job *job, const char *fn, const void *const *inputs, const size_t *lens, size_t n,
             loom_result *results)
{
    loom_err rc = master_only(job);
    if (rc != LOOM_OK)
        return rc;
    int idx = loom__job_fn_index(job, fn);
    if (idx < 0)
        return LOOM_ENOFUNC;
    for (size_t i = 0; i < n; i++)
        if (lens[i] > job->set.max_payload || lens[i] > UINT32_MAX)
            return LOOM_ERANGE;
    if (n == 0)
        return LOOM_OK;
    struct master *m = job->m;

    /* Chunks: about 4 per worker thread so all threads stay busy to the
     * end, at most 4 MiB of input each (a bigger single input goes alone). */
    pthread_mutex_lock(&m->mu);
    unsigned threads =
        m->worker_threads ? m->worker_threads : (unsigned)(m->nworkers - 1) * job->set.threads;
    if (!threads) /* a serving master before any worker joined: guess one */
        threads = job->set.threads ? job->set.threads : 1;
    while (m->map)
        wait_cv(m, NULL); /* one map at a time */
    struct map_collect mc = {{0}, NULL, NULL};
    mc.tail = &mc.head;
    m->map = &mc;
    pthread_mutex_unlock(&m->mu);
    size_t per = n / ((size_t)threads * 4);
    per = per < 1 ? 1 : per > 65536 ? 65536 : per;

    size_t *starts = malloc((n / per + n + 1) * sizeof *starts), nchunks = 0;
    if (!starts) {
        rc = LOOM_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n;) {
        size_t j = i, bytes = 0;
        while (j < n && j - i < per && (j == i || bytes + lens[j] <= ((size_t)4 << 20)))
            bytes += lens[j++];
        starts[nchunks++] = i;
        i = j;
    }
    starts[nchunks] = n;

    size_t submitted = 0;
    for (size_t c = 0; c < nchunks && rc == LOOM_OK; c++) {
        size_t first = starts[c], count = starts[c + 1] - first;
        size_t psize = wire_chunk_size(count, lens + first);
        if (psize > job->set.max_payload + 4096) {
            rc = LOOM_ERANGE;
            break;
        }
        struct mtask *t = mtask_new((uint32_t)idx, WIRE_TASK_CHUNK, NULL, psize);
        if (!t) {
            rc = LOOM_ENOMEM;
            break;
        }
        wire_chunk_pack(t->data, count, inputs + first, lens + first);
        if (m->jnl)
            t->hash = loom__journal_def_hash(job->fns[idx].name, t->data, psize);
        pthread_mutex_lock(&m->mu);
        rc = wait_room(m, LOOM_FOREVER);
        if (rc == LOOM_OK) {
            uint64_t id = enqueue(m, t, 0);
            if (u64map_put(&mc.ids, id, (void *)(uintptr_t)(c + 1)) != 0)
                loom__panic(__FILE__, __LINE__, __func__, "out of memory for a map");
            submitted++;
        } else {
            free(t);
        }
        pthread_mutex_unlock(&m->mu);
    }

    /* Collect: every chunk submitted comes back exactly once. */
    pthread_mutex_lock(&m->mu);
    for (size_t got = 0; got < submitted;) {
        if (!mc.head) {
            wait_cv(m, NULL);
            continue;
        }
        struct mresult *mr = mc.head;
        mc.head = mr->next;
        if (!mc.head)
            mc.tail = &mc.head;
        pthread_mutex_unlock(&m->mu);
        map_unpack(mr, starts[mr->chunk], starts[mr->chunk + 1] - starts[mr->chunk], results);
        free(mr);
        got++;
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);

out:
    pthread_mutex_lock(&m->mu);
    m->map = NULL;
    u64map_free(&mc.ids);
    wake_waiters(m);
    pthread_mutex_unlock(&m->mu);
    free(starts);
    return rc;
}

loom_err
loom_job_submit_i64(loom_job *job, const char *fn, int64_t value, int timeout_ms, uint64_t *id)
{
    return loom_job_submit(job, fn, &value, sizeof value, timeout_ms, id);
}

loom_err
loom_job_submit_double(loom_job *job, const char *fn, double value, int timeout_ms, uint64_t *id)
{
    return loom_job_submit(job, fn, &value, sizeof value, timeout_ms, id);
}

loom_err
loom_job_submit_str(loom_job *job, const char *fn, const char *value, int timeout_ms, uint64_t *id)
{
    if (!value)
        return LOOM_EINVAL;
    return loom_job_submit(job, fn, value, strlen(value) + 1, timeout_ms, id);
}
