/* SPDX-License-Identifier: MIT */
/*
 * The master seen from the program's threads: submit (and its typed and
 * future forms), take results, wait for futures, map, finish, the
 * program's own attempts, queue calls from rank 0, and what the job asks
 * of a started master (its size, its workers' threads).
 *
 * Any program thread, concurrently. Everything shared with the progress
 * thread is under m->mu (master_types.h); a caller waits on m->cv
 * (loom__master_wait) for room, a result, a future or the end, and wakes
 * the progress thread (m->wake) when it queues the first task of a batch
 * or a queue call. m->mu is never held while a task is being packed or a
 * map chunk unpacked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "journal.h"
#include "local_call.h"
#include "loom/log.h"
#include "master_api.h"
#include "master_state.h"
#include "msg.h"
#include "recorder.h"
#include "registry.h"
#include "result.h"

/* ---- submit ---------------------------------------------------------------------------- */

static loom_err
master_only(loom_job *job)
{
    LOOM_ASSERT(job);
    if (!job->started)
        return loom__fail(LOOM_ESTATE, "the job has not started: call loom_job_start() first");
    return job->rank == 0 ? LOOM_OK
                          : loom__fail(LOOM_ESTATE,
                                       "this call is for the master (rank 0) only; this is "
                                       "rank %d",
                                       job->rank);
}

/* Resume (under mu, with room): the next task, of definition hash, as
 * the journal knows it. 0: run it. 1: it succeeded in an earlier run —
 * its result (status 0, `resumed`, no data) is delivered now. -1: the
 * journal has another definition under this id (the program submits
 * other tasks, or in another order). -2: no memory for its result.
 * Failures are recorded (loom__fail). */
static int
resume_skip(struct master *m, uint64_t hash, uint64_t *id, struct loom_job_future *f)
{
    uint64_t tid = m->next_id + 1;
    if (loom__journal_done_changed(m->done, tid, hash, NULL)) {
        LOOM_ERROR("task %llu differs from the journal's task %llu: the job's tasks changed "
                   "since the journal was written",
                   (unsigned long long)tid, (unsigned long long)tid);
        loom__fail(LOOM_EMISMATCH,
                   "task %llu differs from the journal's task %llu: the job's "
                   "tasks changed since the journal was written",
                   (unsigned long long)tid, (unsigned long long)tid);
        return -1;
    }
    if (!loom__journal_done_succeeded(m->done, tid, hash))
        return 0;
    /* the room its result needs, before anything changes */
    if ((f && loom__u64map_put(&m->futures, tid, f) != 0) ||
        (!f && !m->finishing && loom__rring_reserve(&m->results) != 0)) {
        loom__fail(LOOM_ENOMEM, "out of memory for the result of resumed task %llu",
                   (unsigned long long)tid);
        return -2;
    }
    m->next_id = tid;
    m->unfinished++;
    if (id)
        *id = tid;
    loom_result r = {tid, 0, 1, -1, NULL, 0, 1, NULL, LOOM_CAUSE_OK, 0, "", 0, 0, 0};
    loom__recorder_skipped(m->rec);
    loom__master_deliver(m, &r);
    loom__master_wake_waiters(m);
    return 1;
}

/* Queue tasks (under mu, with room checked by the caller). */
static uint64_t
enqueue(struct master *m, struct mtask *t, int avoiding)
{
    t->id = ++m->next_id;
    if (!avoiding)
        loom__master_pending_push(m, t); /* else loom__master_avoid_push() has queued it */
    m->unfinished++;
    /* only the first task of a queue needs the thread: with more already
     * waiting it has been told, and what it waits for is credits */
    if (avoiding ? m->avoid.n == 1 : m->pending.count == 1)
        loom__master_wake_progress(m);
    return t->id;
}

/* Room (under mu) for one more task. #LOOM_NOWAIT asks whether the job
 * is below its bound now — job.max_outstanding tasks unfinished or their
 * results not taken — and LOOM_EFULL tells the caller to take some. A
 * wait, though, ends as tasks finish, never only when results are taken:
 * the waiting thread may be the one that would take them (results beyond
 * the bound go to m->spill instead). So it ends unless no worker is left
 * to finish them: LOOM_ECLOSED then (the progress thread has said why in
 * the log). */
static loom_err
wait_room(struct master *m, int timeout_ms)
{
    size_t max = m->job->set.max_outstanding;
    if (timeout_ms == 0 && !m->finishing && !m->no_workers &&
        m->unfinished + m->results.count + m->spill.count >= max)
        return LOOM_EFULL;
    struct timespec dl;
    if (timeout_ms > 0)
        dl = loom__deadline(timeout_ms);
    while (!m->finishing && !m->no_workers && m->unfinished >= max) {
        if (timeout_ms == 0 || (loom__master_wait(m, timeout_ms > 0 ? &dl : NULL) == ETIMEDOUT &&
                                m->unfinished >= max))
            return loom__fail(LOOM_EFULL,
                              "%zu tasks unfinished, the limit job.max_outstanding is %zu: no "
                              "room within %d ms",
                              m->unfinished, max, timeout_ms);
    }
    if (m->finishing)
        return loom__fail(LOOM_ESTATE, "the job is finishing: loom_job_finish() was called, no "
                                       "more tasks are accepted");
    if (m->no_workers)
        return loom__fail(LOOM_ECLOSED, "no worker is left to run tasks: every worker was lost");
    return LOOM_OK;
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
        return loom__job_no_fn(job, fn);
    if (len > job->set.max_payload)
        return loom__fail(LOOM_ERANGE,
                          "payload of %zu bytes for \"%s\" is over the limit job.max_payload "
                          "(%zu bytes)",
                          len, fn, job->set.max_payload);
    struct master *m = job->m;
    uint64_t hash = m->jnl ? loom__journal_def_hash(job->fns[idx].name, payload, len) : 0;
    pthread_mutex_lock(&m->mu);
    rc = m->no_workers ? loom__fail(LOOM_ECLOSED, "every worker is lost: no task can run")
                       : wait_room(m, timeout_ms);
    int skip = rc == LOOM_OK && m->done ? resume_skip(m, hash, id, f) : 0;
    if (rc != LOOM_OK || skip) {
        pthread_mutex_unlock(&m->mu);
        return rc != LOOM_OK ? rc : skip > 0 ? LOOM_OK : skip == -1 ? LOOM_EMISMATCH : LOOM_ENOMEM;
    }
    struct mtask *t = loom__mtask_get(&m->tasks, (uint32_t)idx, flags, payload, len);
    if (!t)
        rc = loom__fail(LOOM_ENOMEM, "out of memory for a task of %zu bytes", len);
    else
        t->hash = hash;
    /* with one worker there is nowhere else to go */
    int avoiding = avoid_rank > 0 && avoid_rank < m->nworkers && m->nworkers > 2;
    /* every allocation before enqueue: after it nothing may fail */
    if (rc == LOOM_OK && (loom__tring_reserve(&m->pending, 1) != 0 ||
                          (f && loom__u64map_put(&m->futures, m->next_id + 1, f) != 0) ||
                          (avoiding && loom__master_avoid_push(m, t, avoid_rank) != 0))) {
        if (f)
            loom__u64map_take(&m->futures, m->next_id + 1);
        loom__mtask_recycle(&m->tasks, loom__inflight_tag(t));
        rc = loom__fail(LOOM_ENOMEM, "out of memory queueing a task");
    }
    if (rc == LOOM_OK) {
        uint64_t tid = enqueue(m, t, avoiding);
        if (id)
            *id = tid;
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
        return loom__fail(LOOM_EINVAL,
                          "loom_job_submit_flags: flags 0x%x: only LOOM_TASK_ISOLATED or "
                          "LOOM_TASK_IN_THREAD, not both",
                          flags);
    uint32_t wf = (flags & LOOM_TASK_ISOLATED ? WIRE_TASK_ISOLATE : 0) |
                  (flags & LOOM_TASK_IN_THREAD ? WIRE_TASK_IN_THREAD : 0);
    return submit(job, fn, payload, len, timeout_ms, id, NULL, 0, wf);
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
        return loom__fail(LOOM_EINVAL, "loom_job_submit_str: the value is NULL");
    return loom_job_submit(job, fn, value, strlen(value) + 1, timeout_ms, id);
}

/* ---- results and futures ------------------------------------------------------------ */

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
    while (!m->results.count && !m->spill.count) {
        if (m->unfinished == 0) {
            rc = loom__fail(LOOM_EDRAINED, "no task is outstanding: every result was taken");
            break;
        }
        if (timeout_ms == 0 || (loom__master_wait(m, timeout_ms > 0 ? &dl : NULL) == ETIMEDOUT &&
                                !m->results.count && !m->spill.count)) {
            rc = loom__fail(LOOM_ETIMEDOUT, "no result within %d ms (%zu tasks unfinished)",
                            timeout_ms, m->unfinished);
            break;
        }
    }
    if (rc == LOOM_OK && m->results.count) {
        *out = loom__rring_pop(&m->results);
    } else if (rc == LOOM_OK && loom__rspill_pop(&m->spill, m->job->ledger, out) != 0) {
        LOOM_ERROR("a result kept in the temporary file could not be read back: %s; it is "
                   "lost",
                   strerror(errno));
        rc = loom__fail(LOOM_ESYS, "a result kept in the temporary file could not be read back");
    }
    if (rc == LOOM_OK)
        loom__result_handed(out);
    pthread_mutex_unlock(&m->mu);
    return loom__ret(rc);
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
        return loom__fail(LOOM_ENOMEM, "out of memory for a future");
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
        if (timeout_ms == 0 ||
            (loom__master_wait(m, timeout_ms > 0 ? &dl : NULL) == ETIMEDOUT && !f->done)) {
            rc = LOOM_ETIMEDOUT;
            break;
        }
    }
    if (rc == LOOM_OK) {
        *out = f->res;
        out->data = NULL;
        out->loom__buf = NULL; /* the copy is the caller's own */
        if (f->res.len) {
            /* a message of its own, so the job's ledger counts it */
            struct loom__msg *copy = loom__msg_new(f->res.len);
            if (copy) {
                copy->ledger = m->job->ledger;
                memcpy(copy->data, f->res.data, f->res.len);
                out->data = copy->data;
                out->loom__buf = copy;
                loom__result_handed(out);
            } else {
                rc = loom__fail(LOOM_ENOMEM, "out of memory copying a result of %zu bytes",
                                f->res.len);
            }
        }
    }
    pthread_mutex_unlock(&m->mu);
    return loom__ret(rc);
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
        loom__result_drop(&f->res);
        free(f);
    }
}

/* ---- map ---------------------------------------------------------------------------- */

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
    for (size_t i = 0; i < count; i++)
        loom__result_handed(&results[first + i]);
    loom__result_drop(&mr->r);
}

/* Chunk boundaries for n inputs of lens[], at most `per` inputs and 4 MiB
 * of input per chunk (a bigger single input goes alone): chunk c is inputs
 * starts[c]..starts[c+1]-1. malloc'd (NULL without memory), *nchunks of
 * them. */
static size_t *
map_plan(const size_t *lens, size_t n, size_t per, size_t *nchunks)
{
    size_t *starts = malloc((n / per + n + 1) * sizeof *starts);
    *nchunks = 0;
    if (!starts)
        return NULL;
    for (size_t i = 0; i < n;) {
        size_t j = i, bytes = 0;
        while (j < n && j - i < per && (j == i || bytes + lens[j] <= ((size_t)4 << 20)))
            bytes += lens[j++];
        starts[(*nchunks)++] = i;
        i = j;
    }
    starts[*nchunks] = n;
    return starts;
}

/* Submit the chunks as tasks of function idx, each id noted in mc->ids
 * (id -> chunk + 1). How many were submitted goes to *submitted, also
 * when one fails (LOOM_ERANGE, LOOM_ENOMEM, or why there was no room). */
static loom_err
map_submit(loom_job *job, int idx, struct map_collect *mc, const void *const *inputs,
           const size_t *lens, const size_t *starts, size_t nchunks, size_t *submitted)
{
    struct master *m = job->m;
    loom_err rc = LOOM_OK;
    *submitted = 0;
    for (size_t c = 0; c < nchunks && rc == LOOM_OK; c++) {
        size_t first = starts[c], count = starts[c + 1] - first;
        size_t psize = wire_chunk_size(count, lens + first);
        if (psize > job->set.max_payload + 4096)
            return loom__fail(LOOM_ERANGE,
                              "a map chunk of %zu bytes is over the limit job.max_payload + 4096 "
                              "(%zu bytes)",
                              psize, job->set.max_payload + 4096);
        struct mtask *t = loom__mtask_new((uint32_t)idx, WIRE_TASK_CHUNK, NULL, psize);
        if (!t)
            return loom__fail(LOOM_ENOMEM, "out of memory for a map chunk of %zu bytes", psize);
        wire_chunk_pack(t->data, count, inputs + first, lens + first);
        if (m->jnl)
            t->hash = loom__journal_def_hash(job->fns[idx].name, t->data, psize);
        pthread_mutex_lock(&m->mu);
        rc = wait_room(m, LOOM_FOREVER);
        /* every allocation before enqueue: after it nothing may fail */
        if (rc == LOOM_OK &&
            (loom__tring_reserve(&m->pending, 1) != 0 ||
             loom__u64map_put(&mc->ids, m->next_id + 1, (void *)(uintptr_t)(c + 1)) != 0))
            rc = loom__fail(LOOM_ENOMEM, "out of memory queueing a map chunk");
        if (rc == LOOM_OK) {
            enqueue(m, t, 0);
            (*submitted)++;
        } else {
            free(t);
        }
        pthread_mutex_unlock(&m->mu);
    }
    return rc;
}

/* Collect: every chunk submitted comes back exactly once; its replies go
 * to their inputs' places in results. */
static void
map_gather(struct master *m, struct map_collect *mc, const size_t *starts, size_t submitted,
           loom_result *results)
{
    pthread_mutex_lock(&m->mu);
    for (size_t got = 0; got < submitted;) {
        if (!mc->head) {
            loom__master_wait(m, NULL);
            continue;
        }
        struct mresult *mr = mc->head;
        mc->head = mr->next;
        if (!mc->head)
            mc->tail = &mc->head;
        pthread_mutex_unlock(&m->mu);
        map_unpack(mr, starts[mr->chunk], starts[mr->chunk + 1] - starts[mr->chunk], results);
        free(mr);
        got++;
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
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
        return loom__job_no_fn(job, fn);
    for (size_t i = 0; i < n; i++)
        if (lens[i] > job->set.max_payload || lens[i] > UINT32_MAX)
            return loom__fail(LOOM_ERANGE,
                              "input %zu of %zu bytes for \"%s\" is over the limit "
                              "job.max_payload (%zu bytes)",
                              i, lens[i], fn, job->set.max_payload);
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
        loom__master_wait(m, NULL); /* one map at a time */
    struct map_collect mc = {{0}, NULL, NULL};
    mc.tail = &mc.head;
    m->map = &mc;
    pthread_mutex_unlock(&m->mu);
    size_t per = n / ((size_t)threads * 4);
    per = per < 1 ? 1 : per > 65536 ? 65536 : per;

    size_t nchunks, submitted = 0;
    size_t *starts = map_plan(lens, n, per, &nchunks);
    if (!starts)
        rc = loom__fail(LOOM_ENOMEM, "out of memory planning a map of %zu inputs", n);
    else
        rc = map_submit(job, idx, &mc, inputs, lens, starts, nchunks, &submitted);
    if (starts)
        map_gather(m, &mc, starts, submitted, results);

    pthread_mutex_lock(&m->mu);
    m->map = NULL;
    loom__u64map_free(&mc.ids);
    loom__master_wake_waiters(m);
    pthread_mutex_unlock(&m->mu);
    free(starts);
    return loom__ret(rc);
}

/* ---- the job's end, its own attempts, what others ask -------------------------------- */

loom_err
loom_job_finish(loom_job *job)
{
    LOOM_ASSERT(job);
    if (master_only(job) != LOOM_OK)
        return LOOM_ESTATE;
    struct master *m = job->m;
    pthread_mutex_lock(&m->mu);
    m->finishing = 1;
    /* results nobody will consume */
    while (m->results.count) {
        loom_result r = loom__rring_pop(&m->results);
        loom__result_drop(&r);
    }
    loom__rspill_free(&m->spill);
    loom__master_wake_progress(m);
    loom__master_wake_waiters(m);
    while (m->byes < m->nworkers - 1)
        loom__master_wait(m, NULL);
    pthread_mutex_unlock(&m->mu);
    /* every result is in: the events' run_end, the report */
    loom_err rec = loom__recorder_close(m->rec);
    if (atomic_load(&m->jnl_failed) || rec != LOOM_OK)
        return loom__fail(LOOM_ESYS, "%s could not be written (the log says why)",
                          rec != LOOM_OK ? "the events file or the report" : "the journal");
    return LOOM_OK;
}

loom_err
loom_job_record_attempt(loom_job *job, const loom_attempt *a)
{
    LOOM_ASSERT(job && a);
    if (master_only(job) != LOOM_OK)
        return LOOM_ESTATE;
    if (!job->own_attempts)
        return loom__fail(LOOM_ESTATE, "loom_job_record_attempt: the job was created without "
                                       "loom_job_opts.own_attempts");
    return loom__ret(loom__recorder_attempt(job->m->rec, a));
}

loom_err
loom_job_record_summary(loom_job *job, const loom_run_summary *s)
{
    LOOM_ASSERT(job && s);
    if (master_only(job) != LOOM_OK)
        return LOOM_ESTATE;
    return loom__ret(loom__recorder_summary(job->m->rec, s));
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
        loom__master_wake_progress(m);
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
