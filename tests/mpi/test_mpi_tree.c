/* SPDX-License-Identifier: MIT */
/* Tasks that submit tasks: every node of a tree of known size reaches the
 * master once, the job sees by itself that nothing is left, and ends
 * (prog_tree). */
#include "mpi_run.h"

Test(tree, ternary_depth_6, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " PROG("prog_tree") " --branch 3 --depth 6");
    assert_clean_exit(&o);
    assert_line(&o, "TREE branch=3 depth=6 roots=1 nodes=1093 expected=1093 per_depth_ok=1 "
                    "dup=0 failed=0 drained=1");
    assert_line(&o, "DONE status=0");
    mpi_out_free(&o);
}

Test(tree, three_roots_of_4_ary_depth_6_on_5_ranks, .timeout = 120)
{
    struct mpi_out o;
    mpi_run(&o, "-np 5 " PROG("prog_tree") " --pool-threads 2 --branch 4 --depth 6 --roots 3");
    assert_clean_exit(&o);
    assert_line(&o, "TREE branch=4 depth=6 roots=3 nodes=16383 expected=16383 per_depth_ok=1 "
                    "dup=0 failed=0 drained=1");
    assert_line(&o, "DONE status=0");
    mpi_out_free(&o);
}

/* One worker with one thread: every child is submitted from the only
 * thread that could run it, so nothing may wait for a free thread. */
Test(tree, binary_depth_12_one_thread, .timeout = 120)
{
    struct mpi_out o;
    mpi_run(&o, "-np 2 " PROG("prog_tree") " --pool-threads 1 --branch 2 --depth 12");
    assert_clean_exit(&o);
    assert_line(&o, "TREE branch=2 depth=12 roots=1 nodes=8191 expected=8191 per_depth_ok=1 "
                    "dup=0 failed=0 drained=1");
    assert_line(&o, "DONE status=0");
    mpi_out_free(&o);
}
