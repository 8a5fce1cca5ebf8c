/* SPDX-License-Identifier: MIT */
/* Named queues across ranks: FIFO per producer, get timeout, put waiting on
 * a full queue, close and drain, two queues at once, puts from tasks
 * (prog_queues; each scenario is one job).
 *
 * Sizes: every queue item makes round trips through the master's progress
 * thread. Under TSan with stress-ng on both cores a trip took up to 30 ms
 * (2,000 items of the FIFO case: 64 s, past mpirun's 60 s guard), so each
 * case moves at most 600 items: about a fifth of the guard on the worst
 * host measured, and still 100 or more items per producer, interleaved. */
#include "mpi_run.h"

Test(queues, fifo_per_producer_two_producers, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " PROG("prog_queues") " --scenario fifo --items 200");
    assert_clean_exit(&o);
    assert_line(&o, "FIFO producers=2 items=400 got=400 order_bad=0 unknown=0 "
                    "extra_rc=LOOM_ETIMEDOUT");
    assert_line(&o, "DONE status=0");
    mpi_out_free(&o);
}

Test(queues, fifo_per_producer_four_producers, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o, "-np 5 " PROG("prog_queues") " --pool-threads 1 --scenario fifo --items 100");
    assert_clean_exit(&o);
    assert_line(&o, "FIFO producers=4 items=400 got=400 order_bad=0 unknown=0 "
                    "extra_rc=LOOM_ETIMEDOUT");
    assert_line(&o, "DONE status=0");
    mpi_out_free(&o);
}

Test(queues, get_times_out_on_an_empty_queue, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o, "-np 2 " PROG("prog_queues") " --scenario timeout");
    assert_clean_exit(&o);
    cr_assert(strstr(o.text, "TIMEOUT master_rc=LOOM_ETIMEDOUT nowait_rc=LOOM_ETIMEDOUT "
                             "worker_rc=LOOM_ETIMEDOUT after_ok=1 "),
              "%s", o.text);
    assert_line(&o, "DONE status=0");
    mpi_out_free(&o);
}

Test(queues, put_waits_while_full_and_resumes, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o, "-np 2 " PROG("prog_queues") " --scenario full");
    assert_clean_exit(&o);
    cr_assert(strstr(o.text, "FULL timeout_rc=LOOM_EFULL nowait_rc=LOOM_EFULL blocked_rc=LOOM_OK "
                             "rest_ok=1 consumer=got=20,order_ok=1,extra_rc=LOOM_ETIMEDOUT "),
              "%s", o.text);
    assert_line(&o, "DONE status=0");
    mpi_out_free(&o);
}

Test(queues, close_refuses_puts_then_drains, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o, "-np 2 " PROG("prog_queues") " --scenario close");
    assert_clean_exit(&o);
    assert_line(&o, "CLOSE close_rc=LOOM_OK put_rc=LOOM_ECLOSED worker_put=LOOM_ECLOSED "
                    "master_got=1,2,3 worker=got=4,5,end=LOOM_EDRAINED end_rc=LOOM_EDRAINED "
                    "woken=LOOM_EDRAINED");
    assert_line(&o, "DONE status=0");
    mpi_out_free(&o);
}

Test(queues, two_queues_at_once, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " PROG("prog_queues") " --scenario two --items 150");
    assert_clean_exit(&o);
    assert_line(&o, "TWO qa_got=150 qb_got=150 qa_ok=1 qb_ok=1");
    assert_line(&o, "DONE status=0");
    mpi_out_free(&o);
}

Test(queues, tasks_put_into_a_queue, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " PROG("prog_queues") " --pool-threads 4 --scenario tasks --items 600");
    assert_clean_exit(&o);
    assert_line(&o, "TASKS items=600 got=600 dup=0 results=600");
    assert_line(&o, "DONE status=0");
    mpi_out_free(&o);
}
