/* SPDX-License-Identifier: MIT */
/*
 * The master's shared state (master_state.c): what the program's threads
 * and the progress thread both change, always under m->mu (the caller
 * holds it for every function here).
 */
#ifndef LOOM_MASTER_STATE_H
#define LOOM_MASTER_STATE_H

#include <time.h>

#include "master_types.h"

/* Wake the program's threads waiting on m->cv (any change they may wait
 * on: a result, room, the end). */
void loom__master_wake_waiters(struct master *m);
/* Wake the progress thread if it sleeps. One signal is enough: until the
 * thread has run again, more would only cost system calls. */
void loom__master_wake_progress(struct master *m);
/* Wait on m->cv until woken or the CLOCK_MONOTONIC deadline dl (NULL:
 * forever); pthread_cond_timedwait's result. */
int loom__master_wait(struct master *m, const struct timespec *dl);
/* Queue t to be dispatched (at the tail). Panics without memory: a
 * program thread reserves the room first (loom__tring_reserve), so only
 * the progress thread can get there (docs/design.md, "Out of memory"). */
void loom__master_pending_push(struct master *m, struct mtask *t);
/* Keep t away from worker `rank` (m->avoid); -1 without memory. */
int loom__master_avoid_push(struct master *m, struct mtask *t, int rank);
/* Deliver one arrived result: to the map in progress, a future, or the
 * results the program takes (dropped once finishing). Counts it out of
 * `unfinished`. The result's buffer reference is taken over. Panics
 * without memory; a program thread (a resumed task's result) reserves
 * the room first. */
void loom__master_deliver(struct master *m, loom_result *r);

#endif /* LOOM_MASTER_STATE_H */
