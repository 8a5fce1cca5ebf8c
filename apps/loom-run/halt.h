/* SPDX-License-Identifier: MIT */
/*
 * loom-run's --halt policy, GNU Parallel's syntax:
 *
 *   never                      run every task (the default)
 *   soon|now,fail=N            stop after N failed tasks
 *   soon|now,fail=P%           ... after P % of the tasks failed
 *   soon|now,success=N|P%      ... after N (P %) succeeded
 *   soon|now,done=N|P%         ... after N (P %) finished either way
 *   0 1 2 -1 -2                never, soon,fail=1, now,fail=1,
 *                              soon,success=1, now,success=1
 *
 * soon: start no new task, let running ones finish. now: also kill the
 * running ones. A task counts once, with its final attempt (after its
 * retries). Percentages are of the tasks in the input — of those read so
 * far while it is still being read.
 */
#ifndef LOOMRUN_HALT_H
#define LOOMRUN_HALT_H

#include <stddef.h>
#include <stdint.h>

enum lr_halt_when { LR_HALT_NEVER, LR_HALT_SOON, LR_HALT_NOW };
enum lr_halt_on { LR_HALT_FAIL, LR_HALT_SUCCESS, LR_HALT_DONE };

struct lr_halt {
    enum lr_halt_when when;
    enum lr_halt_on on;
    int percent;  /* threshold is a percentage */
    double limit; /* tasks (>= 1), or percent (0 < p <= 100) */
};

/* Parse a --halt value; 0, or -1 with a message in err. */
int lr_halt_parse(const char *text, struct lr_halt *h, char *err, size_t errlen);

/* 1 when the policy says stop, given the final outcomes so far and the
 * number of tasks known (in the input, or read so far). */
int lr_halt_due(const struct lr_halt *h, uint64_t failed, uint64_t succeeded, uint64_t tasks);

/* "now,fail=1" and the like, for messages. */
void lr_halt_describe(const struct lr_halt *h, char *buf, size_t len);

#endif /* LOOMRUN_HALT_H */
