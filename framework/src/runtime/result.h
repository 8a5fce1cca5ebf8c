/* SPDX-License-Identifier: MIT */
/*
 * Results (result.c) as loom's own code handles them: handing one to the
 * program, and dropping one the program never got.
 */
#ifndef LOOM_RESULT_H
#define LOOM_RESULT_H

#include "loom/job.h"

/* res goes to the program: if it holds a message (reply data), the
 * message's ledger counts it until loom_result_free(). Any thread. */
void loom__result_handed(loom_result *res);

/* Release a result the program never got (undelivered, a future's own,
 * a map chunk's): as loom_result_free() without counting it off the
 * ledger. Accepts NULL; any thread. */
void loom__result_drop(loom_result *res);

#endif /* LOOM_RESULT_H */
