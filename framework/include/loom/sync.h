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

/** A lock. Not recursive: acquiring it twice from one thread deadlocks. */
typedef struct loom_lock {
    pthread_mutex_t lk_mutex;
} loom_lock;

/** Static initialiser: `static loom_lock lock = LOOM_LOCK_INITIALIZER;` */
#define LOOM_LOCK_INITIALIZER                                                                      \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER                                                                  \
    }

/** \brief Initialise a lock. \return #LOOM_OK or #LOOM_ENOMEM. */
LOOM_EXTERN loom_err loom_lock_init(loom_lock *lock);

/** \brief Destroy an unlocked lock. Cannot fail. */
LOOM_EXTERN void loom_lock_destroy(loom_lock *lock);

/** \brief Acquire, waiting as long as it takes. Any thread. */
LOOM_EXTERN void loom_lock_acquire(loom_lock *lock);

/**
 * \brief Acquire, waiting at most timeout_ms (0: try once; #LOOM_FOREVER).
 * \return #LOOM_OK when acquired, #LOOM_ETIMEDOUT otherwise.
 */
LOOM_EXTERN loom_err loom_lock_acquire_timeout(loom_lock *lock, int timeout_ms);

/** \brief Release a lock held by the calling thread. */
LOOM_EXTERN void loom_lock_release(loom_lock *lock);

#endif /* LOOM_SYNC_H */
