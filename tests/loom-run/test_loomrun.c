/* SPDX-License-Identifier: MIT */
/* loom-run as a user runs it: real task files, real mpirun, real job logs.
 * Each test works in its own temporary directory and asserts on the
 * output, the exit status and the job log. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "loom_test.h"
#include "lr_test.h"

static void
setup(void)
{
    lr_test_mkdir("loomrun");
}

static void
teardown(void)
{
    lr_test_rmdir();
}

/* Run loom-run with 3 ranks in dir under mpirun --timeout limit_s; stdout
 * to out.txt, stderr to err.txt. Returns its exit status. */
static int
loomrun_for(int limit_s, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd %s && OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
             "OMPI_MCA_mpi_yield_when_idle=1 mpirun --oversubscribe --bind-to none --timeout %d "
             "-np 3 " LOOMRUN " %s >out.txt 2>err.txt",
             dir, limit_s, args);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* loomrun_for(120, args): for the tests' small jobs. */
static int
loomrun(const char *args)
{
    return loomrun_for(120, args);
}

Test(loomrun, runs_every_task_with_whole_output_and_a_job_log, .init = setup, .fini = teardown,
     .timeout = 120)
{
    /* 20 tasks each print 300 numbered lines: a task's lines must come out
     * together, never mixed with another task's */
    char tasks[8192] = "# twenty tasks\n\n";
    for (int t = 1; t <= 20; t++) {
        char line[128];
        snprintf(line, sizeof line, "i=0; while [ $i -lt 300 ]; do echo T%d-$i; i=$((i+1)); done\n",
                 t);
        strcat(tasks, line);
    }
    write_file("tasks.txt", tasks);
    cr_assert_eq(loomrun("--joblog jl tasks.txt"), 0);
    char *out = read_file("out.txt");
    for (int t = 1; t <= 20; t++) {
        char first[32], last[32];
        snprintf(first, sizeof first, "T%d-0\n", t);
        snprintf(last, sizeof last, "T%d-299\n", t);
        const char *a = strstr(out, first), *b = strstr(out, last);
        cr_assert(a && b && b > a, "task %d output missing", t);
        /* nothing of another task between its first and last line */
        for (const char *p = a; p < b; p = strchr(p, '\n') + 1) {
            char tag[16];
            snprintf(tag, sizeof tag, "T%d-", t);
            cr_assert(strncmp(p, tag, strlen(tag)) == 0, "task %d interleaved: %.20s", t, p);
        }
    }
    char *log = read_file("jl");
    static const char header[] =
        "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n";
    cr_assert(strncmp(log, header, sizeof header - 1) == 0, "%.100s", log);
    cr_assert_eq(count(log, "\n"), 21, "header + 20 lines:\n%s", log);
    /* Seq is the line number: the tasks are lines 3..22 */
    cr_assert_not_null(joblog_line(log, 3));
    cr_assert_not_null(joblog_line(log, 22));
    cr_assert_null(joblog_line(log, 1));
    free(out);
    free(log);
}

Test(loomrun, exit_codes_signals_and_the_exit_status, .init = setup, .fini = teardown,
     .timeout = 120)
{
    write_file("tasks.txt", "true\nexit 3\nkill -9 $$\necho $LOOM_TASK_ID $LOOM_ATTEMPT\n");
    cr_assert_eq(loomrun("--joblog jl tasks.txt"), 2, "the exit status counts the failed tasks");
    char *log = read_file("jl"), *out = read_file("out.txt"), *err = read_file("err.txt");
    int ev, sig;
    exit_and_signal(joblog_line(log, 1), &ev, &sig);
    cr_assert(ev == 0 && sig == 0);
    exit_and_signal(joblog_line(log, 2), &ev, &sig);
    cr_assert(ev == 3 && sig == 0);
    exit_and_signal(joblog_line(log, 3), &ev, &sig);
    cr_assert(ev == 0 && sig == 9, "a signal: Exitval 0, Signal 9 (GNU Parallel's convention)");
    cr_assert_not_null(strstr(out, "4 1\n"), "LOOM_TASK_ID and LOOM_ATTEMPT: %s", out);
    cr_assert_not_null(strstr(err, "4 tasks: 2 succeeded, 2 failed"), "%s", err);
    free(log);
    free(out);
    free(err);
}

Test(loomrun, a_timeout_kills_the_whole_process_group, .init = setup, .fini = teardown,
     .timeout = 120)
{
    write_file("tasks.txt", "sleep 100 & echo $! > child.pid; wait\n");
    cr_assert_eq(loomrun("--joblog jl --timeout 1 tasks.txt"), 1);
    char *log = read_file("jl"), *pid = read_file("child.pid");
    int ev, sig;
    exit_and_signal(joblog_line(log, 1), &ev, &sig);
    cr_assert(ev == -1 && sig == 15, "a timeout: Exitval -1, Signal 15");
    long p = strtol(pid, NULL, 10);
    cr_assert_gt(p, 0);
    /* Dead means gone or a zombie: an orphan is reparented to PID 1, which
     * in some containers never reaps. SIGKILL takes effect at once, but
     * poll (bounded) for the state to show it. */
    int dead = 0;
    for (int i = 0; i < 2000 && !dead; i++) {
        char path[64], stat[256] = "";
        snprintf(path, sizeof path, "/proc/%ld/stat", p);
        FILE *f = fopen(path, "r");
        if (!f) {
            dead = 1;
            break;
        }
        size_t n = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[n] = '\0';
        const char *close_paren = strrchr(stat, ')');
        dead = close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z';
        if (!dead)
            usleep(1000);
    }
    cr_assert(dead, "the background sleep %ld survived the timeout", p);
    free(log);
    free(pid);
}

Test(loomrun, retries_run_a_failed_task_again, .init = setup, .fini = teardown, .timeout = 120)
{
    write_file("tasks.txt", "[ \"$LOOM_ATTEMPT\" -ge 3 ]\n");
    /* --retries N: N attempts in all, as in GNU Parallel */
    cr_assert_eq(loomrun("--joblog jl --retries 2 tasks.txt"), 1, "2 attempts are not enough");
    char *log = read_file("jl");
    cr_assert_eq(count(log, "\n1\t"), 2);
    free(log);
    cr_assert_eq(loomrun("--joblog=jl2 --retries=3 tasks.txt"), 0, "the 3rd attempt succeeds");
    log = read_file("jl2");
    cr_assert_eq(count(log, "\n1\t"), 3);
    free(log);
}

Test(loomrun, resume_and_resume_failed, .init = setup, .fini = teardown, .timeout = 180)
{
    /* task 2 fails until the marker exists */
    write_file("tasks.txt", "echo one >> ran.txt\n[ -e marker ] && echo two >> ran.txt\n"
                            "echo three >> ran.txt\n");
    cr_assert_eq(loomrun("--joblog jl tasks.txt"), 1);
    char *ran = read_file("ran.txt");
    cr_assert_eq(count(ran, "one"), 1);
    cr_assert_eq(count(ran, "two"), 0);
    free(ran);
    /* --resume: every task is in the log, nothing runs again */
    cr_assert_eq(loomrun("--joblog jl --resume tasks.txt"), 0);
    ran = read_file("ran.txt");
    cr_assert_eq(count(ran, "one"), 1);
    cr_assert_eq(count(ran, "three"), 1);
    free(ran);
    /* --resume-failed: only task 2 runs again, and now succeeds */
    write_file("marker", "");
    cr_assert_eq(loomrun("--joblog jl --resume-failed tasks.txt"), 0);
    ran = read_file("ran.txt");
    cr_assert_eq(count(ran, "one"), 1);
    cr_assert_eq(count(ran, "two"), 1);
    cr_assert_eq(count(ran, "three"), 1);
    free(ran);
    char *log = read_file("jl");
    cr_assert_eq(count(log, "\n2\t"), 2, "task 2: the failure, then the success");
    free(log);
}

Test(loomrun, a_changed_task_file_is_refused, .init = setup, .fini = teardown, .timeout = 120)
{
    write_file("tasks.txt", "true\ntrue\n");
    cr_assert_eq(loomrun("--joblog jl tasks.txt"), 0);
    write_file("tasks.txt", "true\necho changed\n");
    cr_assert_eq(loomrun("--joblog jl --resume tasks.txt"), 255);
    char *err = read_file("err.txt");
    cr_assert_not_null(strstr(err, "tasks.txt:2: the task differs"), "%s", err);
    free(err);
    cr_assert_eq(loomrun("--joblog jl --resume --force tasks.txt"), 0);
}

Test(loomrun, a_changed_template_is_said_so, .init = setup, .fini = teardown, .timeout = 120)
{
    write_file("in.txt", "a\nb\n");
    cr_assert_eq(loomrun("--joblog jl -c 'echo {}' in.txt"), 0);
    cr_assert_eq(loomrun("--joblog jl --resume-failed --command='echo x{}' in.txt"), 255);
    char *err = read_file("err.txt");
    cr_assert_not_null(strstr(err, "the command template changed"), "%s", err);
    cr_assert_null(strstr(err, "task file changed"), "%s", err);
    free(err);
}

/* Started by hand, loom-run says what it can before starting mpirun: a
 * LOOM_MPIRUN that leaves a mark shows it was never started. */
Test(loomrun, by_hand_input_errors_are_said_before_mpirun, .init = setup, .fini = teardown,
     .timeout = 60)
{
    write_file("mark.sh", "#!/bin/sh\ntouch \"$(dirname \"$0\")/started\"\nexit 0\n");
    char cmd[1024];
    const char *bad[] = {"missing.txt",           "-c 'echo {}' missing.txt",
                         "echo :::: missing.txt", "-a missing.txt echo",
                         "'echo {= $_ =}' ::: a", "--colsep '(' echo ::: a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(cmd, sizeof cmd,
                 "cd %s && chmod +x mark.sh && LOOM_MPIRUN=%s/mark.sh " LOOMRUN
                 " %s >out.txt 2>err.txt",
                 dir, dir, bad[i]);
        int st = system(cmd);
        char *err = read_file("err.txt");
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 255, "%s: status %d, %s", bad[i], st, err);
        cr_assert(strlen(err) > 0, "%s said nothing", bad[i]);
        free(err);
        cr_assert_eq(access("started", F_OK), -1, "%s: mpirun was started", bad[i]);
    }
}

Test(loomrun, help_has_one_loom_options_heading, .init = setup, .fini = teardown, .timeout = 60)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cd %s && " LOOMRUN " --help >out.txt 2>err.txt", dir);
    cr_assert_eq(system(cmd), 0);
    char *out = read_file("out.txt");
    cr_assert_eq(count(out, "loom options"), 1, "%s", out);
    cr_assert_eq(count(out, "--jobs"), 1, "-j is documented");
    free(out);
}

Test(loomrun, templates_quote_every_input, .init = setup, .fini = teardown, .timeout = 120)
{
    const char *inputs = "plain\nwith space\nit's\n$HOME\n`date`\nünïcødé\n\"double\"\n";
    write_file("inputs.txt", inputs);
    cr_assert_eq(loomrun("-c 'printf \"%s\\n\" {} >> got.txt' inputs.txt"), 0);
    char *got = read_file("got.txt");
    /* completion order may differ: every input once */
    for (const char *p = inputs; *p;) {
        const char *nl = strchr(p, '\n');
        char one[64];
        snprintf(one, sizeof one, "%.*s\n", (int)(nl - p), p);
        cr_assert_eq(count(got, one), 1, "input '%s' in:\n%s", one, got);
        p = nl + 1;
    }
    free(got);
}

Test(loomrun, bad_input_exits_255_and_runs_nothing, .init = setup, .fini = teardown, .timeout = 120)
{
    write_file("empty.txt", "");
    write_file("comments.txt", "# only\n\n   # comments\n");
    /* nothing to do is done, as in GNU Parallel, but said */
    cr_assert_eq(loomrun("empty.txt"), 0);
    char *err = read_file("err.txt");
    cr_assert_not_null(strstr(err, "no tasks"), "%s", err);
    free(err);
    cr_assert_eq(loomrun("comments.txt"), 0);
    cr_assert_eq(loomrun("missing.txt"), 255);
    err = read_file("err.txt");
    cr_assert_not_null(strstr(err, "missing.txt"), "%s", err);
    free(err);
    cr_assert_eq(loomrun("--retries many x"), 255);
    cr_assert_eq(loomrun("--retries 0 x"), 255, "GNU Parallel's for ever is refused");
    err = read_file("err.txt");
    cr_assert_not_null(strstr(err, "attempts in all"), "%s", err);
    free(err);
    cr_assert_eq(loomrun("--resume x"), 255);
}

static double
seconds_since(const struct timespec *a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

/* Run n `true` tasks under mpirun --timeout limit_s: all succeed, and the
 * job log has its header and exactly one line for each of seq 1..n.
 * Returns the run's wall time, seconds. */
static double
run_true_tasks(int n, int limit_s)
{
    FILE *f = open_in("tasks.txt", "w");
    for (int i = 0; i < n; i++)
        fputs("true\n", f);
    fclose(f);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int st = loomrun_for(limit_s, "--joblog jl tasks.txt");
    double s = seconds_since(&t0);
    char *err = read_file("err.txt"), want[96];
    cr_assert_eq(st, 0, "%d tasks: exit status %d after %.1f s (mpirun's limit %d s):\n%s", n, st,
                 s, limit_s, err);
    snprintf(want, sizeof want, "%d tasks: %d succeeded, 0 failed", n, n);
    cr_assert_not_null(strstr(err, want), "no '%s' in:\n%s", want, err);
    free(err);
    unsigned char *seen = calloc((size_t)n + 1, 1);
    char line[1024];
    int lines = 0, twice = 0, odd = 0;
    cr_assert_not_null(seen);
    f = open_in("jl", "r");
    cr_assert_not_null(f, "no job log");
    while (fgets(line, sizeof line, f)) {
        long seq = lines++ == 0 ? 0 : strtol(line, NULL, 10);
        if (lines == 1)
            odd += strncmp(line, "Seq\t", 4) != 0;
        else if (seq < 1 || seq > n)
            odd++;
        else
            twice += seen[seq]++ != 0;
    }
    fclose(f);
    free(seen);
    cr_assert(lines == n + 1 && twice == 0 && odd == 0,
              "job log of %d tasks: %d lines, %d seq twice, %d bad lines or header", n, lines,
              twice, odd);
    return s;
}

/* Many tasks through one run: every one once, the job log complete. How
 * many this machine can run today is measured, not assumed (a 2-core VM
 * shared with other builds ran ~140 `true` tasks/s; 100,000 took longer
 * than any limit a suite can afford): a first run of 2000 tasks, checked
 * the same way, gives the rate; the second run has as many tasks as take
 * about 60 s at that rate (5000 at least, 100,000 at most), and mpirun
 * allows it five times its expected time. */
Test(loomrun, thousands_of_tasks_sized_by_a_measured_rate, .init = setup, .fini = teardown,
     .timeout = 560)
{
    double first = run_true_tasks(2000, 120), rate = 2000 / first;
    int n = (int)(rate * 60 / 1000) * 1000;
    n = n < 5000 ? 5000 : n > 100000 ? 100000 : n;
    double expect = n / rate;
    int limit = (int)(5 * expect) + 30;
    limit = limit > 400 ? 400 : limit;
    double second = run_true_tasks(n, limit);
    fprintf(stderr,
            "loomrun: 2000 tasks in %.1f s (%.0f tasks/s), then %d tasks in %.1f s (expected "
            "%.0f s, mpirun's limit %d s)\n",
            first, rate, n, second, expect, limit);
}

Test(loomrun, starts_its_own_mpi_job_when_run_by_hand, .init = setup, .fini = teardown,
     .timeout = 120)
{
    write_file("tasks.txt", "echo rank=$LOOM_RANK\nexit 5\n");
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd %s && env -u OMPI_ALLOW_RUN_AS_ROOT -u OMPI_ALLOW_RUN_AS_ROOT_CONFIRM " LOOMRUN
             " --joblog jl tasks.txt >out.txt 2>err.txt",
             dir);
    int st = system(cmd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "a failed task: exit 1");
    char *out = read_file("out.txt"), *log = read_file("jl");
    cr_assert_not_null(strstr(out, "rank=1\n"), "the task ran on worker rank 1: %s", out);
    int ev, sig;
    exit_and_signal(joblog_line(log, 2), &ev, &sig);
    cr_assert_eq(ev, 5);
    free(out);
    free(log);
}

/* A task that prints the CPUs of its worker's threads (each named by its
 * comm) and its own, as the kernel lists them. */
#define SHOW_CPUS                                                                                  \
    "for t in /proc/$PPID/task/*; do "                                                             \
    "echo \"$(cat $t/comm) $(sed -n 's/^Cpus_allowed_list:\t//p' $t/status)\"; done; "             \
    "echo \"task $(sed -n 's/^Cpus_allowed_list:\t//p' /proc/self/status)\"\n"

/* This process's CPUs as the kernel lists them (list: 256 bytes). */
static void
own_cpu_list(char *list)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[512];
    list[0] = '\0';
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Cpus_allowed_list:\t%255s", list) == 1)
            break;
    if (f)
        fclose(f);
}

/* Started by hand on one node, the one worker is alone on the node: its
 * pool thread i is pinned to the i-th CPU (pool.pin), and its commands
 * still get every CPU. --pool-pin false (the user's word) keeps them all. */
Test(loomrun, by_hand_on_one_node_pool_threads_are_pinned_commands_are_not, .init = setup,
     .fini = teardown, .timeout = 120)
{
    char list[256];
    int cpus[CPU_SETSIZE], n = loom_test_thread_cpus(cpus, CPU_SETSIZE);
    own_cpu_list(list);
    write_file("tasks.txt", SHOW_CPUS);
    for (int pin = 1; pin >= 0; pin--) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "cd %s && " LOOMRUN " --quiet %s tasks.txt >out.txt 2>err.txt",
                 dir, pin ? "" : "--pool-pin false");
        int st = system(cmd);
        char *out = read_file("out.txt"), *err = read_file("err.txt");
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit %d:\n%s%s", st, out, err);
        int workers = 0;
        for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
            int i;
            char got[256], want[32];
            if (sscanf(l, "task %255s", got) == 1) {
                cr_assert_str_eq(got, list, "a command runs on every CPU: %s", l);
            } else if (sscanf(l, "Worker-%d %255s", &i, got) == 2) {
                snprintf(want, sizeof want, "%d", cpus[(i - 1) % n]);
                cr_assert_str_eq(got, pin ? want : list, "pin %d: %s", pin, l);
                workers++;
            }
        }
        cr_assert_eq(workers, n, "one pool thread per CPU:\n%s", read_file("out.txt"));
        free(out);
        free(err);
    }
}

/* loom's own options given to a self-launched loom-run reach its ranks. */
Test(loomrun, by_hand_loom_options_reach_the_ranks, .init = setup, .fini = teardown, .timeout = 120)
{
    write_file("tasks.txt", SHOW_CPUS);
    for (int threads = 1; threads <= 3; threads += 2) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "cd %s && " LOOMRUN " --quiet --pool-threads %d tasks.txt >out.txt 2>err.txt", dir,
                 threads);
        int st = system(cmd);
        char *out = read_file("out.txt");
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit %d:\n%s", st, out);
        cr_assert_eq(count(out, "\nWorker-") + (strncmp(out, "Worker-", 7) == 0), threads,
                     "--pool-threads %d:\n%s", threads, out);
        free(out);
    }
}

/* A task may itself be an MPI job (its own mpirun) or a loom-run that
 * starts one: neither mistakes itself for a rank of the outer job. */
Test(loomrun, tasks_may_be_mpi_jobs_and_loom_runs, .init = setup, .fini = teardown, .timeout = 180)
{
    write_file("inner.txt", "echo inner-$LOOM_TASK_ID\necho inner-$LOOM_TASK_ID\n");
    char tasks[2048];
    snprintf(tasks, sizeof tasks,
             "mpirun -np 3 --oversubscribe --bind-to none " LOOM_BINARY_DIR
             "/apps/loom-hello | grep -c role=worker | sed 's/^/workers=/'\n"
             "cd %s && " LOOMRUN " --quiet inner.txt\n",
             dir);
    write_file("tasks.txt", tasks);
    int st = loomrun("--joblog jl tasks.txt");
    char *out = read_file("out.txt"), *err = read_file("err.txt");
    cr_assert_eq(st, 0, "exit %d:\n%s%s", st, out, err);
    cr_assert_not_null(strstr(out, "workers=2\n"), "the inner mpirun's hello:\n%s%s", out, err);
    cr_assert_not_null(strstr(out, "inner-1\n"), "%s%s", out, err);
    cr_assert_not_null(strstr(out, "inner-2\n"), "%s%s", out, err);
    free(out);
    free(err);
}

Test(loomrun, keep_order_prints_in_task_file_order, .init = setup, .fini = teardown, .timeout = 120)
{
    /* later lines finish first; --keep-order must print them in file order
     * all the same (without it, completion order is whatever it is) */
    write_file("tasks.txt", "sleep 0.6; echo one\nsleep 0.4; echo two\nsleep 0.2; echo three\n"
                            "echo four\n");
    cr_assert_eq(loomrun("--pool-threads 4 --keep-order --quiet tasks.txt"), 0);
    char *out = read_file("out.txt");
    cr_assert_str_eq(out, "one\ntwo\nthree\nfour\n");
    free(out);
}

Test(loomrun, tag_prefixes_every_line_with_the_input, .init = setup, .fini = teardown,
     .timeout = 120)
{
    write_file("inputs.txt", "alpha\nbe ta\n");
    cr_assert_eq(loomrun("--tag --keep-order --quiet -c 'echo x; echo y >&2' inputs.txt"), 0);
    char *out = read_file("out.txt"), *err = read_file("err.txt");
    cr_assert_str_eq(out, "alpha\tx\nbe ta\tx\n");
    cr_assert_not_null(strstr(err, "alpha\ty alpha\n"), "%s", err);
    cr_assert_not_null(strstr(err, "be ta\ty be ta\n"), "%s", err);
    free(out);
    free(err);
}

Test(loomrun, simple_commands_run_without_a_shell_but_fail_like_one, .init = setup,
     .fini = teardown, .timeout = 120)
{
    /* "ls DIR" and "/bin/echo a b" need no shell and are exec'd directly;
     * a missing or non-executable program must still give the shell's
     * 127 / 126 and its message */
    write_file("tasks.txt", "/bin/echo a  b\nnosuchprog x\n/etc/passwd\nls /nonexistent-dir\n"
                            "echo $LOOM_TASK_ID\n");
    cr_assert_eq(loomrun("--joblog jl --keep-order tasks.txt"), 3);
    char *log = read_file("jl"), *out = read_file("out.txt"), *err = read_file("err.txt");
    int ev, sig;
    exit_and_signal(joblog_line(log, 2), &ev, &sig);
    cr_assert_eq(ev, 127);
    exit_and_signal(joblog_line(log, 3), &ev, &sig);
    cr_assert_eq(ev, 126);
    exit_and_signal(joblog_line(log, 4), &ev, &sig);
    cr_assert_eq(ev, 2);
    cr_assert_str_eq(out, "a b\n5\n");
    cr_assert_not_null(strstr(err, "nosuchprog: not found"), "%s", err);
    free(log);
    free(out);
    free(err);
}

Test(loomrun, resume_after_sigkill_of_the_whole_job_runs_each_task_once, .init = setup,
     .fini = teardown, .timeout = 300)
{
    FILE *f = open_in("tasks.txt", "w");
    for (int i = 1; i <= 300; i++)
        fprintf(f, "sleep 0.01; echo %d >> %s/ran.txt\n", i, dir);
    fclose(f);
    unsigned seed = (unsigned)getpid();
    int rounds = 0, status = -1, kills = 0;
    for (; rounds < 20 && status != 0; rounds++) {
        /* kill after a random number of finished tasks, unless this round
         * is the one that gets to finish */
        int kill_after = rounds < 4 ? lines_in("jl") + 1 + (int)(rand_r(&seed) % 60) : -1;
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            setsid(); /* one group: mpirun, its ranks, their tasks */
            if (chdir(dir) != 0)
                _exit(99);
            int fd = open("/dev/null", 01); /* O_WRONLY */
            dup2(fd, 1);
            execl(LOOMRUN, LOOMRUN, "--quiet", "--joblog", "jl", rounds ? "--resume" : "--quiet",
                  "tasks.txt", (char *)NULL);
            _exit(98);
        }
        if (kill_after >= 0) {
            /* poll (bounded) for the log to reach the mark, then kill */
            for (int i = 0; i < 20000 && lines_in("jl") < kill_after; i++) {
                int st;
                if (waitpid(pid, &st, WNOHANG) == pid) {
                    pid = -1;
                    status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
                    break;
                }
                usleep(500);
            }
            if (pid > 0) {
                loom_test_kill_session(pid);
                waitpid(pid, NULL, 0);
                kills++;
            }
        } else {
            int st;
            waitpid(pid, &st, 0);
            status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
    }
    cr_assert_eq(status, 0, "the job never completed after %d rounds", rounds);
    cr_assert_geq(kills, 3, "only %d of the runs were killed mid-way", kills);
    /* every task exactly once as succeeded in the job log */
    char *log = read_file("jl");
    for (int seq = 1; seq <= 300; seq++) {
        char key[32];
        snprintf(key, sizeof key, "\n%d\t", seq);
        cr_assert_eq(count(log, key), 1, "task %d appears %d times in the job log", seq,
                     count(log, key));
        int ev, sig;
        exit_and_signal(joblog_line(log, (unsigned)seq), &ev, &sig);
        cr_assert(ev == 0 && sig == 0, "task %d: exit %d signal %d in the job log:\n%s", seq, ev,
                  sig, log);
    }
    free(log);
}

Test(loomrun, binary_and_huge_output_arrive_intact_and_a_cap_says_so, .init = setup,
     .fini = teardown, .timeout = 180)
{
    /* NUL, 0xff, invalid UTF-8, no final newline; then 6 MB */
    write_file("tasks.txt", "printf 'a\\000b\\377\\300\\001z'\n");
    cr_assert_eq(loomrun("--quiet tasks.txt"), 0);
    size_t n;
    char *out = read_bytes("out.txt", &n);
    cr_assert_eq(n, 7);
    cr_assert_eq(memcmp(out, "a\000b\377\300\001z", 7), 0);
    free(out);

    write_file("tasks.txt", "head -c 6000000 /dev/urandom | tee big.bin\n");
    cr_assert_eq(loomrun("--quiet tasks.txt"), 0);
    size_t m;
    char *big = read_bytes("big.bin", &m);
    out = read_bytes("out.txt", &n);
    cr_assert_eq(m, 6000000);
    cr_assert_eq(n, m, "6 MB of random bytes: got %zu", n);
    cr_assert_eq(memcmp(out, big, n), 0);
    free(out);
    free(big);

    /* over the cap: the first bytes kept, exactly; the cut said on
     * stderr, never inside the data */
    write_file("tasks.txt", "seq 1 100000; seq 1 100000 >&2\n");
    cr_assert_eq(loomrun("--quiet --process-output-limit 4096 tasks.txt"), 0);
    out = read_bytes("out.txt", &n);
    cr_assert_eq(n, 4096, "%zu bytes", n);
    cr_assert_eq(strncmp(out, "1\n2\n3\n", 6), 0);
    cr_assert_null(memmem(out, n, "loom-run", 8));
    free(out);
    char *err = read_file("err.txt");
    cr_assert_not_null(
        strstr(err, "task 1: stdout cut at 4096 of 588895 bytes (process.output_limit)"), "%s",
        err);
    cr_assert_not_null(strstr(err, "task 1: stderr cut at 4096 of 588895 bytes"), "%s", err);
    free(err);
}

Test(loomrun, results_dir_holds_every_task_in_a_bounded_tree, .init = setup, .fini = teardown,
     .timeout = 180)
{
    FILE *f = open_in("tasks.txt", "w");
    for (int i = 1; i <= 2100; i++)
        fprintf(f, i == 1500 ? "printf 'x\\000y'; echo err >&2; exit 4\n" : "echo %d\n", i);
    fclose(f);
    cr_assert_eq(loomrun("--quiet --results res tasks.txt > /dev/null"), 1);
    /* 1-999 | 1000-1999 | 2000-2100: never more than 1000 entries */
    char cmd[512], out[64];
    snprintf(cmd, sizeof cmd,
             "cd %s/res && ls 000 | wc -l && ls 000/000 | wc -l && ls 000/001 | wc -l && "
             "ls 000/002 | wc -l",
             dir);
    FILE *pp = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof out - 1, pp);
    out[n] = '\0';
    pclose(pp);
    cr_assert_str_eq(out, "3\n999\n1000\n101\n");
    char *st = read_file("res/000/001/1500/status");
    cr_assert_not_null(strstr(st, "seq 1500\n"), "%s", st);
    cr_assert_not_null(strstr(st, "exitval 4\n"), "%s", st);
    cr_assert_not_null(strstr(st, "stdout_bytes 3\n"), "%s", st);
    free(st);
    size_t len;
    char *o = read_bytes("res/000/001/1500/stdout", &len);
    cr_assert(len == 3 && memcmp(o, "x\000y", 3) == 0);
    free(o);
    char *e = read_file("res/000/001/1500/stderr"), *c = read_file("res/000/000/7/command");
    cr_assert_str_eq(e, "err\n");
    cr_assert_str_eq(c, "echo 7");
    free(e);
    free(c);
    o = read_file("res/000/002/2100/stdout");
    cr_assert_str_eq(o, "2100\n");
    free(o);

    /* a results directory that cannot be made: refused, nothing run */
    write_file("afile", "");
    cr_assert_eq(loomrun("--results afile/res --joblog jl tasks.txt"), 255);
    char *err = read_file("err.txt");
    cr_assert_not_null(strstr(err, "--results afile/res: cannot write there"), "%s", err);
    free(err);
    cr_assert_eq(lines_in("jl"), 0, "nothing ran, no job log");
}

Test(loomrun, bad_task_files_are_refused_before_anything_runs, .init = setup, .fini = teardown,
     .timeout = 120)
{
    FILE *f = open_in("nul.txt", "w");
    fwrite("echo one >> ran.txt\necho t\0wo >> ran.txt\n", 1, 41, f);
    fclose(f);
    cr_assert_eq(loomrun("nul.txt"), 255);
    char *err = read_file("err.txt");
    cr_assert_not_null(strstr(err, "nul.txt:2"), "names the line: %s", err);
    free(err);
    f = open_in("long.txt", "w");
    fputs("echo one >> ran.txt\necho ", f);
    for (int i = 0; i < (1 << 20); i++)
        fputc('x', f);
    fputs("\n", f);
    fclose(f);
    cr_assert_eq(loomrun("long.txt"), 255);
    err = read_file("err.txt");
    cr_assert_not_null(strstr(err, "long.txt:2"), "names the line: %s", err);
    free(err);
    cr_assert_eq(loomrun("."), 255, "a directory");
    cr_assert_eq(lines_in("ran.txt"), 0, "the good first lines did not run either");
}

Test(loomrun, more_than_100_failures_exit_101, .init = setup, .fini = teardown, .timeout = 120)
{
    FILE *f = open_in("tasks.txt", "w");
    for (int i = 0; i < 150; i++)
        fputs(i % 3 ? "exit 1\n" : "kill -TERM $$\n", f);
    fclose(f);
    cr_assert_eq(loomrun("tasks.txt"), 101);
    char *err = read_file("err.txt");
    cr_assert_not_null(strstr(err, "150 tasks: 0 succeeded, 150 failed"), "%s", err);
    cr_assert_not_null(strstr(err, "failures: 100 exit 1, 50 signal 15 (SIGTERM)"), "%s", err);
    free(err);
}

Test(loomrun, retries_go_to_another_worker, .init = setup, .fini = teardown, .timeout = 120)
{
    FILE *f = open_in("tasks.txt", "w");
    for (int i = 0; i < 40; i++)
        fputs("echo $LOOM_TASK_ID $LOOM_ATTEMPT $LOOM_RANK >> att.txt; [ $LOOM_ATTEMPT -ge 2 ]\n",
              f);
    fclose(f);
    cr_assert_eq(loomrun("--retries 2 tasks.txt"), 0);
    char *att = read_file("att.txt");
    int first[41] = {0}, second[41] = {0}, lines = 0;
    for (char *l = att; *l; l = strchr(l, '\n') + 1) {
        int id, a, r;
        cr_assert_eq(sscanf(l, "%d %d %d", &id, &a, &r), 3);
        cr_assert(id >= 1 && id <= 40 && (a == 1 || a == 2));
        (a == 1 ? first : second)[id] = r;
        lines++;
    }
    cr_assert_eq(lines, 80);
    for (int id = 1; id <= 40; id++)
        cr_assert_neq(first[id], second[id], "task %d ran twice on rank %d", id, first[id]);
    free(att);
}

Test(loomrun, halt_soon_starts_nothing_more_and_resume_runs_the_rest, .init = setup,
     .fini = teardown, .timeout = 180)
{
    FILE *f = open_in("tasks.txt", "w");
    fputs("[ -e ok ] || exit 7\n", f);
    for (int i = 2; i <= 1000; i++)
        fprintf(f, "sleep 0.01; echo %d >> ran.txt\n", i);
    fclose(f);
    cr_assert_eq(loomrun("--halt soon,fail=1 --joblog jl tasks.txt"), 1);
    int ran = lines_in("ran.txt");
    cr_assert_lt(ran, 999, "the halt stopped nothing");
    cr_assert_eq(lines_in("jl"), ran + 2, "header, the failure, and what ran");
    char *err = read_file("err.txt");
    cr_assert_not_null(strstr(err, "--halt soon,fail=1 reached"), "%s", err);
    cr_assert_not_null(strstr(err, "not started"), "%s", err);
    free(err);
    /* the tasks not run are not in the log: --resume-failed runs them and
     * the failed one, each exactly once in all */
    write_file("ok", "");
    cr_assert_eq(loomrun("--resume-failed --joblog jl tasks.txt"), 0);
    char *all = read_file("ran.txt");
    for (int i = 2; i <= 1000; i++) {
        char key[16];
        snprintf(key, sizeof key, "\n%d\n", i);
        cr_assert_eq(count(all, key) + (strncmp(all, key + 1, strlen(key) - 1) == 0), 1,
                     "task %d ran %d times", i, count(all, key));
    }
    free(all);
}

Test(loomrun, halt_now_kills_running_tasks, .init = setup, .fini = teardown, .timeout = 120)
{
    /* the sleeps would outlast the test's timeout: the halt must kill them
     * (whatever the number of slots, tasks 1 and 2 start together) */
    write_file("tasks.txt", "sleep 1000\n[ -e x ] || exit 9\nsleep 1000\nsleep 1000\n");
    cr_assert_eq(loomrun("--halt now,fail=1 --joblog jl tasks.txt"), 1);
    char *log = read_file("jl"), *err = read_file("err.txt");
    cr_assert_not_null(joblog_line(log, 2));
    cr_assert_null(joblog_line(log, 1), "killed tasks are not recorded: %s", log);
    cr_assert_not_null(strstr(err, "--halt now,fail=1 reached: killing"), "%s", err);
    cr_assert_not_null(strstr(err, "killed (--halt now,fail=1 reached)"), "%s", err);
    free(log);
    free(err);
    cr_assert_eq(loomrun("--halt sometimes tasks.txt"), 255);
}

Test(loomrun, progress_lines_in_a_log_and_on_a_terminal, .init = setup, .fini = teardown,
     .timeout = 120)
{
    FILE *f = open_in("tasks.txt", "w");
    for (int i = 0; i < 40; i++)
        fputs("sleep 0.05\n", f);
    fclose(f);
    cr_assert_eq(loomrun("--progress-interval 0.1 tasks.txt"), 0);
    char *err = read_file("err.txt");
    cr_assert_geq(count(err, "loom-run: progress: "), 1, "%s", err);
    cr_assert_not_null(strstr(err, "/40 done, 0 failed, "), "%s", err);
    cr_assert_not_null(strstr(err, "loom-run: wall "), "%s", err);
    cr_assert_not_null(strstr(err, "loom-run: slowest: #"), "%s", err);
    free(err);
    /* on a terminal (script(1) gives it one): one line redrawn in place */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd %s && OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
             "script -qec '" LOOMRUN " tasks.txt' /dev/null > tty.txt",
             dir);
    cr_assert_eq(system(cmd), 0);
    char *tty = read_file("tty.txt");
    cr_assert_geq(count(tty, "\r\033[Kloom-run: "), 1, "%s", tty);
    cr_assert_not_null(strstr(tty, "40 tasks: 40 succeeded"), "%s", tty);
    free(tty);
    /* --quiet: none of it */
    cr_assert_eq(loomrun("--quiet --progress-interval 0.1 tasks.txt"), 0);
    err = read_file("err.txt");
    cr_assert_eq(count(err, "loom-run:"), 0, "%s", err);
    free(err);
}

/* 60 tasks of 0.1 s; task 5 kills its own worker process with SIGKILL, once
 * (a marker file says it was done). */
static void
write_killer_tasks(void)
{
    FILE *f = open_in("tasks.txt", "w");
    for (int i = 1; i <= 60; i++)
        fprintf(f,
                i == 5 ? "[ -e killed ] || { touch killed; kill -9 $PPID; }; echo %d\n"
                       : "sleep 0.1; echo %d\n",
                i);
    fclose(f);
}

Test(loomrun, a_killed_worker_s_tasks_run_on_the_others, .init = setup, .fini = teardown,
     .timeout = 120)
{
    write_killer_tasks();
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd %s && OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
             "OMPI_MCA_mpi_yield_when_idle=1 mpirun --enable-recovery --oversubscribe "
             "--bind-to none --timeout 100 -np 3 " LOOMRUN " --job-worker-timeout 1 "
             "--job-heartbeat 0.1 --joblog jl tasks.txt >out.txt 2>err.txt",
             dir);
    cr_assert_eq(system(cmd), 0); /* with --enable-recovery mpirun says 0 anyway */
    char *log = read_file("jl"), *err = read_file("err.txt");
    cr_assert_not_null(strstr(err, "declared lost"), "%s", err);
    cr_assert_not_null(strstr(err, "60 tasks: 60 succeeded, 0 failed"), "%s", err);
    for (unsigned seq = 1; seq <= 60; seq++) {
        char key[16];
        snprintf(key, sizeof key, "\n%u\t", seq);
        cr_assert_eq(count(log, key), 1, "task %u: %d times in the job log", seq, count(log, key));
    }
    free(log);
    free(err);
}

Test(loomrun, losing_the_only_worker_exits_102_and_resume_finishes, .init = setup, .fini = teardown,
     .timeout = 120)
{
    write_killer_tasks();
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd %s && " LOOMRUN " --job-worker-timeout 1 --job-heartbeat 0.1 --joblog jl "
             "tasks.txt >out.txt 2>err.txt",
             dir);
    int st = system(cmd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 102, "status %#x", st);
    char *err = read_file("err.txt");
    cr_assert_not_null(strstr(err, "no worker left"), "%s", err);
    cr_assert_not_null(strstr(err, "not recorded (lost with their workers"), "%s", err);
    free(err);
    int before = lines_in("jl") - 1;
    cr_assert_lt(before, 60);
    snprintf(cmd, sizeof cmd,
             "cd %s && " LOOMRUN " --joblog jl --resume tasks.txt >out.txt 2>err.txt", dir);
    cr_assert_eq(system(cmd), 0);
    char *log = read_file("jl");
    for (unsigned seq = 1; seq <= 60; seq++) {
        char key[16];
        snprintf(key, sizeof key, "\n%u\t", seq);
        cr_assert_eq(count(log, key), 1, "task %u: %d times in the job log", seq, count(log, key));
    }
    free(log);
}

Test(loomrun, a_full_disk_stops_the_run_cleanly_and_resume_finishes, .init = setup,
     .fini = teardown, .timeout = 180)
{
    /* 200 tasks of 2000 bytes each into --results and the job log, on a
     * private 128 KiB tmpfs: the disk fills mid-run */
    FILE *f = open_in("tasks.txt", "w");
    for (int i = 0; i < 200; i++)
        fputs("head -c 2000 /dev/zero\n", f);
    fclose(f);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && mkdir -p disk && unshare -m sh -c '"
             "mount -t tmpfs -o size=128k loomtest disk || exit 77; " LOOMRUN
             " --results disk/res --joblog disk/jl tasks.txt >/dev/null 2>err1.txt; "
             "echo $? > rc1; "
             "mount -o remount,size=64m disk; " LOOMRUN
             " --results disk/res --joblog disk/jl --resume tasks.txt >/dev/null "
             "2>err2.txt; echo $? > rc2; "
             "cp disk/jl jl; for d in disk/res/000/000/*; do wc -c < $d/stdout; done > sizes'",
             dir);
    int st = system(cmd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 77, "cannot mount a tmpfs here");
    char *rc1 = read_file("rc1"), *rc2 = read_file("rc2"), *err1 = read_file("err1.txt");
    cr_assert_str_eq(rc1, "102\n", "%s", err1);
    cr_assert_not_null(strstr(err1, "No space left on device"), "%s", err1);
    cr_assert_str_eq(rc2, "0\n");
    char *log = read_file("jl");
    for (unsigned seq = 1; seq <= 200; seq++) {
        char key[16];
        snprintf(key, sizeof key, "\n%u\t", seq);
        cr_assert_eq(count(log, key), 1, "task %u: %d times in the job log", seq, count(log, key));
    }
    char *sizes = read_file("sizes");
    cr_assert_eq(count(sizes, "2000\n"), 200, "%s", sizes);
    free(rc1);
    free(rc2);
    free(err1);
    free(log);
    free(sizes);
}
