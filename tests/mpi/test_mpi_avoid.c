/* SPDX-License-Identifier: MIT */
/* loom_job_submit_avoiding() sends a retry to another worker when there is
 * one, and to the same worker when there is not (prog_avoid). */
#include "mpi_run.h"

Test(avoid, retries_go_to_another_worker, .timeout = 120)
{
    mpi_expect("-np 4 " PROG("prog_avoid") " --pool-threads 2 --tasks 300",
               "AVOID tasks=300 seconds=300 same=0");
}

Test(avoid, a_single_worker_still_runs_them, .timeout = 120)
{
    mpi_expect("-np 2 " PROG("prog_avoid") " --pool-threads 2 --tasks 50",
               "AVOID tasks=50 seconds=50 same=50");
}
