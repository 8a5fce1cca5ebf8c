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

/* The status of a task whose function returned `status`: a refused
 * loom_task_submit, or a refused loom_task_reply that no successful reply
 * replaced, fails a task that returned 0 (-1, *why the refusal's error);
 * any other status stands (*why LOOM_OK): a task that returned non-zero
 * handled the refusal itself. Clears t's refusals for its next task. */
int loom__task_outcome(loom_task *t, int status, loom_err *why);

/* Free t's reply buffer; t has no reply afterwards (reply NULL, lengths 0). */
void loom__task_reply_free(loom_task *t);

#endif /* LOOM_TASK_H */
