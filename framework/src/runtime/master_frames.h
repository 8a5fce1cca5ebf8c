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
 * reference on it; the caller keeps its own. A malformed record is
 * logged and the rest of the message ignored. Takes m->mu once, at the
 * end, if the message changed anything program threads see. */
void loom__master_handle_frame(struct master *m, int rank, struct loom__msg *msg);

#endif /* LOOM_MASTER_FRAMES_H */
