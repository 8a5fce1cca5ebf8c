/* SPDX-License-Identifier: MIT */
/*
 * Internal state of a distributed job, shared by job.c (life cycle, task
 * API), master.c (rank 0), worker.c (ranks >= 1) and queue.c (named queues).
 */
#ifndef LOOM_JOB_INTERNAL_H
#define LOOM_JOB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "loom/job.h"
#include "loom/pool.h"
#include "wire.h"

#define JOB_MAX_FUNCS   4096
#define JOB_FN_NAME_MAX 63

struct job_fn {
    char name[JOB_FN_NAME_MAX + 1];
    loom_task_fn fn;
    void *user;
};

/* Settings read from the config at create. */
struct job_settings {
    unsigned threads;        /* pool threads of a worker */
    int pin;                 /* pool.pin: bind pool threads to CPUs */
    size_t max_outstanding;  /* master: unfinished + unconsumed tasks */
    size_t max_payload;      /* bytes of one payload, reply or queue item */
    size_t batch_max;        /* tasks per message */
    int64_t flush_ns;        /* worker: result flush delay */
    double prefetch_s;       /* worker: seconds of work to hold per thread */
    unsigned retries;        /* master: runs again of a failed task */
    unsigned crash_limit;    /* master: crashed attempts before giving up */
    int64_t heartbeat_ns;    /* worker: longest silence towards the master */
    int64_t lost_ns;         /* master: silence that makes a worker lost; 0 never */
    int isolate;             /* job.isolate: tasks run in a helper by default */
    int isolate_mode;        /* task.isolate_mode: enum loom__iso_mode */
    int64_t task_timeout_ns; /* task.timeout (isolated tasks); 0: none */
    uint64_t task_memory;    /* task.memory_limit (isolated tasks); 0: none */
};

/* A named-queue request on its way to the master's queue store. `local`
 * is set for requests from the master's own threads (answered in place),
 * else (rank, req) says where the reply goes. */
struct qreq {
    uint32_t op;
    int rank;
    uint64_t req;
    int64_t deadline_ns; /* 0: none (wait forever); set by the store */
    int timeout_ms;
    uint64_t capacity;
    char name[64];
    void *data;
    size_t len;
    struct local_call *local;
    struct qreq *next;
};

/* A caller on this process waiting for an answer (queue ops; on workers
 * routed through the communication thread). The answer is usually a few
 * microseconds away, so the caller first spins on `done` (no futex wake on
 * the answering side), then sleeps on the condition variable. */
struct local_call {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int done;
    int sleeping; /* under mu */
    loom_err err;
    void *data;
    size_t len;
};

enum qop { QOP_OPEN = 1, QOP_PUT = 2, QOP_GET = 3, QOP_CLOSE = 4 };

struct master;
struct worker;
struct qstore;

struct loom_job {
    MPI_Comm comm;
    int rank, size;
    int started;
    struct job_settings set;
    struct job_fn *fns;
    unsigned nfns;
    struct master *m;                    /* rank 0 after start */
    struct worker *w;                    /* ranks >= 1 after start */
    atomic_int peers_lost;               /* workers declared lost (a worker learns it at STOP) */
    atomic_int master_lost;              /* joined worker: the master went silent */
    char *serve_dir;                     /* master: accept joining jobs (join file dir) */
    char *join_dir;                      /* a joining job: the master's join file dir */
    int join_timeout_ms;                 /* joining: connect + handshake */
    int joined;                          /* this rank joined a running job */
    char *journal;                       /* master: journal path (NULL: none) */
    int resume;                          /* master: resume from it */
    struct loom__journal *jnl;           /* master: opened before start */
    struct loom__journal_done *jnl_done; /* master: what resume skips */
    /* job.events / job.report (recorder.c): paths ("" none) and the
     * setting each came from, for messages; what the run is called */
    char *events, *report;
    char events_name[128], report_name[128];
    char *title;                /* NULL: the command line */
    int own_attempts;           /* loom_job_opts.own_attempts */
    struct loom__recorder *rec; /* master: opened before start */
};

/* The task a function sees. */
struct loom_task {
    loom_job *job;
    uint64_t id;
    unsigned attempt;
    const char *payload;
    size_t len;
    char *reply;
    size_t reply_len, reply_cap;
    struct wire_buf *out; /* where loom_task_submit appends WIRE_SUBMIT;
                             NULL in an isolated task (submit refuses) */
    loom_err out_err;     /* first failure appending to out */
};

/* A received message, shared by the results that point into it. */
struct loom__msg {
    atomic_long refs;
    size_t len;
    char data[];
};
struct loom__msg *loom__msg_new(size_t len); /* refs = 1 */
void loom__msg_release(struct loom__msg *msg);

/* job.c */
int loom__job_fn_index(const loom_job *job, const char *name);
void loom__task_reply_free(loom_task *t);
/* Run a map chunk (the task's payload) through fn; the packed replies
 * become the task's reply. 0, or -1 (malformed chunk, no memory). */
int loom__run_chunk(loom_task_fn fn, void *user, loom_task *t);
void loom__local_call_init(struct local_call *c);
void loom__local_call_destroy(struct local_call *c);
void loom__local_call_complete(struct local_call *c, loom_err err, void *data, size_t len);
void loom__local_call_wait(struct local_call *c);
/* After `idle` empty polling rounds: 0 = poll again, -1 = sched_yield(),
 * else sleep this many ns (growing to max_ns). */
int64_t loom__idle_pause(unsigned idle, int64_t max_ns);
/* Idle rounds from which loom__idle_pause sleeps. */
#define LOOM__IDLE_SLEEP 32u
/* Work that comes back more often than this on average is worth spinning for. */
#define LOOM__HOT_GAP_NS 100000
/* Average time between bursts of polling rounds that did work (job.c). */
struct loom__gap {
    int64_t last, avg;
};
void loom__work_gap(struct loom__gap *g, int64_t now, int after_idle);
/* Where a polling thread's idle count starts after a round of work. */
unsigned loom__idle_start(const struct loom__gap *g);
void loom__polling_thread_init(const char *name);

/* master.c */
/* Before start, on rank 0: open the journal (if any) into job->jnl. */
loom_err loom__master_prepare(loom_job *job);
/* Undo loom__master_prepare when start fails. */
void loom__master_unprepare(loom_job *job);
loom_err loom__master_start(loom_job *job);
void loom__master_stop(loom_job *job);
/* Ranks of the job so far: 1 + its workers, joined ones included. */
int loom__master_size(const loom_job *job);
/* Pool threads of the workers that have said hello so far. */
unsigned loom__master_worker_threads(const loom_job *job);
/* Send a queue request and wait for its answer. Takes ownership of rq
 * (and rq->data); the answer's data (malloc'd, may be NULL) goes to *data. */
loom_err loom__master_queue_call(loom_job *job, struct qreq *rq, void **data, size_t *len);

/* worker.c */
loom_err loom__worker_start(loom_job *job);
void loom__worker_stop(loom_job *job);
loom_err loom__worker_queue_call(loom_job *job, struct qreq *rq, void **data, size_t *len);

/* queue.c: the store, run by the master's progress thread only. The store
 * owns each request it is given until it answers it through reply(ctx, rq,
 * err, data, len); reply then owns rq, rq->data (NULL if the store kept it
 * as an item) and data (the answer's bytes, malloc'd or NULL). */
typedef void (*qstore_reply_fn)(void *ctx, struct qreq *rq, loom_err err, void *data, size_t len);
struct qstore *loom__qstore_create(qstore_reply_fn reply, void *ctx);
void loom__qstore_destroy(struct qstore *qs);
void loom__qstore_request(struct qstore *qs, struct qreq *rq, int64_t now_ns);
void loom__qstore_expire(struct qstore *qs, int64_t now_ns);
void loom__qstore_shutdown(struct qstore *qs); /* answer every waiter LOOM_ECLOSED */
int64_t loom__qstore_next_deadline(const struct qstore *qs);

#endif
