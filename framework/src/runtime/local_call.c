/* SPDX-License-Identifier: MIT */
/*
 * Local calls: one waiting thread (the caller of a queue operation), one
 * answering thread (the master's progress thread or a worker's
 * communication thread).
 *
 * The waiter spins on `done` for about 50 us (a round trip to the master
 * on one machine), then sets `sleeping` under mu and waits on cv. The
 * answer stores its fields, then sets done under mu and signals only if
 * the waiter sleeps: a fast answer costs no system call. done is
 * released/acquired, so the fields written before it are seen with it.
 */
#include <sched.h>
#include <string.h>

#include "internal.h"
#include "local_call.h"

void
loom__local_call_init(struct local_call *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}

void
loom__local_call_destroy(struct local_call *c)
{
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

void
loom__local_call_complete(struct local_call *c, loom_err err, void *data, size_t len)
{
    c->err = err;
    c->data = data;
    c->len = len;
    pthread_mutex_lock(&c->mu);
    atomic_store_explicit(&c->done, 1, memory_order_release);
    if (c->sleeping)
        pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

void
loom__local_call_wait(struct local_call *c)
{
    /* ~50 us of polling covers a round trip to the master on one machine */
    int64_t until = loom__now_ns() + 50000;
    for (unsigned i = 0; !atomic_load_explicit(&c->done, memory_order_acquire); i++) {
        if ((i & 63) == 63 && loom__now_ns() > until)
            break;
        if (i > 256)
            sched_yield();
    }
    pthread_mutex_lock(&c->mu);
    c->sleeping = 1;
    while (!atomic_load_explicit(&c->done, memory_order_acquire))
        pthread_cond_wait(&c->cv, &c->mu);
    c->sleeping = 0;
    pthread_mutex_unlock(&c->mu);
}
