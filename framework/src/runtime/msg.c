/* SPDX-License-Identifier: MIT */
/*
 * Received messages, reference counted: the master's progress thread
 * receives into one (MPI_Mrecv) and the results it delivers point into
 * it, so a result's data is never copied; the program's thread that frees
 * the last result frees the message. Lock-free (an atomic count).
 *
 * The ledger counts the results the program was handed and has not
 * released, so that loom_job_destroy() can say how many it forgot (their
 * messages stay allocated): LeakSanitizer would blame the receive. Also an
 * atomic count, shared by the job and those results.
 */
#include <stdlib.h>

#include "msg.h"

struct loom__msg *
loom__msg_new(size_t len)
{
    struct loom__msg *msg = malloc(sizeof *msg + (len ? len : 1));
    if (msg) {
        atomic_init(&msg->refs, 1);
        msg->ledger = NULL;
        msg->len = len;
    }
    return msg;
}

void
loom__msg_release(struct loom__msg *msg)
{
    if (msg && atomic_fetch_sub(&msg->refs, 1) == 1)
        free(msg);
}

struct loom__ledger *
loom__ledger_new(void)
{
    struct loom__ledger *l = malloc(sizeof *l);
    if (l)
        atomic_init(&l->holds, 1);
    return l;
}

void
loom__ledger_hold(struct loom__ledger *l)
{
    if (l)
        atomic_fetch_add(&l->holds, 1);
}

void
loom__ledger_release(struct loom__ledger *l)
{
    if (l && atomic_fetch_sub(&l->holds, 1) == 1)
        free(l);
}

long
loom__ledger_held(struct loom__ledger *l)
{
    return l ? atomic_load(&l->holds) - 1 : 0;
}
