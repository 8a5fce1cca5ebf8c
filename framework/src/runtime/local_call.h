/* SPDX-License-Identifier: MIT */
/*
 * Local calls (local_call.c): a thread of this process waiting for an
 * answer that another thread produces — a queue operation answered by the
 * master's progress thread, or on a worker by the communication thread
 * once the master's reply has arrived.
 */
#ifndef LOOM_LOCAL_CALL_H
#define LOOM_LOCAL_CALL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "loom/error.h"

/* The answer is usually a few microseconds away, so the caller first spins
 * on `done` (no futex wake on the answering side), then sleeps on the
 * condition variable. err, data and len are written once, before done. */
struct local_call {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int done;
    int sleeping; /* under mu */
    loom_err err;
    void *data;
    size_t len;
};

/* Ready c for one call: not done, nothing answered. */
void loom__local_call_init(struct local_call *c);
/* Free c's mutex and condition variable (not data: that is the caller's). */
void loom__local_call_destroy(struct local_call *c);
/* The answer (any thread, once per call): store err, data (ownership goes
 * to the waiter) and len, mark c done and wake the waiter if it sleeps. */
void loom__local_call_complete(struct local_call *c, loom_err err, void *data, size_t len);
/* Block until c is complete (about 50 us of spinning, then a sleep); then
 * c->err, c->data and c->len hold the answer. */
void loom__local_call_wait(struct local_call *c);

#endif /* LOOM_LOCAL_CALL_H */
