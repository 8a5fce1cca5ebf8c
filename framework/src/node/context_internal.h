/* SPDX-License-Identifier: MIT */
/* Internal side of the thread-local context (see loom/context.h). */
#ifndef LOOM_SRC_CONTEXT_H
#define LOOM_SRC_CONTEXT_H

#include "loom/context.h"

/* Give the calling thread a fresh context with this name and pool index,
 * replacing any lazily created one. Sets the kernel thread name too.
 * Returns NULL if memory runs out. */
loom_context *loom__context_enter(const char *name, int index);

/* End the calling thread's context: run slot destructors (repeatedly, as
 * pthread keys do, while destructors bind new values) and free it. */
void loom__context_leave(void);

/* Set the process-wide MPI rank every context reports. */
void loom__context_set_rank(int rank);

/* The calling thread's context if it has one, else NULL (never creates). */
loom_context *loom__context_peek(void);

#endif
