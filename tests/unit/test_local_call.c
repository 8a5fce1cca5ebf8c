/* SPDX-License-Identifier: MIT */
/* Local calls (local_call.c): one thread waits for the answer another
 * thread gives — after the waiter has gone to sleep, and before it has
 * started to wait. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "local_call.h"
#include "loom_test.h"

struct waiter {
    struct local_call *c;
    int woke; /* written by the waiter after loom__local_call_wait returned */
};

static void *
wait_for_it(void *arg)
{
    struct waiter *w = arg;
    loom__local_call_wait(w->c);
    w->woke = 1;
    return NULL;
}

Test(local_call, a_sleeping_waiter_is_woken_by_complete, .timeout = 60)
{
    struct local_call c;
    loom__local_call_init(&c);
    struct waiter w = {&c, 0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, wait_for_it, &w), 0);
    /* until the waiter has given up spinning and sleeps on the condition
     * variable: then only complete's signal can wake it */
    for (;;) {
        pthread_mutex_lock(&c.mu);
        int sleeping = c.sleeping;
        pthread_mutex_unlock(&c.mu);
        if (sleeping)
            break;
        sched_yield();
    }
    char *answer = strdup("forty-two");
    cr_assert(answer);
    loom__local_call_complete(&c, LOOM_EFULL, answer, 9);
    pthread_join(t, NULL); /* hangs (test timeout) if the wake-up were lost */
    cr_assert(w.woke);
    cr_assert_eq(c.err, LOOM_EFULL);
    cr_assert_eq(c.len, 9);
    cr_assert_eq(c.data, answer, "the answer's data goes to the waiter as given");
    cr_assert_eq(c.sleeping, 0, "the waiter is awake");
    free(c.data);
    loom__local_call_destroy(&c);
}

Test(local_call, an_answer_before_the_wait_returns_at_once, .timeout = 60)
{
    struct local_call c;
    loom__local_call_init(&c);
    cr_assert_eq(c.done, 0);
    cr_assert_null(c.data);
    loom__local_call_complete(&c, LOOM_OK, NULL, 0);
    loom__local_call_wait(&c); /* no other thread: must not block */
    cr_assert_eq(c.err, LOOM_OK);
    cr_assert_null(c.data);
    loom__local_call_destroy(&c);
    /* and again, reused after init */
    loom__local_call_init(&c);
    cr_assert_eq(c.done, 0, "init makes it a new call");
    loom__local_call_complete(&c, LOOM_ECLOSED, NULL, 0);
    loom__local_call_wait(&c);
    cr_assert_eq(c.err, LOOM_ECLOSED);
    loom__local_call_destroy(&c);
}

/* Many calls answered from another thread, racing the waiter's spin and
 * its sleep: every answer arrives with its own data. */
struct pair {
    struct local_call calls[2000];
    int n;
};

static void *
answer_all(void *arg)
{
    struct pair *p = arg;
    for (int i = 0; i < p->n; i++) {
        int *v = malloc(sizeof *v);
        if (v)
            *v = i;
        if (i % 3 == 0)
            sched_yield(); /* let some waiters reach the sleep */
        loom__local_call_complete(&p->calls[i], LOOM_OK, v, sizeof *v);
    }
    return NULL;
}

Test(local_call, many_answers_from_another_thread_each_reach_their_waiter, .timeout = 120)
{
    static struct pair p;
    p.n = 2000;
    for (int i = 0; i < p.n; i++)
        loom__local_call_init(&p.calls[i]);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, answer_all, &p), 0);
    for (int i = 0; i < p.n; i++) {
        loom__local_call_wait(&p.calls[i]);
        cr_assert_not_null(p.calls[i].data, "no memory for answer %d", i);
        cr_assert_eq(p.calls[i].len, sizeof(int));
        cr_assert_eq(*(int *)p.calls[i].data, i, "call %d got another's answer", i);
        free(p.calls[i].data);
    }
    pthread_join(t, NULL);
    for (int i = 0; i < p.n; i++)
        loom__local_call_destroy(&p.calls[i]);
}
