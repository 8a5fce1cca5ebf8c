/* SPDX-License-Identifier: MIT */
/*
 * The job's recorder: job.events and job.report for any job (recorder.h).
 *
 * The master's progress thread must not format JSON or feed the report for
 * every one of a million tiny tasks, so recording is split in two:
 *
 *   producers  (the progress thread for the job's own attempts, joins and
 *              losses; the program's threads for loom_job_record_attempt)
 *              append one fixed-size record (+ host and label bytes for the
 *              program's attempts) to `cur`, a byte buffer, under `mu`;
 *   the writer thread ("Events") swaps `cur` for its empty `spare`,
 *              formats the events, feeds the report and flushes the file,
 *              outside the lock.
 *
 * The writer sleeps on `cv` while nothing is buffered; the first record of
 * a batch wakes it, it then lets the batch grow for FLUSH_NS (or until
 * BATCH_BYTES are there) before it takes it, so a line reaches the file
 * within about FLUSH_NS of its event and a producer pays a signal once per
 * batch, not per record. A writer that falls more than MAX_BYTES behind
 * makes producers wait on `room` (bounded memory; the job slows down
 * rather than the master growing).
 *
 * State: under mu: cur, closing, summary, have_summary, closed; writer
 * only (until close joins it): spare, the files, the report, hosts,
 * threads, the tallies. Lock order: a caller may hold the master's m->mu
 * when it takes mu (loom__recorder_not_run); the writer takes nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"
#include "internal.h"
#include "loom/context.h"
#include "loom/log.h"
#include "recorder.h"
#include "report.h"

#define FLUSH_NS    ((int64_t)100000000) /* 0.1 s */
#define BATCH_BYTES ((size_t)1 << 20)
#define MAX_BYTES   ((size_t)16 << 20)
#define NAME_MAX_   128

enum rec_kind { K_ATTEMPT = 1, K_JOIN = 2, K_LOST = 3 };
#define FN_NONE UINT32_MAX /* the label follows the record */

/* One record in the buffer, then host_len and label_len bytes, padded to
 * 8. */
struct rec {
    uint8_t kind, outcome, cause, final, timed_out, pad[3];
    int32_t rank, slot; /* K_JOIN: slot = the worker's threads */
    int32_t exitval, signal;
    uint32_t attempt, fn;
    uint32_t host_len, label_len;
    uint64_t seq;
    int64_t time_ns, start_ns, run_ns;
};

struct buf {
    char *data;
    size_t len, cap;
};

struct loom__recorder {
    /* set at open, read-only after */
    char *events_path, *report_path;
    char events_name[NAME_MAX_], report_name[NAME_MAX_];
    char *prog, *title;
    int ranks, own;
    char **fn_names;
    size_t *fn_lens;
    unsigned nfns;
    loom__events *ev;
    loom__report *rep;
    int64_t t0_ns; /* run_start, Unix time */

    pthread_mutex_t mu;
    pthread_cond_t cv;   /* the writer waits here */
    pthread_cond_t room; /* producers wait here when cur is full */
    struct buf cur;
    int closing, closed, started, have_summary;
    loom_err close_rc;
    loom_run_summary summary;
    uint64_t skipped;
    pthread_t writer;

    /* the writer's */
    struct buf spare;
    char **hosts;       /* by rank, nhosts of them */
    unsigned *nthreads; /* by rank: the worker's pool threads */
    int nhosts;         /* the job's ranks, then more as jobs join */
    unsigned threads;   /* connected now, in all */
    int lost;
    int ev_failed; /* a write failed: said once, no more events */
    loom_run_summary tally;
};

/* ---- open, start -------------------------------------------------------------- */

static char *
dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

loom_err
loom__recorder_open(const struct loom__recorder_opts *o, loom__recorder **out)
{
    *out = NULL;
    int want_ev = o->events && *o->events, want_rep = o->report && *o->report;
    if (!want_ev && !want_rep)
        return LOOM_OK;
    loom__recorder *r = calloc(1, sizeof *r);
    if (!r)
        return LOOM_ENOMEM;
    pthread_mutex_init(&r->mu, NULL);
    loom__cond_init_monotonic(&r->cv);
    pthread_cond_init(&r->room, NULL);
    loom_err rc = LOOM_ENOMEM;
    r->ranks = r->nhosts = o->ranks;
    r->own = o->own_attempts;
    snprintf(r->events_name, sizeof r->events_name, "%s", o->events_name ? o->events_name : "");
    snprintf(r->report_name, sizeof r->report_name, "%s", o->report_name ? o->report_name : "");
    if (!(r->prog = dup_or_empty(o->prog)) || !(r->title = dup_or_empty(o->title)) ||
        !(r->events_path = dup_or_empty(o->events)) ||
        !(r->report_path = dup_or_empty(o->report)) ||
        !(r->hosts = calloc((size_t)o->ranks, sizeof *r->hosts)) ||
        !(r->nthreads = calloc((size_t)o->ranks, sizeof *r->nthreads)) ||
        !(r->fn_names = calloc(o->nfns ? o->nfns : 1, sizeof *r->fn_names)) ||
        !(r->fn_lens = calloc(o->nfns ? o->nfns : 1, sizeof *r->fn_lens)))
        goto fail;
    r->nfns = o->nfns;
    for (unsigned i = 0; i < o->nfns; i++) {
        if (!(r->fn_names[i] = strdup(o->fn_names[i])))
            goto fail;
        r->fn_lens[i] = strlen(r->fn_names[i]);
    }
    char err[PATH_MAX + 256];
    rc = LOOM_ECONFIG; /* a setting the job cannot follow */
    if (want_ev && loom__events_open(o->events, r->events_name, &r->ev, err, sizeof err) != 0) {
        LOOM_ERROR("%s", err);
        goto fail;
    }
    if (want_rep &&
        loom__report_create(o->report, r->report_name, 0, &r->rep, err, sizeof err) != 0) {
        LOOM_ERROR("%s", err);
        goto fail;
    }
    *out = r;
    return LOOM_OK;

fail:
    loom__recorder_destroy(r);
    return rc;
}

static void *writer_main(void *arg);

loom_err
loom__recorder_start(loom__recorder *r)
{
    if (!r)
        return LOOM_OK;
    r->t0_ns = loom__wall_ns();
    if (r->ev)
        loom__events_run_start(r->ev, r->t0_ns, r->title, r->ranks, 0);
    if (r->rep)
        loom__report_run_start(r->rep, (double)r->t0_ns / 1e9, r->prog, r->title, r->ranks, 0);
    if (pthread_create(&r->writer, NULL, writer_main, r) != 0)
        return LOOM_ESYS;
    r->started = 1;
    return LOOM_OK;
}

/* ---- producers ---------------------------------------------------------------- */

static size_t
pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Room for one record of `extra` trailing bytes (under mu); NULL when
 * closed or out of memory (the record is dropped: the job goes on). */
static struct rec *
reserve(loom__recorder *r, size_t extra)
{
    size_t n = pad8(sizeof(struct rec) + extra);
    while (!r->closing && r->started && r->cur.len + n > MAX_BYTES && r->cur.len)
        pthread_cond_wait(&r->room, &r->mu);
    if (r->closing || r->closed)
        return NULL;
    if (r->cur.len + n > r->cur.cap) {
        size_t cap = r->cur.cap ? r->cur.cap : 65536;
        while (cap < r->cur.len + n)
            cap *= 2;
        char *p = realloc(r->cur.data, cap);
        if (!p)
            return NULL;
        r->cur.data = p;
        r->cur.cap = cap;
    }
    size_t before = r->cur.len;
    struct rec *rec = (struct rec *)(void *)(r->cur.data + before);
    memset(rec, 0, sizeof *rec);
    r->cur.len += n;
    /* the first record of a batch starts the writer's flush delay; a full
     * batch goes at once */
    if (before == 0 || (before < BATCH_BYTES && r->cur.len >= BATCH_BYTES))
        pthread_cond_signal(&r->cv);
    return rec;
}

void
loom__recorder_join(loom__recorder *r, int rank, const char *host, unsigned threads)
{
    if (!r)
        return;
    size_t hl = strlen(host);
    pthread_mutex_lock(&r->mu);
    struct rec *rec = reserve(r, hl);
    if (rec) {
        rec->kind = K_JOIN;
        rec->rank = rank;
        rec->slot = (int32_t)threads;
        rec->host_len = (uint32_t)hl;
        rec->time_ns = loom__wall_ns();
        memcpy(rec + 1, host, hl);
    }
    pthread_mutex_unlock(&r->mu);
}

void
loom__recorder_lost(loom__recorder *r, int rank)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    struct rec *rec = reserve(r, 0);
    if (rec) {
        rec->kind = K_LOST;
        rec->rank = rank;
        rec->time_ns = loom__wall_ns();
    }
    pthread_mutex_unlock(&r->mu);
}

int
loom__recorder_wants_results(const loom__recorder *r)
{
    return r && !r->own;
}

/* How a C-API attempt shows: a function's status, or how its isolated
 * process ended. */
static loom_outcome
outcome_of(loom_cause cause)
{
    switch (cause) {
    case LOOM_CAUSE_OK:
        return LOOM_OUTCOME_OK;
    case LOOM_CAUSE_TIMEOUT:
        return LOOM_OUTCOME_TIMEOUT;
    case LOOM_CAUSE_LOST:
        return LOOM_OUTCOME_NOT_RUN;
    default:
        return LOOM_OUTCOME_FAILED;
    }
}

void
loom__recorder_result(loom__recorder *r, int64_t now_ns, uint64_t id, unsigned attempt, unsigned fn,
                      int rank, unsigned slot, int64_t start_ns, int64_t run_ns, int status,
                      loom_cause cause, int code, int final)
{
    if (!loom__recorder_wants_results(r))
        return;
    pthread_mutex_lock(&r->mu);
    struct rec *rec = reserve(r, 0);
    if (rec) {
        rec->kind = K_ATTEMPT;
        rec->outcome = (uint8_t)outcome_of(cause);
        rec->cause = (uint8_t)cause;
        rec->final = (uint8_t)(final != 0);
        rec->timed_out = cause == LOOM_CAUSE_TIMEOUT;
        rec->rank = rank;
        rec->slot = (int32_t)slot;
        rec->exitval = cause == LOOM_CAUSE_EXIT ? code : status;
        rec->signal = cause == LOOM_CAUSE_SIGNAL ? code : 0;
        rec->attempt = attempt;
        rec->fn = fn;
        rec->seq = id;
        rec->time_ns = now_ns;
        rec->start_ns = start_ns;
        rec->run_ns = run_ns;
    }
    pthread_mutex_unlock(&r->mu);
}

void
loom__recorder_not_run(loom__recorder *r, uint64_t id, unsigned attempt, unsigned fn)
{
    if (loom__recorder_wants_results(r))
        loom__recorder_result(r, loom__wall_ns(), id, attempt, fn, 0, 0, 0, 0, -1, LOOM_CAUSE_LOST,
                              0, 1);
}

void
loom__recorder_skipped(loom__recorder *r)
{
    if (!loom__recorder_wants_results(r))
        return;
    pthread_mutex_lock(&r->mu);
    r->skipped++;
    pthread_mutex_unlock(&r->mu);
}

loom_err
loom__recorder_attempt(loom__recorder *r, const loom_attempt *a)
{
    if ((unsigned)a->outcome > LOOM_OUTCOME_NOT_RUN || (unsigned)a->cause > LOOM_CAUSE_LOST)
        return loom__fail(LOOM_EINVAL,
                          "an attempt with outcome %d and cause %d: %s is out of "
                          "range",
                          (int)a->outcome, (int)a->cause,
                          (unsigned)a->outcome > LOOM_OUTCOME_NOT_RUN ? "the outcome"
                                                                      : "the cause");
    if (!r)
        return LOOM_OK;
    const char *host = a->host ? a->host : "";
    size_t hl = strnlen(host, 255), ll = a->label ? a->label_len : 0;
    if (ll > ((size_t)1 << 20))
        ll = (size_t)1 << 20; /* a label is for people: a megabyte is plenty */
    loom_err rc = LOOM_OK;
    pthread_mutex_lock(&r->mu);
    struct rec *rec = r->closing || r->closed ? NULL : reserve(r, hl + ll);
    if (rec) {
        rec->kind = K_ATTEMPT;
        rec->outcome = (uint8_t)a->outcome;
        rec->cause = (uint8_t)a->cause;
        rec->final = (uint8_t)(a->final != 0);
        rec->timed_out = (uint8_t)(a->timed_out != 0);
        rec->rank = a->rank;
        rec->slot = a->slot;
        rec->exitval = a->exit;
        rec->signal = a->signal;
        rec->attempt = a->attempt;
        rec->fn = FN_NONE;
        rec->host_len = (uint32_t)hl;
        rec->label_len = (uint32_t)ll;
        rec->seq = a->seq;
        rec->time_ns = loom__wall_ns();
        rec->start_ns = a->start_ns;
        rec->run_ns = a->run_ns;
        memcpy(rec + 1, host, hl);
        if (ll)
            memcpy((char *)(rec + 1) + hl, a->label, ll);
    } else {
        rc = r->closing || r->closed
                 ? loom__fail(LOOM_ESTATE, "the events file and the report are closed: "
                                           "loom_job_finish() was called")
                 : loom__fail(LOOM_ENOMEM, "out of memory for an attempt's record");
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

loom_err
loom__recorder_summary(loom__recorder *r, const loom_run_summary *s)
{
    if (!r)
        return LOOM_OK;
    loom_err rc = LOOM_ESTATE;
    pthread_mutex_lock(&r->mu);
    if (!r->closing && !r->closed) {
        r->summary = *s;
        r->have_summary = 1;
        rc = LOOM_OK;
    }
    pthread_mutex_unlock(&r->mu);
    if (rc != LOOM_OK)
        return loom__fail(rc, "the events file and the report are closed: loom_job_finish() "
                              "was called");
    return rc;
}

/* ---- the writer ------------------------------------------------------------------ */

static void
count(loom_run_summary *t, const loom_attempt *a)
{
    if (!a->final) {
        t->retried++;
        return;
    }
    t->tasks++;
    if (a->outcome == LOOM_OUTCOME_OK)
        t->succeeded++;
    else if (a->outcome == LOOM_OUTCOME_NOT_RUN)
        t->not_run++;
    else if (a->outcome == LOOM_OUTCOME_KILLED)
        t->killed++;
    else
        t->failed++;
    t->timeouts += a->outcome == LOOM_OUTCOME_TIMEOUT;
}

/* A write error: said once; the events stop, the job goes on. */
static void
events_failed(loom__recorder *r)
{
    if (r->ev_failed)
        return;
    r->ev_failed = 1;
    LOOM_ERROR("%s %s: writing failed: %s; no more events are written (the job goes on)",
               r->events_name, r->events_path, strerror(errno));
}

/* Room for rank in hosts[] and nthreads[]: joined workers get ranks past
 * the job's own (master_progress.c). 0, or -1 without memory (the rank is then
 * not known: its events go without its host). */
static int
room_for_rank(loom__recorder *r, int rank)
{
    if (rank < r->nhosts)
        return 0;
    int n = rank + 1 > 2 * r->nhosts ? rank + 1 : 2 * r->nhosts;
    char **h = realloc(r->hosts, (size_t)n * sizeof *h);
    if (h)
        r->hosts = h;
    unsigned *t = h ? realloc(r->nthreads, (size_t)n * sizeof *t) : NULL;
    if (!t)
        return -1;
    r->nthreads = t;
    memset(h + r->nhosts, 0, (size_t)(n - r->nhosts) * sizeof *h);
    memset(t + r->nhosts, 0, (size_t)(n - r->nhosts) * sizeof *t);
    r->nhosts = n;
    return 0;
}

static void
process(loom__recorder *r, const char *p, size_t len)
{
    for (size_t off = 0; off < len;) {
        const struct rec *rec = (const struct rec *)(const void *)(p + off);
        const char *host = (const char *)(rec + 1), *label = host + rec->host_len;
        off += pad8(sizeof *rec + rec->host_len + rec->label_len);
        int64_t time = rec->time_ns;
        if (rec->kind == K_JOIN && rec->rank > 0)
            (void)room_for_rank(r, rec->rank);
        int known = rec->rank > 0 && rec->rank < r->nhosts;
        if (rec->kind == K_JOIN && known) {
            free(r->hosts[rec->rank]);
            r->hosts[rec->rank] = strndup(host, rec->host_len);
            r->nthreads[rec->rank] = (unsigned)rec->slot;
            r->threads += (unsigned)rec->slot;
            if (r->ev && !r->ev_failed)
                loom__events_worker_join(r->ev, time, rec->rank,
                                         r->hosts[rec->rank] ? r->hosts[rec->rank] : "",
                                         (unsigned)rec->slot, r->threads);
        } else if (rec->kind == K_LOST && known) {
            r->lost++;
            r->threads -= r->nthreads[rec->rank];
            r->nthreads[rec->rank] = 0;
            const char *h = r->hosts[rec->rank] ? r->hosts[rec->rank] : "";
            if (r->ev && !r->ev_failed)
                loom__events_worker_lost(r->ev, time, rec->rank, h, r->lost, r->threads);
            if (r->rep)
                loom__report_worker_lost(r->rep, (double)time / 1e9, r->lost);
        } else if (rec->kind == K_ATTEMPT) {
            loom_attempt a = {.seq = rec->seq,
                              .attempt = rec->attempt,
                              .rank = rec->rank,
                              .slot = rec->slot,
                              .start_ns = rec->start_ns,
                              .run_ns = rec->run_ns,
                              .exit = rec->exitval,
                              .signal = rec->signal,
                              .timed_out = rec->timed_out,
                              .outcome = (loom_outcome)rec->outcome,
                              .cause = (loom_cause)rec->cause,
                              .final = rec->final};
            char hbuf[256];
            if (rec->fn == FN_NONE) { /* the program's: host and label follow */
                memcpy(hbuf, host, rec->host_len);
                hbuf[rec->host_len] = '\0';
                a.host = hbuf;
                a.label = label;
                a.label_len = rec->label_len;
            } else {
                a.host = known && r->hosts[rec->rank] ? r->hosts[rec->rank] : "";
                a.label = rec->fn < r->nfns ? r->fn_names[rec->fn] : "";
                a.label_len = rec->fn < r->nfns ? r->fn_lens[rec->fn] : 0;
            }
            count(&r->tally, &a);
            if (r->ev && !r->ev_failed)
                loom__events_attempt(r->ev, time, &a);
            if (r->rep)
                loom__report_attempt(r->rep, &a);
        }
    }
    if (r->ev && !r->ev_failed && loom__events_flush(r->ev) != 0)
        events_failed(r);
}

static void *
writer_main(void *arg)
{
    loom__recorder *r = arg;
    loom_context_set_name("Events");
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->cur.len && !r->closing)
            pthread_cond_wait(&r->cv, &r->mu);
        if (!r->cur.len)
            break; /* closing, and everything written */
        if (!r->closing && r->cur.len < BATCH_BYTES)
            loom__cond_sleep(&r->cv, &r->mu, FLUSH_NS); /* let the batch grow */
        struct buf b = r->cur;
        r->cur = r->spare;
        r->cur.len = 0;
        pthread_cond_broadcast(&r->room);
        pthread_mutex_unlock(&r->mu);
        process(r, b.data, b.len);
        b.len = 0;
        pthread_mutex_lock(&r->mu);
        r->spare = b;
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- close ------------------------------------------------------------------------ */

loom_err
loom__recorder_close(loom__recorder *r)
{
    if (!r)
        return LOOM_OK;
    pthread_mutex_lock(&r->mu);
    if (r->closed) {
        pthread_mutex_unlock(&r->mu);
        return r->close_rc;
    }
    r->closing = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_cond_broadcast(&r->room);
    pthread_mutex_unlock(&r->mu);
    if (r->started)
        pthread_join(r->writer, NULL);
    pthread_mutex_lock(&r->mu);
    r->started = 0;
    pthread_mutex_unlock(&r->mu);
    if (r->cur.len) /* never started: what was recorded still counts */
        process(r, r->cur.data, r->cur.len);
    r->cur.len = 0;

    loom_err rc = LOOM_OK;
    int64_t now = loom__wall_ns();
    struct loom__run_end end = {r->tally, now - r->t0_ns, r->threads};
    if (r->have_summary) {
        end.s = r->summary;
    } else {
        end.s.skipped = r->skipped;
        end.s.status = end.s.failed || end.s.not_run ? 1 : 0;
    }
    if (r->ev) {
        if (!r->ev_failed)
            loom__events_run_end(r->ev, now, &end);
        if (loom__events_close(r->ev) != 0)
            events_failed(r);
        r->ev = NULL;
        rc = r->ev_failed ? LOOM_ESYS : rc;
    }
    if (r->rep) {
        char err[PATH_MAX + 256];
        if (loom__report_finish(r->rep, &end, err, sizeof err) != 0) {
            LOOM_ERROR("%s", err);
            rc = LOOM_ESYS;
        }
    }
    pthread_mutex_lock(&r->mu);
    r->closed = 1;
    r->close_rc = rc;
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void
loom__recorder_destroy(loom__recorder *r)
{
    if (!r)
        return;
    /* started: the run gets its end; never started (the job did not
     * start): the files stay as created, empty */
    if (r->started && !r->closed)
        loom__recorder_close(r);
    if (r->ev)
        loom__events_close(r->ev);
    loom__report_free(r->rep);
    if (r->hosts)
        for (int i = 0; i < r->nhosts; i++)
            free(r->hosts[i]);
    if (r->fn_names)
        for (unsigned i = 0; i < r->nfns; i++)
            free(r->fn_names[i]);
    free(r->fn_names);
    free(r->fn_lens);
    free(r->hosts);
    free(r->nthreads);
    free(r->cur.data);
    free(r->spare.data);
    free(r->events_path);
    free(r->report_path);
    free(r->prog);
    free(r->title);
    pthread_cond_destroy(&r->room);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
