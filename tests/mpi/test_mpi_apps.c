/* SPDX-License-Identifier: MIT */
/* The distributed applications (hello, squares, pi) as a user runs them
 * with mpirun: the seed's shapes of output, and exit statuses that mpirun
 * passes on (0 success, 1 failure, 2 usage or configuration error). */
#include <stdint.h>

#include "mpi_run.h"

/* Lines of the output that start with `prefix`, copied into lines[]. */
static int
lines_starting(const char *text, const char *prefix, char lines[][256], int max)
{
    int n = 0;
    size_t plen = strlen(prefix);
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len >= plen && strncmp(p, prefix, plen) == 0) {
            if (n < max)
                snprintf(lines[n], 256, "%.*s", (int)len, p);
            n++;
        }
        p = nl ? nl + 1 : NULL;
    }
    return n;
}

static int
cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* Where the line `line` starts in text (first or last occurrence), or -1. */
static long
line_pos(const char *text, const char *prefix, int last)
{
    long pos = -1;
    size_t plen = strlen(prefix);
    for (const char *p = text; (p = strstr(p, prefix)); p += plen) {
        if (p == text || p[-1] == '\n') {
            pos = (long)(p - text);
            if (!last)
                break;
        }
    }
    return pos;
}

Test(squares, the_seed_shape_with_10_tasks, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " APP("loom-squares") " --count 10 --seed 7");
    assert_clean_exit(&o);
    char puts_[16][256], results[16][256];
    int np = lines_starting(o.text, "Put task ", puts_, 16);
    int nr = lines_starting(o.text, "Result: ", results, 16);
    cr_assert_eq(np, 10, "%d 'Put task' lines:\n%s", np, o.text);
    cr_assert_eq(nr, 10, "%d 'Result:' lines:\n%s", nr, o.text);
    long long put_v[10], res_v[10];
    for (int i = 0; i < 10; i++) {
        char tail[8] = "";
        cr_assert_eq(sscanf(puts_[i], "Put task %lld%7s", &put_v[i], tail), 2, "%s", puts_[i]);
        cr_assert_str_eq(tail, "...", "%s", puts_[i]);
        cr_assert(put_v[i] >= 0 && put_v[i] <= 10000, "%s", puts_[i]);
        long long a, b, c;
        cr_assert_eq(sscanf(results[i], "Result: %lld * %lld = %lld", &a, &b, &c), 3, "%s",
                     results[i]);
        cr_assert(a == b && c == a * a, "wrong square: %s", results[i]);
        res_v[i] = a;
    }
    /* every number put comes back squared, once */
    qsort(put_v, 10, sizeof put_v[0], cmp_ll);
    qsort(res_v, 10, sizeof res_v[0], cmp_ll);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(put_v[i], res_v[i], "numbers put and results differ:\n%s", o.text);
    /* the master's lines come in the seed's order */
    cr_assert_eq(count_of(o.text, "Try get results...\n"), 1, "%s", o.text);
    cr_assert_eq(count_of(o.text, "master exit.\n"), 1, "%s", o.text);
    long last_put = line_pos(o.text, "Put task ", 1), try_get = line_pos(o.text, "Try get", 0),
         first_res = line_pos(o.text, "Result: ", 0), last_res = line_pos(o.text, "Result: ", 1),
         bye = line_pos(o.text, "master exit.", 0),
         summary = line_pos(o.text, "loom-squares: 10 results, all correct", 0);
    cr_assert(last_put < try_get && try_get < first_res && last_res < bye && bye < summary,
              "master's lines out of order:\n%s", o.text);
    mpi_out_free(&o);
}

Test(squares, a_million_tasks_quiet, .timeout = 150)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " APP("loom-squares") " --count 1000000 --quiet --seed 3");
    assert_clean_exit(&o);
    assert_line(&o, "Put 1000000 tasks.");
    assert_line(&o, "master exit.");
    assert_line(&o, "loom-squares: 1000000 results, all correct");
    cr_assert_eq(count_of(o.text, "Result: "), 0, "--quiet prints no line per task");
    mpi_out_free(&o);
}

Test(squares, zero_tasks_exit_0, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o, "-np 2 " APP("loom-squares") " --count 0");
    assert_clean_exit(&o);
    assert_line(&o, "Try get results...");
    assert_line(&o, "master exit.");
    assert_line(&o, "loom-squares: 0 results, all correct");
    mpi_out_free(&o);
}

Test(squares, usage_errors_exit_2_on_every_rank, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " APP("loom-squares") " --frobnicate");
    cr_assert_eq(o.status, 2, "exit %d:\n%s", o.status, o.text);
    /* every rank refused alike; only rank 0 said why */
    cr_assert_eq(count_of(o.text, "loom-squares: unknown argument '--frobnicate'"), 1, "%s",
                 o.text);
    mpi_out_free(&o);

    mpi_run(&o, "-np 2 " APP("loom-squares") " --count -5");
    cr_assert_eq(o.status, 2, "exit %d:\n%s", o.status, o.text);
    cr_assert(strstr(o.text, "--count"), "%s", o.text);
    mpi_out_free(&o);

    mpi_run(&o, "-np 2 " APP("loom-squares") " --pool-threads=-1");
    cr_assert_eq(o.status, 2, "exit %d:\n%s", o.status, o.text);
    cr_assert(strstr(o.text, "--pool-threads"), "%s", o.text);
    mpi_out_free(&o);

    /* one rank is not a job: a master needs workers */
    mpi_run(&o, "-np 1 " APP("loom-squares"));
    cr_assert_eq(o.status, 2, "exit %d:\n%s", o.status, o.text);
    cr_assert(strstr(o.text, "at least one worker"), "%s", o.text);
    mpi_out_free(&o);
}

/* Issue #16: joining with no join file printed "command not found" (the
 * text of LOOM_ENOTFOUND). Rank 0 names the directory and the likely
 * cause, once; no rank prints a code's text. */
Test(squares, a_missing_join_file_is_named_once, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o, "-np 2 " APP("loom-squares") " --join /nonexistent-loom-dir");
    cr_assert_neq(o.status, 0, "exit %d:\n%s", o.status, o.text);
    assert_line(&o, "loom-squares: rank 0: cannot join: no join file in /nonexistent-loom-dir (no "
                    "such directory): is the master running with --serve /nonexistent-loom-dir?");
    cr_assert_eq(count_of(o.text, "no join file"), 1, "said more than once:\n%s", o.text);
    cr_assert_null(strstr(o.text, "command not found"), "%s", o.text);
    mpi_out_free(&o);
}

/* job.events / job.report that cannot be created: exit 2 (a configuration
 * error) on every rank, before any task was put. */
Test(squares, an_unwritable_events_or_report_path_exits_2_before_any_task, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o,
            "-np 3 -x LOOM_JOB_EVENTS=/nonexistent-dir/e.jsonl " APP("loom-squares") " --count 10");
    cr_assert_eq(o.status, 2, "exit %d:\n%s", o.status, o.text);
    cr_assert(strstr(o.text, "LOOM_JOB_EVENTS /nonexistent-dir/e.jsonl: cannot write it: No such "
                             "file or directory"),
              "%s", o.text);
    cr_assert_null(strstr(o.text, "Put task"), "tasks were put:\n%s", o.text);
    mpi_out_free(&o);

    mpi_run(&o, "-np 3 " APP("loom-squares") " --count 10 --job-report /nonexistent-dir/r.html");
    cr_assert_eq(o.status, 2, "exit %d:\n%s", o.status, o.text);
    cr_assert(strstr(o.text, "--job-report /nonexistent-dir/r.html: cannot write it"), "%s",
              o.text);
    cr_assert_null(strstr(o.text, "Put task"), "tasks were put:\n%s", o.text);
    mpi_out_free(&o);
}

/* An events file that fills the disk (/dev/full) mid-run: said once, the
 * job finishes every task and checks every result; only loom_job_finish()
 * says the file is incomplete (exit 1). */
Test(squares, a_full_disk_loses_events_not_results, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o,
            "-np 3 " APP("loom-squares") " --count 20000 --quiet --seed 5 --job-events /dev/full");
    cr_assert_eq(o.status, 1, "exit %d:\n%s", o.status, o.text);
    assert_line(&o, "loom-squares: 20000 tasks, 20000 correct, 0 wrong, 0 missing, 0 duplicate, 0 "
                    "unknown");
    cr_assert_eq(count_of(o.text, "--job-events /dev/full: writing failed: No space left on "
                                  "device"),
                 1, "%s", o.text);
    assert_line(&o, "loom-squares: finishing the job: the events file or the report could not be "
                    "written (the log says why)");
    mpi_out_free(&o);
}

Test(squares, help_once_exit_0, .timeout = 60)
{
    struct mpi_out o;
    mpi_run(&o, "-np 2 " APP("loom-squares") " --help");
    assert_clean_exit(&o);
    cr_assert_eq(count_of(o.text, "usage: "), 1, "%s", o.text);
    cr_assert(strstr(o.text, "--count N"), "%s", o.text);
    cr_assert(strstr(o.text, "--pool-threads"), "loom's options are listed:\n%s", o.text);
    cr_assert(strstr(o.text, "Exit status"), "%s", o.text);
    mpi_out_free(&o);
}

Test(hello, one_master_and_two_workers, .timeout = 90)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " APP("loom-hello") " --pool-threads 2");
    assert_clean_exit(&o);
    char lines[8][256];
    int n = lines_starting(o.text, "rank=", lines, 8);
    cr_assert_eq(n, 3, "%d rank lines:\n%s", n, o.text);
    long pids[3];
    int masters = 0, workers = 0, seen[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        int rank;
        char role[16], host[128];
        long pid, ppid;
        unsigned pool;
        int k = sscanf(lines[i], "rank=%d role=%15s pid=%ld ppid=%ld host=%127s pool=%u", &rank,
                       role, &pid, &ppid, host, &pool);
        cr_assert_eq(k, 6, "bad line: %s", lines[i]);
        cr_assert(rank >= 0 && rank < 3 && !seen[rank], "%s", o.text);
        seen[rank] = 1;
        pids[i] = pid;
        cr_assert(strstr(lines[i], " threads=MainThread"), "%s", lines[i]);
        if (strcmp(role, "master") == 0) {
            masters++;
            cr_assert_eq(rank, 0, "%s", lines[i]);
            cr_assert_eq(pool, 0, "%s", lines[i]);
        } else {
            workers++;
            cr_assert_str_eq(role, "worker", "%s", lines[i]);
            cr_assert_eq(pool, 2, "%s", lines[i]);
            cr_assert(strstr(lines[i], ",Worker-1") && strstr(lines[i], ",Worker-2"),
                      "pool threads named Worker-1, Worker-2: %s", lines[i]);
            cr_assert(!strstr(lines[i], "Worker-3"), "%s", lines[i]);
        }
    }
    cr_assert_eq(masters, 1, "%s", o.text);
    cr_assert_eq(workers, 2, "%s", o.text);
    cr_assert(pids[0] != pids[1] && pids[1] != pids[2] && pids[0] != pids[2],
              "three processes, three pids:\n%s", o.text);
    mpi_out_free(&o);
}

Test(hello, bad_option_exit_2, .timeout = 60)
{
    struct mpi_out o;
    mpi_run(&o, "-np 2 " APP("loom-hello") " --nope");
    cr_assert_eq(o.status, 2, "exit %d:\n%s", o.status, o.text);
    cr_assert(strstr(o.text, "unknown argument '--nope'"), "%s", o.text);
    mpi_out_free(&o);
}

/* The estimate depends only on --seed, --tasks and --samples-per-task,
 * never on which worker or thread ran what. */
Test(pi, reproducible_estimate_and_speedup_line, .timeout = 120)
{
    struct mpi_out a, b;
    mpi_run(&a, "-np 3 " APP("loom-pi") " --tasks 24 --samples-per-task 200000 --seed 5");
    assert_clean_exit(&a);
    mpi_run(&b, "-np 2 " APP("loom-pi") " --pool-threads 1 --tasks 24 --samples-per-task 200000 "
                                        "--seed 5 --baseline-tasks 24");
    assert_clean_exit(&b);
    char la[4][256], lb[4][256];
    cr_assert_eq(lines_starting(a.text, "pi = ", la, 4), 1, "%s", a.text);
    cr_assert_eq(lines_starting(b.text, "pi = ", lb, 4), 1, "%s", b.text);
    double pa = 0, pb = 0;
    cr_assert_eq(sscanf(la[0], "pi = %lf", &pa), 1, "%s", la[0]);
    cr_assert_eq(sscanf(lb[0], "pi = %lf", &pb), 1, "%s", lb[0]);
    cr_assert(pa > 3.13 && pa < 3.15, "%s", la[0]);
    /* same digits: the same hits were counted */
    cr_assert(strncmp(la[0], lb[0], strcspn(la[0], ",")) == 0, "%s\n%s", la[0], lb[0]);
    cr_assert(strstr(la[0], ", 2 workers x "), "%s", la[0]);
    cr_assert(strstr(lb[0], ", 1 worker x 1 thread, "), "%s", lb[0]);
    cr_assert(strstr(la[0], ", single thread ") && strstr(la[0], ", speed-up "), "%s", la[0]);
    mpi_out_free(&a);
    mpi_out_free(&b);
}

Test(pi, bad_option_exit_2, .timeout = 60)
{
    struct mpi_out o;
    mpi_run(&o, "-np 2 " APP("loom-pi") " --tasks 0");
    cr_assert_eq(o.status, 2, "exit %d:\n%s", o.status, o.text);
    cr_assert(strstr(o.text, "--tasks"), "%s", o.text);
    mpi_out_free(&o);
}
