/* SPDX-License-Identifier: MIT */
/*
 * Results keep flowing whatever the program's shape (prog_flow):
 *  - submitting more than job.max_outstanding tasks with LOOM_FOREVER
 *    before taking any result ends, with every result once and right —
 *    with one worker thread too (the README's program, the seed's
 *    task_master): results that arrived but are not taken never hold up
 *    the thread that would take them;
 *  - replies and payloads that finish or leave together never make a
 *    message above job.max_frame, which its receiver would drop with the
 *    results in it: every result arrives, no worker is declared lost.
 * A hang (the bug) ends with mpirun's --timeout; the output then shows how
 * far the master got.
 */
#include "mpi_run.h"

static void
backlog(int np, int threads, int bound, int count)
{
    struct mpi_out o;
    mpi_run_for(&o, 120,
                "-np %d " PROG("prog_flow") " --pool-threads %d --job-max-outstanding %d"
                                            " --backlog %d",
                np, threads, bound, count);
    assert_clean_exit(&o);
    assert_line(&o, "SUBMITTED tasks=%d rc=LOOM_OK", count);
    assert_line(&o, "BACKLOG tasks=%d ok=%d bad=0 dup=0 missing=0 drained=LOOM_EDRAINED", count,
                count);
    assert_line(&o, "DONE status=0");
    mpi_out_free(&o);
}

/* 40 times the bound, all submitted before the first result is taken. */
Test(flow, backlog_40x_max_outstanding_one_thread_np2, .timeout = 200)
{
    backlog(2, 1, 64, 2560);
}

Test(flow, backlog_40x_max_outstanding_np3_pool2, .timeout = 200)
{
    backlog(3, 2, 64, 2560);
}

/* Messages of at most 64 KiB; payloads and replies of 30000 bytes, so two
 * fit in one and a third does not; results held 50 ms before they go, so
 * many finish together. */
Test(flow, frames_stay_within_max_frame_np3_pool4, .timeout = 200)
{
    struct mpi_out o;
    mpi_run_for(&o, 120,
                "-np 3 " PROG("prog_flow") " --pool-threads 4 --job-max-frame 65536"
                                           " --job-max-payload 32768 --job-flush-delay 0.05"
                                           " --frames 400 --size 30000");
    assert_clean_exit(&o);
    assert_line(&o, "FRAMES tasks=400 ok=400 bad=0 dup=0 missing=0 lost_workers=0");
    assert_line(&o, "DONE status=0");
    cr_assert(!strstr(o.text, "malformed"), "a message was dropped:\n%s", o.text);
    mpi_out_free(&o);
}
