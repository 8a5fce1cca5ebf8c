/* SPDX-License-Identifier: MIT */
/*
 * loom_job_submit_avoiding(): every task runs once, then again avoiding
 * the rank that ran it. Prints
 *   AVOID tasks=N same=K
 * where K counts second runs that landed on the avoided rank: 0 whenever
 * another worker exists, N with a single worker (nowhere else to go — and
 * the job must still finish).
 */
#define _POSIX_C_SOURCE 200809L
#include "prog_common.h"

/* replies {its rank, the rank it was to avoid or -1} */
static int
rank_task(loom_task *task, void *user)
{
    (void)user;
    size_t len;
    const void *avoid = loom_task_payload(task, &len);
    int64_t reply[2] = {loom_context_rank(loom_task_context(task)), -1};
    if (len == sizeof reply[1])
        memcpy(&reply[1], avoid, sizeof reply[1]);
    return loom_task_reply(task, reply, sizeof reply) == LOOM_OK ? 0 : 1;
}

int
main(int argc, char **argv)
{
    struct prog p;
    int n = 200;
    int status = prog_config(&p, "prog_avoid", &argc, argv);
    if (status != 0)
        return prog_end(&p, status);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tasks") == 0 && i + 1 < argc) {
            n = atoi(argv[++i]);
        } else {
            fprintf(stderr, "prog_avoid: unknown argument '%s'\n", argv[i]);
            return prog_end(&p, 2);
        }
    }
    if ((status = prog_init(&p, &argc, &argv)) != 0)
        return prog_end(&p, status);
    if (loom_job_register(p.job, "rank", rank_task, NULL) != LOOM_OK || prog_start(&p) != 0)
        return prog_end(&p, 1);
    if (!loom_job_is_master(p.job))
        return prog_end(&p, loom_job_serve(p.job) == LOOM_OK ? 0 : 1);

    status = 0;
    for (int i = 0; i < n; i++)
        if (loom_job_submit(p.job, "rank", NULL, 0, LOOM_FOREVER, NULL) != LOOM_OK)
            status = 1;
    int seconds = 0, same = 0;
    loom_result r;
    while (loom_job_next_result(p.job, LOOM_FOREVER, &r) == LOOM_OK) {
        int64_t reply[2] = {-1, -1};
        if (r.status != 0 || r.len != sizeof reply)
            status = 1;
        else
            memcpy(reply, r.data, sizeof reply);
        if (reply[0] != r.rank)
            status = 1;
        loom_result_free(&r);
        if (reply[1] < 0) { /* a first run: again, elsewhere */
            if (loom_job_submit_avoiding(p.job, "rank", &reply[0], sizeof reply[0], (int)reply[0],
                                         LOOM_FOREVER, NULL) != LOOM_OK)
                status = 1;
        } else {
            seconds++;
            same += reply[0] == reply[1];
        }
    }
    if (loom_job_finish(p.job) != LOOM_OK)
        status = 1;
    out("AVOID tasks=%d seconds=%d same=%d\n", n, seconds, same);
    return prog_end(&p, status);
}
