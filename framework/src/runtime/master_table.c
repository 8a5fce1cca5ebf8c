/* SPDX-License-Identifier: MIT */
/*
 * The master's tables: task allocation (with a free list of small tasks),
 * the id -> pointer map (tasks in flight, futures, a map's chunks), the
 * ring of pending tasks, the ring of results and the list of tasks
 * avoiding a worker.
 *
 * No locks and no threads of their own: the master guards each instance
 * (master_types.h says with what). Out of memory is returned, except where
 * a caller could not undo what it has done (loom__tring_unshift panics).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "master_table.h"

/* ---- tasks ---------------------------------------------------------------- */

int
loom__mtask_pool_init(struct mtask_pool *p)
{
    p->n = 0;
    p->free = malloc(FREE_TASKS_MAX * sizeof *p->free);
    return p->free ? 0 : -1;
}

void
loom__mtask_pool_destroy(struct mtask_pool *p)
{
    while (p->n)
        free(p->free[--p->n]);
    free(p->free);
    p->free = NULL;
}

struct mtask *
loom__mtask_new(uint32_t fn, uint32_t flags, const void *data, size_t len)
{
    struct mtask *t = malloc(sizeof *t + (len <= SMALL_TASK ? SMALL_TASK : len));
    if (!t)
        return NULL;
    *t = (struct mtask){NULL, 0, 1, fn, flags, (uint32_t)len, 0, 0, 0};
    if (len && data)
        memcpy(t->data, data, len);
    return t;
}

void *
loom__inflight_tag(struct mtask *t)
{
    return (void *)((uintptr_t)t | (t->len <= SMALL_TASK));
}

struct mtask *
loom__inflight_task(void *tagged)
{
    return (struct mtask *)((uintptr_t)tagged & ~(uintptr_t)1);
}

void
loom__mtask_recycle(struct mtask_pool *p, void *tagged)
{
    if (((uintptr_t)tagged & 1) && p->n < FREE_TASKS_MAX)
        p->free[p->n++] = loom__inflight_task(tagged);
    else
        free(loom__inflight_task(tagged));
}

struct mtask *
loom__mtask_get(struct mtask_pool *p, uint32_t fn, uint32_t flags, const void *data, size_t len)
{
    if (len > SMALL_TASK || !p->n)
        return loom__mtask_new(fn, flags, data, len);
    struct mtask *t = p->free[--p->n];
    *t = (struct mtask){NULL, 0, 1, fn, flags, (uint32_t)len, 0, 0, 0};
    if (len)
        memcpy(t->data, data, len);
    return t;
}

/* ---- the u64 -> pointer map ------------------------------------------------- */

/* Task ids are handed out in sequence and live a short while. Groups of 8
 * consecutive ids share a cache line of slots; the groups are scattered by
 * a mixing hash, so the ids in flight never form one long run of occupied
 * slots, which would make every deletion (a backward shift) walk the whole
 * run. (Measured: groups of 64 made tiny tasks 20% slower, plain identity
 * hashing 4x slower.) */
#define U64_GROUP_BITS 3

static size_t
u64_slot(uint64_t k, size_t cap)
{
    uint64_t g = k >> U64_GROUP_BITS;
    g ^= g >> 33;
    g *= 0xff51afd7ed558ccdull;
    g ^= g >> 33;
    return (size_t)((g << U64_GROUP_BITS) | (k & ((1u << U64_GROUP_BITS) - 1))) & (cap - 1);
}

int
loom__u64map_put(struct u64map *m, uint64_t k, void *v)
{
    if ((m->count + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        uint64_t *keys = calloc(cap, sizeof *keys);
        void **vals = calloc(cap, sizeof *vals);
        if (!keys || !vals) {
            free(keys);
            free(vals);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i])
                continue;
            size_t s = u64_slot(m->keys[i], cap);
            while (keys[s])
                s = (s + 1) & (cap - 1);
            keys[s] = m->keys[i];
            vals[s] = m->vals[i];
        }
        free(m->keys);
        free(m->vals);
        m->keys = keys;
        m->vals = vals;
        m->cap = cap;
    }
    size_t s = u64_slot(k, m->cap);
    while (m->keys[s] && m->keys[s] != k)
        s = (s + 1) & (m->cap - 1);
    if (!m->keys[s])
        m->count++;
    m->keys[s] = k;
    m->vals[s] = v;
    return 0;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
void *
loom__u64map_take(struct u64map *m, uint64_t k)
{
    if (!m->cap)
        return NULL;
    size_t s = u64_slot(k, m->cap);
    while (m->keys[s] && m->keys[s] != k)
        s = (s + 1) & (m->cap - 1);
    if (!m->keys[s])
        return NULL;
    void *v = m->vals[s];
    m->keys[s] = 0;
    m->count--;
    for (size_t i = (s + 1) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1)) {
        size_t home = u64_slot(m->keys[i], m->cap);
        /* move i back to s if its home is not in (s, i] cyclically */
        if ((i > s && (home <= s || home > i)) || (i < s && home <= s && home > i)) {
            m->keys[s] = m->keys[i];
            m->vals[s] = m->vals[i];
            m->keys[i] = 0;
            s = i;
        }
    }
    return v;
}

void
loom__u64map_free(struct u64map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- the pending ring --------------------------------------------------------- */

int
loom__tring_reserve(struct tring *q, size_t more)
{
    if (q->count + more <= q->cap)
        return 0;
    size_t cap = q->cap ? q->cap : 1024;
    while (cap < q->count + more)
        cap *= 2;
    struct mtask **a = malloc(cap * sizeof *a);
    if (!a)
        return -1;
    for (size_t i = 0; i < q->count; i++)
        a[i] = q->a[(q->head + i) & (q->cap - 1)];
    free(q->a);
    q->a = a;
    q->cap = cap;
    q->head = 0;
    return 0;
}

int
loom__tring_push(struct tring *q, struct mtask *t)
{
    if (loom__tring_reserve(q, 1) != 0)
        return -1;
    q->a[(q->head + q->count) & (q->cap - 1)] = t;
    q->count++;
    return 0;
}

size_t
loom__tring_take(struct tring *q, struct mtask **out, size_t n)
{
    size_t k = q->count < n ? q->count : n;
    for (size_t j = 0; j < k; j++)
        out[j] = q->a[(q->head + j) & (q->cap - 1)];
    q->head = (q->head + k) & (q->cap - 1);
    q->count -= k;
    return k;
}

void
loom__tring_unshift(struct tring *q, struct mtask *const *t, size_t n)
{
    if (loom__tring_reserve(q, n) != 0)
        loom__panic(__FILE__, __LINE__, __func__, "out of memory requeueing tasks");
    for (size_t i = n; i-- > 0;) {
        q->head = (q->head - 1) & (q->cap - 1);
        q->a[q->head] = t[i];
        q->count++;
    }
}

/* ---- the result ring ------------------------------------------------------------ */

int
loom__rring_reserve(struct rring *q)
{
    if (q->count == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 1024;
        loom_result *a = malloc(cap * sizeof *a);
        if (!a)
            return -1;
        for (size_t i = 0; i < q->count; i++)
            a[i] = q->a[(q->head + i) & (q->cap - 1)];
        free(q->a);
        q->a = a;
        q->cap = cap;
        q->head = 0;
    }
    return 0;
}

int
loom__rring_push(struct rring *q, const loom_result *r)
{
    if (loom__rring_reserve(q) != 0)
        return -1;
    q->a[(q->head + q->count) & (q->cap - 1)] = *r;
    q->count++;
    return 0;
}

loom_result
loom__rring_pop(struct rring *q)
{
    loom_result r = q->a[q->head];
    q->head = (q->head + 1) & (q->cap - 1);
    q->count--;
    return r;
}

/* ---- tasks avoiding a worker ------------------------------------------------------ */

int
loom__avoid_push(struct avoid_list *l, struct mtask *t, int rank, int64_t now)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct avoiding *a = realloc(l->a, cap * sizeof *a);
        if (!a)
            return -1;
        l->a = a;
        l->cap = cap;
    }
    l->a[l->n++] = (struct avoiding){t, rank, now};
    return 0;
}

size_t
loom__avoid_take(struct avoid_list *l, int rank, int others, size_t want, int64_t now,
                 struct mtask **out)
{
    size_t n = 0, keep = 0;
    for (size_t i = 0; i < l->n; i++) {
        struct avoiding *a = &l->a[i];
        if (n < want && (a->rank != rank || !others || now - a->since >= AVOID_WAIT_NS))
            out[n++] = a->t;
        else
            l->a[keep++] = *a;
    }
    l->n = keep;
    return n;
}
