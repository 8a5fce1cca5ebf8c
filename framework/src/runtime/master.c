/* SPDX-License-Identifier: MIT */
/*
 * The master's life cycle (rank 0): prepare (the journal, the events and
 * report files — before the start-up agreement, so a bad path stops every
 * rank), start (the state of master_types.h, the queue store, the
 * acceptor for joining jobs, the recorder's writer, the progress thread)
 * and stop (finish, end the threads, answer queue calls still waiting,
 * free everything).
 *
 * Runs on the program's thread that starts and destroys the job; stop
 * touches the progress thread's state only after joining it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fingerprint.h"
#include "internal.h"
#include "loom/context.h"
#include "join.h"
#include "journal.h"
#include "loom/log.h"
#include "master.h"
#include "master_progress.h"
#include "master_send.h"
#include "master_state.h"
#include "master_types.h"
#include "qstore.h"
#include "recorder.h"
#include "result.h"
#include "swarm.h"

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

/* LOOM_SWARM (swarm.h), a benchmark's: refused unless it is a number,
 * the job accepts no joining jobs, and MPI has the tags and the slots fit
 * in an int. Whether every worker rank is a swarm of that width is the
 * start-up agreement's (the fingerprint). */
static loom_err
swarm_check(const loom_job *job)
{
    int width = loom__swarm_width(), *ub = NULL, flag = 0;
    if (width == 0)
        return LOOM_OK;
    if (width < 0) {
        LOOM_ERROR("LOOM_SWARM must be a number of virtual workers per rank, 1 to %d",
                   LOOM_SWARM_MAX);
        return LOOM_ECONFIG;
    }
    if (job->serve_dir) {
        LOOM_ERROR("LOOM_SWARM (a benchmark's virtual workers) and joining jobs do not mix");
        return LOOM_ECONFIG;
    }
    MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &ub, &flag);
    if (!flag || !ub || *ub < loom__swarm_tag_max(width) ||
        (long long)(job->size - 1) * width >= (1LL << 30)) {
        LOOM_ERROR("LOOM_SWARM=%d: too many virtual workers for this MPI (tags up to %d)", width,
                   flag && ub ? *ub : 0);
        return LOOM_ECONFIG;
    }
    LOOM_WARN("LOOM_SWARM=%d: each worker rank stands for %d virtual workers (benchmarks only)",
              width, width);
    return LOOM_OK;
}

/* Create the job.events and job.report files, then open the job's
 * journal: its key is a hash of the registered function names (a journal
 * of another program is refused); resuming reads what it has into
 * job->jnl_done. Runs before the start-up check, whose result every rank
 * shares: a master without its files or journal stops the whole job. */
loom_err
loom__master_prepare(loom_job *job)
{
    loom_err rc = swarm_check(job);
    if (rc != LOOM_OK)
        return rc;
    rc = open_recorder(job);
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
        /* the program says it (loom_last_error), once, on this rank */
        loom__master_unprepare(job);
        return loom__fail(rc, "cannot open the journal: %s", err);
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
    /* a swarm's rank r stands for workers 1+(r-1)*swarm .. r*swarm */
    m->swarm = loom__swarm_width() > 0 ? loom__swarm_width() : 0;
    int slots = m->swarm ? 1 + (job->size - 1) * m->swarm : job->size;
    m->workers = calloc((size_t)slots, sizeof *m->workers);
    loom__rspill_init(&m->spill);
    int pool = loom__mtask_pool_init(&m->tasks);
    m->batch = malloc(job->set.batch_max * sizeof *m->batch);
    if (!m->workers || pool != 0 || !m->batch)
        goto fail_workers;
    m->nworkers = m->workers_cap = slots;
    int64_t t0 = loom__now_ns();
    for (int r = 0; r < slots; r++) {
        wire_buf_reset(&m->workers[r].out);
        m->workers[r].heard = t0; /* a worker that never speaks is lost too */
        m->workers[r].comm = job->comm;
        m->workers[r].peer = r;
        if (m->swarm && r > 0) {
            m->workers[r].peer = 1 + (r - 1) / m->swarm;
            m->workers[r].tag = loom__swarm_tag_down((r - 1) % m->swarm);
        }
        /* watched for pings and silence (master_send.c, master_progress.c) */
        if (r > 0 && (loom__wlru_touch(&m->pinged, r) != 0 || loom__wlru_touch(&m->heard, r) != 0))
            goto fail_workers;
    }
    if (job->serve_dir) {
        struct loom__fingerprint fp;
        loom__job_fingerprint(job, LOOM_OK, &fp);
        if ((rc = loom__acceptor_start(job->serve_dir, &fp, &m->acc)) != LOOM_OK)
            goto fail_workers;
        rc = LOOM_ENOMEM;
    }
    m->qs = loom__qstore_create(loom__master_queue_reply, m);
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
    if (pthread_create(&m->progress, NULL, loom__master_progress_main, m) != 0)
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
    loom__wlru_free(&m->pinged);
    loom__wlru_free(&m->heard);
    free(m->batch);
    loom__mtask_pool_destroy(&m->tasks);
    free(m->workers);
    free(m);
    return rc;
}

/* At stop, the threads gone: free every task the master still holds
 * (in flight, pending, avoiding, recycled), the futures only the table
 * still references, and the tables themselves. Results not consumed were
 * dropped by finish. */
static void
free_tables(struct master *m)
{
    for (size_t i = 0; i < m->inflight.cap; i++)
        if (m->inflight.keys[i])
            free(loom__inflight_task(m->inflight.vals[i]));
    loom__u64map_free(&m->inflight);
    for (size_t i = 0; i < m->futures.cap; i++) {
        struct loom_job_future *f = m->futures.vals[i];
        if (m->futures.keys[i] && --f->refs == 0) {
            loom__result_drop(&f->res);
            free(f);
        }
    }
    loom__u64map_free(&m->futures);
    for (size_t i = 0; i < m->pending.count; i++)
        free(m->pending.a[(m->pending.head + i) & (m->pending.cap - 1)]);
    free(m->pending.a);
    for (size_t i = 0; i < m->avoid.n; i++)
        free(m->avoid.a[i].t);
    free(m->avoid.a);
    free(m->results.a);
    loom__rspill_free(&m->spill);
    free(m->fx.results);
    free(m->fx.done);
    loom__wqueue_free(&m->ready);
    loom__wqueue_free(&m->dirty);
    loom__wlru_free(&m->pinged);
    loom__wlru_free(&m->heard);
    loom__wheap_free(&m->due);
    loom__mtask_pool_destroy(&m->tasks);
}

/* Workers of the job itself (not joined) declared lost on another host
 * than the master's, or on one never named (lost before their hello):
 * mpirun may wait for those (job.c). */
static int
lost_elsewhere(const struct master *m)
{
    const char *here = loom_context_host(loom_context_current());
    int n = 0;
    for (int r = 1; r < m->nworkers; r++) {
        const struct mworker *w = &m->workers[r];
        n += w->lost && !w->joined && (!w->host || strcmp(w->host, here) != 0);
    }
    return n;
}

void
loom__master_stop(loom_job *job)
{
    struct master *m = job->m;
    loom_job_finish(job);
    atomic_store(&m->quit, 1);
    pthread_mutex_lock(&m->mu);
    loom__master_wake_progress(m);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->progress, NULL);
    job->lost_away = lost_elsewhere(m); /* no worker is lost from here on */
    loom__acceptor_stop(m->acc);
    loom__qstore_shutdown(m->qs);
    for (struct qreq *q = m->mailbox, *next; q; q = next) {
        next = q->next;
        loom__master_queue_reply(m, q, LOOM_ECLOSED, NULL, 0);
    }
    loom__qstore_destroy(m->qs);
    if (m->jnl && loom__journal_close(m->jnl) != LOOM_OK)
        LOOM_ERROR("closing the journal %s failed: results of the last moments may run again "
                   "on resume",
                   job->journal);
    loom__journal_done_destroy(m->done);
    loom__recorder_destroy(m->rec);
    free_tables(m);
    for (int r = 0; r < m->nworkers; r++)
        wire_buf_free(&m->workers[r].out);
    for (struct mgroup *g = m->groups, *next; g; g = next) {
        next = g->next;
        MPI_Comm_free(&g->comm); /* not disconnect: a dead peer would hold it */
        free(g);
    }
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
