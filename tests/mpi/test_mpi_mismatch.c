/* SPDX-License-Identifier: MIT */
/* Different programs on different ranks: loom_job_start fails with
 * LOOM_EMISMATCH on every rank, with a clear message, and nothing hangs
 * (prog_mismatch_a / prog_mismatch_b, launched MPMD). */
#include "mpi_run.h"

#include <loom/error.h>

static void
expect_mismatch(struct mpi_out *o)
{
    cr_assert(!strstr(o->text, "time limit"), "the job hung until mpirun's --timeout:\n%s",
              o->text);
    cr_assert(!strstr(o->text, "STARTED"), "the mismatched job started:\n%s", o->text);
    cr_assert_neq(o->status, 0, "mpirun exited 0:\n%s", o->text);
    char want[256];
    snprintf(want, sizeof want, "rc=LOOM_EMISMATCH msg=%s", loom_strerror(LOOM_EMISMATCH));
    for (int r = 0; r < 3; r++) {
        char line[320];
        snprintf(line, sizeof line, "START rank=%d %s", r, want);
        cr_assert(has_line(o->text, line), "rank %d did not report '%s':\n%s", r, want, o->text);
    }
}

Test(mismatch, different_binaries, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o, "-np 2 " PROG("prog_mismatch_a") " : -np 1 " PROG("prog_mismatch_b"));
    expect_mismatch(&o);
    mpi_out_free(&o);
}

Test(mismatch, same_binary_different_registrations, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o, "-np 2 " PROG("prog_mismatch_a") " : -np 1 " PROG("prog_mismatch_a") " --extra");
    expect_mismatch(&o);
    mpi_out_free(&o);
}

/* The control: the same program on every rank starts. */
Test(mismatch, same_program_starts, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " PROG("prog_mismatch_a"));
    assert_clean_exit(&o);
    assert_line(&o, "STARTED rank=0");
    mpi_out_free(&o);
}
