/* SPDX-License-Identifier: MIT */
/*
 * Promises of settings and of a task's life (prog_settings), under mpirun
 * with several ranks:
 *  - a job created without a config reads LOOM_* variables and
 *    $LOOM_CONFIG; a misspelt variable and contradicting settings are
 *    refused with a message naming them;
 *  - no task runs on a worker before it calls loom_job_serve();
 *  - a refused loom_task_reply or loom_task_submit fails the task unless
 *    the task handled it;
 *  - loom_job_destroy says how many results the program never freed.
 */
#include <unistd.h>

#include "mpi_run.h"

static char dir[64];

static void
setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/loom-settings-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* The whole file, NUL-terminated (NULL if it cannot be read); caller frees. */
static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
    cr_assert_not_null(buf);
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            cr_assert_not_null(buf = realloc(buf, (cap *= 2) + 1));
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* ---- item 6: settings without a line of code ------------------------------ */

Test(settings, a_job_without_config_reads_loom_variables, .init = setup, .fini = teardown,
     .timeout = 120)
{
    char events[128];
    snprintf(events, sizeof events, "%s/run.jsonl", dir);
    struct mpi_out o;
    mpi_run(&o,
            "-np 3 -x LOOM_POOL_THREADS=5 -x LOOM_JOB_EVENTS=%s " PROG(
                "prog_settings") " --scenario env",
            events);
    assert_clean_exit(&o);
    /* 5 is no machine's default here (that is its CPUs) */
    assert_line(&o, "ENV tasks=8 threads=5..5");
    char *text = slurp(events);
    cr_assert_not_null(text, "LOOM_JOB_EVENTS=%s wrote nothing; output:\n%s", events, o.text);
    cr_assert(strstr(text, "\"run_start\""), "no run_start in %s:\n%s", events, text);
    cr_assert_eq(count_of(text, "\"event\":\"attempt\""), 8, "events:\n%s", text);
    free(text);
    mpi_out_free(&o);
}

Test(settings, a_job_without_config_reads_loom_config_file, .init = setup, .fini = teardown,
     .timeout = 120)
{
    char cfg[128], cmd[256];
    snprintf(cfg, sizeof cfg, "%s/loom.cfg", dir);
    snprintf(cmd, sizeof cmd, "printf 'pool = { threads = 3; };\\n' > %s", cfg);
    cr_assert_eq(system(cmd), 0);
    struct mpi_out o;
    mpi_run(&o, "-np 3 -x LOOM_CONFIG=%s " PROG("prog_settings") " --scenario env", cfg);
    assert_clean_exit(&o);
    assert_line(&o, "ENV tasks=8 threads=3..3");
    mpi_out_free(&o);
}

Test(settings, a_misspelt_variable_is_refused_with_the_nearest_name, .timeout = 120)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 -x LOOM_POOL_THRADS=1 " PROG("prog_settings") " --scenario env");
    cr_assert_neq(o.status, 0, "a misspelt variable was ignored:\n%s", o.text);
    cr_assert(strstr(o.text, "LOOM_POOL_THRADS: unknown variable; did you mean "
                             "LOOM_POOL_THREADS?"),
              "no message naming the variable:\n%s", o.text);
    for (int r = 0; r < 3; r++)
        assert_line(&o, "CREATE rank=%d rc=LOOM_ECONFIG", r);
    mpi_out_free(&o);
}

Test(settings, contradicting_settings_are_refused, .timeout = 120)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 -x LOOM_JOB_WORKER_TIMEOUT=0.3 " PROG("prog_settings") " --scenario env");
    cr_assert_neq(o.status, 0, "job.worker_timeout below job.heartbeat was accepted:\n%s", o.text);
    cr_assert(strstr(o.text, "'job.worker_timeout' = 0.3 (LOOM_JOB_WORKER_TIMEOUT) must be more "
                             "than 'job.heartbeat' = 0.5 (default)"),
              "no message naming both settings:\n%s", o.text);
    for (int r = 0; r < 3; r++)
        assert_line(&o, "CREATE rank=%d rc=LOOM_ECONFIG", r);
    mpi_out_free(&o);
    /* the same through a program's own config (loom_config_load) */
    mpi_run(&o, "-np 3 " PROG("prog_settings") " --scenario gate --job-heartbeat 2 "
                                               "--job-worker-timeout 1");
    cr_assert_eq(o.status, 2, "exit %d:\n%s", o.status, o.text);
    cr_assert(strstr(o.text, "'job.worker_timeout' = 1 (--job-worker-timeout) must be more "
                             "than 'job.heartbeat' = 2 (--job-heartbeat)"),
              "%s", o.text);
    mpi_out_free(&o);
}

/* ---- item 7: no task before serve ------------------------------------------ */

/* The last worker holds before loom_job_serve() until the master has
 * submitted, then gives tasks 200 measured round trips (1 s at least) to
 * start there; every task tells whether its worker had served. */
Test(settings, no_task_runs_before_serve, .timeout = 120)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " PROG("prog_settings") " --scenario gate --pool-threads 1");
    assert_clean_exit(&o);
    assert_line(&o, "GATE tasks=16 ok=16 before_serve=0");
    cr_assert(strstr(o.text, "started_before_serve=0\n"), "%s", o.text);
    mpi_out_free(&o);
}

Test(settings, a_worker_that_never_serves_runs_tasks_in_destroy, .timeout = 120)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " PROG("prog_settings") " --scenario gate --no-serve --pool-threads 1");
    assert_clean_exit(&o);
    assert_line(&o, "GATE tasks=16 ok=16 before_serve=0");
    mpi_out_free(&o);
}

/* ---- item 8: refused replies and submits ----------------------------------- */

Test(settings, a_refused_reply_or_submit_fails_the_task, .timeout = 120)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " PROG("prog_settings") " --scenario refuse --job-max-payload 1K");
    assert_clean_exit(&o);
    /* refused and not handled: failed, and the result says why */
    assert_line(&o, "REFUSE kind=0 status=-1 cause=failed code=LOOM_ERANGE len=0");
    assert_line(&o, "REFUSE kind=1 status=-1 cause=failed code=LOOM_ENOFUNC len=0");
    assert_line(&o, "REFUSE kind=5 status=-1 cause=failed code=LOOM_ERANGE len=8");
    assert_line(&o, "REFUSE kind=6 status=-1 cause=failed code=LOOM_EINVAL len=0");
    assert_line(&o, "REFUSE kind=7 status=-1 cause=failed code=LOOM_ESTATE len=0");
    /* handled: a later reply, or the task's own status */
    assert_line(&o, "REFUSE kind=2 status=0 cause=ok code=LOOM_OK len=8");
    assert_line(&o, "REFUSE kind=3 status=7 cause=failed code=LOOM_OK len=0");
    assert_line(&o, "REFUSE kind=4 status=0 cause=ok code=LOOM_OK len=8");
    /* a map's inputs one by one */
    assert_line(&o, "MAP i=0 status=0 len=8");
    assert_line(&o, "MAP i=1 status=-1 len=0");
    assert_line(&o, "MAP i=2 status=0 len=8");
    mpi_out_free(&o);
}

/* ---- item 10: results never freed ------------------------------------------ */

Test(settings, destroy_counts_results_never_freed, .timeout = 120)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " PROG("prog_settings") " --scenario leak");
    assert_clean_exit(&o);
    assert_line(&o, "LEAK kept=4 values_ok=1");
    cr_assert(strstr(o.text, "the program still holds 4 results with reply data never "
                             "released by loom_result_free()"),
              "no warning about the 4 results:\n%s", o.text);
    cr_assert_eq(count_of(o.text, "still holds"), 1, "%s", o.text);
    mpi_out_free(&o);
    mpi_run(&o, "-np 3 " PROG("prog_settings") " --scenario leak --free-all");
    assert_clean_exit(&o);
    assert_line(&o, "LEAK kept=0 values_ok=1");
    cr_assert(!strstr(o.text, "still holds"), "a warning with nothing kept:\n%s", o.text);
    mpi_out_free(&o);
}
