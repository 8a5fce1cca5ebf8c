/* SPDX-License-Identifier: MIT */
/*
 * swarm_sim.c — one MPI rank standing for LOOM_SWARM virtual workers of
 * the master (bench_swarm's ranks >= 1). Benchmarks only.
 *
 * Each virtual worker behaves towards the master as worker.c's comm
 * thread does, with its own state: a HELLO with its thread count and a
 * host name of its own; credits sized like worker.c's target_capacity
 * (job.prefetch seconds of work per thread at the measured duration, at
 * least one task per thread, at most WIRE_CREDITS_MAX), asked for when
 * half the capacity is free or 64 tasks can be asked for; results batched
 * in one frame per worker, sent when job.batch_max are waiting, after
 * job.flush_delay, or at once when the worker runs dry; a credit of 0 as
 * a heartbeat after job.heartbeat of silence; BYE after STOP. Its tags
 * are swarm.h's, so the master keeps it apart from the others of the rank.
 *
 * Tasks do not run: a task of duration 0 ends as it starts; a longer one
 * holds one of the worker's simulated threads until its end time, kept in
 * one heap for the whole rank, so no CPU is spent while it "runs". A
 * result carries the slot, the wall-clock start and the run time as a
 * real worker's does.
 *
 * One thread does everything (MPI included). Costs per round are in the
 * workers that changed (the active list), not in all of them, except a
 * heartbeat scan every 10 ms.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fingerprint.h"
#include "internal.h"
#include "job_types.h"
#include "sendq.h"
#include "swarm.h"
#include "swarm_sim.h"
#include "wire.h"

/* A task waiting for a simulated thread. */
struct vtask {
    uint64_t id;
    uint32_t attempt, flags;
    int64_t dur;
    int32_t phase;
};

/* A task "running": it ends at `end`. */
struct vrun {
    int64_t end, start;
    uint64_t id;
    uint32_t attempt, flags;
    int32_t vw, phase;
    uint32_t slot;
};

struct vworker {
    struct vtask *q;
    size_t qh, qn, qcap;
    uint32_t *free_slots; /* simulated threads not running a task (slots from 1) */
    unsigned nfree;
    size_t granted; /* credits asked for whose tasks have not come */
    double avg;     /* measured task duration, ns (0: none yet) */
    struct wire_buf out;
    size_t out_results;
    int64_t out_since, last_sent;
    int stopped, bye_sent, active;
};

struct phase_stat {
    int64_t tasks;
    double cpu0, cpu1, wall0, wall1;
};

struct swarm {
    loom_job *job;
    int width;
    unsigned threads;
    struct vworker *w;
    struct vrun *heap;
    size_t nheap, heapcap;
    int *act; /* workers to look at in the next flush */
    size_t nact;
    struct loom__sendq sends;
    int byes;
    int64_t wall_off, next_scan;
    char *rbuf;
    size_t rcap;
    struct phase_stat ph[SWARM_PHASES];
};

static void
die(const char *what)
{
    fprintf(stderr, "bench_swarm: swarm: %s\n", what);
    abort();
}

static double
cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
activate(struct swarm *s, int v)
{
    if (!s->w[v].active) {
        s->w[v].active = 1;
        s->act[s->nact++] = v;
    }
}

/* ---- the heap of running tasks ------------------------------------------------ */

static void
heap_push(struct swarm *s, const struct vrun *r)
{
    if (s->nheap == s->heapcap) {
        s->heapcap = s->heapcap ? s->heapcap * 2 : 4096;
        if (!(s->heap = realloc(s->heap, s->heapcap * sizeof *s->heap)))
            die("out of memory");
    }
    size_t i = s->nheap++;
    while (i > 0 && s->heap[(i - 1) / 2].end > r->end) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = *r;
}

static struct vrun
heap_pop(struct swarm *s)
{
    struct vrun top = s->heap[0], last = s->heap[--s->nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->nheap)
            break;
        if (c + 1 < s->nheap && s->heap[c + 1].end < s->heap[c].end)
            c++;
        if (s->heap[c].end >= last.end)
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->nheap)
        s->heap[i] = last;
    return top;
}

/* ---- tasks ------------------------------------------------------------------------ */

/* Send worker v's frame now (it is full, or due). */
static void
send_out(struct swarm *s, int v, int64_t now)
{
    struct vworker *w = &s->w[v];
    if (loom__sendq_post(&s->sends, &w->out, s->job->comm, 0, loom__swarm_tag_up(v), v) != 0)
        die("MPI_Isend failed");
    wire_buf_reset(&w->out);
    w->out_results = 0;
    w->last_sent = now;
}

/* Task r of worker v has ended: its result goes into v's frame. */
static void
finish(struct swarm *s, const struct vrun *r, int64_t now)
{
    struct vworker *w = &s->w[r->vw];
    struct wire_result res = {
        r->id,         r->attempt, 0, r->flags, 0, 0, (uint16_t)r->slot, 0, s->wall_off + r->start,
        now - r->start};
    size_t room = s->job->set.max_frame - WIRE_CONTROL_ROOM;
    if (!wire_empty(&w->out) && !wire_fits(&w->out, sizeof res, room))
        send_out(s, r->vw, now);
    if (wire_empty(&w->out))
        w->out_since = now;
    if (wire_put(&w->out, WIRE_RESULT, &res, sizeof res, NULL, 0, NULL, 0) != LOOM_OK)
        die("out of memory");
    w->out_results++;
    /* a task of 0 counts as 100 ns: about what a real worker measures for an empty one */
    double per = r->end > r->start ? (double)(r->end - r->start) : 100.0;
    w->avg = w->avg <= 0 ? per : 0.8 * w->avg + 0.2 * per;
    w->free_slots[w->nfree++] = r->slot;
    if (r->phase >= 0 && r->phase < SWARM_PHASES) {
        struct phase_stat *p = &s->ph[r->phase];
        p->tasks++;
        p->cpu1 = cpu_s();
        p->wall1 = (double)now / 1e9;
    }
    activate(s, r->vw);
}

/* Give worker v's free simulated threads the tasks it holds. */
static void
start_tasks(struct swarm *s, int v, int64_t now)
{
    struct vworker *w = &s->w[v];
    while (w->nfree && w->qn) {
        struct vtask t = w->q[w->qh];
        w->qh = (w->qh + 1) % w->qcap;
        w->qn--;
        struct vrun r = {now + t.dur, now, t.id, t.attempt, t.flags, v, t.phase, 0};
        r.slot = w->free_slots[--w->nfree];
        if (t.phase >= 0 && t.phase < SWARM_PHASES && s->ph[t.phase].wall0 == 0) {
            s->ph[t.phase].wall0 = (double)now / 1e9;
            s->ph[t.phase].cpu0 = cpu_s();
        }
        if (t.dur <= 0)
            finish(s, &r, now);
        else
            heap_push(s, &r);
    }
}

/* The tasks whose time is up end. Whether any did. */
static int
complete(struct swarm *s, int64_t now)
{
    int did = 0;
    while (s->nheap && s->heap[0].end <= now) {
        struct vrun r = heap_pop(s);
        finish(s, &r, now);
        start_tasks(s, r.vw, now);
        did = 1;
    }
    return did;
}

static void
queue_task(struct vworker *w, const struct vtask *t)
{
    if (w->qn == w->qcap) {
        size_t cap = w->qcap ? w->qcap * 2 : 64;
        struct vtask *q = malloc(cap * sizeof *q);
        if (!q)
            die("out of memory");
        for (size_t i = 0; i < w->qn; i++)
            q[i] = w->q[(w->qh + i) % w->qcap];
        free(w->q);
        w->q = q;
        w->qcap = cap;
        w->qh = 0;
    }
    w->q[(w->qh + w->qn++) % w->qcap] = *t;
}

/* One frame from the master to worker v. */
static void
handle(struct swarm *s, int v, const char *buf, size_t len, int64_t now)
{
    struct vworker *w = &s->w[v];
    struct wire_reader r;
    uint32_t type;
    const char *body;
    size_t blen;
    int rc;
    if (wire_open(&r, buf, len) != LOOM_OK)
        die("malformed frame from the master");
    while ((rc = wire_next(&r, &type, &body, &blen)) == 1) {
        if (type == WIRE_TASK) {
            struct wire_task wt;
            const char *payload;
            struct swarm_payload p = {0, -1};
            if (wire_get_task(body, blen, &wt, &payload) != LOOM_OK)
                die("malformed task");
            if (wt.len == sizeof p)
                memcpy(&p, payload, sizeof p);
            struct vtask t = {wt.id, wt.attempt, wt.flags, p.dur_ns, (int32_t)p.phase};
            queue_task(w, &t);
            w->granted = w->granted ? w->granted - 1 : 0;
        } else if (type == WIRE_STOP) {
            w->stopped = 1;
        } else if (type != WIRE_PING && type != WIRE_QREP) {
            die("unexpected record from the master");
        }
    }
    if (rc < 0)
        die("malformed record from the master");
    start_tasks(s, v, now);
    activate(s, v);
}

/* ---- sending ------------------------------------------------------------------------ */

/* worker.c's target_capacity for worker w. */
static size_t
capacity(const struct swarm *s, const struct vworker *w)
{
    size_t min = s->threads, max = WIRE_CREDITS_MAX;
    if (w->avg <= 0)
        return min;
    double want = s->job->set.prefetch_s * 1e9 / w->avg * (double)s->threads;
    return want < (double)min ? min : want > (double)max ? max : (size_t)want;
}

/* worker.c's maybe_flush for worker v: whether it stays active. */
static int
flush_one(struct swarm *s, int v, int64_t now)
{
    struct vworker *w = &s->w[v];
    size_t held = w->qn + (s->threads - w->nfree), cap = capacity(s, w);
    int idle = w->qn == 0 && w->nfree == s->threads;
    size_t grant = cap > held + w->granted ? cap - held - w->granted : 0;
    int want_credit = grant > 0 && (held + w->granted <= cap / 2 || grant >= 64) && !w->stopped;
    int has = !wire_empty(&w->out);
    int due = has && (idle || w->out_results >= s->job->set.batch_max ||
                      now - w->out_since >= s->job->set.flush_ns);
    int beat = !w->stopped && !w->bye_sent && now - w->last_sent >= s->job->set.heartbeat_ns;
    int bye = w->stopped && !w->bye_sent;
    if (!due && !want_credit && !bye && !beat)
        return has;                      /* results wait for the flush delay */
    if (want_credit || (beat && !has)) { /* a heartbeat is a credit of 0 */
        struct wire_credit c = {want_credit ? (uint32_t)grant : 0};
        if (wire_put(&w->out, WIRE_CREDIT, &c, sizeof c, NULL, 0, NULL, 0) != LOOM_OK)
            die("out of memory");
        w->granted += c.credits;
    }
    if (bye && wire_put(&w->out, WIRE_BYE, NULL, 0, NULL, 0, NULL, 0) != LOOM_OK)
        die("out of memory");
    send_out(s, v, now);
    if (bye) {
        w->bye_sent = 1;
        s->byes++;
    }
    return 0;
}

/* Flush the active workers; every 10 ms, mark those due a heartbeat. */
static int
flush_active(struct swarm *s, int64_t now)
{
    if (now >= s->next_scan) {
        s->next_scan = now + 10000000;
        for (int v = 0; v < s->width; v++)
            if (!s->w[v].bye_sent && now - s->w[v].last_sent >= s->job->set.heartbeat_ns)
                activate(s, v);
    }
    size_t keep = 0, n = s->nact;
    int did = n > 0;
    for (size_t i = 0; i < n; i++) {
        int v = s->act[i];
        if (flush_one(s, v, now))
            s->act[keep++] = v;
        else
            s->w[v].active = 0;
    }
    s->nact = keep;
    return did && keep < n;
}

/* ---- receiving and the loop ----------------------------------------------------------- */

/* Up to 64 frames from the master. Whether any came. */
static int
receive(struct swarm *s, int64_t now)
{
    int did = 0;
    for (int k = 0; k < 64; k++) {
        int flag = 0, count = 0;
        MPI_Message msg;
        MPI_Status st;
        if (MPI_Improbe(0, MPI_ANY_TAG, s->job->comm, &flag, &msg, &st) != MPI_SUCCESS || !flag)
            break;
        MPI_Get_count(&st, MPI_BYTE, &count);
        if ((size_t)count > s->rcap) {
            s->rcap = (size_t)count;
            if (!(s->rbuf = realloc(s->rbuf, s->rcap)))
                die("out of memory");
        }
        MPI_Mrecv(s->rbuf, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
        int v = (st.MPI_TAG - loom__swarm_tag_down(0)) / 2;
        if (st.MPI_TAG < loom__swarm_tag_down(0) || v >= s->width ||
            st.MPI_TAG != loom__swarm_tag_down(v))
            die("a frame with a tag of no virtual worker");
        handle(s, v, s->rbuf, (size_t)count, now);
        did = 1;
    }
    return did;
}

/* The start-up agreement, as job.c's check_agreement on a worker rank,
 * saying `width` virtual workers. 0, or 1 (said why). */
static int
agree(loom_job *job, int width)
{
    struct loom__fingerprint mine, *all = calloc((size_t)job->size, sizeof *all);
    loom__job_fingerprint(job, LOOM_OK, &mine);
    mine.swarm = width;
    if (!all || MPI_Allgather(&mine, sizeof mine, MPI_BYTE, all, sizeof mine, MPI_BYTE,
                              job->comm) != MPI_SUCCESS)
        die("start-up agreement failed");
    const char *what = all[0].ready ? loom__fingerprint_differs(&mine, &all[0]) : "cannot start";
    int bad = 0;
    for (int r = 1; r < job->size; r++)
        bad |= loom__fingerprint_differs(&all[r], &all[0]) != NULL;
    int fail = what || bad || !all[0].ready;
    if (fail)
        fprintf(stderr, "bench_swarm: rank %d: start-up check failed (%s)\n", job->rank,
                what ? what : "another rank differs from rank 0");
    free(all);
    return fail;
}

static void
setup(struct swarm *s, loom_job *job, int width, unsigned threads)
{
    *s = (struct swarm){.job = job, .width = width, .threads = threads};
    s->wall_off = loom__wall_ns() - loom__now_ns();
    s->w = calloc((size_t)width, sizeof *s->w);
    s->act = calloc((size_t)width, sizeof *s->act);
    if (!s->w || !s->act)
        die("out of memory");
    char host[64];
    int64_t now = loom__now_ns();
    for (int v = 0; v < width; v++) {
        struct vworker *w = &s->w[v];
        if (!(w->free_slots = malloc(threads * sizeof *w->free_slots)))
            die("out of memory");
        for (unsigned i = 0; i < threads; i++)
            w->free_slots[i] = threads - i;
        w->nfree = threads;
        wire_buf_reset(&w->out);
        int n = snprintf(host, sizeof host, "swarm%d-%d", job->rank, v);
        struct wire_hello h = {threads, (int32_t)getpid(), (uint32_t)n, 0};
        if (wire_put(&w->out, WIRE_HELLO, &h, sizeof h, host, (size_t)n, NULL, 0) != LOOM_OK)
            die("out of memory");
        w->out_since = w->last_sent = now - s->job->set.heartbeat_ns; /* due at once */
        activate(s, v);
    }
}

static void
print_phases(const struct swarm *s)
{
    for (int p = 0; p < SWARM_PHASES; p++)
        if (s->ph[p].tasks)
            printf("SWARMCPU rank=%d phase=%d tasks=%lld cpu_s=%.4f wall_s=%.4f\n", s->job->rank, p,
                   (long long)s->ph[p].tasks, s->ph[p].cpu1 - s->ph[p].cpu0,
                   s->ph[p].wall1 - s->ph[p].wall0);
    fflush(stdout);
}

int
swarm_serve(loom_job *job, int width, unsigned threads)
{
    if (agree(job, width))
        return 1;
    struct swarm s;
    setup(&s, job, width, threads);
    unsigned idle = 0;
    while (s.byes < width || !loom__sendq_empty(&s.sends)) {
        int64_t now = loom__now_ns();
        int did = receive(&s, now);
        now = loom__now_ns();
        did |= complete(&s, now);
        did |= flush_active(&s, now);
        loom__sendq_progress(&s.sends);
        if (did) {
            idle = 0;
        } else if (++idle < 32) {
            sched_yield();
        } else if (s.nheap && s.heap[0].end - now < 300000) {
            sched_yield(); /* a task ends soon: a sleep would overshoot it (by 50-300 us) */
        } else {
            struct timespec ts = {0, 50000}; /* nothing to do for a while */
            nanosleep(&ts, NULL);
        }
    }
    print_phases(&s);
    for (int v = 0; v < width; v++) {
        free(s.w[v].q);
        free(s.w[v].free_slots);
        wire_buf_free(&s.w[v].out);
    }
    free(s.w);
    free(s.act);
    free(s.heap);
    free(s.rbuf);
    return 0;
}
