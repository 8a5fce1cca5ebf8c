/* SPDX-License-Identifier: MIT */
/*
 * prog_trust — what the master and its workers may take for granted of
 * each other (test_mpi_trust.c drives it, sending the signals itself).
 *
 *   mpirun --enable-recovery -np 3 prog_trust [loom options] --mode MODE
 *          [--tasks N] [--ms MS] [--hold FILE] [--wait-s S]
 *
 * Every rank first prints "PID rank=R pid=P"; a worker prints
 * "STARTED rank=R" when it starts its first task, and
 * "SERVE rank=R rc=RC master_lost=0|1 lost=K" when loom_job_serve()
 * returns.
 *
 *   run      the master runs N tasks of MS ms and prints
 *            "RUN tasks=N once=N dup=0 bad=0 lost=K"; with --hold it
 *            then waits for FILE to exist before it finishes (so a worker
 *            can come back while it still runs); after loom_job_destroy()
 *            it prints "RUN done". The test stops, continues or kills ranks.
 *   forge-result, forge-bye, forge-credit
 *            a worker sends the master frames of its own making (the
 *            internal wire functions, on the job's communicator): a result
 *            for a task that runs on the other worker; two goodbyes; a
 *            credit of 2^32-1. The master prints one FORGE line (below).
 *   queues   threads blocked in loom_queue_get() (LOOM_FOREVER and a long
 *            timeout on the master, LOOM_FOREVER on a worker) must return
 *            LOOM_ECLOSED when the job ends, and loom_queue_open() after
 *            the end returns LOOM_ECLOSED:
 *            "QUEUES forever=RC timed=RC open_after=RC within=1"
 *            "QWORKER rank=R get=RC open_after=RC within=1"
 *
 * Links loom_testing: the forger needs the job's communicator and the wire
 * format, which no public header gives.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>

#include "job_types.h"
#include "prog_common.h"
#include "wire.h"

static int started; /* this rank has printed STARTED (pool threads: atomic) */

/* ---- tasks ------------------------------------------------------------------------ */

/* payload: id, ms. Sleeps ms, replies id. */
static int
sleep_task(loom_task *task, void *user)
{
    (void)user;
    if (!__atomic_exchange_n(&started, 1, __ATOMIC_SEQ_CST))
        out("STARTED rank=%d\n", loom_job_rank(loom_task_job(task)));
    int64_t v[2];
    size_t len;
    const void *p = loom_task_payload(task, &len);
    if (len != sizeof v)
        return 1;
    memcpy(v, p, sizeof v);
    prog_sleep_ms((int)v[1]);
    return loom_task_reply(task, &v[0], sizeof v[0]) == LOOM_OK ? 0 : 1;
}

/* What a held task tells the master: where it runs. */
struct held {
    int64_t id, attempt, rank;
};

/* Puts {id, attempt, rank} into "held", waits for an item in "release",
 * replies "REAL". */
static int
hold_task(loom_task *task, void *user)
{
    (void)user;
    loom_job *job = loom_task_job(task);
    struct held h = {(int64_t)loom_task_id(task), loom_task_attempt(task), loom_job_rank(job)};
    loom_queue *held = NULL, *release = NULL;
    void *data = NULL;
    size_t len = 0;
    int rc = 1;
    if (loom_queue_open(job, "held", 0, &held) == LOOM_OK &&
        loom_queue_open(job, "release", 0, &release) == LOOM_OK &&
        loom_queue_put(held, &h, sizeof h, LOOM_FOREVER) == LOOM_OK &&
        loom_queue_get(release, &data, &len, LOOM_FOREVER) == LOOM_OK)
        rc = loom_task_reply(task, "REAL", 4) == LOOM_OK ? 0 : 1;
    free(data);
    loom_queue_release(held);
    loom_queue_release(release);
    return rc;
}

/* ---- small helpers -------------------------------------------------------------- */

static loom_queue *
qopen(loom_job *job, const char *name)
{
    loom_queue *q = NULL;
    loom_err rc = loom_queue_open(job, name, 0, &q);
    if (rc != LOOM_OK)
        out("OPEN name=%s rc=%s\n", name, loom_err_name(rc));
    return q;
}

/* Get one item of exactly len bytes into buf. */
static loom_err
qget(loom_queue *q, void *buf, size_t len)
{
    void *data = NULL;
    size_t n = 0;
    loom_err rc = loom_queue_get(q, &data, &n, LOOM_FOREVER);
    if (rc == LOOM_OK && n != len)
        rc = LOOM_EPROTO;
    if (rc == LOOM_OK)
        memcpy(buf, data, len);
    free(data);
    return rc;
}

/* ---- the forger (every worker; acts when the master asks it to) ----------------- */

/* An order to the forger of a rank, through queue "to-RANK". */
struct order {
    int64_t what; /* 'R' result, 'B' two goodbyes, 'C' a huge credit */
    int64_t id, attempt;
};

/* Send one frame of the given record to the master, as the comm thread
 * would: on the job's communicator, tag LOOM_TAG_UP. */
static int
forge_frame(loom_job *job, enum wire_type type, const void *hdr, size_t hlen, const void *tail,
            size_t tlen)
{
    struct wire_buf b = {0};
    wire_buf_reset(&b);
    int ok = wire_put(&b, type, hdr, hlen, tail, tlen, NULL, 0) == LOOM_OK;
    size_t len = ok ? wire_finish(&b) : 0;
    ok =
        ok && len && MPI_Send(b.data, (int)len, MPI_BYTE, 0, LOOM_TAG_UP, job->comm) == MPI_SUCCESS;
    wire_buf_free(&b);
    return ok ? 0 : -1;
}

static int
forge(loom_job *job, const struct order *o)
{
    if (o->what == 'R') {
        struct wire_result r = {(uint64_t)o->id, (uint32_t)o->attempt, 0, 0, 6, 0, 1, 0, 0, 0};
        return forge_frame(job, WIRE_RESULT, &r, sizeof r, "FORGED", 6);
    }
    if (o->what == 'B') /* two frames: each goodbye arrives on its own */
        return forge_frame(job, WIRE_BYE, NULL, 0, NULL, 0) ||
               forge_frame(job, WIRE_BYE, NULL, 0, NULL, 0);
    struct wire_credit c = {UINT32_MAX};
    return forge_frame(job, WIRE_CREDIT, &c, sizeof c, NULL, 0);
}

/* Until its queue is closed: carry out each order, then put its number
 * into "forged" — a queue request, which travels behind the forged frames
 * (MPI keeps one sender's messages in order), so when the master has it,
 * it has read them. */
static void *
forger(void *arg)
{
    loom_job *job = arg;
    char name[32];
    snprintf(name, sizeof name, "to-%d", loom_job_rank(job));
    loom_queue *to = qopen(job, name), *forged = qopen(job, "forged");
    struct order o;
    while (to && forged && qget(to, &o, sizeof o) == LOOM_OK) {
        int rc = forge(job, &o);
        out("FORGER rank=%d what=%c sent=%d\n", loom_job_rank(job), (char)o.what, rc == 0);
        if (loom_queue_put(forged, &o.what, sizeof o.what, LOOM_FOREVER) != LOOM_OK)
            break;
    }
    loom_queue_release(to);
    loom_queue_release(forged);
    return NULL;
}

/* ---- the master's side of each mode --------------------------------------------- */

/* Submit n sleep tasks of ms and check every result arrives once. */
static int
run_tasks(loom_job *job, int n, int ms, int *once_out)
{
    unsigned char *seen = calloc((size_t)n + 1, 1);
    int dup = 0, bad = 0, once = 0;
    for (int i = 1; i <= n; i++) {
        int64_t v[2] = {i, ms};
        if (loom_job_submit(job, "sleep", v, sizeof v, LOOM_FOREVER, NULL) != LOOM_OK)
            bad++;
    }
    loom_result r;
    for (int got = 0; got < n && loom_job_next_result(job, LOOM_FOREVER, &r) == LOOM_OK; got++) {
        int64_t id = 0;
        if (r.status == 0 && r.len == sizeof id)
            memcpy(&id, r.data, sizeof id);
        if (id < 1 || id > n)
            bad++;
        else if (seen[id]++)
            dup++;
        else
            once++;
        loom_result_free(&r);
    }
    free(seen);
    *once_out = once;
    return dup * 1000 + bad;
}

/* Wait (polling, bounded by wait_s) for path to exist. */
static int
wait_file(const char *path, double wait_s)
{
    struct stat st;
    for (double until = prog_now() + wait_s; prog_now() < until; prog_sleep_ms(10))
        if (stat(path, &st) == 0)
            return 1;
    return 0;
}

static int
master_run(struct prog *p, int n, int ms, const char *hold, double wait_s)
{
    int once = 0, errs = run_tasks(p->job, n, ms, &once);
    out("RUN tasks=%d once=%d dup=%d bad=%d lost=%d\n", n, once, errs / 1000, errs % 1000,
        loom_job_workers_lost(p->job));
    if (hold && !wait_file(hold, wait_s))
        out("RUN hold file never came\n");
    return once != n || errs;
}

/* Ask the forger of rank `rank` to act; wait until the master has read
 * what it sent. */
static loom_err
order(loom_job *job, int rank, const struct order *o)
{
    char name[32];
    snprintf(name, sizeof name, "to-%d", rank);
    loom_queue *to = qopen(job, name), *forged = qopen(job, "forged");
    int64_t what = 0;
    loom_err rc = !to || !forged ? LOOM_ENOMEM : loom_queue_put(to, o, sizeof *o, LOOM_FOREVER);
    if (rc == LOOM_OK)
        rc = qget(forged, &what, sizeof what);
    loom_queue_release(to);
    loom_queue_release(forged);
    return rc;
}

/* Close every forger's queue: they return. */
static void
close_forgers(loom_job *job, int size)
{
    for (int r = 1; r < size; r++) {
        char name[32];
        snprintf(name, sizeof name, "to-%d", r);
        loom_queue *q = qopen(job, name);
        if (q)
            loom_queue_close(q);
        loom_queue_release(q);
    }
}

/* A task held on one worker; the other claims its result first. */
static int
master_forge_result(struct prog *p)
{
    loom_job *job = p->job;
    loom_queue *held = qopen(job, "held"), *release = qopen(job, "release");
    struct held h = {0, 0, 0};
    if (!held || !release || loom_job_submit(job, "hold", NULL, 0, LOOM_FOREVER, NULL) != LOOM_OK ||
        qget(held, &h, sizeof h) != LOOM_OK)
        return 1;
    int forger_rank = h.rank == 1 ? 2 : 1;
    struct order o = {'R', h.id, h.attempt};
    loom_err rc = order(job, forger_rank, &o);
    if (rc == LOOM_OK)
        rc = loom_queue_put(release, "go", 2, LOOM_FOREVER);
    loom_result r;
    char reply[16] = "";
    if (rc == LOOM_OK && (rc = loom_job_next_result(job, LOOM_FOREVER, &r)) == LOOM_OK) {
        snprintf(reply, sizeof reply, "%.*s", (int)(r.len < 15 ? r.len : 15),
                 r.data ? (const char *)r.data : "");
        out("FORGE result task=%lld holder=%lld forger=%d reply=%s from=%d\n", (long long)h.id,
            (long long)h.rank, forger_rank, reply, r.rank);
        loom_result_free(&r);
    }
    loom_queue_release(held);
    loom_queue_release(release);
    close_forgers(job, p->size);
    return rc != LOOM_OK || strcmp(reply, "REAL") != 0;
}

/* Sets *done when finish returns. */
struct finisher {
    loom_job *job;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    loom_err rc;
};

static void *
finish_main(void *arg)
{
    struct finisher *f = arg;
    loom_err rc = loom_job_finish(f->job);
    pthread_mutex_lock(&f->mu);
    f->rc = rc;
    f->done = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* Wait up to s seconds for f->done; whether it came. */
static int
finisher_wait(struct finisher *f, double s)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)s;
    until.tv_nsec += (long)((s - (double)(time_t)s) * 1e9);
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&f->mu);
    int rc = 0;
    while (!f->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&f->cv, &f->mu, &until);
    int done = f->done;
    pthread_mutex_unlock(&f->mu);
    return done;
}

/* The worker not holding a task says goodbye twice (its queue calls are
 * not answered from then on: it has left): finish must still wait for
 * the held task and for the holder's own goodbye. wait_s bounds how long
 * finish is given to (wrongly) return before the task is released. */
static int
master_forge_bye(struct prog *p, double wait_s)
{
    loom_job *job = p->job;
    loom_queue *held = qopen(job, "held"), *release = qopen(job, "release");
    struct held h = {0, 0, 0};
    struct order o = {'B', 0, 0};
    if (!held || !release || loom_job_submit(job, "hold", NULL, 0, LOOM_FOREVER, NULL) != LOOM_OK ||
        qget(held, &h, sizeof h) != LOOM_OK || order(job, h.rank == 1 ? 2 : 1, &o) != LOOM_OK)
        return 1;
    close_forgers(job, p->size);
    struct finisher f = {.job = job};
    pthread_mutex_init(&f.mu, NULL);
    pthread_cond_init(&f.cv, NULL);
    pthread_t t;
    pthread_create(&t, NULL, finish_main, &f);
    int early = finisher_wait(&f, wait_s); /* it must not return: a task is held */
    loom_err put = loom_queue_put(release, "go", 2, LOOM_FOREVER);
    int late = finisher_wait(&f, 600);
    pthread_join(t, NULL);
    out("FORGE bye holder=%lld finish_before_release=%d finish_after_release=%d finish_rc=%s "
        "release_rc=%s\n",
        (long long)h.rank, early, late && !early, loom_err_name(f.rc), loom_err_name(put));
    loom_queue_release(held);
    loom_queue_release(release);
    pthread_cond_destroy(&f.cv);
    pthread_mutex_destroy(&f.mu);
    return early || !late || f.rc != LOOM_OK;
}

/* Rank 2 grants itself 2^32-1 credits; the job still runs every task once. */
static int
master_forge_credit(struct prog *p, int n, int ms)
{
    struct order o = {'C', 0, 0};
    loom_err rc = order(p->job, 2, &o);
    close_forgers(p->job, p->size);
    int once = 0, errs = rc == LOOM_OK ? run_tasks(p->job, n, ms, &once) : 1;
    out("FORGE credit order_rc=%s tasks=%d once=%d dup=%d bad=%d\n", loom_err_name(rc), n, once,
        errs / 1000, errs % 1000);
    return rc != LOOM_OK || once != n || errs;
}

/* ---- queues at the end of the job ------------------------------------------------- */

struct getter {
    loom_job *job;
    int timeout_ms;
    loom_err rc;
    int ready;             /* (atomic) about to get: the queue is open */
    struct finisher *done; /* counts returns: done = how many */
};

static void *
getter_main(void *arg)
{
    struct getter *g = arg;
    loom_queue *q = qopen(g->job, "never");
    void *data = NULL;
    size_t len = 0;
    __atomic_store_n(&g->ready, 1, __ATOMIC_SEQ_CST);
    g->rc = q ? loom_queue_get(q, &data, &len, g->timeout_ms) : LOOM_ENOMEM;
    free(data);
    loom_queue_release(q);
    pthread_mutex_lock(&g->done->mu);
    g->done->done++;
    pthread_cond_broadcast(&g->done->cv);
    pthread_mutex_unlock(&g->done->mu);
    return NULL;
}

/* Wait up to s seconds for c->done >= n. */
static int
count_wait(struct finisher *c, int n, double s)
{
    double until = prog_now() + s;
    pthread_mutex_lock(&c->mu);
    while (c->done < n && prog_now() < until) {
        pthread_mutex_unlock(&c->mu);
        prog_sleep_ms(5);
        pthread_mutex_lock(&c->mu);
    }
    int ok = c->done >= n;
    pthread_mutex_unlock(&c->mu);
    return ok;
}

static loom_err
open_rc(loom_job *job)
{
    loom_queue *q = NULL;
    loom_err rc = loom_queue_open(job, "after", 0, &q);
    loom_queue_release(q);
    return rc;
}

/* Start `n` getters with the given timeouts on queue "never". */
static void
start_getters(loom_job *job, struct getter *g, pthread_t *t, int n, const int *timeouts,
              struct finisher *c)
{
    for (int i = 0; i < n; i++) {
        g[i] = (struct getter){job, timeouts[i], LOOM_OK, 0, c};
        pthread_create(&t[i], NULL, getter_main, &g[i]);
    }
    /* their gets go out before the job can end: the tasks that follow take
     * far longer than handing a request over */
    for (int i = 0; i < n; i++)
        while (!__atomic_load_n(&g[i].ready, __ATOMIC_SEQ_CST))
            prog_sleep_ms(1);
}

static int
master_queues(struct prog *p, int n, int ms, double wait_s)
{
    struct finisher c = {.job = p->job};
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.cv, NULL);
    struct getter g[2];
    pthread_t t[2];
    start_getters(p->job, g, t, 2, (const int[]){LOOM_FOREVER, 600000}, &c);
    int once = 0, errs = run_tasks(p->job, n, ms, &once);
    loom_err fin = loom_job_finish(p->job);
    int within = count_wait(&c, 2, wait_s); /* they must return now */
    loom_err after = open_rc(p->job);
    if (!within) { /* destroy answers them: see what they got then */
        loom_job_destroy(p->job);
        p->job = NULL;
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    out("QUEUES forever=%s timed=%s open_after=%s within=%d tasks_once=%d finish_rc=%s\n",
        loom_err_name(g[0].rc), loom_err_name(g[1].rc), loom_err_name(after), within, once,
        loom_err_name(fin));
    pthread_cond_destroy(&c.cv);
    pthread_mutex_destroy(&c.mu);
    return !within || g[0].rc != LOOM_ECLOSED || g[1].rc != LOOM_ECLOSED || after != LOOM_ECLOSED ||
           once != n || errs || fin != LOOM_OK;
}

/* ---- a worker ----------------------------------------------------------------------- */

static int
worker(struct prog *p, const char *mode, double wait_s)
{
    pthread_t t;
    memset(&t, 0, sizeof t);
    struct getter g = {0};
    struct finisher c = {.job = p->job};
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.cv, NULL);
    int forging = !strncmp(mode, "forge", 5), queues = !strcmp(mode, "queues");
    if (forging)
        pthread_create(&t, NULL, forger, p->job);
    if (queues)
        start_getters(p->job, &g, &t, 1, (const int[]){LOOM_FOREVER}, &c);
    loom_err rc = loom_job_serve(p->job);
    int master_lost = loom_job_master_lost(p->job);
    out("SERVE rank=%d rc=%s master_lost=%d lost=%d\n", p->rank, loom_err_name(rc), master_lost,
        loom_job_workers_lost(p->job));
    int status = 0;
    if (queues) {
        int within = count_wait(&c, 1, wait_s);
        loom_err after = open_rc(p->job);
        out("QWORKER rank=%d get=%s open_after=%s within=%d\n", p->rank,
            within ? loom_err_name(g.rc) : "STUCK", loom_err_name(after), within);
        if (!within) { /* destroy answers it */
            loom_job_destroy(p->job);
            p->job = NULL;
        }
        status = !within || g.rc != LOOM_ECLOSED || after != LOOM_ECLOSED;
    }
    if (forging || queues)
        pthread_join(t, NULL);
    if (master_lost) /* MPI_Finalize would wait for the master */
        p->mpi_up = 0;
    pthread_cond_destroy(&c.cv);
    pthread_mutex_destroy(&c.mu);
    return status || (rc != LOOM_OK && rc != LOOM_ETIMEDOUT);
}

int
main(int argc, char **argv)
{
    struct prog p;
    int n = 40, ms = 50;
    double wait_s = 60;
    const char *mode = "run", *hold = NULL;
    int status = prog_config(&p, "prog_trust", &argc, argv);
    if (status != 0)
        return prog_end(&p, status);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mode") && i + 1 < argc)
            mode = argv[++i];
        else if (!strcmp(argv[i], "--tasks") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ms") && i + 1 < argc)
            ms = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--hold") && i + 1 < argc)
            hold = argv[++i];
        else if (!strcmp(argv[i], "--wait-s") && i + 1 < argc)
            wait_s = atof(argv[++i]);
        else {
            fprintf(stderr, "prog_trust: unknown argument '%s'\n", argv[i]);
            return prog_end(&p, 2);
        }
    }
    if ((status = prog_init(&p, &argc, &argv)) != 0)
        return prog_end(&p, status);
    if (loom_job_register(p.job, "sleep", sleep_task, NULL) != LOOM_OK ||
        loom_job_register(p.job, "hold", hold_task, NULL) != LOOM_OK || prog_start(&p) != 0)
        return prog_end(&p, 1);
    out("PID rank=%d pid=%d\n", p.rank, (int)getpid());
    if (!loom_job_is_master(p.job))
        return prog_end(&p, worker(&p, mode, wait_s));
    if (!strcmp(mode, "run"))
        status = master_run(&p, n, ms, hold, wait_s);
    else if (!strcmp(mode, "forge-result"))
        status = master_forge_result(&p);
    else if (!strcmp(mode, "forge-bye"))
        status = master_forge_bye(&p, wait_s);
    else if (!strcmp(mode, "forge-credit"))
        status = master_forge_credit(&p, n, ms);
    else if (!strcmp(mode, "queues"))
        status = master_queues(&p, n, ms, wait_s);
    else
        status = 2;
    if (p.job && loom_job_finish(p.job) != LOOM_OK)
        status = 1;
    int lost = p.job ? loom_job_workers_lost(p.job) : 0;
    status = prog_end(&p, status);
    out("%s done status=%d lost=%d\n", mode, status, lost);
    return status;
}
