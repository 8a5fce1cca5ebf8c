/* SPDX-License-Identifier: MIT */
/* job.retries (prog_retry): failed tasks run again with increasing attempt
 * numbers, on another worker, up to the limit. */
#include "mpi_run.h"

Test(retry, failures_run_again_elsewhere_until_they_succeed, .timeout = 120)
{
    mpi_expect("-np 4 " PROG("prog_retry") " --pool-threads 2 --tasks 100 --ok-from 3 "
                                           "--job-retries 5",
               "RETRY tasks=100 ok=100 failed=0 attempts=300 same_rank=0");
}

Test(retry, the_limit_is_kept, .timeout = 120)
{
    mpi_expect("-np 4 " PROG("prog_retry") " --pool-threads 2 --tasks 100 --ok-from 9 "
                                           "--job-retries 2",
               "RETRY tasks=100 ok=0 failed=100 attempts=300 same_rank=0");
}

Test(retry, a_task_that_keeps_crashing_is_given_up_at_the_crash_limit, .timeout = 120)
{
    mpi_expect("-np 3 " PROG("prog_retry") " --pool-threads 2 --crash --tasks 20 "
                                           "--job-retries 10 --job-crash-limit 3",
               "CRASH tasks=20 gave_up=20 attempts=60 crashed=20");
}
