/* SPDX-License-Identifier: MIT */
/*
 * prog_mismatch_b — the other half of the mismatch test: a different
 * binary that registers the same task names as prog_mismatch_a, so only
 * the binaries' identity differs. See prog_mismatch_a.c.
 */
#define _POSIX_C_SOURCE 200809L
#include "prog_common.h"

static int
alpha(loom_task *task, void *user)
{
    return loom_task_reply_str(task, "alpha from prog_mismatch_b, a different binary") == LOOM_OK
               ? 0
               : 1;
}

static int
beta(loom_task *task, void *user)
{
    return loom_task_reply_i64(task, 2) == LOOM_OK ? 0 : 1;
}

int
main(int argc, char **argv)
{
    struct prog p;
    int status = prog_config(&p, "prog_mismatch_b", &argc, argv);
    if (status != 0)
        return prog_end(&p, status);
    if (argc > 1) {
        fprintf(stderr, "prog_mismatch_b: unknown argument '%s'\n", argv[1]);
        return prog_end(&p, 2);
    }
    if ((status = prog_init(&p, &argc, &argv)) != 0)
        return prog_end(&p, status);
    if (loom_job_register(p.job, "alpha", alpha, NULL) != LOOM_OK ||
        loom_job_register(p.job, "beta", beta, NULL) != LOOM_OK)
        return prog_end(&p, 1);
    if (prog_start(&p) != 0)
        return prog_end(&p, 1);
    if (loom_job_is_master(p.job)) {
        out("STARTED rank=0\n");
        loom_job_finish(p.job);
    } else {
        loom_job_serve(p.job);
    }
    return prog_end(&p, 0);
}
