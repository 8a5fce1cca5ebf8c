/* SPDX-License-Identifier: MIT */
/*
 * Isolated tasks (isolate.c): run one task function in a child process so
 * that a crash, abort(), exit(), a hang or runaway memory fails the task,
 * not the worker rank.
 */
#ifndef LOOM_ISOLATE_H
#define LOOM_ISOLATE_H

#include <stdint.h>
#include <sys/types.h>

#include "job_types.h"

/* How isolated tasks run (task.isolate_mode). */
enum loom__iso_mode {
    LOOM__ISO_HELPER = 0, /* a persistent helper process, exec'd from our binary */
    LOOM__ISO_FORK = 1,   /* fork() of this process for every task */
};

struct loom__iso_limits {
    int64_t timeout_ns; /* 0: none */
    uint64_t mem_bytes; /* resident bytes of the task's process; 0: none */
    int mode;           /* enum loom__iso_mode */
};

/* What became of one isolated task. */
struct loom__iso_outcome {
    int32_t status;   /* the function's return value, -1 when it did not return */
    loom_cause cause; /* LOOM_CAUSE_* */
    int32_t code;     /* signal number or exit code; FAILED: the loom_err of a
                         refused reply or submit that failed it; else 0 */
};

/* One isolation slot: at most one helper process, used by one thread at a
 * time (the worker hands slots to its runners). */
struct loom__iso;

loom_err loom__iso_create(struct loom__iso **out);
/* Kill and reap the helper, if any. Accepts NULL. */
void loom__iso_destroy(struct loom__iso *h);
/*
 * Run f on task t in the slot's helper (spawned on first use and after
 * every death) or in a fork, as lim->mode says. Blocks until the task
 * returns, dies, or is killed for its time or memory. On return t->reply /
 * t->reply_len hold the task's reply (only when it returned) and *o the
 * outcome. `chunk`: t's payload is a packed map chunk (loom__run_chunk).
 */
void loom__iso_run(struct loom__iso *h, const struct loom__iso_limits *lim, const struct job_fn *f,
                   int chunk, loom_task *t, struct loom__iso_outcome *o);
/* The helper's pid, or -1 when none runs (tests). */
pid_t loom__iso_helper_pid(const struct loom__iso *h);

#endif
