/* SPDX-License-Identifier: MIT */
/* Workers killed with SIGKILL mid-run (prog_lost): the master declares them
 * lost after job.worker_timeout of silence, their tasks run on the others,
 * every result arrives exactly once, and the job ends in bounded time.
 * mpirun runs with --enable-recovery (otherwise Open MPI kills the whole
 * job when one rank dies), which makes its exit status always 0: the
 * verdict is the master's line. */
#include <unistd.h>

#include "mpi_run.h"

static void
lose(int np, const char *die, int lost)
{
    char journal[] = "/tmp/loom-lost-journal-XXXXXX";
    int fd = mkstemp(journal);
    cr_assert_geq(fd, 0);
    close(fd);
    struct mpi_out o;
    mpi_run(&o,
            "--enable-recovery -np %d " PROG("prog_lost") " --pool-threads 2 --tasks 300 --ms 20 "
            "--die %s --job-worker-timeout 1 --job-heartbeat 0.1 --journal %s",
            np, die, journal);
    char want[128];
    snprintf(want, sizeof want,
             "LOST tasks=300 once=300 dup=0 missing=0 bad=0 lost=%d secs=", lost);
    const char *line = strstr(o.text, want);
    cr_assert_not_null(line, "want '%s' in:\n%s", want, o.text);
    double secs = atof(line + strlen(want));
    /* 300 x 20 ms on 2-4 threads is 1.5-3 s; detection 1 s (+0.1 s checks) */
    cr_assert_lt(secs, 12.0, "the job took %.1f s", secs);
    mpi_out_free(&o);
    /* and the journal has every task exactly once as succeeded */
    char cmd[256], text[4096];
    snprintf(cmd, sizeof cmd, PROG("prog_resume") " --check %s --tasks 300 2>&1", journal);
    FILE *p = popen(cmd, "r");
    size_t n = fread(text, 1, sizeof text - 1, p);
    text[n] = '\0';
    pclose(p);
    unlink(journal);
    cr_assert_not_null(strstr(text, "JOURNAL tasks=300 once=300 twice=0 missing=0 other=0 "
                                    "bad_regions=0 torn=0"),
                       "%s", text);
}

Test(lost, one_worker_killed_mid_run, .timeout = 120)
{
    lose(4, "2:10", 1);
}

Test(lost, two_workers_killed_mid_run, .timeout = 120)
{
    lose(4, "1:5,3:20", 2);
}
