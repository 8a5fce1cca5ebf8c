/* SPDX-License-Identifier: MIT */
/*
 * The master's tables (master_table.c): its tasks and the containers it
 * keeps them and their results in. Plain data structures: no MPI, no
 * locks, no struct master — the master says which lock guards each one
 * (master_types.h) — so they can be tested alone (tests/unit/
 * test_master_table.c).
 */
#ifndef LOOM_MASTER_TABLE_H
#define LOOM_MASTER_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "loom/job.h"

struct loom__ledger;

/* A task as the master keeps it: from submit until its result is
 * delivered (pending, avoiding, in flight). */
struct mtask {
    struct mtask *next;
    uint64_t id;
    uint32_t attempt, fn, flags, len;
    int32_t rank;     /* the worker it was sent to (in flight) */
    uint32_t crashes; /* attempts that crashed their isolated process or were in
                         flight on a worker that died (job.crash_limit) */
    uint32_t suspect; /* in flight on a worker that died, no result since: it
                         runs alone on a worker (master_progress.c) */
    uint64_t hash;    /* of its definition, for the journal (0 without one) */
    char data[];
};

/* Small tasks are recycled through a free list: submit and the progress
 * thread then trade memory without malloc and free, which otherwise
 * dominate the cost of a tiny task. */
#define SMALL_TASK     64
#define FREE_TASKS_MAX 16384

/* A free list of small tasks (a stack of at most FREE_TASKS_MAX). */
struct mtask_pool {
    struct mtask **free;
    size_t n;
};

/* The pool's stack, empty. 0, or -1 without memory. */
int loom__mtask_pool_init(struct mtask_pool *p);
/* Free the tasks on the stack and the stack. */
void loom__mtask_pool_destroy(struct mtask_pool *p);
/* A new task (attempt 1, id 0) for len payload bytes, copied from data
 * unless data is NULL. Small tasks get room for SMALL_TASK bytes so they
 * can be recycled. NULL without memory. */
struct mtask *loom__mtask_new(uint32_t fn, uint32_t flags, const void *data, size_t len);
/* As loom__mtask_new, but a small task comes from the pool when it has one. */
struct mtask *loom__mtask_get(struct mtask_pool *p, uint32_t fn, uint32_t flags, const void *data,
                              size_t len);
/* A finished task (tagged, loom__inflight_tag): onto the pool if small
 * and there is room, else freed. */
void loom__mtask_recycle(struct mtask_pool *p, void *tagged);

/* In-flight tasks are kept as tagged pointers: bit 0 set for a small
 * task, so recycling one never has to read the task itself. */
void *loom__inflight_tag(struct mtask *t);
/* The task of a tagged pointer (NULL for NULL). */
struct mtask *loom__inflight_task(void *tagged);

/* A u64 -> pointer map (open addressing, linear probing; key 0 is never
 * stored). keys[i] == 0 marks an empty slot; callers may walk
 * keys/vals[0..cap) to visit every entry. */
struct u64map {
    uint64_t *keys; /* 0 = empty */
    void **vals;
    size_t cap, count;
};

/* Map k (!= 0) to v, replacing any value k had. 0, or -1 without memory
 * (the map is unchanged). */
int loom__u64map_put(struct u64map *m, uint64_t k, void *v);
/* Remove k and return its value, or NULL when k is not there. */
void *loom__u64map_take(struct u64map *m, uint64_t k);
/* Free the map's arrays (not the values); it is empty and usable again. */
void loom__u64map_free(struct u64map *m);

/* Tasks waiting to be dispatched: a ring of pointers that grows, so
 * dispatch takes a batch in O(1) without touching the tasks. */
struct tring {
    struct mtask **a;
    size_t head, count, cap; /* cap is 0 or a power of two */
};

/* Room for `more` tasks beyond count. 0, or -1 without memory. */
int loom__tring_reserve(struct tring *q, size_t more);
/* Append t at the tail. 0, or -1 without memory. */
int loom__tring_push(struct tring *q, struct mtask *t);
/* Move up to n tasks from the head into out, oldest first; how many. */
size_t loom__tring_take(struct tring *q, struct mtask **out, size_t n);
/* Put n tasks back at the head, so t[0] is the next one taken (the unsent
 * tail of a batch; a lost worker's tasks). Panics without memory. */
void loom__tring_unshift(struct tring *q, struct mtask *const *t, size_t n);

/* Results waiting for the program: a ring that grows, so queueing a
 * result allocates nothing. */
struct rring {
    loom_result *a;
    size_t head, count, cap; /* cap is 0 or a power of two */
};

/* Room for one more result. 0, or -1 without memory. */
int loom__rring_reserve(struct rring *q);
/* Append *r. 0, or -1 without memory. */
int loom__rring_push(struct rring *q, const loom_result *r);
/* Remove and return the oldest result; q must not be empty. */
loom_result loom__rring_pop(struct rring *q);

/* Results beyond what the master keeps in memory, oldest first, in a
 * temporary file (created in $TMPDIR, else /tmp, on first use and
 * unlinked at once, so it goes when the process does). A record is the
 * loom_result (its pointers are this process's: host points into the
 * job) then its reply bytes; writes and reads go through 1 MiB buffers.
 * The file is emptied whenever the last result is taken. */
struct rspill {
    int fd;              /* -1: no file yet */
    uint64_t wpos, rpos; /* file bytes written; file bytes read ahead */
    char *wbuf, *rbuf;   /* appended, not written yet; read ahead, not taken */
    size_t wlen, rlen, roff;
    size_t count; /* results held */
};

/* An empty spill (no file yet). */
void loom__rspill_init(struct rspill *s);
/* Append *r. 0: its data was copied and r freed (loom_result_free).
 * -1 when the file cannot be created or written: r is untouched (the
 * caller keeps it) and errno says why. */
int loom__rspill_push(struct rspill *s, loom_result *r);
/* Take the oldest result; s must not be empty. Its data is a message of
 * its own on `ledger` (not yet held: see loom__result_handed). 0, or -1
 * (errno): the result could not be read back (or its data allocated) and
 * is lost. */
int loom__rspill_pop(struct rspill *s, struct loom__ledger *ledger, loom_result *out);
/* Drop every result held and close the file. */
void loom__rspill_free(struct rspill *s);

/* A task that would rather not run on `rank` (its last attempt failed
 * there): it waits beside the pending ring until another worker asks for
 * work — or until no other worker is left, or it has waited
 * AVOID_WAIT_NS, so a preference never becomes a stall. */
struct avoiding {
    struct mtask *t;
    int rank;
    int64_t since;
};

#define AVOID_WAIT_NS ((int64_t)1000000000)

/* The avoiding tasks, in arrival order (a vector). */
struct avoid_list {
    struct avoiding *a;
    size_t n, cap;
};

/* Keep t away from rank, since monotonic time now. 0, or -1 without memory. */
int loom__avoid_push(struct avoid_list *l, struct mtask *t, int rank, int64_t now);
/* Move up to `want` tasks that may go to `rank` now into out, oldest
 * first: those avoiding another rank, and those avoiding this one when
 * `others` (workers other than rank still taking work) is 0 or they have
 * waited AVOID_WAIT_NS. The rest keep their order. How many were moved. */
size_t loom__avoid_take(struct avoid_list *l, int rank, int others, size_t want, int64_t now,
                        struct mtask **out);

/* ---- sets of workers (slots 1..), for the progress thread --------------------------------
 * So that a round of the master costs what the workers with something to
 * do need, not one visit per worker (issue 18). Each grows with the
 * largest slot it has seen; zeroed means empty. */

/* A FIFO of worker slots, each in it at most once. */
struct loom__wqueue {
    int *a;            /* a ring of cap */
    unsigned char *in; /* by slot: queued */
    size_t head, n, cap, slots;
};

/* Queue slot w at the back unless it is queued already. 0, or -1 without memory. */
int loom__wqueue_push(struct loom__wqueue *q, int w);
/* Take the front slot; -1 when empty. */
int loom__wqueue_pop(struct loom__wqueue *q);
/* Free its memory (it is empty afterwards). */
void loom__wqueue_free(struct loom__wqueue *q);

/* Worker slots in the order they were last touched, the oldest first:
 * touching one moves it to the back, so a time set with every touch is
 * in order and the overdue ones are at the front. */
struct loom__wlru {
    int *prev, *next; /* by slot, -1: none */
    unsigned char *in;
    int head, tail; /* -1: empty (set by the first touch when zeroed) */
    size_t slots, n;
};

/* Move slot w to the back (adding it). 0, or -1 without memory. */
int loom__wlru_touch(struct loom__wlru *l, int w);
/* Take slot w out, if it is in. */
void loom__wlru_remove(struct loom__wlru *l, int w);
/* The front slot (touched longest ago); -1 when empty. */
int loom__wlru_head(const struct loom__wlru *l);
/* Free its memory (it is empty afterwards). */
void loom__wlru_free(struct loom__wlru *l);

/* Worker slots by a time each, the earliest on top (a binary heap). */
struct loom__wheap {
    int *a;       /* the heap of slots */
    int64_t *key; /* by slot */
    size_t *pos;  /* by slot: its index in a + 1; 0: not in */
    size_t n, slots;
};

/* Set slot w's time to key (adding it). 0, or -1 without memory. */
int loom__wheap_set(struct loom__wheap *h, int w, int64_t key);
/* Take slot w out, if it is in. */
void loom__wheap_remove(struct loom__wheap *h, int w);
/* The slot with the earliest time (*key: that time); -1 when empty. */
int loom__wheap_top(const struct loom__wheap *h, int64_t *key);
/* Free its memory (it is empty afterwards). */
void loom__wheap_free(struct loom__wheap *h);

#endif /* LOOM_MASTER_TABLE_H */
