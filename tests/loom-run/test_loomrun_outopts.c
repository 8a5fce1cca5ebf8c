/* SPDX-License-Identifier: MIT */
/* loom-run's GNU Parallel output options under a real mpirun: -t prints a
 * command while it runs, --tagstring fills in the tag, --line-buffer and
 * --ungroup pass output while the task runs, --delay spaces the starts,
 * --timeout P% kills what runs far longer than the median, --version says
 * what it is. Each test works in its own temporary directory; where a task
 * must be seen running, it waits for a file the test creates only after it
 * has seen the output (bounded, so a failure ends and says so). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loom_test.h"

#include "lr_test.h"

static void
setup(void)
{
    lr_test_mkdir("loomrun-oo");
}

static void
teardown(void)
{
    lr_test_rmdir();
}

/* The mpirun line running loom-run with np ranks and args in dir, stdout
 * to out.txt, stderr to err.txt. */
static void
command_line(char *cmd, size_t len, int np, const char *args)
{
    snprintf(cmd, len,
             "cd %s && OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
             "OMPI_MCA_mpi_yield_when_idle=1 mpirun --oversubscribe --bind-to none --timeout 120 "
             "-np %d " LOOMRUN " %s >out.txt 2>err.txt",
             dir, np, args);
}

/* Run loom-run (np ranks) to its end; its exit status. */
static int
loomrun(int np, const char *args)
{
    char cmd[4096];
    command_line(cmd, sizeof cmd, np, args);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Start loom-run (np ranks) in the background: its pid, for finish(). */
static pid_t
start(int np, const char *args)
{
    static char cmd[4096];
    command_line(cmd, sizeof cmd, np, args);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int
finish(pid_t pid)
{
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Wait (up to limit_s) until file name holds text; 1 when it does. */
static int
wait_for_text(const char *name, const char *text, int limit_s)
{
    struct timespec t0, now, nap = {0, 20 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        char *s = read_file(name);
        int found = strstr(s, text) != NULL;
        free(s);
        if (found)
            return 1;
        nanosleep(&nap, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec - t0.tv_sec < limit_s);
    return 0;
}

/* A task that prints `first`, then waits (up to 60 s) for file `go`, then
 * prints "went" or "no-go". */
#define WAITING_TASK(first, go)                                                                    \
    "echo " first "; n=0; while [ ! -e " go " ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); "     \
    "done; [ -e " go " ] && echo went || echo no-go"

/* A live run: its first line is out while the task waits for the test. */
static void
live_line_seen_while_running(const char *opts)
{
    write_file("tasks.txt", WAITING_TASK("first-line", "go") "\n");
    char args[512];
    snprintf(args, sizeof args, "--quiet %s tasks.txt", opts);
    pid_t pid = start(2, args);
    int seen = wait_for_text("out.txt", "first-line\n", 90);
    write_file("go", "");
    int status = finish(pid);
    char *out = read_file("out.txt"), *err = read_file("err.txt");
    cr_assert(seen, "%s: the first line was not out while the task ran; out: %s err: %s", opts, out,
              err);
    cr_assert_eq(status, 0, "%s: %s", opts, err);
    cr_assert_str_eq(out, "first-line\nwent\n", "%s", opts);
    free(out);
    free(err);
}

Test(outopts, line_buffer_prints_lines_while_the_task_runs, .init = setup, .fini = teardown,
     .timeout = 240)
{
    live_line_seen_while_running("--line-buffer");
}

Test(outopts, ungroup_prints_output_while_the_task_runs, .init = setup, .fini = teardown,
     .timeout = 240)
{
    live_line_seen_while_running("-u");
}

/* --line-buffer: lines of tasks running side by side mix, but each line is
 * whole (and tagged once) */
Test(outopts, line_buffer_keeps_every_line_whole, .init = setup, .fini = teardown, .timeout = 240)
{
    char tasks[1024] = "";
    for (char t = 'A'; t <= 'D'; t++) {
        char line[256];
        snprintf(line, sizeof line,
                 "i=0; while [ $i -lt 3000 ]; do "
                 "printf '%c-%%05d-abcdefghijklmnopqrstuvwxyz0123456789\\n' $i; i=$((i+1)); done\n",
                 t);
        strcat(tasks, line);
    }
    write_file("tasks.txt", tasks);
    cr_assert_eq(loomrun(3, "--quiet --lb -j 3 --tagstring 'T{#}' tasks.txt"), 0);
    char *out = read_file("out.txt");
    int lines = 0, count[4] = {0};
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        int seq = 0, i = -1;
        char t = 0;
        cr_assert(sscanf(l, "T%d\t%c-%05d-", &seq, &t, &i) == 3 && seq >= 1 && seq <= 4 &&
                      t == 'A' + seq - 1 && strlen(l) == 47 &&
                      !strcmp(l + 11, "abcdefghijklmnopqrstuvwxyz0123456789"),
                  "line %d not whole: '%s'", lines + 1, l);
        count[seq - 1]++;
        lines++;
    }
    for (int t = 0; t < 4; t++)
        cr_assert_eq(count[t], 3000, "task %c: %d lines", 'A' + t, count[t]);
    free(out);
}

/* -t: the command is on stderr while it runs (the task waits to see its
 * own line there), each command once */
Test(outopts, verbose_prints_the_command_while_it_runs, .init = setup, .fini = teardown,
     .timeout = 240)
{
    write_file("tasks.txt", ": WAIT-1; n=0; while ! grep -q 'W[A]IT-1' err.txt && [ $n -lt 600 ]; "
                            "do sleep 0.1; n=$((n+1)); done; echo waited $n\n"
                            "echo two\n");
    cr_assert_eq(loomrun(3, "--quiet -t tasks.txt"), 0);
    char *out = read_file("out.txt"), *err = read_file("err.txt");
    int n = -1;
    const char *w = strstr(out, "waited ");
    cr_assert(w && sscanf(w, "waited %d", &n) == 1 && n < 600,
              "the task did not see its -t line while it ran: out %s err %s", out, err);
    cr_assert_not_null(strstr(err, ": WAIT-1; n=0; while ! grep -q 'W[A]IT-1' err.txt"), "%s", err);
    cr_assert_not_null(strstr(err, "echo two\n"), "%s", err);
    cr_assert_null(strstr(strstr(err, "echo two\n") + 1, "echo two\n"), "twice: %s", err);
    free(out);
    free(err);
}

/* --tagstring: replacement strings filled in, unquoted; {%} the slot that
 * ran the job */
Test(outopts, tagstring_fills_in_the_tag, .init = setup, .fini = teardown, .timeout = 120)
{
    cr_assert_eq(loomrun(3, "--quiet -k -j 2 --tagstring '{#}/{%}:{1}' echo ::: 'a b' c"), 0);
    char *out = read_file("out.txt");
    char a[2][16];
    int seq[2], slot[2];
    cr_assert_eq(sscanf(out, "%d/%d:a b\t%15s %15s\n%d/%d:c\t%15s", &seq[0], &slot[0], a[0], a[1],
                        &seq[1], &slot[1], a[1]),
                 7, "%s", out);
    cr_assert(seq[0] == 1 && seq[1] == 2 && slot[0] >= 1 && slot[0] <= 2 && slot[1] >= 1 &&
                  slot[1] <= 2,
              "%s", out);
    free(out);
}

/* Starttime column (seconds) of every job log line: n of them. */
static int
start_times(const char *log, double *t, int max)
{
    int n = 0;
    for (const char *l = strchr(log, '\n'); l && l[1] && n < max; l = strchr(l + 1, '\n')) {
        const char *p = l + 1;
        for (int tab = 0; tab < 2 && p; tab++)
            p = strchr(p, '\t') ? strchr(p, '\t') + 1 : NULL;
        if (p && sscanf(p, "%lf", &t[n]) == 1)
            n++;
    }
    return n;
}

static int
by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* --delay: with slots free on the worker, starts are at least the delay
 * apart (the job log rounds to 1 ms) */
Test(outopts, delay_spaces_the_starts, .init = setup, .fini = teardown, .timeout = 240)
{
    cr_assert_eq(loomrun(2, "--quiet -j 4 --delay 0.25s --joblog log true ::: 1 2 3 4 5"), 0);
    char *log = read_file("log");
    double t[8];
    int n = start_times(log, t, 8);
    cr_assert_eq(n, 5, "%s", log);
    qsort(t, (size_t)n, sizeof t[0], by_value);
    for (int i = 1; i < n; i++)
        cr_assert(t[i] - t[i - 1] >= 0.249, "starts %.3f and %.3f: %.3f s apart\n%s", t[i - 1],
                  t[i], t[i] - t[i - 1], log);
    free(log);
}

/* Runtime (JobRuntime), Exitval and Signal of job log line seq. */
static void
log_entry(const char *log, int seq, double *runtime, int *exitval, int *sig)
{
    char key[16];
    snprintf(key, sizeof key, "\n%d\t", seq);
    const char *p = strstr(log, key);
    cr_assert_not_null(p, "no task %d: %s", seq, log);
    p++;
    for (int tab = 0; tab < 3; p++)
        tab += *p == '\t';
    cr_assert_eq(sscanf(p, "%lf\t%*d\t%*d\t%d\t%d", runtime, exitval, sig), 3, "%.80s", p);
}

/* --timeout 300%: one slot; three short tasks set the median, then a task
 * that would sleep 60 s is killed after about 3 medians (no sooner) */
Test(outopts, timeout_percent_kills_what_runs_past_the_median, .init = setup, .fini = teardown,
     .timeout = 240)
{
    int st = loomrun(2, "--quiet -j1 --timeout 300% --joblog log sleep ::: 0.3 0.3 0.3 60 0.3");
    char *log = read_file("log"), *err = read_file("err.txt");
    cr_assert_eq(st, 1, "one task killed: exit 1; %s%s", log, err);
    double rt[5], shortest = 1e9;
    int ev[5], sig[5];
    for (int i = 0; i < 5; i++) {
        log_entry(log, i + 1, &rt[i], &ev[i], &sig[i]);
        if (i != 3)
            cr_assert(ev[i] == 0 && sig[i] == 0, "task %d: %d %d\n%s", i + 1, ev[i], sig[i], log);
        if (i < 3 && rt[i] < shortest)
            shortest = rt[i];
    }
    cr_assert(ev[3] == -1 && rt[3] < 60, "task 4 not killed by its timeout\n%s", log);
    cr_assert(rt[3] >= 3 * shortest * 0.99 - 0.002,
              "task 4 killed after %.3f s, before 300%% of the median (shortest %.3f)\n%s", rt[3],
              shortest, log);
    free(log);
    free(err);
}

Test(outopts, version_says_loom_run_not_gnu_parallel, .init = setup, .fini = teardown,
     .timeout = 60)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cd %s && " LOOMRUN " --version >out.txt 2>err.txt", dir);
    int st = system(cmd);
    char *out = read_file("out.txt");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
    cr_assert(!strncmp(out, "loom-run (loom) ", 16), "%s", out);
    cr_assert_not_null(strstr(out, "not GNU Parallel"), "%s", out);
    free(out);
}

/* Durations and percentages as GNU Parallel takes them; anything else is
 * refused before mpirun starts (--dry-run: parsed, nothing run) */
Test(outopts, durations_are_parsed_before_anything_runs, .init = setup, .fini = teardown,
     .timeout = 60)
{
    static const struct {
        const char *args, *said;
        int status;
    } cases[] = {
        {"--delay 1m30s --timeout 150% echo ::: a", "", 0},
        {"--delay=0.5s --timeout=1h2m echo ::: a", "", 0},
        {"--delay 1x echo ::: a", "--delay needs a duration", 255},
        {"--delay -1 echo ::: a", "--delay needs a duration", 255},
        {"--timeout 0% echo ::: a", "--timeout needs a duration > 0", 255},
        {"--timeout 5%x echo ::: a", "--timeout needs a duration > 0", 255},
        {"--timeout 0 echo ::: a", "--timeout needs a duration > 0", 255},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "cd %s && " LOOMRUN " --dry-run %s >out.txt 2>err.txt", dir,
                 cases[i].args);
        int st = system(cmd);
        char *out = read_file("out.txt"), *err = read_file("err.txt");
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == cases[i].status, "%s: status %d; %s",
                  cases[i].args, WIFEXITED(st) ? WEXITSTATUS(st) : -1, err);
        cr_assert_not_null(strstr(err, cases[i].said), "%s: %s", cases[i].args, err);
        if (cases[i].status == 0)
            cr_assert_str_eq(out, "echo a\n", "%s", cases[i].args);
        free(out);
        free(err);
    }
}
