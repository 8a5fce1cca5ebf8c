/* SPDX-License-Identifier: MIT */
/* The polling back-off (backoff.c): what an idle polling thread does after
 * so many empty rounds, and where its idle count starts after work, fed
 * with given times (no clock, no sleeping). */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>

#include <loom/context.h>

#include "backoff.h"
#include "loom_test.h"

Test(backoff, polls_then_yields_then_sleeps_growing_to_the_ceiling)
{
    const int64_t max = 500000; /* 500 us */
    for (unsigned idle = 0; idle < 16; idle++)
        cr_assert_eq(loom__idle_pause(idle, max), 0, "idle %u: poll again", idle);
    for (unsigned idle = 16; idle < LOOM__IDLE_SLEEP; idle++)
        cr_assert_eq(loom__idle_pause(idle, max), -1, "idle %u: yield", idle);
    int64_t prev = 0;
    unsigned reached = 0;
    for (unsigned idle = LOOM__IDLE_SLEEP; idle < LOOM__IDLE_SLEEP + 200; idle++) {
        int64_t ns = loom__idle_pause(idle, max);
        cr_assert_geq(ns, 1000, "idle %u: sleeps at least 1 us (%lld)", idle, (long long)ns);
        cr_assert_leq(ns, max, "idle %u: never past the ceiling (%lld)", idle, (long long)ns);
        cr_assert_geq(ns, prev, "idle %u: never shorter than before (%lld < %lld)", idle,
                      (long long)ns, (long long)prev);
        cr_assert_leq(ns, prev ? prev * 2 : 1000, "idle %u: at most doubles (%lld after %lld)",
                      idle, (long long)ns, (long long)prev);
        if (ns == max && !reached)
            reached = idle;
        prev = ns;
    }
    cr_assert(reached, "the sleep reaches the ceiling");
    cr_assert_eq(loom__idle_pause(LOOM__IDLE_SLEEP, max), 1000, "the first sleep is 1 us");
    /* the sleep stops growing at about 65 ms, whatever the ceiling */
    cr_assert_eq(loom__idle_pause(LOOM__IDLE_SLEEP + 1000, (int64_t)1 << 40), 65536000);
    /* a ceiling below 1 us (a deadline about to pass) still sleeps 1 us */
    cr_assert_eq(loom__idle_pause(LOOM__IDLE_SLEEP + 10, 10), 1000);
}

Test(backoff, the_ceiling_grows_with_the_time_spent_idle)
{
    /* recent work: the caller's ceiling */
    cr_assert_eq(loom__idle_cap(0, 1000000), 1000000);
    cr_assert_eq(loom__idle_cap(8000000, 1000000), 1000000, "8 ms idle: still 1 ms");
    /* then an eighth of the time idle: a message after a pause waits at
     * most an eighth of it */
    cr_assert_eq(loom__idle_cap(80000000, 1000000), 10000000, "80 ms idle: 10 ms");
    /* never past the deep ceiling, never below the caller's own */
    cr_assert_eq(loom__idle_cap(INT64_C(3600000000000), 500000), LOOM__DEEP_IDLE_NS);
    cr_assert_eq(loom__idle_cap(INT64_C(3600000000000), 2 * LOOM__DEEP_IDLE_NS),
                 2 * LOOM__DEEP_IDLE_NS);
    unsigned idle = LOOM__IDLE_SLEEP;
    while (loom__idle_pause(idle, LOOM__DEEP_IDLE_NS) < LOOM__DEEP_IDLE_NS)
        cr_assert_lt(++idle, LOOM__IDLE_SLEEP + 100, "the sleep never reached the deep ceiling");
}

Test(backoff, rare_work_sleeps_at_once_frequent_work_spins)
{
    struct loom__gap g = {0, 0};
    cr_assert_eq(loom__idle_start(&g), 0, "no history: spin first");
    /* bursts of work every 10 ms (commands running for milliseconds) */
    int64_t now = 1000000000;
    for (int i = 0; i < 20; i++) {
        now += 10000000;
        loom__work_gap(&g, now, 1);
        loom__work_gap(&g, now + 1000, 0); /* the burst goes on: not a new one */
    }
    unsigned start = loom__idle_start(&g);
    int64_t first = loom__idle_pause(start, INT64_MAX);
    cr_assert_geq(start, LOOM__IDLE_SLEEP,
                  "work every 10 ms: sleep at the first idle round (avg %lld ns)",
                  (long long)g.avg);
    /* the first sleep is the longest power of two microseconds within a
     * 32nd of the gap: no earlier wake-up than that is of use */
    cr_assert(first <= g.avg / 32 && first * 2 > g.avg / 32,
              "work every %lld ns: first sleep %lld ns", (long long)g.avg, (long long)first);
    /* a gap just above the hot one (a 32nd of it: 3.1 us) starts at 2 us */
    struct loom__gap near = {0, LOOM__HOT_GAP_NS + 1};
    cr_assert_eq(loom__idle_pause(loom__idle_start(&near), INT64_MAX), 2000);
    /* then work comes back every 10 us (queue round trips): spinning pays
     * again once the average has come down */
    int rounds = 0;
    while (loom__idle_start(&g) != 0) {
        cr_assert_lt(++rounds, 200, "the average never came down (%lld ns)", (long long)g.avg);
        now += 10000;
        loom__work_gap(&g, now, 1);
    }
    cr_assert_lt(g.avg, LOOM__HOT_GAP_NS);
    /* rounds within a burst (no idle round before them) do not count as gaps */
    int64_t avg = g.avg;
    for (int i = 0; i < 100; i++)
        loom__work_gap(&g, now += 50000000, 0);
    cr_assert_eq(g.avg, avg, "continuous work leaves the average alone");
    cr_assert_eq(loom__idle_start(&g), 0);
}

static void *
polling_thread(void *arg)
{
    long *slack = arg;
    loom__polling_thread_init("Poller");
    *slack = (long)prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    const char *name = loom_context_name(loom_context_current());
    slack[1] = name && !strcmp(name, "Poller");
    return NULL;
}

Test(backoff, a_polling_thread_is_named_and_keeps_short_sleeps_short)
{
    long got[2] = {0, 0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, polling_thread, got), 0);
    pthread_join(t, NULL);
    cr_assert_eq(got[0], 1000, "timer slack %ld ns, want 1000", got[0]);
    cr_assert(got[1], "the thread's context is named Poller");
}
