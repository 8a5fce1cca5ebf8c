/* SPDX-License-Identifier: MIT */
/*
 * The master's state (rank 0), shared by its files. Types only:
 *   master.c           life cycle: prepare, start, stop
 *   master_api.c       the program's threads: submit, results, futures, map
 *   master_state.c     what both sides change under m->mu: queue, deliver, wake
 *   master_progress.c  the progress thread's loop: receive, dispatch, lose
 *   master_frames.c    the records a worker's message holds, one handler each
 *   master_send.c      what goes down to the workers: flush, queue answers
 *   master_table.c     the tables: tasks, id map, rings (no MPI, no locks)
 *
 * Threads: the program's threads submit tasks and consume results; one
 * progress thread owns every MPI call and runs a non-blocking event loop.
 *
 * State and who touches it:
 *   under m->mu (program threads and progress thread):
 *     pending (FIFO of tasks to dispatch), avoid, results and spill (FIFO
 *     for next_result), spill_failed, futures (id -> future), the map collector, counters,
 *     mailbox of local queue requests, the free list of tasks, finish
 *     state, nworkers (the progress thread may read it without mu: it is
 *     the only writer);
 *   progress thread only:
 *     inflight (id -> task, for requeueing once workers can be lost),
 *     per-worker credits and outgoing frames, sends in progress, the
 *     queue store, groups, fx, batch, and the worker sets below (ready,
 *     dirty, pinged, heard, due).
 * One condition variable (m->cv) wakes program threads for any change they
 * may wait on; m->wake wakes a sleeping progress thread.
 *
 * Counters: `unfinished` counts tasks created (by submit or by tasks)
 * whose result has not arrived. Submitting waits while unfinished >=
 * job.max_outstanding: that wait ends as tasks finish, never because the
 * program takes a result, so the thread that would take the results can
 * submit everything first (a LOOM_NOWAIT submit, which cannot hang, still
 * counts the results not taken: EFULL asks its caller to take some).
 * Results the program has not taken stay in memory up to
 * job.max_outstanding (`results`); beyond that they go to a file
 * (`spill`), oldest first after the ring, so memory follows the tasks in
 * flight, never the tasks ever submitted. The job is over when finish was
 * called and unfinished == 0.
 *
 * A result is recorded only if its task is in `inflight` with that
 * attempt and on the rank that sent it; it is removed there on the first
 * result, so a duplicate can never be delivered twice, nor a result that
 * another rank made up.
 */
#ifndef LOOM_MASTER_TYPES_H
#define LOOM_MASTER_TYPES_H

#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "job_types.h"
#include "master_table.h"
#include "sendq.h"
#include "wire.h"

struct qreq;
struct qstore;
struct loom__acceptor;

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

struct mworker {
    size_t credits;
    size_t busy; /* its tasks in flight */
    int alone;   /* a suspect task (mtask.suspect) runs there: nothing else goes */
    int hello, bye;
    int lost; /* declared lost: nothing goes to it, nothing from it counts */
    int told; /* lost, then heard from: sent the STOP that makes it leave */
    unsigned threads;
    int64_t heard; /* when it last sent anything */
    int64_t sent;  /* joined: when something last went to it */
    MPI_Comm comm; /* where it is: job->comm, or a joined job's intercomm */
    int peer;      /* its rank there */
    int tag;       /* what goes to it goes with: 0 for LOOM_TAG_DOWN, else a
                      swarm's virtual worker's (swarm.h, benchmarks only) */
    int joined;    /* came through the acceptor (join.c) */
    /* When its next results are due while it is busy (master_progress.c
     * sleeps until then): when its last results came (or tasks went to it
     * while it had none), the average time from there to its next results
     * (0: not measured yet) and the average deviation from that average. */
    int64_t res_at, res_gap, res_dev;
    int due_state; /* where master.due counts it: 0 not busy (or lost), 1 busy
                      with no gap measured (due_unknown), 2 busy, in due */
    struct wire_buf out;
    /* from its hello, NULL before. Its own allocation: loom_result.host
     * points to it, and the table moves when joined workers grow it. */
    char *host;
};

/* A job that joined (join.c): its ranks are workers base..base+n-1. */
struct mgroup {
    MPI_Comm comm;
    int base, n;
    struct mgroup *next;
};

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
    struct avoid_list avoid; /* retries kept away from one worker */
    unsigned worker_threads; /* sum over workers that said hello */
    struct rring results;
    struct rspill spill; /* results beyond job.max_outstanding, after `results` */
    int spill_failed;    /* the file could not be written: results stay in memory */
    struct u64map futures;
    struct map_collect *map;
    uint64_t next_id;
    size_t unfinished;
    struct qreq *mailbox;
    struct mtask_pool tasks; /* small tasks to reuse */
    int finishing, stop_sent;
    int byes;
    int lost;                        /* workers declared lost */
    int64_t next_check;              /* when to look for silent workers next */
    struct loom__journal *jnl;       /* progress thread: the journal, if any */
    struct loom__journal_done *done; /* resume: what the journal has (read-only) */
    atomic_int jnl_failed;           /* an append or sync failed (said once) */
    struct loom__recorder *rec;      /* job.events / job.report, if any (recorder.h) */
    int no_workers;                  /* all lost: submits fail at once */
    int nworkers;                    /* worker slots 1..nworkers-1 (0: the master);
                                        grows as jobs join; written under mu */
    struct loom__acceptor *acc;      /* joining workers accepted (NULL: none) */
    int swarm;                       /* LOOM_SWARM (swarm.h): each worker rank stands for
                                        this many workers; 0: one (read-only after start) */

    /* progress thread only */
    struct u64map inflight;
    struct mworker *workers;
    int workers_cap;
    struct mgroup *groups;
    struct loom__sendq sends;
    struct qstore *qs;
    int queues_ended; /* the job has ended: every queue call is answered LOOM_ECLOSED */
    int64_t qreq_at;  /* when a worker's queue request last came */
    struct frame_effects fx;
    struct mtask **batch; /* dispatch scratch: job.batch_max pointers */
    /* So that a round costs what the workers with something to do need,
     * not a visit to every worker (issue 18): */
    struct loom__wqueue ready; /* may have credits: dispatch serves these in turn */
    struct loom__wqueue dirty; /* their frame (out) holds something to send */
    struct loom__wlru pinged;  /* by when something last went to them (sent) */
    struct loom__wlru heard;   /* by when they last sent anything (heard) */
    struct loom__wheap due;    /* busy, gap measured: when their results are due */
    int due_unknown;           /* busy with no gap measured yet: no telling when */
};

#endif /* LOOM_MASTER_TYPES_H */
