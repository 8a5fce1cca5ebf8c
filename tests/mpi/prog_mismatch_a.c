/* SPDX-License-Identifier: MIT */
/*
 * prog_mismatch_a — one half of the "different programs on different ranks"
 * test. Launched MPMD with prog_mismatch_b (a different binary registering
 * the same names), or with itself given --extra (same binary, one more
 * registration), loom_job_start must fail with #LOOM_EMISMATCH on every
 * rank instead of hanging or running mismatched tasks. Every rank prints
 *
 *   START rank=R rc=LOOM_EMISMATCH msg=ranks disagree: ...
 *
 * and exits 1. If the job does start, the master prints "STARTED" and the
 * program exits 0 (which the test reports as a failure).
 *
 *   mpirun -np 2 prog_mismatch_a : -np 1 prog_mismatch_b
 *   mpirun -np 2 prog_mismatch_a : -np 1 prog_mismatch_a --extra
 */
#define _POSIX_C_SOURCE 200809L
#include "prog_common.h"

static int
alpha(loom_task *task, void *user)
{
    return loom_task_reply_str(task, "alpha from prog_mismatch_a") == LOOM_OK ? 0 : 1;
}

static int
beta(loom_task *task, void *user)
{
    return loom_task_reply_i64(task, 1) == LOOM_OK ? 0 : 1;
}

int
main(int argc, char **argv)
{
    struct prog p;
    int extra = 0;
    int status = prog_config(&p, "prog_mismatch_a", &argc, argv);
    if (status != 0)
        return prog_end(&p, status);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--extra") == 0) {
            extra = 1;
        } else {
            fprintf(stderr, "prog_mismatch_a: unknown argument '%s'\n", argv[i]);
            return prog_end(&p, 2);
        }
    }
    if ((status = prog_init(&p, &argc, &argv)) != 0)
        return prog_end(&p, status);
    if (loom_job_register(p.job, "alpha", alpha, NULL) != LOOM_OK ||
        loom_job_register(p.job, "beta", beta, NULL) != LOOM_OK ||
        (extra && loom_job_register(p.job, "gamma", beta, NULL) != LOOM_OK))
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
