/* SPDX-License-Identifier: MIT */
/*
 * The master's progress thread: the one thread of rank 0 that calls MPI.
 * A non-blocking event loop; each round it
 *   receives up to 32 messages per communicator (master_frames.c reads
 *   them), adopts workers that joined (join.c's acceptor), hands the
 *   mailbox of local queue calls to the store and expires parked ones,
 *   syncs the journal when due, declares silent workers lost (and tells
 *   one that speaks again to leave), dispatches pending tasks in batches
 *   to workers with credits, sends STOP once the job is finished, ends
 *   the queues once every worker has left, and sends every worker's
 *   frame (master_send.c);
 * and backs off when a round did nothing (backoff.c): poll, yield, then
 * sleep on m->wake, where program threads wake it for local work — for
 * as long as no message from a worker can be due (pause_ns).
 *
 * It owns the progress-thread-only state of struct master
 * (master_types.h) and takes m->mu for short stretches to touch the
 * shared state; it never holds m->mu across an MPI call.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "internal.h"
#include "join.h"
#include "journal.h"
#include "loom/log.h"
#include "master_frames.h"
#include "master_progress.h"
#include "master_send.h"
#include "master_state.h"
#include "msg.h"
#include "qstore.h"
#include "recorder.h"
#include "swarm.h"

/* ---- when results are due ----------------------------------------------------------- */

/* Worker rank's place in m->due after its busy count, results or loss
 * changed: a busy worker with a measured gap is there, keyed by when its
 * next results may come (results_due); one without is counted in
 * m->due_unknown. */
static void
due_update(struct master *m, int rank)
{
    struct mworker *w = &m->workers[rank];
    int state = !w->busy || w->lost ? 0 : !w->res_gap ? 1 : 2;
    m->due_unknown += (state == 1) - (w->due_state == 1);
    if (state == 2) {
        int64_t d = w->res_at + w->res_gap - 2 * w->res_dev - w->res_gap / 32;
        if (loom__wheap_set(&m->due, rank, d) != 0)
            loom__panic(__FILE__, __LINE__, __func__, "out of memory timing workers");
    } else if (w->due_state == 2) {
        loom__wheap_remove(&m->due, rank);
    }
    w->due_state = state;
}

/* ---- dispatch ---------------------------------------------------------------------- */

/* (under mu) Pending tasks into m->batch[n..want): a suspect (a task that
 * was in flight on a worker that died) goes only alone, to a worker with
 * nothing in flight, which then gets nothing else until its result: if it
 * kills that worker too, it alone is to blame, and the tasks it shared a
 * batch with run and succeed. The batch ends before a suspect. New n. */
static size_t
take_pending(struct master *m, struct mworker *w, size_t n, size_t want)
{
    struct mtask *t;
    while (n < want && loom__tring_take(&m->pending, &t, 1)) {
        if (t->suspect) {
            if (n == 0 && w->busy == 0) {
                m->batch[n++] = t;
                w->alone = 1;
            } else {
                loom__tring_unshift(&m->pending, &t, 1);
            }
            break;
        }
        m->batch[n++] = t;
    }
    return n;
}

/* Take up to `want` tasks for worker rank into m->batch (under mu):
 * avoiding tasks that may go there first, then pending ones — but let a
 * batch build up while tasks keep coming in quickly, never holding the
 * first one back for more than 20 us. How many; *more: whether another
 * worker may still find something this round (0 when nothing is left or
 * the batch is building up). */
static size_t
take_batch(struct master *m, int rank, size_t want, int64_t now, int *more)
{
    size_t n = 0;
    if (m->avoid.n) {
        /* the workers other than rank still taking work (gone or lost: bye) */
        int others = m->nworkers - 1 - m->byes - !m->workers[rank].bye;
        n = loom__avoid_take(&m->avoid, rank, others, want, now, m->batch);
    }
    size_t have = m->pending.count;
    int hold = have && !n && have < want && now - m->pending_since < 20000;
    if (have && !hold) {
        n = take_pending(m, &m->workers[rank], n, want);
        if (m->pending.count)
            m->pending_since = now;
    }
    *more = !hold && (m->pending.count || m->avoid.n);
    return n;
}

/* Put the n tasks of m->batch in worker rank's frame (at most 8 MiB of
 * payload: the rest goes back to the front of the queue; a message is cut
 * at job.max_frame by loom__master_frame_room) and count them in flight. */
static void
send_batch(struct master *m, int rank, size_t n, int64_t now)
{
    struct mworker *w = &m->workers[rank];
    size_t sent = 0, bytes = 0;
    for (; sent < n && (sent == 0 || bytes < ((size_t)8 << 20)); sent++) {
        struct mtask *t = m->batch[sent];
        struct wire_task wt = {t->id, t->attempt, t->fn, t->flags, t->len};
        t->rank = rank;
        loom__master_frame_room(m, rank, sizeof wt + t->len);
        if (wire_put(&w->out, WIRE_TASK, &wt, sizeof wt, t->data, t->len, NULL, 0) != LOOM_OK ||
            loom__u64map_put(&m->inflight, t->id, loom__inflight_tag(t)) != 0)
            loom__panic(__FILE__, __LINE__, __func__, "out of memory dispatching tasks");
        bytes += t->len;
    }
    if (sent < n) {
        pthread_mutex_lock(&m->mu);
        loom__tring_unshift(&m->pending, m->batch + sent, n - sent);
        pthread_mutex_unlock(&m->mu);
    }
    w->credits -= sent;
    if (!w->busy)
        w->res_at = now; /* it had none: its next results are due from now */
    w->busy += sent;
}

/* Worker rank may take tasks (credits, not alone, still there): queue it
 * for dispatch, once. */
static void
ready(struct master *m, int rank)
{
    const struct mworker *w = &m->workers[rank];
    if (w->credits && !w->alone && !w->bye && !w->lost && loom__wqueue_push(&m->ready, rank) != 0)
        loom__panic(__FILE__, __LINE__, __func__, "out of memory dispatching tasks");
}

/* Hand pending tasks to workers with credits, in batches, taking them in
 * turn from m->ready (a worker served goes to the back): a round visits
 * the workers it serves and stops when nothing is left, so its cost
 * follows the tasks, not the number of workers. */
static int
dispatch(struct master *m, int64_t now)
{
    if (!m->ready.n || m->stop_sent)
        return 0;
    pthread_mutex_lock(&m->mu);
    int more = m->pending.count || m->avoid.n;
    pthread_mutex_unlock(&m->mu);
    int did = 0;
    for (size_t k = m->ready.n; more && k > 0; k--) {
        int rank = loom__wqueue_pop(&m->ready);
        struct mworker *w = &m->workers[rank];
        if (!w->credits || w->bye || w->alone || w->lost)
            continue; /* queued again when that changes (receive_from) */
        size_t want = w->credits < m->job->set.batch_max ? w->credits : m->job->set.batch_max;
        pthread_mutex_lock(&m->mu);
        size_t n = take_batch(m, rank, want, now, &more);
        pthread_mutex_unlock(&m->mu);
        if (n) {
            send_batch(m, rank, n, now);
            due_update(m, rank);
            did = 1;
        }
        ready(m, rank);
    }
    return did;
}

/* ---- lost workers ------------------------------------------------------------------- */

/* (under mu) Task t never ran and never will: no worker is left. */
static void
fail_lost(struct master *m, struct mtask *t)
{
    loom_result r = {t->id, -1, t->attempt, -1, NULL, 0, 0, NULL, LOOM_CAUSE_LOST, 0, "", 0, 0, 0};
    loom__recorder_not_run(m->rec, t->id, t->attempt, t->fn);
    loom__mtask_recycle(&m->tasks, loom__inflight_tag(t));
    loom__master_deliver(m, &r);
}

/* (under mu) Every worker is gone: fail what waits to run, with status
 * -1, so the program sees the end instead of waiting forever. */
static size_t
fail_all(struct master *m)
{
    size_t n = 0;
    m->no_workers = 1;
    struct mtask *t;
    while (loom__tring_take(&m->pending, &t, 1)) {
        fail_lost(m, t);
        n++;
    }
    for (size_t i = 0; i < m->avoid.n; i++, n++)
        fail_lost(m, m->avoid.a[i].t);
    m->avoid.n = 0;
    return n;
}

/* Take worker rank's `busy` tasks in flight out of the in-flight map,
 * each with a new attempt number (a late result of the old attempt is
 * then ignored). A vector of them (*n), NULL when none. Looks no further
 * than the last of them: a worker lost with nothing in flight costs
 * nothing, though thousands may be lost at once. */
static struct mtask **
take_inflight(struct master *m, int rank, size_t busy, size_t *n)
{
    size_t cap = 0;
    struct mtask **back = NULL;
    *n = 0;
    for (size_t i = 0; i < m->inflight.cap && *n < busy; i++) {
        struct mtask *t;
        if (!m->inflight.keys[i] || (t = loom__inflight_task(m->inflight.vals[i]))->rank != rank)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            struct mtask **a = realloc(back, cap * sizeof *a);
            if (!a)
                loom__panic(__FILE__, __LINE__, __func__, "out of memory requeueing tasks");
            back = a;
        }
        back[(*n)++] = t;
    }
    for (size_t i = 0; i < *n; i++) {
        loom__u64map_take(&m->inflight, back[i]->id);
        back[i]->attempt++;
    }
    return back;
}

/* (under mu) The tasks that were in flight on a lost worker: each counts a
 * crash; one at job.crash_limit is given up (status -1, LOOM_CAUSE_LOST:
 * it may be what kills the workers), the others go back to the front of
 * the queue as suspects, each to run alone. How many were given up. */
static size_t
requeue_or_give_up(struct master *m, int rank, struct mtask **back, size_t n)
{
    size_t kept = 0, given_up = 0;
    for (size_t i = 0; i < n; i++) {
        struct mtask *t = back[i];
        if (++t->crashes < m->job->set.crash_limit) {
            t->suspect = 1;
            back[kept++] = t;
            continue;
        }
        LOOM_WARN("task %llu given up after %u crashes (the last: worker rank %d died with it "
                  "in flight): not run again (job.crash_limit)",
                  (unsigned long long)t->id, t->crashes, rank);
        fail_lost(m, t);
        given_up++;
    }
    if (kept)
        loom__tring_unshift(&m->pending, back, kept);
    return given_up;
}

/* A worker has been silent past job.worker_timeout: MPI will not say
 * whether it died, hangs or lost its link, so it is treated as gone —
 * as is one whose message had to be dropped (`why` says so; NULL: it was
 * silent), which may have held results. Its tasks in flight go back to
 * the front of the queue with a new attempt number (anything else it
 * sends is ignored too, and if it speaks again it is told to leave:
 * loom__master_send_go); it counts as having said goodbye, so the job can
 * finish without it; sends to it are abandoned (their buffers stay
 * allocated: MPI may still hold them). */
static void
lose_worker(struct master *m, int rank, int64_t now, const char *why)
{
    struct mworker *w = &m->workers[rank];
    size_t busy = w->busy; /* its tasks in flight: exactly those of rank in the map */
    w->lost = 1;
    w->credits = 0;
    w->busy = 0;
    w->alone = 0;
    due_update(m, rank);
    loom__wlru_remove(&m->heard, rank);
    loom__wlru_remove(&m->pinged, rank);
    loom__recorder_lost(m->rec, rank);
    wire_buf_reset(&w->out);
    size_t n;
    struct mtask **back = take_inflight(m, rank, busy, &n);
    loom__sendq_abandon(&m->sends, rank);
    pthread_mutex_lock(&m->mu);
    size_t given_up = requeue_or_give_up(m, rank, back, n);
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
    loom__master_wake_waiters(m);
    pthread_mutex_unlock(&m->mu);
    if (why)
        LOOM_WARN("worker rank %d%s %s: declared lost; %zu of its tasks run again elsewhere", rank,
                  w->joined ? " (joined)" : "", why, n - given_up);
    else
        LOOM_WARN("worker rank %d%s silent for %.1f s: declared lost; %zu of its tasks run again "
                  "elsewhere",
                  rank, w->joined ? " (joined)" : "", (double)(now - w->heard) / 1e9, n - given_up);
    if (none_left)
        LOOM_ERROR("no worker left: %zu unfinished tasks fail (status -1), and so will any "
                   "submitted from now on",
                   failed);
    free(back);
}

/* Every 100 ms (when job.worker_timeout is set): lose the workers silent
 * for longer than it. They are at the front of m->heard (the workers in
 * the order they were last heard), so this looks at those and one more,
 * not at every worker. Whether any was lost. */
static int
check_silent(struct master *m, int64_t now)
{
    int did = 0, r;
    if (m->job->set.lost_ns <= 0 || now < m->next_check)
        return 0;
    m->next_check = now + 100000000; /* 100 ms */
    while ((r = loom__wlru_head(&m->heard)) >= 0) {
        struct mworker *w = &m->workers[r];
        if (!w->bye && !w->lost && now - w->heard <= m->job->set.lost_ns)
            break;
        if (!w->bye && !w->lost) {
            lose_worker(m, r, now, NULL);
            did = 1;
        }
        loom__wlru_remove(&m->heard, r); /* said goodbye, or lost now */
    }
    return did;
}

/* ---- receiving ------------------------------------------------------------------------ */

/* Worker rank has just sent something: to the back of m->heard. */
static void
heard_from(struct master *m, int rank)
{
    m->workers[rank].heard = loom__now_ns();
    if (loom__wlru_touch(&m->heard, rank) != 0)
        loom__panic(__FILE__, __LINE__, __func__, "out of memory receiving a message");
}

/* Up to 32 messages from the workers reachable on comm: its ranks
 * first..first+n-1 are workers base+first.. (the job's own communicator:
 * ranks 1..size-1 at base 0; a joined job's: ranks 0..n-1 after base).
 * Whether any was more than a heartbeat (those leave the back-off alone:
 * an idle job's workers would otherwise keep its master polling), or all
 * 32 were heartbeats (then more may be waiting: the master must not
 * sleep while they pile up unread and their senders look silent). */
static int
receive_from(struct master *m, MPI_Comm comm, int first, int n, int base)
{
    int did = 0;
    for (int k = 0; k < 32; k++) {
        int flag = 0;
        MPI_Message msg;
        MPI_Status st;
        /* a swarm's virtual workers (swarm.h) each send with their own tag */
        int tag = m->swarm ? MPI_ANY_TAG : LOOM_TAG_UP;
        if (MPI_Improbe(MPI_ANY_SOURCE, tag, comm, &flag, &msg, &st) != MPI_SUCCESS || !flag)
            break;
        int count = 0;
        MPI_Get_count(&st, MPI_BYTE, &count);
        struct loom__msg *buf = loom__msg_new(count > 0 ? (size_t)count : 0);
        if (!buf)
            loom__panic(__FILE__, __LINE__, __func__, "out of memory receiving a message");
        buf->ledger = m->job->ledger; /* results handed out of it count there */
        MPI_Mrecv(buf->data, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
        int rank = base + st.MPI_SOURCE, beat = 0;
        if (m->swarm)
            rank = loom__swarm_slot(m->swarm, st.MPI_SOURCE, st.MPI_TAG);
        if (st.MPI_SOURCE >= first && st.MPI_SOURCE < first + n && rank > 0) {
            if (m->workers[rank].lost) {
                loom__master_send_go(m, rank); /* nothing it says counts */
            } else {
                heard_from(m, rank);
                /* a dropped message may have held results: never wait for them */
                if ((beat = loom__master_handle_frame(m, rank, buf)) < 0) {
                    lose_worker(m, rank, loom__now_ns(), "sent a malformed message");
                } else if (beat != 1) { /* its credits, tasks or results changed */
                    ready(m, rank);
                    due_update(m, rank);
                }
            }
        }
        loom__msg_release(buf);
        if (beat != 1 || k == 31)
            did = 1; /* 32 messages: more may wait, heartbeats too (10,000 workers
                        send 20,000 a second): no back-off until they are read */
    }
    return did;
}

/* (under mu) Room in m->workers for slots up to `need`; 0 or -1. */
static int
workers_reserve(struct master *m, int need)
{
    if (need <= m->workers_cap)
        return 0;
    int cap = m->workers_cap * 2 > need ? m->workers_cap * 2 : need;
    struct mworker *w = realloc(m->workers, (size_t)cap * sizeof *w);
    if (!w)
        return -1;
    memset(w + m->workers_cap, 0, (size_t)(cap - m->workers_cap) * sizeof *w);
    m->workers = w;
    m->workers_cap = cap;
    return 0;
}

/* (under mu) Make the arrival's ranks workers base..base+n-1. 0, or -1
 * when the job has sent STOP or there is no memory. */
static int
add_workers(struct master *m, const struct loom__arrival *j, int base)
{
    if (m->stop_sent || workers_reserve(m, base + j->n) != 0)
        return -1;
    int64_t now = loom__now_ns();
    for (int k = 0; k < j->n; k++) {
        struct mworker *w = &m->workers[base + k];
        wire_buf_reset(&w->out);
        w->heard = w->sent = now;
        w->comm = j->comm;
        w->peer = k;
        w->joined = 1;
        if (loom__wlru_touch(&m->heard, base + k) != 0 ||
            loom__wlru_touch(&m->pinged, base + k) != 0)
            return -1;
    }
    m->nworkers = base + j->n;
    return 0;
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
        int base = m->nworkers;
        int ok = g && add_workers(m, j, base) == 0;
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

/* The local queue calls in the mailbox, to the store in arrival order
 * (the mailbox is LIFO); then expire parked ones. Whether there were any. */
static int
serve_mailbox(struct master *m, struct qreq *mail, int64_t now)
{
    int did = 0;
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
    return did;
}

/* ---- the loop ---------------------------------------------------------------------------- */

static int
progress_round(struct master *m)
{
    int did = 0;
    did |= receive_from(m, m->job->comm, 1, m->job->size - 1, 0);
    for (struct mgroup *g = m->groups; g; g = g->next)
        did |= receive_from(m, g->comm, 0, g->n, g->base);
    if (m->acc)
        did |= adopt_arrivals(m);

    int64_t now = loom__now_ns();
    pthread_mutex_lock(&m->mu);
    struct qreq *mail = m->mailbox;
    m->mailbox = NULL;
    int send_stop = m->finishing && !m->stop_sent && m->unfinished == 0;
    if (send_stop)
        m->stop_sent = 1;
    /* as loom__master_queue_call sees it: from now on calls fail at once */
    int ended = m->stop_sent && m->byes == m->nworkers - 1 && !m->queues_ended;
    pthread_mutex_unlock(&m->mu);
    if (ended) { /* wake every call still waiting: the job is over */
        m->queues_ended = 1;
        loom__qstore_end(m->qs);
        did = 1;
    }
    did |= serve_mailbox(m, mail, now);
    if (m->jnl && !atomic_load(&m->jnl_failed) && loom__journal_sync_if_due(m->jnl) != LOOM_OK &&
        !atomic_exchange(&m->jnl_failed, 1))
        LOOM_ERROR("%s", loom__journal_errmsg(m->jnl));
    did |= check_silent(m, now);
    did |= dispatch(m, now);
    if (send_stop) {
        loom__master_send_stop(m);
        did = 1;
    }
    loom__master_send_all(m, now);
    return did;
}

/* (under mu) cap, cut to a queue request's deadline and the journal's
 * next sync. */
static int64_t
deadline_cap(struct master *m, int64_t cap, int64_t now)
{
    int64_t next = loom__qstore_next_deadline(m->qs);
    if (next && next - now < cap)
        cap = next - now;
    if (m->jnl) { /* the journal's sync must not wait for work */
        long ms = loom__journal_next_sync_ms(m->jnl);
        if (ms >= 0 && ms * 1000000 < cap)
            cap = ms > 0 ? ms * 1000000 : 1000;
    }
    return cap;
}

/* When results may come next: the earliest, over the workers with tasks
 * in flight, of their last results plus their average gap less twice its
 * deviation and a 32nd of it; *poll: how often to poll from then on
 * (that worker's gap / 64 or deviation / 8, 20-500 us). 0 when none has
 * tasks in flight or one has no gap measured yet (no telling). */
static int64_t
results_due(struct master *m, int64_t *poll)
{
    int64_t due = 0;
    int r = m->due_unknown ? -1 : loom__wheap_top(&m->due, &due); /* due_update keeps both */
    if (r < 0)
        return 0;
    const struct mworker *w = &m->workers[r];
    int64_t p = w->res_gap / 64 > w->res_dev / 8 ? w->res_gap / 64 : w->res_dev / 8;
    *poll = p < 20000 ? 20000 : p > 500000 ? 500000 : p;
    return due;
}

/* (under mu) How long the idle progress thread may sleep (-1: yield, 0:
 * poll again), from what the workers can send it and when:
 *   results expected from a time measured per worker (results_due) and
 *     work not coming back within microseconds: sleep until then (but
 *     not past loom__idle_cap of the time since a worker's last queue
 *     request: 1 ms while they come, up to 50 ms), then poll
 *     every 20-500 us (by the worker's gap and its jitter), and less often
 *     the later the results are;
 *   else the back-off (`idle`), to 500 us while tasks are in flight, 1 ms
 *     otherwise (a worker may speak at any time: a queue call, goodbye),
 *     growing with the time idle (loom__idle_cap: a message after a pause
 *     waits at most an eighth of it, 50 ms at most) unless sends are in
 *     progress (MPI completes them only while polled);
 * never past a queue request's deadline or the journal's next sync. */
static int64_t
pause_ns(struct master *m, unsigned *idle, int64_t now, int64_t worked, int64_t work_gap)
{
    int64_t poll = 0, due = results_due(m, &poll);
    ++*idle;
    if (due && work_gap > LOOM__HOT_GAP_NS) {
        int64_t ns = due > now ? due - now : (now - due) / 8 > poll ? (now - due) / 8 : poll;
        /* a task's queue calls come one after another: poll for them too */
        int64_t calls = loom__idle_cap(now - m->qreq_at, 1000000);
        return deadline_cap(m, ns < calls ? ns : calls, now);
    }
    int64_t active = m->inflight.count ? 500000 : 1000000;
    int64_t cap = loom__sendq_empty(&m->sends) ? loom__idle_cap(now - worked, active) : active;
    return loom__idle_pause(*idle, deadline_cap(m, cap, now));
}

void *
loom__master_progress_main(void *arg)
{
    struct master *m = arg;
    loom__polling_thread_init("Progress");
    unsigned idle = 0, start = 0;
    struct loom__gap gap = {0, 0};
    int64_t worked = loom__now_ns();
    while (!atomic_load(&m->quit) || !loom__sendq_empty(&m->sends)) {
        if (progress_round(m)) {
            worked = loom__now_ns();
            loom__work_gap(&gap, worked, idle > start);
            idle = start = loom__idle_start(&gap);
            continue;
        }
        pthread_mutex_lock(&m->mu);
        int64_t ns = pause_ns(m, &idle, loom__now_ns(), worked, gap.avg);
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
