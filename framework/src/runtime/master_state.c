/* SPDX-License-Identifier: MIT */
/*
 * The master's state under m->mu, changed by both sides: the program's
 * threads (master_api.c: submit queues tasks, a resumed task's result is
 * delivered at once) and the progress thread (master_frames.c: results
 * and tasks from workers; master_progress.c: tasks of a lost worker).
 * Every function runs with m->mu held by its caller.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "loom/log.h"
#include "master_state.h"
#include "result.h"

void
loom__master_wake_waiters(struct master *m)
{
    if (m->waiters)
        pthread_cond_broadcast(&m->cv);
}

void
loom__master_wake_progress(struct master *m)
{
    if (m->sleeping) {
        pthread_cond_signal(&m->wake);
        m->sleeping = 0;
    }
}

int
loom__master_wait(struct master *m, const struct timespec *dl)
{
    m->waiters++;
    int rc = dl ? pthread_cond_timedwait(&m->cv, &m->mu, dl) : pthread_cond_wait(&m->cv, &m->mu);
    m->waiters--;
    return rc;
}

void
loom__master_pending_push(struct master *m, struct mtask *t)
{
    if (loom__tring_reserve(&m->pending, 1) != 0)
        loom__panic(__FILE__, __LINE__, __func__, "out of memory queueing a task");
    if (!m->pending.count)
        m->pending_since = loom__now_ns();
    loom__tring_push(&m->pending, t); /* cannot fail: room reserved */
}

int
loom__master_avoid_push(struct master *m, struct mtask *t, int rank)
{
    return loom__avoid_push(&m->avoid, t, rank, loom__now_ns());
}

/* A result for the program: into the ring while it holds fewer than
 * job.max_outstanding and nothing waits in the file, else at the file's
 * end. A file that cannot be written is said once; the results then stay
 * in memory (never lost, never a reason to wait). */
static void
queue_result(struct master *m, loom_result *r)
{
    if (!m->spill_failed && (m->spill.count || m->results.count >= m->job->set.max_outstanding)) {
        if (loom__rspill_push(&m->spill, r) == 0)
            return;
        m->spill_failed = 1;
        LOOM_ERROR("cannot keep results in a temporary file ($TMPDIR, else /tmp): %s; results "
                   "not yet taken stay in memory from now on",
                   strerror(errno));
    }
    if (loom__rring_push(&m->results, r) != 0)
        loom__panic(__FILE__, __LINE__, __func__, "out of memory queueing a result");
}

void
loom__master_deliver(struct master *m, loom_result *r)
{
    m->unfinished--;
    struct loom_job_future *f;
    void *chunk;
    if (m->map && (chunk = loom__u64map_take(&m->map->ids, r->id))) {
        struct mresult *mr = malloc(sizeof *mr);
        if (!mr)
            loom__panic(__FILE__, __LINE__, __func__, "out of memory for a map result");
        mr->next = NULL;
        mr->chunk = (size_t)(uintptr_t)chunk - 1;
        mr->r = *r;
        *m->map->tail = mr;
        m->map->tail = &mr->next;
    } else if ((f = loom__u64map_take(&m->futures, r->id))) {
        f->res = *r;
        f->done = 1;
        if (--f->refs == 0) {
            loom__result_drop(&f->res);
            free(f);
        }
    } else if (m->finishing) {
        loom__result_drop(r);
    } else {
        queue_result(m, r);
    }
}
