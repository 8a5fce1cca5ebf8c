/* SPDX-License-Identifier: MIT */
/*
 * The master's progress thread (master_progress.c).
 */
#ifndef LOOM_MASTER_PROGRESS_H
#define LOOM_MASTER_PROGRESS_H

/* The progress thread's body (pthread_create with the struct master as
 * arg): rounds of receive, adopt joined workers, answer queue calls,
 * check for silent workers, dispatch, stop, send — backing off when idle —
 * until m->quit is set and every send has completed. Returns NULL. */
void *loom__master_progress_main(void *arg);

#endif /* LOOM_MASTER_PROGRESS_H */
