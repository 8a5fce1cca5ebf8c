/* SPDX-License-Identifier: MIT */
/*
 * A worker rank: one communication thread owns MPI, pool threads run tasks.
 *
 * Threads and what they own:
 *   comm thread  every MPI call; receives frames from the master, queues
 *                their tasks, sends the outbox (results, submits, credits,
 *                queue requests), starts runners;
 *   runners      pool tasks that drain the run queue in small chunks and
 *                append their results to the outbox;
 *   callers      the program's threads: serve(), queue calls.
 *
 * Locks: rq_mu guards the run queue and runner/running counts; out_mu the
 * outbox and pending queue calls; st_mu the stop/bye state. A thread holds
 * at most one of them at a time.
 *
 * Credits: the worker tells the master how many more tasks it can hold.
 * Its capacity is sized from how long tasks take (job.prefetch seconds of
 * work per thread, at least 2 tasks per thread), so a batch of tiny tasks
 * is large and long tasks are not hoarded. granted counts credits sent
 * whose tasks have not arrived yet; the comm thread alone touches it.
 * No credit goes before the program calls loom_job_serve() (serving): no
 * task runs while the worker's main thread still prepares, and the
 * master's tasks wait for a worker that serves.
 *
 * Received frames are kept whole and tasks point into them; a frame is
 * freed when its last task has run (refs).
 *
 * Outgoing frames are bounded by job.max_frame (less WIRE_CONTROL_ROOM
 * for the credit and goodbye a flush adds): a record that would take the
 * outbox past it seals the outbox into `full`, the frames to send as
 * they are, and starts a new one; a record too big for any frame (a map
 * chunk's replies) is reported as a failed task instead. So results
 * finishing together never make a message the master must refuse.
 *
 * Isolated tasks (LOOM_TASK_ISOLATED, job.isolate): a runner takes an
 * isolation slot (isolate.c: a helper process) from iso_idle when it meets
 * its first one and gives it back when it stops, so there are at most as
 * many helpers as threads and a helper outlives the runner that started
 * it. iso_mu guards iso_idle only; it is never held with another lock.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backoff.h"
#include "internal.h"
#include "isolate.h"
#include "job_types.h"
#include "local_call.h"
#include "loom/cpu.h"
#include "loom/log.h"
#include "loom/pool.h"
#include "sendq.h"
#include "task.h"
#include "wire.h"
#include "worker.h"

struct rmsg {
    atomic_int refs;
    char *buf;
};

struct rq_item {
    struct rmsg *msg;
    struct wire_task t;
    const char *payload;
};

struct pending_call {
    uint64_t req;
    struct local_call *call;
    struct pending_call *next;
};

/* A sealed outgoing frame: full, waiting for the comm thread to send it. */
struct full_frame {
    struct wire_buf b;
    struct full_frame *next;
};

struct worker {
    loom_job *job;
    loom_pool *pool;
    pthread_t comm;
    atomic_int quit; /* destroy: comm thread may exit once sends are done */
    /* serve (or destroy) was called: credits may go, tasks come */
    atomic_int serving;

    pthread_mutex_t rq_mu;
    struct rq_item *rq;
    size_t rq_head, rq_count, rq_cap;
    unsigned runners, running;
    double avg_task_ns;

    pthread_mutex_t out_mu;
    struct wire_buf outbox;
    struct full_frame *full, **full_tail; /* sealed frames, oldest first */
    size_t out_results;
    int64_t out_since;
    int out_urgent;
    struct pending_call *calls;
    int64_t call_since; /* when the newest call was queued */
    uint64_t next_req;
    int calls_closed;
    pthread_cond_t wake; /* the comm thread sleeps here when idle */
    int sleeping;

    pthread_mutex_t iso_mu;
    struct loom__iso **iso_idle; /* isolation slots no runner holds */
    unsigned iso_idle_n;
    struct loom__iso_limits iso_limits;

    size_t capacity, granted; /* comm thread only */
    /* comm thread: when credits went out while none were (0: none out),
     * and the average time until their first tasks came (0: not measured) */
    int64_t credit_at, task_rtt;
    int64_t last_sent;        /* comm thread: when it last sent the master anything */
    int bye_gone;             /* comm thread: BYE sent, nothing more goes up */
    struct loom__sendq sends; /* comm thread only */
    int64_t heard;            /* comm thread: when the master last sent anything */

    pthread_mutex_t st_mu;
    pthread_cond_t st_cv;
    int stopped; /* STOP received */
    int bye_wanted, bye_sent;
};

/* ---- running tasks ------------------------------------------------------------ */

static void
rmsg_release(struct rmsg *m)
{
    if (atomic_fetch_sub(&m->refs, 1) == 1) {
        free(m->buf);
        free(m);
    }
}

/* Runners take an isolation slot (a helper process) when they meet their
 * first isolated task and give it back when they stop, so a helper is
 * reused by whichever thread runs isolated tasks next. */
static struct loom__iso *
iso_take(struct worker *w)
{
    struct loom__iso *h = NULL;
    pthread_mutex_lock(&w->iso_mu);
    if (w->iso_idle_n > 0)
        h = w->iso_idle[--w->iso_idle_n];
    pthread_mutex_unlock(&w->iso_mu);
    if (!h && loom__iso_create(&h) != LOOM_OK)
        h = NULL;
    return h;
}

static void
iso_give(struct worker *w, struct loom__iso *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&w->iso_mu);
    /* at most one slot per runner, and runners <= threads */
    LOOM_ASSERT(w->iso_idle_n < w->job->set.threads);
    w->iso_idle[w->iso_idle_n++] = h;
    pthread_mutex_unlock(&w->iso_mu);
}

/* CLOCK_REALTIME - CLOCK_MONOTONIC, read as the wall clock between two
 * monotonic reads (their middle), retried if the thread was preempted in
 * between: the starts it gives stay within a microsecond of the wall. */
static int64_t
wall_offset(void)
{
    int64_t best = 0, best_gap = INT64_MAX;
    for (int i = 0; i < 3; i++) {
        int64_t m1 = loom__now_ns(), w = loom__wall_ns(), m2 = loom__now_ns();
        if (m2 - m1 < best_gap) {
            best_gap = m2 - m1;
            best = w - m1 - (m2 - m1) / 2;
        }
        if (best_gap < 1000)
            break;
    }
    return best;
}

/* Where a runner's clock stands: the pool thread (slot, from 1), the
 * wall-clock offset (CLOCK_REALTIME - CLOCK_MONOTONIC, so a start read
 * from the monotonic clock lines up across nodes like the wall clock) and
 * when it was read, and the end of the last task run: a task starts where
 * the one before it ended, so timing a task costs one clock read, not two
 * (tiny tasks take a few hundred ns; a read, tens). */
struct runner_clock {
    uint32_t slot;
    int64_t wall_off, off_at, last;
};

/* Run one task, stage its result, advance the clock. */
static void
run_item(struct worker *w, loom_task *t, const struct rq_item *it, struct wire_buf *stage,
         struct loom__iso **iso, struct runner_clock *clk)
{
    const struct job_fn *f = &w->job->fns[it->t.fn];
    t->id = it->t.id;
    t->attempt = it->t.attempt;
    t->payload = it->payload;
    t->len = it->t.len;
    t->reply_len = 0;
    t->submit_err = t->reply_err = LOOM_OK;
    int status, chunk = (it->t.flags & WIRE_TASK_CHUNK) != 0;
    int isolated = (it->t.flags & WIRE_TASK_ISOLATE) ||
                   (w->job->set.isolate && !(it->t.flags & WIRE_TASK_IN_THREAD));
    struct loom__iso_outcome o = {0, LOOM_CAUSE_OK, 0};
    int64_t t0 = clk->last;
    if (isolated) {
        if (!*iso)
            *iso = iso_take(w);
        if (*iso) {
            loom__iso_run(*iso, &w->iso_limits, f, chunk, t, &o);
        } else {
            o.status = -1;
            o.cause = LOOM_CAUSE_ISOLATION;
        }
        status = o.status;
    } else {
        loom_err why;
        status = chunk ? loom__run_chunk(f->fn, f->user, t) : f->fn(t, f->user);
        status = loom__task_outcome(t, status, &why); /* a refused reply or submit */
        o.cause = status ? LOOM_CAUSE_FAILED : LOOM_CAUSE_OK;
        o.code = (int32_t)why;
    }
    int64_t t1 = clk->last = loom__now_ns();
    struct wire_result r = {
        it->t.id,          it->t.attempt,       status, it->t.flags,        (uint32_t)t->reply_len,
        (uint16_t)o.cause, (uint16_t)clk->slot, o.code, clk->wall_off + t0, t1 - t0};
    int fits =
        wire_frame_size(sizeof r + t->reply_len) <= w->job->set.max_frame - WIRE_CONTROL_ROOM;
    if (!fits)
        LOOM_ERROR("task %llu: its reply of %zu bytes does not fit in a message (job.max_frame): "
                   "it is reported as failed, without data",
                   (unsigned long long)r.id, t->reply_len);
    if (!fits ||
        wire_put(stage, WIRE_RESULT, &r, sizeof r, t->reply, t->reply_len, NULL, 0) != LOOM_OK) {
        /* no memory for the reply, or no message can carry it (a map
         * chunk's replies): report the task as failed, without data */
        r.status = r.status ? r.status : -1;
        r.cause = r.cause ? r.cause : LOOM_CAUSE_FAILED;
        r.len = 0;
        if (wire_put(stage, WIRE_RESULT, &r, sizeof r, NULL, 0, NULL, 0) != LOOM_OK)
            loom__panic(__FILE__, __LINE__, __func__, "out of memory for a task result");
    }
    if (chunk)
        loom__task_reply_free(t); /* chunk replies can be large: do not keep */
}

/* How long a queue call keeps the comm thread spinning for its answer:
 * many round trips, but not a parked get's whole wait. */
#define HOT_CALL_NS ((int64_t)2000000)

/* (under out_mu) Wake the comm thread if it sleeps; one signal is enough
 * until it has run again. */
static void
wake_comm_locked(struct worker *w)
{
    if (w->sleeping) {
        pthread_cond_signal(&w->wake);
        w->sleeping = 0;
    }
}

/* Wake the comm thread if it sleeps (it has something to do). */
static void
wake_comm(struct worker *w)
{
    pthread_mutex_lock(&w->out_mu);
    wake_comm_locked(w);
    pthread_mutex_unlock(&w->out_mu);
}

/* Data records fill an outgoing frame up to this (see the top). */
static size_t
outbox_limit(const struct worker *w)
{
    return w->job->set.max_frame - WIRE_CONTROL_ROOM;
}

/* (under out_mu) The outbox is full: it goes to `full` as it is, to be
 * sent at once, and a new one starts. */
static void
seal_outbox(struct worker *w)
{
    struct full_frame *f = malloc(sizeof *f);
    if (!f)
        loom__panic(__FILE__, __LINE__, __func__, "out of memory for an outgoing message");
    f->b = w->outbox;
    f->next = NULL;
    *w->full_tail = f;
    w->full_tail = &f->next;
    memset(&w->outbox, 0, sizeof w->outbox);
    wire_buf_reset(&w->outbox);
    w->out_since = loom__now_ns();
    w->out_urgent = 1;
    wake_comm_locked(w);
}

/* (under out_mu) Append the records of stage to the outbox, sealing it
 * whenever the next record would take it past its bound. */
static void
outbox_add(struct worker *w, const struct wire_buf *stage)
{
    size_t pos = 0;
    int more;
    while ((more = wire_move_upto(&w->outbox, stage, &pos, outbox_limit(w))) == 1)
        seal_outbox(w);
    if (more < 0)
        loom__panic(__FILE__, __LINE__, __func__, "out of memory for task results");
}

static void *
runner(void *arg)
{
    struct worker *w = arg;
    struct wire_buf stage = {0};
    wire_buf_reset(&stage);
    loom_task t = {.job = w->job, .out = &stage};
    struct rq_item batch[64];
    unsigned threads = w->job->set.threads;
    struct loom__iso *iso = NULL;
    int idx = loom_context_index(loom_context_current());
    struct runner_clock clk = {idx >= 0 ? (uint32_t)idx + 1 : 0, wall_offset(), 0, 0};
    clk.off_at = loom__now_ns();

    pthread_mutex_lock(&w->rq_mu);
    while (w->rq_count > 0) {
        /* Tiny tasks are taken several at a time (one lock per chunk);
         * anything slower — or not measured yet — one by one, so no
         * thread sits on queued work while another is idle. */
        size_t k = 1;
        if (w->avg_task_ns > 0 && w->avg_task_ns < 20000) {
            k = w->rq_count / threads + 1;
            k = k > 64 ? 64 : k > w->rq_count ? w->rq_count : k;
        }
        for (size_t i = 0; i < k; i++) {
            batch[i] = w->rq[w->rq_head];
            w->rq_head = (w->rq_head + 1) % w->rq_cap;
        }
        w->rq_count -= k;
        w->running += (unsigned)k;
        pthread_mutex_unlock(&w->rq_mu);

        int64_t t0 = clk.last = loom__now_ns();
        if (t0 - clk.off_at > 1000000000) { /* the wall clock may have been set */
            clk.wall_off = wall_offset();
            clk.off_at = t0;
        }
        for (size_t i = 0; i < k; i++)
            run_item(w, &t, &batch[i], &stage, &iso, &clk);
        double per = (double)(clk.last - t0) / (double)k;

        pthread_mutex_lock(&w->out_mu);
        int first = wire_empty(&w->outbox);
        if (first)
            w->out_since = loom__now_ns();
        outbox_add(w, &stage);
        w->out_results += k;
        /* the first result starts the flush delay the comm thread sleeps
         * by; later ones go with it unless the batch is full */
        if (first || w->out_results >= w->job->set.batch_max)
            wake_comm_locked(w);
        pthread_mutex_unlock(&w->out_mu);
        wire_buf_reset(&stage);

        for (size_t i = 0; i < k; i++)
            rmsg_release(batch[i].msg);
        pthread_mutex_lock(&w->rq_mu);
        w->running -= (unsigned)k;
        w->avg_task_ns = w->avg_task_ns <= 0 ? per : 0.8 * w->avg_task_ns + 0.2 * per;
    }
    int last = --w->runners == 0;
    pthread_mutex_unlock(&w->rq_mu);
    /* the worker runs dry: its results go now (maybe_flush's `idle`),
     * not after the flush delay the comm thread sleeps by */
    if (last)
        wake_comm(w);
    iso_give(w, iso);
    loom__task_reply_free(&t);
    wire_buf_free(&stage);
    return NULL;
}

/* ---- receiving ----------------------------------------------------------------- */

static int
rq_push(struct worker *w, const struct rq_item *it)
{
    if (w->rq_count == w->rq_cap) {
        size_t cap = w->rq_cap ? w->rq_cap * 2 : 1024;
        struct rq_item *n = malloc(cap * sizeof *n);
        if (!n)
            return -1;
        for (size_t i = 0; i < w->rq_count; i++)
            n[i] = w->rq[(w->rq_head + i) % w->rq_cap];
        free(w->rq);
        w->rq = n;
        w->rq_cap = cap;
        w->rq_head = 0;
    }
    w->rq[(w->rq_head + w->rq_count) % w->rq_cap] = *it;
    w->rq_count++;
    return 0;
}

static void
complete_call(struct worker *w, const struct wire_qrep *q, const char *data)
{
    pthread_mutex_lock(&w->out_mu);
    struct pending_call **pp = &w->calls, *pc = NULL;
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->req == q->req) {
            pc = *pp;
            *pp = pc->next;
            break;
        }
    int closed = w->calls_closed;
    pthread_mutex_unlock(&w->out_mu);
    if (!pc) { /* after STOP: its call was answered LOOM_ECLOSED */
        if (!closed)
            LOOM_WARN("dropping an answer to unknown queue request %llu",
                      (unsigned long long)q->req);
        return;
    }
    void *copy = NULL;
    if (q->len) {
        copy = malloc(q->len);
        if (copy)
            memcpy(copy, data, q->len);
    }
    loom_err err = (loom_err)q->err;
    if (q->len && !copy)
        err = LOOM_ENOMEM;
    if ((unsigned)err >= LOOM__ERR_COUNT)
        err = LOOM_EPROTO;
    loom__local_call_complete(pc->call, err, copy, copy ? q->len : 0);
    free(pc);
}

/* The job is over for this worker (STOP, or the master is lost): queue
 * calls made from now on fail, and those still waiting are answered
 * LOOM_ECLOSED. Any thread; again is harmless. */
static void
close_calls(struct worker *w)
{
    pthread_mutex_lock(&w->out_mu);
    w->calls_closed = 1;
    struct pending_call *pc = w->calls;
    w->calls = NULL;
    pthread_mutex_unlock(&w->out_mu);
    while (pc) {
        struct pending_call *next = pc->next;
        loom__local_call_complete(pc->call, LOOM_ECLOSED, NULL, 0);
        free(pc);
        pc = next;
    }
}

/* Handle one frame from the master; takes ownership of buf. 1 when it was
 * only a sign of life (pings): nothing to hurry for; else 0. */
static int
handle_frame(struct worker *w, char *buf, size_t len)
{
    int beat = 1;
    struct rmsg *m = malloc(sizeof *m);
    struct wire_reader r;
    if (!m || len > w->job->set.max_frame || wire_open(&r, buf, len) != LOOM_OK) {
        LOOM_ERROR("dropping a malformed message from the master (%zu bytes)", len);
        free(m);
        free(buf);
        return 0;
    }
    m->buf = buf;
    atomic_init(&m->refs, 1); /* held while this function runs */
    uint32_t type;
    const char *body;
    size_t blen;
    int rc, tasks = 0;
    pthread_mutex_lock(&w->rq_mu);
    while ((rc = wire_next(&r, &type, &body, &blen)) == 1) {
        beat &= type == WIRE_PING;
        if (type == WIRE_TASK) {
            struct rq_item it = {m, {0}, NULL};
            if (wire_get_task(body, blen, &it.t, &it.payload) != LOOM_OK ||
                it.t.fn >= w->job->nfns) {
                rc = -1;
                break;
            }
            if (rq_push(w, &it) != 0)
                loom__panic(__FILE__, __LINE__, __func__, "out of memory queueing tasks");
            atomic_fetch_add(&m->refs, 1);
            tasks++;
            continue;
        }
        pthread_mutex_unlock(&w->rq_mu);
        if (type == WIRE_QREP) {
            struct wire_qrep q;
            const char *data;
            if (wire_get_qrep(body, blen, &q, &data) != LOOM_OK)
                rc = -1;
            else
                complete_call(w, &q, data);
        } else if (type == WIRE_STOP) {
            struct wire_stop stop;
            if (wire_get_stop(body, blen, &stop) != LOOM_OK) {
                rc = -1;
                break;
            }
            atomic_store(&w->job->peers_lost, (int)stop.lost);
            pthread_mutex_lock(&w->st_mu);
            w->stopped = 1;
            pthread_cond_broadcast(&w->st_cv);
            pthread_mutex_unlock(&w->st_mu);
            close_calls(w);
        } else if (type == WIRE_PING && wire_get_empty(body, blen) == LOOM_OK) {
            /* the master is alive */
        } else {
            rc = -1;
        }
        pthread_mutex_lock(&w->rq_mu);
        if (rc < 0)
            break;
    }
    w->granted = (size_t)tasks > w->granted ? 0 : w->granted - (size_t)tasks;
    if (tasks && w->credit_at) { /* the master's answer to our credits */
        int64_t d = loom__now_ns() - w->credit_at;
        /* not when the master had nothing to send for a while */
        if (d < 4 * w->task_rtt || d < 10000000)
            w->task_rtt = w->task_rtt ? (w->task_rtt * 3 + d) / 4 : d;
        w->credit_at = 0;
    }
    /* start runners for the new work, up to one per thread */
    unsigned want = w->job->set.threads - w->runners;
    if (want > w->rq_count)
        want = (unsigned)w->rq_count;
    for (unsigned i = 0; i < want; i++) {
        if (loom_pool_submit(w->pool, runner, w, LOOM_NOWAIT, NULL) != LOOM_OK)
            break;
        w->runners++;
    }
    pthread_mutex_unlock(&w->rq_mu);
    if (rc < 0)
        LOOM_ERROR("malformed record in a message from the master: ignoring the rest of it");
    rmsg_release(m);
    return beat && rc == 0;
}

/* ---- sending -------------------------------------------------------------------- */

/* Send the frame in b to the master; b's bytes go with it. 0, or -1
 * (the frame was not sent; b may still hold it: the caller frees it). */
static int
send_frame(struct worker *w, struct wire_buf *b)
{
    int rc = loom__sendq_post(&w->sends, b, w->job->comm, 0, LOOM_TAG_UP, 0);
    if (rc == -2)
        LOOM_ERROR("MPI_Isend to the master failed");
    return rc == 0 ? 0 : -1;
}

/* Tasks this worker should hold: job.prefetch seconds of work per thread
 * at the measured task duration, at least two per thread. */
static size_t
target_capacity(struct worker *w, double avg_ns)
{
    /* at least one task per thread; no more until the tasks prove short:
     * a long task queued behind another on a busy worker would wait there
     * while other workers idle */
    size_t threads = w->job->set.threads, min = threads, max = WIRE_CREDITS_MAX;
    if (avg_ns <= 0)
        return min;
    double per_thread = w->job->set.prefetch_s * 1e9 / avg_ns;
    double want = per_thread * (double)threads;
    if (want < (double)min)
        return min;
    return want > (double)max ? max : (size_t)want;
}

/* Send the sealed frames, oldest first. One MPI could not take for want
 * of memory goes back, with those after it, to be sent next round. */
static void
send_full(struct worker *w, struct full_frame *f)
{
    while (f) {
        struct full_frame *next = f->next;
        if (send_frame(w, &f->b) != 0 && !wire_empty(&f->b)) {
            pthread_mutex_lock(&w->out_mu);
            struct full_frame *last = f;
            while (last->next)
                last = last->next;
            last->next = w->full;
            if (!w->full)
                w->full_tail = &last->next;
            w->full = f;
            w->out_urgent = 1;
            pthread_mutex_unlock(&w->out_mu);
            return;
        }
        wire_buf_free(&f->b); /* sent (the send took the bytes) or dropped: MPI failed */
        free(f);
        f = next;
    }
}

/* Decide whether to send now; returns 1 if something was sent other than
 * a heartbeat alone (that leaves the back-off where it is). */
static int
maybe_flush(struct worker *w, int64_t now)
{
    if (atomic_load(&w->job->master_lost)) { /* nobody listens: drop it */
        pthread_mutex_lock(&w->out_mu);
        wire_buf_reset(&w->outbox);
        w->out_results = 0;
        w->out_urgent = 0;
        pthread_mutex_unlock(&w->out_mu);
        return 0;
    }
    pthread_mutex_lock(&w->rq_mu);
    size_t held = w->rq_count + w->running;
    double avg = w->avg_task_ns;
    int idle = w->runners == 0 && w->rq_count == 0;
    pthread_mutex_unlock(&w->rq_mu);

    /* follows the measured duration both ways: a switch from tiny to long
     * tasks stops the credits until the hoard has shrunk to fit */
    w->capacity = target_capacity(w, avg);
    size_t grant = 0;
    if (w->capacity > held + w->granted)
        grant = w->capacity - held - w->granted;
    /* ask for more before running dry, not for every freed slot */
    int want_credit = grant > 0 && (held + w->granted <= w->capacity / 2 || grant >= 64);

    pthread_mutex_lock(&w->st_mu);
    int stopping = w->stopped;
    int bye = w->bye_wanted && !w->bye_sent;
    pthread_mutex_unlock(&w->st_mu);
    if (stopping || !atomic_load(&w->serving))
        want_credit = 0;

    pthread_mutex_lock(&w->out_mu);
    int has = !wire_empty(&w->outbox);
    int due =
        has && (w->out_urgent || idle || w->out_results >= w->job->set.batch_max ||
                w->outbox.len >= ((size_t)1 << 20) || now - w->out_since >= w->job->set.flush_ns);
    /* a sign of life when silent for a heartbeat: the master cannot tell a
     * quiet worker from a dead one otherwise (MPI does not say) */
    int beat = !stopping && !w->bye_gone && now - w->last_sent >= w->job->set.heartbeat_ns;
    if (!due && !want_credit && !bye && !beat && !w->full) {
        pthread_mutex_unlock(&w->out_mu);
        return 0;
    }
    struct wire_buf b = w->outbox;
    memset(&w->outbox, 0, sizeof w->outbox);
    wire_buf_reset(&w->outbox);
    struct full_frame *full = w->full;
    w->full = NULL;
    w->full_tail = &w->full;
    w->out_results = 0;
    w->out_urgent = 0;
    pthread_mutex_unlock(&w->out_mu);

    int beat_only = !full && !want_credit && !bye && wire_empty(&b);
    send_full(w, full);
    if (b.len == 0)
        wire_buf_reset(&b);
    if (want_credit || (beat && b.len == 0)) { /* a heartbeat is a credit of 0 */
        struct wire_credit c = {want_credit ? (uint32_t)grant : 0};
        if (wire_put(&b, WIRE_CREDIT, &c, sizeof c, NULL, 0, NULL, 0) == LOOM_OK) {
            if (!w->granted && c.credits)
                w->credit_at = now;
            w->granted += c.credits;
        }
    }
    if (bye && wire_put(&b, WIRE_BYE, NULL, 0, NULL, 0, NULL, 0) != LOOM_OK)
        bye = 0;
    if (send_frame(w, &b) != 0) {
        wire_buf_free(&b);
        return 0;
    }
    w->last_sent = now;
    if (bye) {
        w->bye_gone = 1;
        pthread_mutex_lock(&w->st_mu);
        w->bye_sent = 1;
        pthread_cond_broadcast(&w->st_cv);
        pthread_mutex_unlock(&w->st_mu);
    }
    return !beat_only;
}

/* The master went silent past job.worker_timeout (it died, hangs, has
 * ended without telling this worker, or its link is gone; it pings every
 * job.heartbeat): the worker leaves as if stopped, sending nothing more;
 * sends in progress are abandoned (MPI may still hold their buffers). */
static void
master_lost(struct worker *w)
{
    LOOM_ERROR("the master has been silent for %.1f s: leaving the job",
               (double)(loom__now_ns() - w->heard) / 1e9);
    atomic_store(&w->job->master_lost, 1);
    loom__sendq_abandon(&w->sends, -1);
    w->bye_gone = 1;
    pthread_mutex_lock(&w->st_mu);
    w->stopped = 1;
    w->bye_sent = 1;
    pthread_cond_broadcast(&w->st_cv);
    pthread_mutex_unlock(&w->st_mu);
    close_calls(w);
}

/* Whether the master has been silent past job.worker_timeout while this
 * thread listened. A gap between two rounds longer than half the timeout
 * means this process was stopped (SIGSTOP, a frozen VM): that silence is
 * its own, so the master gets the whole timeout again from now. */
static int
master_silent(struct worker *w, int64_t now, int64_t *last_round)
{
    int64_t lost_ns = w->job->set.lost_ns;
    if (now - *last_round > lost_ns / 2)
        w->heard = now;
    *last_round = now;
    return !w->bye_gone && lost_ns > 0 && now - w->heard > lost_ns;
}

/* (under out_mu) How long the idle comm thread may sleep: -1 = yield, 0 =
 * poll again, else ns. It polls only while the master can send it
 * something:
 *   a queue call made within HOT_CALL_NS: its answer is due within a
 *     round trip — yield and poll (many round trips in a row);
 *   a queue call waiting longer (a get parked at the master), credits
 *     granted (tasks come whenever the program submits) or sends in
 *     progress: the back-off, from 1 ms growing with the time idle
 *     (loom__idle_cap: a message after a pause waits at most an eighth of
 *     it, and never more than 50 ms);
 *   nothing of that: only a ping, STOP or a lost worker's dismissal can
 *     come, none of them urgent — it sleeps until a runner, a caller or the
 *     program wakes it, its next heartbeat is due, or job.heartbeat (a
 *     quarter of job.worker_timeout at most) has passed: then it reads
 *     what came and checks that the master still speaks.
 * Never past the flush delay of results in the outbox. */
static int64_t
comm_pause(struct worker *w, unsigned *idle, int64_t now, int64_t worked)
{
    if (w->calls && now - w->call_since < HOT_CALL_NS)
        return -1;
    const struct job_settings *set = &w->job->set;
    int64_t cap;
    int expect = w->calls || w->granted || !loom__sendq_empty(&w->sends);
    int64_t rtt = w->task_rtt, since = now - w->credit_at;
    if (w->credit_at && rtt && !w->calls && since < 4 * rtt) {
        /* tasks for the credits just sent are due about a round trip
         * after them: sleep half of it, then poll every quarter */
        if (since < rtt / 2)
            cap = rtt / 2 - since;
        else
            cap = rtt / 4 < 20000 ? 20000 : rtt / 4 > 1000000 ? 1000000 : rtt / 4;
        expect = 0; /* no back-off: straight to that time */
    } else if (expect) {
        cap = loom__idle_cap(now - worked, 1000000);
    } else {
        cap = set->heartbeat_ns > 0 ? set->heartbeat_ns : LOOM__DEEP_IDLE_NS;
        if (set->lost_ns > 0 && set->lost_ns / 4 < cap)
            cap = set->lost_ns / 4;
        if (!w->bye_gone && w->last_sent + set->heartbeat_ns - now < cap)
            cap = w->last_sent + set->heartbeat_ns - now;
    }
    if (!wire_empty(&w->outbox)) {
        int64_t due = w->out_since + set->flush_ns - now;
        cap = due < cap ? due : cap;
    }
    ++*idle;
    if (!expect) /* nothing to poll for: straight to the deadline */
        return cap > 1000 ? cap : 1000;
    return loom__idle_pause(*idle, cap);
}

static void *
comm_main(void *arg)
{
    struct worker *w = arg;
    loom__polling_thread_init("Comm");
    w->heard = loom__now_ns();
    int64_t last_round = w->heard;
    unsigned idle = 0, start = 0;
    struct loom__gap gap = {0, 0};
    int64_t worked = w->heard;
    for (;;) {
        int did = 0;
        for (int k = 0; k < 16; k++) {
            int flag = 0;
            MPI_Message msg;
            MPI_Status st;
            if (MPI_Improbe(0, LOOM_TAG_DOWN, w->job->comm, &flag, &msg, &st) != MPI_SUCCESS ||
                !flag)
                break;
            int count = 0;
            MPI_Get_count(&st, MPI_BYTE, &count);
            char *buf = malloc(count > 0 ? (size_t)count : 1);
            if (!buf)
                loom__panic(__FILE__, __LINE__, __func__, "out of memory receiving a message");
            MPI_Mrecv(buf, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
            if (!handle_frame(w, buf, (size_t)count))
                did = 1; /* a ping alone leaves the back-off where it is */
            w->heard = loom__now_ns();
        }
        if (master_silent(w, loom__now_ns(), &last_round))
            master_lost(w);
        loom__sendq_progress(&w->sends);
        did |= maybe_flush(w, loom__now_ns());
        if (atomic_load(&w->quit) && loom__sendq_empty(&w->sends))
            break;
        if (did) {
            worked = loom__now_ns();
            loom__work_gap(&gap, worked, idle > start);
            idle = start = loom__idle_start(&gap);
            continue;
        }
        /* Idle: sleep as long as nothing can come (comm_pause); a runner
         * handing over results, a caller or the program wake us. */
        pthread_mutex_lock(&w->out_mu);
        int64_t ns = comm_pause(w, &idle, loom__now_ns(), worked);
        if (ns > 0 && !w->out_urgent && !atomic_load(&w->quit)) {
            w->sleeping = 1;
            loom__cond_sleep(&w->wake, &w->out_mu, ns);
            w->sleeping = 0;
        }
        pthread_mutex_unlock(&w->out_mu);
        if (ns < 0)
            sched_yield();
    }
    return NULL;
}

/* ---- life cycle ------------------------------------------------------------------ */

loom_err
loom__worker_start(loom_job *job)
{
    struct worker *w = calloc(1, sizeof *w);
    if (!w)
        return LOOM_ENOMEM;
    w->job = job;
    w->capacity = target_capacity(w, 0);
    w->iso_limits = (struct loom__iso_limits){job->set.task_timeout_ns, job->set.task_memory,
                                              job->set.isolate_mode};
    if (!(w->iso_idle = calloc(job->set.threads, sizeof *w->iso_idle))) {
        free(w);
        return LOOM_ENOMEM;
    }
    pthread_mutex_init(&w->iso_mu, NULL);
    pthread_mutex_init(&w->rq_mu, NULL);
    pthread_mutex_init(&w->out_mu, NULL);
    pthread_mutex_init(&w->st_mu, NULL);
    pthread_cond_init(&w->st_cv, NULL);
    loom__cond_init_monotonic(&w->wake);
    wire_buf_reset(&w->outbox);
    w->full_tail = &w->full;

    /* Say loudly, once per worker at start-up, when the pool cannot run in
     * parallel: mpirun binds to one core by default. */
    char why[512];
    if (loom_cpu_pool_oversized(job->set.threads, loom_cpu_affinity_count(), why, sizeof why))
        LOOM_WARN("%s", why);
    loom_pool_opts po = {
        .threads = job->set.threads, .queue_capacity = job->set.threads + 1, .pin = job->set.pin};
    loom_err rc = loom_pool_create(&po, &w->pool);
    if (rc != LOOM_OK)
        goto fail_pool;
    /* the master shows where tasks ran (loom_result.host, events, report) */
    const char *host = loom_context_host(loom_context_current());
    size_t host_len = strnlen(host, WIRE_HOST_MAX);
    struct wire_hello h = {job->set.threads, (int32_t)getpid(), (uint32_t)host_len, 0};
    rc = LOOM_ENOMEM;
    if (wire_put(&w->outbox, WIRE_HELLO, &h, sizeof h, host, host_len, NULL, 0) != LOOM_OK)
        goto fail_hello;
    w->out_urgent = 1;
    rc = LOOM_ESYS;
    if (pthread_create(&w->comm, NULL, comm_main, w) != 0)
        goto fail_hello;
    job->w = w;
    return LOOM_OK;

fail_hello:
    loom_pool_destroy(w->pool);
fail_pool:
    wire_buf_free(&w->outbox);
    pthread_cond_destroy(&w->st_cv);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->st_mu);
    pthread_mutex_destroy(&w->out_mu);
    pthread_mutex_destroy(&w->rq_mu);
    pthread_mutex_destroy(&w->iso_mu);
    free(w->iso_idle);
    free(w);
    return rc;
}

/* Wait for the master's STOP, then say goodbye. */
static void
leave(struct worker *w)
{
    pthread_mutex_lock(&w->st_mu);
    while (!w->stopped)
        pthread_cond_wait(&w->st_cv, &w->st_mu);
    w->bye_wanted = 1;
    pthread_mutex_unlock(&w->st_mu);
    wake_comm(w);
    pthread_mutex_lock(&w->st_mu);
    while (!w->bye_sent)
        pthread_cond_wait(&w->st_cv, &w->st_mu);
    pthread_mutex_unlock(&w->st_mu);
    close_calls(w); /* done at STOP already; a call made since fails too */
}

loom_err
loom_job_serve(loom_job *job)
{
    LOOM_ASSERT(job);
    if (!job->started || job->rank == 0)
        return loom__fail(LOOM_ESTATE, "loom_job_serve: %s",
                          !job->started ? "the job has not started: call loom_job_start() first"
                                        : "the master (rank 0) does not serve; it submits tasks");
    atomic_store(&job->w->serving, 1); /* the first credit: tasks may come */
    wake_comm(job->w);
    leave(job->w);
    return atomic_load(&job->master_lost)
               ? loom__fail(LOOM_ETIMEDOUT, "the master went silent: no word from it for longer "
                                            "than job.worker_timeout")
               : LOOM_OK;
}

void
loom__worker_stop(loom_job *job)
{
    struct worker *w = job->w;
    /* never served: serve now, or the master would wait for its tasks */
    atomic_store(&w->serving, 1);
    wake_comm(w);
    leave(w);
    atomic_store(&w->quit, 1);
    wake_comm(w);
    pthread_join(w->comm, NULL);
    loom_pool_destroy(w->pool);
    /* every runner has ended and given its slot back */
    for (unsigned i = 0; i < w->iso_idle_n; i++)
        loom__iso_destroy(w->iso_idle[i]);
    free(w->iso_idle);
    pthread_mutex_destroy(&w->iso_mu);
    wire_buf_free(&w->outbox);
    for (struct full_frame *f = w->full, *next; f; f = next) {
        next = f->next;
        wire_buf_free(&f->b);
        free(f);
    }
    free(w->rq);
    pthread_cond_destroy(&w->st_cv);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->st_mu);
    pthread_mutex_destroy(&w->out_mu);
    pthread_mutex_destroy(&w->rq_mu);
    free(w);
    job->w = NULL;
}

loom_err
loom__worker_queue_call(loom_job *job, struct qreq *rq, void **data, size_t *len)
{
    struct worker *w = job->w;
    struct local_call call;
    loom_err rc = LOOM_ENOMEM;
    struct pending_call *pc = malloc(sizeof *pc);
    if (!pc)
        goto out;
    loom__local_call_init(&call);
    pc->call = &call;

    pthread_mutex_lock(&w->out_mu);
    if (w->calls_closed) {
        rc = LOOM_ECLOSED;
    } else {
        pc->req = ++w->next_req;
        struct wire_qreq q = {
            pc->req,          rq->op, rq->timeout_ms, rq->capacity, (uint32_t)strlen(rq->name),
            (uint32_t)rq->len};
        if (!wire_empty(&w->outbox) &&
            !wire_fits(&w->outbox, sizeof q + q.name_len + rq->len, outbox_limit(w)))
            seal_outbox(w);
        if (wire_empty(&w->outbox))
            w->out_since = loom__now_ns();
        rc = wire_put(&w->outbox, WIRE_QREQ, &q, sizeof q, rq->name, q.name_len, rq->data, rq->len);
        if (rc == LOOM_OK) {
            pc->next = w->calls;
            w->calls = pc;
            w->call_since = loom__now_ns();
            w->out_urgent = 1;
            wake_comm_locked(w);
        }
    }
    pthread_mutex_unlock(&w->out_mu);
    if (rc == LOOM_OK) {
        loom__local_call_wait(&call);
        *data = call.data;
        *len = call.len;
        rc = call.err;
    } else {
        free(pc);
    }
    loom__local_call_destroy(&call);
out:
    free(rq->data);
    free(rq);
    return rc;
}
