/* SPDX-License-Identifier: MIT */
/* job.retries (prog_retry): failed tasks run again with increasing attempt
 * numbers, on another worker, up to the limit. */
#include "mpi_run.h"

Test(retry, failures_run_again_elsewhere_until_they_succeed, .timeout = 120)
{
    struct mpi_out o;
    mpi_run(&o, "-np 4 " PROG("prog_retry") " --pool-threads 2 --tasks 100 --ok-from 3 "
                                            "--job-retries 5");
    assert_clean_exit(&o);
    assert_line(&o, "RETRY tasks=100 ok=100 failed=0 attempts=300 same_rank=0");
    mpi_out_free(&o);
}

Test(retry, the_limit_is_kept, .timeout = 120)
{
    struct mpi_out o;
    mpi_run(&o, "-np 4 " PROG("prog_retry") " --pool-threads 2 --tasks 100 --ok-from 9 "
                                            "--job-retries 2");
    assert_clean_exit(&o);
    assert_line(&o, "RETRY tasks=100 ok=0 failed=100 attempts=300 same_rank=0");
    mpi_out_free(&o);
}

Test(retry, a_task_that_keeps_crashing_is_given_up_at_the_crash_limit, .timeout = 120)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " PROG("prog_retry") " --pool-threads 2 --crash --tasks 20 "
                                            "--job-retries 10 --job-crash-limit 3");
    assert_clean_exit(&o);
    assert_line(&o, "CRASH tasks=20 gave_up=20 attempts=60 crashed=20");
    mpi_out_free(&o);
}
