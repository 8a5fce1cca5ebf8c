/* SPDX-License-Identifier: MIT */
/*
 * The master's tables: task allocation (with a free list of small tasks),
 * the id -> pointer map (tasks in flight, futures, a map's chunks), the
 * ring of pending tasks, the ring of results, the results spilled to a
 * file beyond it, and the list of tasks avoiding a worker.
 *
 * No locks and no threads of their own: the master guards each instance
 * (master_types.h says with what). Out of memory is returned, except where
 * a caller could not undo what it has done (loom__tring_unshift panics).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "master_table.h"
#include "msg.h"
#include "result.h"

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
    *t = (struct mtask){NULL, 0, 1, fn, flags, (uint32_t)len, 0, 0, 0, 0};
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
    *t = (struct mtask){NULL, 0, 1, fn, flags, (uint32_t)len, 0, 0, 0, 0};
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

/* ---- results spilled to a file ------------------------------------------------------ */

#define SPILL_BUF ((size_t)1 << 20)

void
loom__rspill_init(struct rspill *s)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

/* Write n bytes at offset off; 0 or -1 (errno). */
static int
pwrite_all(int fd, const char *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* Read n bytes at offset off; 0 or -1 (errno). */
static int
pread_all(int fd, char *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO;
            return -1;
        }
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* The file, created on first use. 0 or -1 (errno). */
static int
spill_open(struct rspill *s)
{
    if (s->fd >= 0)
        return 0;
    const char *dir = getenv("TMPDIR");
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/loom-results-XXXXXX", dir && *dir ? dir : "/tmp");
    if (n < 0 || (size_t)n >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (!s->wbuf && !(s->wbuf = malloc(SPILL_BUF)))
        return -1;
    s->fd = mkostemp(path, O_CLOEXEC);
    if (s->fd < 0)
        return -1;
    unlink(path);
    return 0;
}

/* Move the write buffer into the file. 0 or -1 (errno). */
static int
spill_flush(struct rspill *s)
{
    if (!s->wlen)
        return 0;
    if (pwrite_all(s->fd, s->wbuf, s->wlen, s->wpos) != 0)
        return -1;
    s->wpos += s->wlen;
    s->wlen = 0;
    return 0;
}

int
loom__rspill_push(struct rspill *s, loom_result *r)
{
    if (spill_open(s) != 0)
        return -1;
    size_t need = sizeof *r + r->len;
    if (s->wlen + need > SPILL_BUF && spill_flush(s) != 0)
        return -1;
    if (need > SPILL_BUF) { /* a big reply goes straight to the file */
        if (pwrite_all(s->fd, (const char *)r, sizeof *r, s->wpos) != 0 ||
            pwrite_all(s->fd, r->data, r->len, s->wpos + sizeof *r) != 0)
            return -1;
        s->wpos += need;
    } else {
        memcpy(s->wbuf + s->wlen, r, sizeof *r);
        if (r->len)
            memcpy(s->wbuf + s->wlen + sizeof *r, r->data, r->len);
        s->wlen += need;
    }
    s->count++;
    loom__result_drop(r); /* never handed out: no hold on the ledger */
    return 0;
}

/* The next n bytes of the oldest record, from the read-ahead buffer, then
 * the file. 0 or -1 (errno). */
static int
spill_read(struct rspill *s, char *dst, size_t n)
{
    size_t have = s->rlen - s->roff, take = have < n ? have : n;
    if (take)
        memcpy(dst, s->rbuf + s->roff, take);
    s->roff += take;
    dst += take;
    n -= take;
    if (!n)
        return 0;
    if (s->wpos - s->rpos < n) { /* the rest is still in the write buffer */
        if (spill_flush(s) != 0)
            return -1;
        if (s->wpos - s->rpos < n) {
            errno = EIO;
            return -1;
        }
    }
    if (n >= SPILL_BUF) { /* a big reply comes straight from the file */
        if (pread_all(s->fd, dst, n, s->rpos) != 0)
            return -1;
        s->rpos += n;
        return 0;
    }
    if (!s->rbuf && !(s->rbuf = malloc(SPILL_BUF)))
        return -1;
    uint64_t left = s->wpos - s->rpos;
    size_t want = left < SPILL_BUF ? (size_t)left : SPILL_BUF;
    if (pread_all(s->fd, s->rbuf, want, s->rpos) != 0)
        return -1;
    s->rpos += want;
    s->rlen = want;
    memcpy(dst, s->rbuf, n);
    s->roff = n;
    return 0;
}

int
loom__rspill_pop(struct rspill *s, struct loom__ledger *ledger, loom_result *out)
{
    int rc = spill_read(s, (char *)out, sizeof *out);
    struct loom__msg *msg = NULL;
    out->loom__buf = NULL;
    out->data = NULL;
    if (rc == 0 && out->len) {
        msg = loom__msg_new(out->len);
        rc = msg ? spill_read(s, msg->data, out->len) : -1;
    }
    if (--s->count == 0) { /* empty: start the file again */
        s->wpos = s->rpos = 0;
        s->wlen = s->rlen = s->roff = 0;
        /* give the disk back; should that fail, it is only written over */
        int shrunk = ftruncate(s->fd, 0);
        (void)shrunk;
    }
    if (rc != 0) {
        int e = errno;
        loom__msg_release(msg);
        errno = e;
    } else if (msg) {
        msg->ledger = ledger;
        out->data = msg->data;
        out->loom__buf = msg;
    }
    return rc;
}

void
loom__rspill_free(struct rspill *s)
{
    if (s->fd >= 0)
        close(s->fd);
    free(s->wbuf);
    free(s->rbuf);
    loom__rspill_init(s);
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

/* ---- sets of workers --------------------------------------------------------------------- */

/* *p (n items of `size`) grown to hold slot w, the new ones zeroed; the
 * new count in *n. 0, or -1 without memory (nothing changed). */
static int
slots_grow(void **p, size_t size, size_t *n, int w)
{
    if ((size_t)w < *n)
        return 0;
    size_t cap = *n * 2 > (size_t)w + 1 ? *n * 2 : (size_t)w + 64;
    char *a = realloc(*p, cap * size);
    if (!a)
        return -1;
    memset(a + *n * size, 0, (cap - *n) * size);
    *p = a;
    *n = cap;
    return 0;
}

int
loom__wqueue_push(struct loom__wqueue *q, int w)
{
    size_t slots = q->slots;
    if (w < 0 || slots_grow((void **)&q->in, 1, &slots, w) != 0)
        return -1;
    q->slots = slots;
    if (q->in[w])
        return 0;
    if (q->n == q->cap) { /* each slot at most once: never more than slots */
        size_t cap = q->slots;
        int *a = malloc(cap * sizeof *a);
        if (!a)
            return -1;
        for (size_t i = 0; i < q->n; i++)
            a[i] = q->a[(q->head + i) % q->cap];
        free(q->a);
        q->a = a;
        q->head = 0;
        q->cap = cap;
    }
    q->a[(q->head + q->n++) % q->cap] = w;
    q->in[w] = 1;
    return 0;
}

int
loom__wqueue_pop(struct loom__wqueue *q)
{
    if (!q->n)
        return -1;
    int w = q->a[q->head];
    q->head = (q->head + 1) % q->cap;
    q->n--;
    q->in[w] = 0;
    return w;
}

void
loom__wqueue_free(struct loom__wqueue *q)
{
    free(q->a);
    free(q->in);
    *q = (struct loom__wqueue){0};
}

/* Room in l for slot w; 0 or -1. */
static int
wlru_room(struct loom__wlru *l, int w)
{
    if (!l->slots)
        l->head = l->tail = -1;
    size_t a = l->slots, b = l->slots, c = l->slots;
    if (slots_grow((void **)&l->prev, sizeof *l->prev, &a, w) != 0 ||
        slots_grow((void **)&l->next, sizeof *l->next, &b, w) != 0 ||
        slots_grow((void **)&l->in, 1, &c, w) != 0)
        return -1; /* any that grew keep their new size: harmless */
    l->slots = a < b ? (a < c ? a : c) : (b < c ? b : c);
    return 0;
}

int
loom__wlru_touch(struct loom__wlru *l, int w)
{
    if (w < 0 || wlru_room(l, w) != 0)
        return -1;
    if (l->in[w] && l->tail == w)
        return 0;
    loom__wlru_remove(l, w);
    l->prev[w] = l->tail;
    l->next[w] = -1;
    if (l->tail >= 0)
        l->next[l->tail] = w;
    else
        l->head = w;
    l->tail = w;
    l->in[w] = 1;
    l->n++;
    return 0;
}

void
loom__wlru_remove(struct loom__wlru *l, int w)
{
    if (w < 0 || (size_t)w >= l->slots || !l->in[w])
        return;
    if (l->prev[w] >= 0)
        l->next[l->prev[w]] = l->next[w];
    else
        l->head = l->next[w];
    if (l->next[w] >= 0)
        l->prev[l->next[w]] = l->prev[w];
    else
        l->tail = l->prev[w];
    l->in[w] = 0;
    l->n--;
}

int
loom__wlru_head(const struct loom__wlru *l)
{
    return l->n ? l->head : -1;
}

void
loom__wlru_free(struct loom__wlru *l)
{
    free(l->prev);
    free(l->next);
    free(l->in);
    *l = (struct loom__wlru){0};
}

/* Put slot a[i] at index i and say so in pos. */
static void
wheap_place(struct loom__wheap *h, size_t i, int w)
{
    h->a[i] = w;
    h->pos[w] = i + 1;
}

/* Move a[i] up or down to its place. */
static void
wheap_fix(struct loom__wheap *h, size_t i)
{
    int w = h->a[i];
    int64_t k = h->key[w];
    while (i > 0 && h->key[h->a[(i - 1) / 2]] > k) {
        wheap_place(h, i, h->a[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->key[h->a[c + 1]] < h->key[h->a[c]])
            c++;
        if (h->key[h->a[c]] >= k)
            break;
        wheap_place(h, i, h->a[c]);
        i = c;
    }
    wheap_place(h, i, w);
}

int
loom__wheap_set(struct loom__wheap *h, int w, int64_t key)
{
    if (w < 0)
        return -1;
    size_t a = h->slots, b = h->slots, c = h->slots;
    if (slots_grow((void **)&h->a, sizeof *h->a, &a, w) != 0 ||
        slots_grow((void **)&h->key, sizeof *h->key, &b, w) != 0 ||
        slots_grow((void **)&h->pos, sizeof *h->pos, &c, w) != 0)
        return -1;
    h->slots = a < b ? (a < c ? a : c) : (b < c ? b : c);
    h->key[w] = key;
    if (!h->pos[w])
        wheap_place(h, h->n++, w); /* a holds at most one entry per slot */
    wheap_fix(h, h->pos[w] - 1);
    return 0;
}

void
loom__wheap_remove(struct loom__wheap *h, int w)
{
    if (w < 0 || (size_t)w >= h->slots || !h->pos[w])
        return;
    size_t i = h->pos[w] - 1;
    h->pos[w] = 0;
    int last = h->a[--h->n];
    if (i < h->n) {
        wheap_place(h, i, last);
        wheap_fix(h, i);
    }
}

int
loom__wheap_top(const struct loom__wheap *h, int64_t *key)
{
    if (!h->n)
        return -1;
    *key = h->key[h->a[0]];
    return h->a[0];
}

void
loom__wheap_free(struct loom__wheap *h)
{
    free(h->a);
    free(h->key);
    free(h->pos);
    *h = (struct loom__wheap){0};
}
