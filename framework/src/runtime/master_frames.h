/* SPDX-License-Identifier: MIT */
/*
 * The records of a worker's message, as the master reads them
 * (master_frames.c).
 */
#ifndef LOOM_MASTER_FRAMES_H
#define LOOM_MASTER_FRAMES_H

#include "master_types.h"
#include "msg.h"

/* Progress thread: read one message from worker rank (not lost) and act
 * on each record — results, submits from tasks, credits, hello, queue
 * requests, goodbye. Results that carry data point into msg and hold a
 * reference on it; the caller keeps its own. Takes m->mu once, at the
 * end, if the message changed anything program threads see.
 * 0, or 1 when it held only heartbeats (credits of 0: nothing to hurry
 * for); -1 when the message is malformed (above job.max_frame, a bad header
 * or a bad record): it is logged, the records before the bad one have
 * been acted on and the rest ignored — results may be among them, so the
 * caller must not trust the worker any more (it declares it lost). */
int loom__master_handle_frame(struct master *m, int rank, struct loom__msg *msg);

#endif /* LOOM_MASTER_FRAMES_H */
