/* SPDX-License-Identifier: MIT */
/* Payloads and replies of 0 bytes, 1 byte, sizes around buffer boundaries
 * and 64 MiB arrive intact in both directions (prog_payloads). */
#include "mpi_run.h"

static void
payloads(int np, int threads)
{
    static const unsigned long sizes[] = {0, 1, 2, 4095, 4096, 65537, 1048577, 67108864};
    struct mpi_out o;
    mpi_run(&o, "-np %d " PROG("prog_payloads") " --pool-threads %d", np, threads);
    assert_clean_exit(&o);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        assert_line(&o, "PAYLOAD size=%lu echo_ok=1 sum_ok=1", sizes[i]);
    cr_assert(strstr(o.text, "LIMIT max="), "%s", o.text);
    cr_assert(strstr(o.text, " over_rc=LOOM_ERANGE\n") || strstr(o.text, " over_rc=skipped\n"),
              "a payload above job.max_payload must be refused with LOOM_ERANGE:\n%s", o.text);
    assert_line(&o, "DONE status=0");
    mpi_out_free(&o);
}

Test(payloads, sizes_0_1_to_64MiB_np2, .timeout = 150)
{
    payloads(2, 1);
}

Test(payloads, sizes_0_1_to_64MiB_np3_pool4, .timeout = 150)
{
    payloads(3, 4);
}
