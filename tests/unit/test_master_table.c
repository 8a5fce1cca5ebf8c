/* SPDX-License-Identifier: MIT */
/* The master's tables (master_table.c) without MPI: the id map against a
 * plain array as reference, the rings across growth and wrap-around, the
 * free list of small tasks, the list of tasks avoiding a worker, the sets
 * of workers (queue, least recently touched, heap) against references. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loom_test.h"
#include "master_table.h"
#include "msg.h"
#include "result.h"

/* A deterministic pseudo-random sequence (xorshift). */
static uint64_t
rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

Test(master_table, u64map_matches_a_reference_under_churn)
{
    /* ids as the master uses them: handed out in sequence, a window of
     * them in flight, taken in random order; values tell ids apart */
    enum { IDS = 200000, WINDOW = 5000 };
    struct u64map m = {0};
    char *in = calloc(IDS + 1, 1); /* reference: in[id] while in the map */
    cr_assert(in);
    uint64_t s = 88172645463325252ull, next = 1;
    size_t count = 0;
    while (next <= IDS) {
        if (count < WINDOW || rnd(&s) % 2) {
            cr_assert_eq(loom__u64map_put(&m, next, (void *)(uintptr_t)(next * 3)), 0);
            in[next++] = 1;
            count++;
        } else {
            /* a random id of the recent past: in flight, or already
             * taken (a duplicate result) */
            uint64_t lo = next > WINDOW * 2 ? next - WINDOW * 2 : 1;
            uint64_t id = lo + rnd(&s) % (next - lo);
            void *v = loom__u64map_take(&m, id);
            if (in[id]) {
                cr_assert_eq((uintptr_t)v, id * 3, "id %llu: wrong value", (unsigned long long)id);
                in[id] = 0;
                count--;
            } else {
                cr_assert_null(v, "id %llu taken twice", (unsigned long long)id);
            }
        }
        cr_assert_eq(m.count, count, "the map counts %zu, the reference %zu", m.count, count);
    }
    for (uint64_t k = 1; k <= IDS; k++) {
        void *v = loom__u64map_take(&m, k);
        cr_assert_eq((uintptr_t)v, in[k] ? k * 3 : 0, "draining id %llu", (unsigned long long)k);
    }
    cr_assert_eq(m.count, 0);
    for (size_t i = 0; i < m.cap; i++)
        cr_assert_eq(m.keys[i], 0, "slot %zu still holds %llu", i, (unsigned long long)m.keys[i]);
    loom__u64map_free(&m);
    free(in);
}

Test(master_table, u64map_put_replaces_and_every_entry_can_be_walked)
{
    struct u64map m = {0};
    cr_assert_null(loom__u64map_take(&m, 7), "an empty map has nothing");
    for (uint64_t k = 1; k <= 3000; k++)
        cr_assert_eq(loom__u64map_put(&m, k * 1000003, (void *)(uintptr_t)k), 0);
    cr_assert_eq(loom__u64map_put(&m, 5 * 1000003, (void *)(uintptr_t)99), 0);
    cr_assert_eq(m.count, 3000, "a put of a present key replaces its value");
    uint64_t sum = 0;
    size_t seen = 0;
    for (size_t i = 0; i < m.cap; i++)
        if (m.keys[i]) {
            sum += (uintptr_t)m.vals[i];
            seen++;
        }
    cr_assert_eq(seen, 3000);
    cr_assert_eq(sum, 3000ull * 3001 / 2 - 5 + 99);
    loom__u64map_free(&m);
    cr_assert_eq(m.cap, 0);
    cr_assert_eq(loom__u64map_put(&m, 1, &m), 0, "a freed map is usable again");
    cr_assert_eq(loom__u64map_take(&m, 1), &m);
    loom__u64map_free(&m);
}

/* The slot key k lands in when alone in a map of 1024 slots: its home. */
static size_t
home_of(struct u64map *scratch, uint64_t k)
{
    cr_assert_eq(loom__u64map_put(scratch, k, scratch), 0);
    cr_assert_eq(scratch->cap, 1024);
    size_t home = 0;
    while (scratch->keys[home] != k)
        home++;
    loom__u64map_take(scratch, k);
    return home;
}

Test(master_table, u64map_deletes_in_a_run_that_wraps_around_the_end)
{
    /* three keys at home in the last slot, one in the first: they fill
     * slots 1023, 0, 1 and 2; taking the first must move the others back
     * across the end of the table */
    struct u64map scratch = {0}, m = {0};
    uint64_t last[3], first = 0;
    int nlast = 0;
    for (uint64_t k = 1; nlast < 3 || !first; k++) {
        cr_assert_lt(k, 10000000, "no keys found for the last and first slots");
        size_t h = home_of(&scratch, k);
        if (h == 1023 && nlast < 3)
            last[nlast++] = k;
        else if (h == 0 && !first)
            first = k;
    }
    for (int i = 0; i < 3; i++)
        cr_assert_eq(loom__u64map_put(&m, last[i], (void *)(uintptr_t)(i + 1)), 0);
    cr_assert_eq(loom__u64map_put(&m, first, (void *)(uintptr_t)4), 0);
    cr_assert(m.keys[1023] == last[0] && m.keys[0] == last[1] && m.keys[1] == last[2] &&
                  m.keys[2] == first,
              "the run wraps: slots 1023, 0, 1, 2");
    cr_assert_eq((uintptr_t)loom__u64map_take(&m, last[0]), 1);
    cr_assert_eq((uintptr_t)loom__u64map_take(&m, last[1]), 2, "found after the shift");
    cr_assert_eq((uintptr_t)loom__u64map_take(&m, last[2]), 3);
    cr_assert_eq((uintptr_t)loom__u64map_take(&m, first), 4);
    cr_assert_eq(m.count, 0);
    loom__u64map_free(&m);
    loom__u64map_free(&scratch);
}

static struct mtask *
task_with_id(uint64_t id)
{
    struct mtask *t = loom__mtask_new(0, 0, NULL, 0);
    cr_assert(t);
    t->id = id;
    return t;
}

Test(master_table, the_pending_ring_is_fifo_and_unshift_goes_first)
{
    struct tring q = {0};
    enum { N = 5000 };
    struct mtask *tasks[N];
    for (int i = 0; i < N; i++)
        tasks[i] = task_with_id((uint64_t)i + 1);
    uint64_t want = 1;
    int pushed = 0;
    struct mtask *out[300];
    /* push and take in uneven steps so the ring wraps and grows */
    while (want <= N) {
        for (int k = 0; k < 7 && pushed < N; k++)
            cr_assert_eq(loom__tring_push(&q, tasks[pushed++]), 0);
        size_t got = loom__tring_take(&q, out, 5);
        for (size_t i = 0; i < got; i++, want++)
            cr_assert_eq(out[i]->id, want, "took %llu, want %llu", (unsigned long long)out[i]->id,
                         (unsigned long long)want);
        if (got == 0)
            break;
        if (want % 97 == 0 && got > 1) { /* give the last two back */
            loom__tring_unshift(&q, out + got - 2, 2);
            want -= 2;
        }
    }
    cr_assert_eq(want, N + 1, "every task came out once, in order");
    cr_assert_eq(q.count, 0);
    cr_assert_eq(loom__tring_take(&q, out, 3), 0, "an empty ring gives nothing");
    for (int i = 0; i < N; i++)
        free(tasks[i]);
    free(q.a);
}

Test(master_table, the_result_ring_is_fifo_across_growth)
{
    struct rring q = {0};
    uint64_t in = 1, out = 1;
    for (int round = 0; round < 50; round++) {
        for (int k = 0; k < 100 + round * 7; k++) {
            loom_result r = {.id = in++};
            cr_assert_eq(loom__rring_push(&q, &r), 0);
        }
        for (int k = 0; k < 90; k++) {
            loom_result r = loom__rring_pop(&q);
            cr_assert_eq(r.id, out, "popped %llu, want %llu", (unsigned long long)r.id,
                         (unsigned long long)out);
            out++;
        }
    }
    while (q.count)
        cr_assert_eq(loom__rring_pop(&q).id, out++);
    cr_assert_eq(out, in);
    free(q.a);
}

Test(master_table, small_tasks_are_recycled_big_ones_freed)
{
    struct mtask_pool p;
    cr_assert_eq(loom__mtask_pool_init(&p), 0);
    char big[SMALL_TASK + 1];
    memset(big, 'b', sizeof big);
    struct mtask *s = loom__mtask_get(&p, 3, 5, "hello", 5);
    struct mtask *b = loom__mtask_get(&p, 4, 0, big, sizeof big);
    cr_assert(s && b);
    cr_assert_eq(s->fn, 3);
    cr_assert_eq(s->flags, 5);
    cr_assert_eq(s->attempt, 1);
    cr_assert_eq(s->len, 5);
    cr_assert_eq(memcmp(s->data, "hello", 5), 0);
    cr_assert_eq(loom__inflight_task(loom__inflight_tag(s)), s, "a tag comes off again");
    cr_assert_eq(loom__inflight_task(loom__inflight_tag(b)), b);
    cr_assert_eq((uintptr_t)loom__inflight_tag(s) & 1, 1, "small: tagged");
    cr_assert_eq((uintptr_t)loom__inflight_tag(b) & 1, 0, "big: not tagged");
    s->attempt = 9;
    s->crashes = 2;
    loom__mtask_recycle(&p, loom__inflight_tag(s));
    loom__mtask_recycle(&p, loom__inflight_tag(b)); /* freed: ASan's leak check */
    cr_assert_eq(p.n, 1, "only the small task is kept");
    struct mtask *again = loom__mtask_get(&p, 1, 0, "xy", 2);
    cr_assert_eq(again, s, "the next small task reuses it");
    cr_assert_eq(again->attempt, 1, "as new");
    cr_assert_eq(again->crashes, 0);
    cr_assert_eq(memcmp(again->data, "xy", 2), 0);
    cr_assert_eq(p.n, 0);
    /* the pool is bounded: tasks beyond FREE_TASKS_MAX are freed */
    for (int i = 0; i < FREE_TASKS_MAX + 10; i++)
        loom__mtask_recycle(&p, loom__inflight_tag(loom__mtask_new(0, 0, NULL, 1)));
    cr_assert_eq(p.n, FREE_TASKS_MAX);
    loom__mtask_recycle(&p, loom__inflight_tag(again));
    loom__mtask_pool_destroy(&p);
}

Test(master_table, avoiding_tasks_wait_for_another_worker)
{
    struct avoid_list l = {0};
    struct mtask *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = task_with_id((uint64_t)i + 1);
    int64_t t0 = 1000;
    cr_assert_eq(loom__avoid_push(&l, t[0], 1, t0), 0); /* not on 1 */
    cr_assert_eq(loom__avoid_push(&l, t[1], 2, t0), 0); /* not on 2 */
    cr_assert_eq(loom__avoid_push(&l, t[2], 1, t0), 0);
    cr_assert_eq(loom__avoid_push(&l, t[3], 1, t0 + 10), 0);
    struct mtask *out[4];
    /* rank 1 asks while others take work: only the one avoiding 2 */
    size_t n = loom__avoid_take(&l, 1, 1, 4, t0 + 1, out);
    cr_assert_eq(n, 1);
    cr_assert_eq(out[0], t[1]);
    cr_assert_eq(l.n, 3, "the rest wait, in order");
    cr_assert(l.a[0].t == t[0] && l.a[1].t == t[2] && l.a[2].t == t[3]);
    /* rank 2 may take them all, but asks for 2: the oldest */
    n = loom__avoid_take(&l, 2, 1, 2, t0 + 1, out);
    cr_assert_eq(n, 2);
    cr_assert(out[0] == t[0] && out[1] == t[2]);
    /* rank 1 again: t[3] has not waited AVOID_WAIT_NS yet */
    cr_assert_eq(loom__avoid_take(&l, 1, 1, 4, t0 + 10 + AVOID_WAIT_NS - 1, out), 0);
    cr_assert_eq(loom__avoid_take(&l, 1, 1, 4, t0 + 10 + AVOID_WAIT_NS, out), 1,
                 "after AVOID_WAIT_NS a preference gives way");
    cr_assert_eq(out[0], t[3]);
    /* no other worker left: goes at once */
    cr_assert_eq(loom__avoid_push(&l, t[3], 1, t0), 0);
    cr_assert_eq(loom__avoid_take(&l, 1, 0, 4, t0, out), 1);
    cr_assert_eq(l.n, 0);
    for (int i = 0; i < 4; i++)
        free(t[i]);
    free(l.a);
}

/* Results spilled to the file come back oldest first, with their fields
 * and data, across the write buffer, the read-ahead and replies bigger
 * than both; the file starts again once empty. A result read back is
 * counted on the job's ledger once handed out, like any other. */
Test(master_table, spilled_results_come_back_in_order_with_their_data)
{
    struct rspill s;
    loom__rspill_init(&s);
    struct loom__ledger *ledger = loom__ledger_new();
    cr_assert(ledger);
    uint64_t next_in = 1, next_out = 1, seed = 7;
    for (int round = 0; round < 3; round++) {
        size_t n = round == 1 ? 30000 : 100;
        for (size_t i = 0; i < n; i++, next_in++) {
            /* mostly small; a few of 3 MiB, bigger than the buffers */
            size_t len = next_in % 997 == 0 ? ((size_t)3 << 20) : rnd(&seed) % 200;
            loom_result r = {next_in, (int)(next_in % 3), 1, 2,      NULL, len, 0,
                             NULL,    LOOM_CAUSE_OK,      0, "host", 4,    5,   6};
            if (len) {
                r.data = malloc(len);
                cr_assert(r.data);
                memset(r.data, (int)(next_in & 0xff), len);
            }
            cr_assert_eq(loom__rspill_push(&s, &r), 0);
            cr_assert_null(r.data, "a spilled result is freed");
            /* take some while pushing: reads overtake writes */
            if (rnd(&seed) % 3 == 0) {
                loom_result o;
                cr_assert_eq(loom__rspill_pop(&s, NULL, &o), 0);
                cr_assert_eq(o.id, next_out++);
                loom_result_free(&o);
            }
        }
        while (s.count) {
            loom_result o;
            cr_assert_eq(loom__rspill_pop(&s, ledger, &o), 0);
            loom__result_handed(&o);
            cr_assert_eq(loom__ledger_held(ledger), o.len ? 1 : 0);
            cr_assert_eq(o.id, next_out, "got %llu, expected %llu", (unsigned long long)o.id,
                         (unsigned long long)next_out);
            cr_assert_eq(o.status, (int)(o.id % 3));
            cr_assert_str_eq(o.host, "host");
            cr_assert_eq(o.run_ns, 6);
            cr_assert_eq(o.loom__buf != NULL, o.len != 0, "data is a message of its own");
            for (size_t k = 0; k < o.len; k += 4093)
                cr_assert_eq(((unsigned char *)o.data)[k], (unsigned char)(o.id & 0xff));
            next_out++;
            loom_result_free(&o);
            cr_assert_eq(loom__ledger_held(ledger), 0, "freeing the result drops its hold");
        }
        cr_assert_eq(s.wpos, 0, "the file starts again once empty");
    }
    cr_assert_eq(next_out, next_in);
    loom__rspill_free(&s);
    loom__ledger_release(ledger);
}

Test(master_table, worker_queue_keeps_order_and_each_slot_once)
{
    enum { SLOTS = 3000, OPS = 200000 };
    struct loom__wqueue q = {0};
    int *ref = malloc(SLOTS * 2 * sizeof *ref); /* the reference FIFO, a plain array */
    char *in = calloc(SLOTS, 1);
    size_t head = 0, tail = 0;
    uint64_t seed = 7;
    for (int i = 0; i < OPS; i++) {
        if (rnd(&seed) % 3) { /* slots grow as they come: the largest seen so far */
            int w = 1 + (int)(rnd(&seed) % (uint64_t)(1 + i * SLOTS / OPS));
            cr_assert_eq(loom__wqueue_push(&q, w), 0);
            if (!in[w]) {
                in[w] = 1;
                if (tail == SLOTS * 2) { /* compact the reference */
                    memmove(ref, ref + head, (tail - head) * sizeof *ref);
                    tail -= head;
                    head = 0;
                }
                ref[tail++] = w;
            }
        } else {
            int w = loom__wqueue_pop(&q);
            if (head == tail) {
                cr_assert_eq(w, -1, "op %d: popped %d from an empty queue", i, w);
                continue;
            }
            cr_assert_eq(w, ref[head], "op %d: popped %d, expected %d", i, w, ref[head]);
            in[ref[head++]] = 0;
        }
        cr_assert_eq(q.n, tail - head, "op %d: %zu queued, expected %zu", i, q.n, tail - head);
    }
    loom__wqueue_free(&q);
    free(ref);
    free(in);
}

Test(master_table, worker_lru_front_is_the_one_touched_longest_ago)
{
    enum { SLOTS = 1000, OPS = 40000 };
    struct loom__wlru l = {0};
    int64_t *at = calloc(SLOTS, sizeof *at); /* reference: when touched, 0: not in */
    uint64_t seed = 11;
    cr_assert_eq(loom__wlru_head(&l), -1);
    loom__wlru_remove(&l, 5); /* nothing in, never grown: harmless */
    for (int64_t i = 1; i <= OPS; i++) {
        int w = 1 + (int)(rnd(&seed) % (SLOTS - 1));
        if (rnd(&seed) % 4) {
            cr_assert_eq(loom__wlru_touch(&l, w), 0);
            at[w] = i;
        } else {
            loom__wlru_remove(&l, w);
            at[w] = 0;
        }
        int oldest = -1;
        size_t n = 0;
        for (int k = 0; k < SLOTS; k++)
            if (at[k] && (n++, oldest < 0 || at[k] < at[oldest]))
                oldest = k;
        cr_assert_eq(loom__wlru_head(&l), oldest, "op %lld: front %d, expected %d", (long long)i,
                     loom__wlru_head(&l), oldest);
        cr_assert_eq(l.n, n);
        if (i % 997 == 0) /* walk the whole list once in a while: in order of touch */
            for (int w2 = l.head, prev = -1; w2 >= 0; prev = w2, w2 = l.next[w2])
                cr_assert(prev < 0 || at[prev] < at[w2], "op %lld: %d before %d out of order",
                          (long long)i, prev, w2);
    }
    loom__wlru_free(&l);
    free(at);
}

Test(master_table, worker_heap_top_is_the_earliest_time)
{
    enum { SLOTS = 1000, OPS = 40000 };
    struct loom__wheap h = {0};
    int64_t *key = malloc(SLOTS * sizeof *key);
    char *in = calloc(SLOTS, 1);
    uint64_t seed = 13;
    int64_t k0 = 0;
    cr_assert_eq(loom__wheap_top(&h, &k0), -1);
    for (int i = 0; i < OPS; i++) {
        int w = 1 + (int)(rnd(&seed) % (SLOTS - 1));
        if (rnd(&seed) % 3) {
            key[w] = (int64_t)(rnd(&seed) % 100000) - 50000; /* times may repeat, or be < 0 */
            cr_assert_eq(loom__wheap_set(&h, w, key[w]), 0);
            in[w] = 1;
        } else {
            loom__wheap_remove(&h, w);
            in[w] = 0;
        }
        int best = -1;
        size_t n = 0;
        for (int k = 0; k < SLOTS; k++)
            if (in[k] && (n++, best < 0 || key[k] < key[best]))
                best = k;
        int64_t got = 0;
        int top = loom__wheap_top(&h, &got);
        cr_assert_eq(h.n, n);
        if (best < 0) {
            cr_assert_eq(top, -1);
            continue;
        }
        /* ties: any slot with the earliest time will do */
        cr_assert(top >= 0 && in[top] && got == key[best] && key[top] == key[best],
                  "op %d: top %d at %lld, expected %lld (slot %d)", i, top, (long long)got,
                  (long long)key[best], best);
    }
    loom__wheap_free(&h);
    free(key);
    free(in);
}
