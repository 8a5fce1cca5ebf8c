/* SPDX-License-Identifier: MIT */
/* The swarm of bench/swarm (LOOM_SWARM, framework/src/runtime/swarm.h): one
 * rank stands for several workers of the master, each with its own slot;
 * every task comes back exactly once; and the start-up check refuses a
 * swarm the master does not expect, or real workers a swarm master does. */
#include "mpi_run.h"

#define SWARM SWARM_PROG

Test(swarm, ten_virtual_workers_run_every_task_once, .timeout = 120)
{
    /* 2 ranks x 5 virtual workers x 4 threads; 500 tasks of 0 and 500 of
     * 100 us (simulated) */
    mpi_expect("-x LOOM_SWARM=5 -np 3 " SWARM " --threads 4 --durations 0,100us --tasks 500",
               "CHECK tasks=1000 once=1000 dup=0 failed=0 missing=0 workers_used=10 workers=10");
}

Test(swarm, real_workers_are_refused_by_a_swarm_master, .timeout = 120)
{
    struct mpi_out o;
    mpi_run(&o, "-x LOOM_SWARM=5 -np 3 " SWARM " --real --threads 2 --tasks 10");
    cr_expect_neq(o.status, 0, "mpirun exited 0:\n%s", o.text);
    cr_expect_eq(count_of(o.text, "CHECK "), 0, "tasks ran:\n%s", o.text);
    cr_expect_gt(count_of(o.text, "is a real worker, not the swarm (LOOM_SWARM) expected by"), 0,
                 "no refusal in:\n%s", o.text);
    mpi_out_free(&o);
}

Test(swarm, a_swarm_is_refused_by_a_master_without_LOOM_SWARM, .timeout = 120)
{
    struct mpi_out o;
    /* -x belongs to the app context it is given in: only the swarm has it */
    mpi_run(&o, "-np 1 " SWARM " --threads 2 --tasks 10 : -x LOOM_SWARM=5 -np 2 " SWARM
                " --threads 2 --tasks 10");
    cr_expect_neq(o.status, 0, "mpirun exited 0:\n%s", o.text);
    cr_expect_eq(count_of(o.text, "CHECK "), 0, "tasks ran:\n%s", o.text);
    cr_expect_gt(count_of(o.text, "is a swarm of virtual workers (LOOM_SWARM), unlike"), 0,
                 "no refusal in:\n%s", o.text);
    mpi_out_free(&o);
}
