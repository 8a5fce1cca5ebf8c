/* SPDX-License-Identifier: MIT */
/* loom_lock: a thin, checked wrapper over a pthread mutex. Timed acquire
 * uses CLOCK_MONOTONIC (pthread_mutex_clocklock) so a wall-clock jump cannot
 * stretch or cut a timeout. Also the monotonic condition variables loom's
 * threads sleep on (loom__cond_init_monotonic, loom__cond_sleep). */
#include <errno.h>

#include "internal.h"
#include "loom/sync.h"

loom_err
loom_lock_init(loom_lock *lock)
{
    LOOM_ASSERT(lock);
    return loom__ret(pthread_mutex_init(&lock->lk_mutex, NULL) == 0 ? LOOM_OK : LOOM_ENOMEM);
}

void
loom_lock_destroy(loom_lock *lock)
{
    if (lock)
        pthread_mutex_destroy(&lock->lk_mutex);
}

void
loom_lock_acquire(loom_lock *lock)
{
    int rc = pthread_mutex_lock(&lock->lk_mutex);
    LOOM_ASSERT(rc == 0);
}

loom_err
loom_lock_acquire_timeout(loom_lock *lock, int timeout_ms)
{
    if (timeout_ms < 0) {
        loom_lock_acquire(lock);
        return LOOM_OK;
    }
    if (timeout_ms == 0)
        return loom__ret(pthread_mutex_trylock(&lock->lk_mutex) == 0 ? LOOM_OK : LOOM_ETIMEDOUT);
    struct timespec dl = loom__deadline(timeout_ms);
    int rc = pthread_mutex_clocklock(&lock->lk_mutex, CLOCK_MONOTONIC, &dl);
    LOOM_ASSERT(rc == 0 || rc == ETIMEDOUT);
    return loom__ret(rc == 0 ? LOOM_OK : LOOM_ETIMEDOUT);
}

void
loom_lock_release(loom_lock *lock)
{
    int rc = pthread_mutex_unlock(&lock->lk_mutex);
    LOOM_ASSERT(rc == 0);
}

int
loom__cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    if (pthread_condattr_init(&a) != 0)
        return -1;
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
    return rc == 0 ? 0 : -1;
}

void
loom__cond_sleep(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ns)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += ns / 1000000000;
    dl.tv_nsec += (long)(ns % 1000000000);
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cv, mu, &dl);
}
