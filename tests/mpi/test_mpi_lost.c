/* SPDX-License-Identifier: MIT */
/* Workers killed with SIGKILL mid-run (prog_lost): the master declares them
 * lost after job.worker_timeout of silence, their tasks run on the others,
 * every result arrives exactly once, and the job ends in bounded time.
 * mpirun runs with --enable-recovery (otherwise Open MPI kills the whole
 * job when one rank dies), which makes its exit status always 0: the
 * verdict is the master's line. */
#include <unistd.h>

#include "json_lines.h"
#include "mpi_run.h"

/* job.events of a run that lost workers: a worker_lost line for each,
 * naming one of the ranks in the bit set `ranks` (each once), and every
 * task's one final attempt a success. */
static void
check_events(const char *path, unsigned ranks, int lost)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    static char line[8192];
    static unsigned char final_ok[301];
    memset(final_ok, 0, sizeof final_ok);
    int lost_lines = 0, finals = 0;
    unsigned seen = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        struct jobj o;
        const char *ev = json_check_event(line, &o);
        if (!strcmp(ev, "worker_lost")) {
            lost_lines++;
            cr_assert_eq(json_num(&o, "lost"), lost_lines, "%s", line);
            int rank = (int)json_num(&o, "rank");
            cr_assert(rank > 0 && rank < 32 && (ranks >> rank & 1) && !(seen >> rank & 1), "%s",
                      line);
            seen |= 1u << rank;
        } else if (!strcmp(ev, "attempt") && json_get(&o, "final")->str[0] == 't') {
            int seq = (int)json_num(&o, "seq");
            cr_assert(seq >= 1 && seq <= 300 && !final_ok[seq]++, "%s", line);
            cr_assert_str_eq(json_str(&o, "outcome"), "ok", "%s", line);
            finals++;
        }
    }
    fclose(f);
    cr_assert_eq(lost_lines, lost);
    cr_assert_eq(finals, 300, "one final attempt per task");
}

static void
lose(int np, const char *die, int lost, unsigned lost_ranks)
{
    char journal[] = "/tmp/loom-lost-journal-XXXXXX";
    int fd = mkstemp(journal);
    cr_assert_geq(fd, 0);
    close(fd);
    char events[] = "/tmp/loom-lost-events-XXXXXX";
    fd = mkstemp(events);
    cr_assert_geq(fd, 0);
    close(fd);
    struct mpi_out o;
    mpi_run(&o,
            "--enable-recovery -np %d " PROG(
                "prog_lost") " --pool-threads 2 --tasks 300 --ms 20 "
                             "--die %s --job-worker-timeout 1 --job-heartbeat 0.1 --journal %s "
                             "--job-events %s",
            np, die, journal, events);
    char want[128];
    snprintf(want, sizeof want,
             "LOST tasks=300 once=300 dup=0 missing=0 bad=0 lost=%d secs=", lost);
    const char *line = strstr(o.text, want);
    cr_assert_not_null(line, "want '%s' in:\n%s", want, o.text);
    double secs = atof(line + strlen(want));
    /* 300 x 20 ms on 2-4 threads is 1.5-3 s; detection 1 s (+0.1 s checks) */
    cr_assert_lt(secs, 12.0, "the job took %.1f s", secs);
    mpi_out_free(&o);
    check_events(events, lost_ranks, lost);
    unlink(events);
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
    lose(4, "2:10", 1, 1u << 2);
}

Test(lost, two_workers_killed_mid_run, .timeout = 120)
{
    lose(4, "1:5,3:20", 2, 1u << 1 | 1u << 3);
}

/* Issue #16: a poison task, run in a pool thread (not isolated), kills
 * every worker it is sent to (raise(SIGKILL) or abort()). It used to be
 * re-sent with the tasks of its batch until no worker was left, and they
 * all ended lost with it. Now each worker death counts a crash for the
 * tasks in flight there, which then run alone (suspects): the poison is
 * given up at job.crash_limit (2 here: it takes 2 of the 3 workers), and
 * every innocent task, those of its batch too, succeeds exactly once on
 * the one left. */
static void
poison(const char *how)
{
    struct mpi_out o;
    mpi_run(&o,
            "--enable-recovery -np 4 " PROG("prog_lost") " --pool-threads 2 --tasks 60 --ms 20 "
                                                         "--poison 5 %s --job-crash-limit 2 "
                                                         "--job-worker-timeout 1 "
                                                         "--job-heartbeat 0.1",
            how);
    assert_line(&o, "POISON results=1 status=-1 cause=lost");
    const char *want = "LOST tasks=59 once=59 dup=0 missing=0 bad=0 lost=2 secs=";
    const char *line = strstr(o.text, want);
    cr_assert_not_null(line, "want '%s' in:\n%s", want, o.text);
    double secs = atof(line + strlen(want));
    cr_assert_eq(count_of(o.text, "given up after 2 crashes"), 1, "%s", o.text);
    /* the first worker it killed had more of its batch in flight: those
     * ran again (and above, succeeded once) */
    const char *lost = strstr(o.text, "declared lost; ");
    cr_assert_not_null(lost, "%s", o.text);
    int again = atoi(lost + strlen("declared lost; "));
    cr_assert_geq(again, 2, "the poison shared no batch (%d tasks ran again):\n%s", again, o.text);
    /* 60 x 20 ms on 2-6 threads, two deaths detected after 1 s each */
    cr_assert_lt(secs, 15.0, "the job took %.1f s:\n%s", secs, o.text);
    mpi_out_free(&o);
}

Test(lost, a_poison_task_is_given_up_and_its_batch_succeeds, .timeout = 120)
{
    poison("");
}

Test(lost, a_poison_task_that_aborts_is_given_up_too, .timeout = 120)
{
    poison("--poison-abort");
}
