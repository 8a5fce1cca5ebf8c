/* SPDX-License-Identifier: MIT */
/**
 * \file loom/sync.h
 * \brief A lock — the seed's `threading.Lock()` and its bank balance.
 *
 * A plain mutual-exclusion lock with an optional timeout on acquire. The
 * struct is public so a lock can be embedded or statically initialised
 * with #LOOM_LOCK_INITIALIZER; treat its member as private.
 */
#ifndef LOOM_SYNC_H
#define LOOM_SYNC_H

#include <pthread.h>

#include "loom/common.h"
#include "loom/error.h"

/**
 * \brief A lock. Not recursive: acquiring it twice from one thread deadlocks.
 *
 * The caller owns the storage (embed it, make it static, or allocate it);
 * loom never frees it.
 */
typedef struct loom_lock {
    /** Private: the underlying mutex. Do not touch. */
    pthread_mutex_t lk_mutex;
} loom_lock;

/**
 * \brief Static initialiser: `static loom_lock lock = LOOM_LOCK_INITIALIZER;`
 *        A lock so initialised needs no loom_lock_init(); destroying it is
 *        optional.
 */
#define LOOM_LOCK_INITIALIZER                                                                      \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER                                                                  \
    }

/**
 * \brief Initialise a lock (unlocked).
 * \param[out] lock storage owned by the caller; must not be initialised
 *             already.
 * \return #LOOM_OK, or #LOOM_ENOMEM when the system lacks resources for
 *         another mutex (lock then untouched).
 * \note Never blocks. Any thread; no other thread may use the lock until
 *       this returns.
 */
LOOM_EXTERN loom_err loom_lock_init(loom_lock *lock);

/**
 * \brief Destroy an unlocked lock; the storage stays the caller's.
 * \param[in,out] lock an initialised lock no thread holds or waits for.
 * \note Cannot fail, never blocks. Any thread, once no other uses it.
 */
LOOM_EXTERN void loom_lock_destroy(loom_lock *lock);

/**
 * \brief Acquire the lock, waiting as long as it takes.
 * \param[in,out] lock an initialised lock not held by the calling thread
 *                (holding it already deadlocks).
 * \note Blocks while another thread holds the lock. Cannot fail. Any
 *       thread; release it from the same thread.
 */
LOOM_EXTERN void loom_lock_acquire(loom_lock *lock);

/**
 * \brief Acquire the lock, waiting at most timeout_ms.
 * \param[in,out] lock an initialised lock not held by the calling thread.
 * \param timeout_ms #LOOM_NOWAIT (try once), a number of ms, or
 *        #LOOM_FOREVER.
 * \return #LOOM_OK when acquired (release it with loom_lock_release()),
 *         #LOOM_ETIMEDOUT when it was still held at the timeout.
 * \note Blocks up to timeout_ms. Any thread.
 */
LOOM_EXTERN loom_err loom_lock_acquire_timeout(loom_lock *lock, int timeout_ms);

/**
 * \brief Release a lock held by the calling thread.
 * \param[in,out] lock a lock the calling thread acquired (anything else is a
 *                programmer error).
 * \note Cannot fail, never blocks; wakes one waiter.
 */
LOOM_EXTERN void loom_lock_release(loom_lock *lock);

#endif /* LOOM_SYNC_H */
