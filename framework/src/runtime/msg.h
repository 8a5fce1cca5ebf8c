/* SPDX-License-Identifier: MIT */
/*
 * Received messages (msg.c) on the master: one buffer per MPI message,
 * shared by the results that point into it (loom_result.loom__buf); and
 * the job's ledger of the results the program holds.
 */
#ifndef LOOM_MSG_H
#define LOOM_MSG_H

#include <stdatomic.h>
#include <stddef.h>

/* One job's count of the results handed to the program that hold a
 * message (reply data) and were not released yet: holds is 1 for the job
 * plus 1 per such result. The last release frees it, so a result may be
 * released after its job was destroyed. */
struct loom__ledger {
    atomic_long holds;
};

/* A received message. refs counts its holders: the receiving code while
 * it reads it, and every result whose data points into `data`. Holders
 * are added with atomic_fetch_add on refs (any thread). ledger is the
 * job's (set once, before any result points into it; NULL: none). */
struct loom__msg {
    atomic_long refs;
    struct loom__ledger *ledger;
    size_t len;
    char data[];
};

/* A message of len bytes (contents undefined), refs = 1, no ledger; NULL
 * without memory. */
struct loom__msg *loom__msg_new(size_t len);
/* Drop one reference (any thread); the last frees the message. Accepts
 * NULL. */
void loom__msg_release(struct loom__msg *msg);

/* A ledger held by its job alone; NULL without memory. */
struct loom__ledger *loom__ledger_new(void);
/* One more result handed to the program (any thread; NULL: nothing). */
void loom__ledger_hold(struct loom__ledger *l);
/* One hold less (a result released, or the job gone); the last frees the
 * ledger. Any thread; NULL: nothing. */
void loom__ledger_release(struct loom__ledger *l);
/* Results handed out and not released yet (holds less the job's own). */
long loom__ledger_held(struct loom__ledger *l);

#endif /* LOOM_MSG_H */
