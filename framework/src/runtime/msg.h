/* SPDX-License-Identifier: MIT */
/*
 * Received messages (msg.c) on the master: one buffer per MPI message,
 * shared by the results that point into it (loom_result.loom__buf).
 */
#ifndef LOOM_MSG_H
#define LOOM_MSG_H

#include <stdatomic.h>
#include <stddef.h>

/* A received message. refs counts its holders: the receiving code while
 * it reads it, and every result whose data points into `data`. Holders
 * are added with atomic_fetch_add on refs (any thread). */
struct loom__msg {
    atomic_long refs;
    size_t len;
    char data[];
};

/* A message of len bytes (contents undefined), refs = 1; NULL without
 * memory. */
struct loom__msg *loom__msg_new(size_t len);
/* Drop one reference (any thread); the last frees the message. Accepts
 * NULL. */
void loom__msg_release(struct loom__msg *msg);

#endif /* LOOM_MSG_H */
