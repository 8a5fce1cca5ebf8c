/* SPDX-License-Identifier: MIT */
/* Every submitted task's result reaches the master exactly once — through
 * loom_job_next_result, futures and loom_job_map — for 2, 3 and 5 ranks,
 * pools of 1 and 8 threads, and 0, 1 and 100,000 tasks (prog_exactly_once). */
#include "mpi_run.h"

/* One job: rounds of 0, 1 and 100,000 tasks, then futures, then a map. */
static void
exactly_once(int np, int threads)
{
    struct mpi_out o;
    mpi_run(&o,
            "-np %d " PROG("prog_exactly_once") " --pool-threads %d --tasks 0,1,100000 "
                                                "--futures 300 --map 3000",
            np, threads);
    assert_clean_exit(&o);
    assert_line(&o, "START ranks=%d", np);
    assert_line(&o, "ROUND n=1 tasks=0 ok=0 dup=0 missing=0 bad=0 unknown=0 drained=1 ids_ok=1");
    assert_line(&o, "ROUND n=2 tasks=1 ok=1 dup=0 missing=0 bad=0 unknown=0 drained=1 ids_ok=1");
    assert_line(&o, "ROUND n=3 tasks=100000 ok=100000 dup=0 missing=0 bad=0 unknown=0 drained=1 "
                    "ids_ok=1");
    assert_line(&o, "FUTURES n=300 ok=300 bad=0 drained=1 rewait_ok=1");
    assert_line(&o, "MAP n=3000 ok=3000 bad=0 order_bad=0 drained=1");
    assert_line(&o, "DONE status=0");
    mpi_out_free(&o);
}

Test(exactly_once, np2_pool1, .timeout = 150)
{
    exactly_once(2, 1);
}

Test(exactly_once, np2_pool8, .timeout = 150)
{
    exactly_once(2, 8);
}

Test(exactly_once, np3_pool1, .timeout = 150)
{
    exactly_once(3, 1);
}

Test(exactly_once, np3_pool8, .timeout = 150)
{
    exactly_once(3, 8);
}

Test(exactly_once, np5_pool1, .timeout = 150)
{
    exactly_once(5, 1);
}

Test(exactly_once, np5_pool8, .timeout = 150)
{
    exactly_once(5, 8);
}

/* A job in which nothing is ever submitted starts, drains and ends. */
Test(exactly_once, job_with_zero_tasks, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " PROG("prog_exactly_once") " --tasks 0");
    assert_clean_exit(&o);
    assert_line(&o, "ROUND n=1 tasks=0 ok=0 dup=0 missing=0 bad=0 unknown=0 drained=1 ids_ok=1");
    assert_line(&o, "DONE status=0");
    mpi_out_free(&o);
}

/* A job of one task: its id is 1 and its result arrives once. */
Test(exactly_once, job_with_one_task, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o, "-np 2 " PROG("prog_exactly_once") " --tasks 1 --futures 1 --map 1");
    assert_clean_exit(&o);
    assert_line(&o, "ROUND n=1 tasks=1 ok=1 dup=0 missing=0 bad=0 unknown=0 drained=1 ids_ok=1");
    assert_line(&o, "FUTURES n=1 ok=1 bad=0 drained=1 rewait_ok=1");
    assert_line(&o, "MAP n=1 ok=1 bad=0 order_bad=0 drained=1");
    assert_line(&o, "DONE status=0");
    mpi_out_free(&o);
}
