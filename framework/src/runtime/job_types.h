/* SPDX-License-Identifier: MIT */
/*
 * The job's shared types: the job itself (struct loom_job), its settings,
 * its registered functions and the task a function sees. Types only: the
 * functions are declared by the header of the file that defines them.
 *
 * Who writes what: job.c fills a job at create and start (settings, ranks,
 * paths), registry.c its functions before start; afterwards the fields are
 * read-only except the atomics and m / w (set at start, cleared at stop).
 */
#ifndef LOOM_JOB_TYPES_H
#define LOOM_JOB_TYPES_H

#include <mpi.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "loom/job.h"

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
    size_t max_outstanding;  /* master: unfinished tasks; results kept in memory */
    size_t max_payload;      /* bytes of one payload, reply or queue item */
    size_t max_frame;        /* bytes of one message, either way (>= max_payload + 8K) */
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

struct master;
struct worker;
struct loom__journal;
struct loom__journal_done;
struct loom__ledger;
struct loom__recorder;
struct wire_buf;

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
    int lost_away;                       /* master, once stopped: workers lost on other hosts */
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

    /* results the program was given and still holds (msg.h) */
    struct loom__ledger *ledger;
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
    loom_err submit_err;  /* the first refused loom_task_submit */
    loom_err reply_err;   /* a refused loom_task_reply no later one replaced */
};

#endif /* LOOM_JOB_TYPES_H */
