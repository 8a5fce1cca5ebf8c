/* SPDX-License-Identifier: MIT */
/*
 * Running tasks (task.c): the pieces a task's runner needs besides the
 * public loom_task_* calls.
 */
#ifndef LOOM_TASK_H
#define LOOM_TASK_H

#include "job_types.h"

/* Run a map chunk (the task's payload, wire_chunk_pack's format) through
 * fn: every input in turn as t's payload; their statuses and replies,
 * packed (wire_chunk_reply_open's format), become t's reply. 0, or -1
 * (malformed chunk, no memory). t's payload fields are left pointing at
 * the last input. */
int loom__run_chunk(loom_task_fn fn, void *user, loom_task *t);

/* Free t's reply buffer; t has no reply afterwards (reply NULL, lengths 0). */
void loom__task_reply_free(loom_task *t);

#endif /* LOOM_TASK_H */
