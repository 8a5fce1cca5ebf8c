/* SPDX-License-Identifier: MIT */
/*
 * Received messages, reference counted: the master's progress thread
 * receives into one (MPI_Mrecv) and the results it delivers point into
 * it, so a result's data is never copied; the program's thread that frees
 * the last result frees the message. Lock-free (an atomic count).
 */
#include <stdlib.h>

#include "msg.h"

struct loom__msg *
loom__msg_new(size_t len)
{
    struct loom__msg *msg = malloc(sizeof *msg + (len ? len : 1));
    if (msg) {
        atomic_init(&msg->refs, 1);
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
