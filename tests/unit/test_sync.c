/* SPDX-License-Identifier: MIT */
/* The seed's bank balance: deposits and withdrawals from two threads end
 * at exactly 0 when every change happens under the lock. */
#include <pthread.h>
#include <stdint.h>

#include <loom/sync.h>

#include "loom_test.h"

#define PAIRS 1000000

static loom_lock balance_lock = LOOM_LOCK_INITIALIZER;
static long balance;

static void
change_it(long n)
{
    balance = balance + n;
    balance = balance - n;
}

static void *
run_thread(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (int i = 0; i < PAIRS; i++) {
        loom_lock_acquire(&balance_lock);
        change_it(n);
        loom_lock_release(&balance_lock);
    }
    return NULL;
}

Test(sync, bank_balance_with_lock_ends_at_zero, .timeout = 120)
{
    pthread_t t1, t2;
    balance = 0;
    cr_assert_eq(pthread_create(&t1, NULL, run_thread, (void *)5), 0);
    cr_assert_eq(pthread_create(&t2, NULL, run_thread, (void *)8), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    cr_assert_eq(balance, 0);
}

struct holder {
    loom_lock *lock;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int held, release;
};

static void *
hold_lock(void *p)
{
    struct holder *h = p;
    loom_lock_acquire(h->lock);
    pthread_mutex_lock(&h->mu);
    h->held = 1;
    pthread_cond_broadcast(&h->cv);
    while (!h->release)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
    loom_lock_release(h->lock);
    return NULL;
}

Test(sync, acquire_times_out_while_another_thread_holds_it, .timeout = 20)
{
    loom_lock lock;
    loom_assert_ok(loom_lock_init(&lock));
    struct holder h = {&lock, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, hold_lock, &h), 0);
    pthread_mutex_lock(&h.mu);
    while (!h.held)
        pthread_cond_wait(&h.cv, &h.mu);
    pthread_mutex_unlock(&h.mu);

    loom_assert_err(loom_lock_acquire_timeout(&lock, LOOM_NOWAIT), LOOM_ETIMEDOUT);
    loom_assert_err(loom_lock_acquire_timeout(&lock, 50), LOOM_ETIMEDOUT);

    pthread_mutex_lock(&h.mu);
    h.release = 1;
    pthread_cond_broadcast(&h.cv);
    pthread_mutex_unlock(&h.mu);
    loom_assert_ok(loom_lock_acquire_timeout(&lock, LOOM_FOREVER));
    loom_lock_release(&lock);
    pthread_join(t, NULL);
    loom_assert_ok(loom_lock_acquire_timeout(&lock, LOOM_NOWAIT));
    loom_lock_release(&lock);
    loom_lock_destroy(&lock);
}
