/* SPDX-License-Identifier: MIT */
/**
 * \file loom/queue.h
 * \brief Named queues hosted by the master — the seed's `Queue` and the
 *        `get_task_queue()` / `get_result_queue()` of its managers.
 *
 * Any rank opens a queue by name after loom_job_start(); the first open
 * creates it with the given capacity. Items are byte strings (copied).
 * Order is FIFO per producer. Puts wait while the queue is full (a fast
 * producer is held back), gets wait while it is empty, each up to its
 * timeout; waiting costs no traffic (the master answers when it can). A
 * closed queue refuses puts; a get on a closed and drained queue returns
 * #LOOM_EDRAINED.
 *
 * Calls may come from any thread of any rank, including tasks. Queues live
 * until the job ends: on the master once loom_job_finish() has seen every
 * worker leave, on a worker once the master has stopped it (or gone
 * silent). Then every call still waiting returns #LOOM_ECLOSED, whatever
 * its timeout, and so does every call made afterwards.
 */
#ifndef LOOM_QUEUE_H
#define LOOM_QUEUE_H

#include <stddef.h>

#include "loom/common.h"
#include "loom/error.h"
#include "loom/job.h"

/** \brief A handle on a named queue (opaque; cheap; one per caller is
 *         fine). Owned by the caller until loom_queue_release(). */
typedef struct loom_queue loom_queue;

/** \brief Longest queue name, in bytes (without the NUL). */
#define LOOM_QUEUE_NAME_MAX 63

/**
 * \brief Open (creating on first use) the queue called `name`.
 * \param[in] job      a started job (any rank).
 * \param[in] name     1 to #LOOM_QUEUE_NAME_MAX bytes; copied.
 * \param[in] capacity items it holds before puts wait; used by the open that
 *            creates it (0 means 1024); later opens may pass 0.
 * \param[out] out     the handle, owned by the caller: loom_queue_release()
 *                     it before loom_job_destroy().
 * \return #LOOM_OK, #LOOM_EINVAL (empty or too long name), #LOOM_ECLOSED
 *         (the job ended), #LOOM_ESTATE (job not started), #LOOM_ENOMEM.
 * \note Blocks for one round trip to the master. Any thread.
 */
LOOM_EXTERN loom_err loom_queue_open(loom_job *job, const char *name, size_t capacity,
                                     loom_queue **out);

/**
 * \brief Append an item (copied), waiting up to timeout_ms for room.
 * \param[in] q          an open handle.
 * \param[in] data       len bytes, copied before return (may be NULL when
 *                       len is 0); stays the caller's.
 * \param     len        item size in bytes; 0 is a valid, empty item.
 * \param     timeout_ms #LOOM_NOWAIT, ms, or #LOOM_FOREVER.
 * \return #LOOM_OK, #LOOM_EFULL (still full at the timeout), #LOOM_ECLOSED
 *         (queue closed, or the job ended), #LOOM_ERANGE (item above
 *         `job.max_payload`), #LOOM_ESTATE (job not started), #LOOM_ENOMEM.
 * \note Blocks up to timeout_ms (at least one round trip to the master).
 *       Any thread of any rank, including tasks.
 */
LOOM_EXTERN loom_err loom_queue_put(loom_queue *q, const void *data, size_t len, int timeout_ms);

/**
 * \brief Take the oldest item, waiting up to timeout_ms for one.
 * \param[in]  q          an open handle.
 * \param[out] data       malloc'd copy the caller frees with free() (NULL if
 *                        len is 0); set only on #LOOM_OK.
 * \param[out] len        the item's size; set only on #LOOM_OK.
 * \param      timeout_ms #LOOM_NOWAIT, ms, or #LOOM_FOREVER.
 * \return #LOOM_OK, #LOOM_ETIMEDOUT, #LOOM_EDRAINED (closed and empty),
 *         #LOOM_ECLOSED (the job ended), #LOOM_ESTATE (job not started),
 *         #LOOM_ENOMEM.
 * \note Blocks up to timeout_ms (at least one round trip to the master; an
 *       empty queue costs no traffic while waiting). Any thread of any rank.
 */
LOOM_EXTERN loom_err loom_queue_get(loom_queue *q, void **data, size_t *len, int timeout_ms);

/**
 * \brief Close the queue for every rank: puts fail with #LOOM_ECLOSED,
 *        gets drain what is left, then return #LOOM_EDRAINED. Puts waiting
 *        for room fail at once.
 * \param[in] q an open handle (still to be released afterwards).
 * \return #LOOM_OK (also when already closed), #LOOM_ECLOSED (the job
 *         ended), #LOOM_ESTATE (job not started), #LOOM_ENOMEM.
 * \note Blocks for one round trip to the master. Any thread of any rank.
 */
LOOM_EXTERN loom_err loom_queue_close(loom_queue *q);

/**
 * \brief Release the handle (the queue itself and its items live on).
 * \param[in] q the handle, or NULL (nothing happens); invalid afterwards.
 * \note Cannot fail, never blocks. Any thread, once no call on q is running.
 */
LOOM_EXTERN void loom_queue_release(loom_queue *q);

#endif /* LOOM_QUEUE_H */
