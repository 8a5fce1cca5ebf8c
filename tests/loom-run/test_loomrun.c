/* SPDX-License-Identifier: MIT */
/* loom-run as a user runs it: real task files, real mpirun, real job logs.
 * Each test works in its own temporary directory and asserts on the
 * output, the exit status and the job log. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "loom_test.h"

#define LOOMRUN LOOM_BINARY_DIR "/apps/loom-run/loom-run"

static char dir[64];

static void
setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/loomrun-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void
write_file(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static char *
read_file(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    if (!f)
        return strdup("");
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strdup(buf);
}

/* Run loom-run with 3 ranks in dir; stdout to out.txt, stderr to err.txt.
 * Returns its exit status. */
static int
loomrun(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd %s && OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
             "OMPI_MCA_mpi_yield_when_idle=1 mpirun --oversubscribe --bind-to none --timeout 120 "
             "-np 3 " LOOMRUN " %s >out.txt 2>err.txt",
             dir, args);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Job log line of task seq (the first), or NULL. */
static const char *
joblog_line(const char *log, unsigned seq)
{
    char key[32];
    snprintf(key, sizeof key, "\n%u\t", seq);
    const char *p = strstr(log, key);
    return p ? p + 1 : NULL;
}

/* Exitval and Signal columns of a job log line. */
static void
exit_and_signal(const char *line, int *exitval, int *sig)
{
    const char *p = line;
    for (int tab = 0; tab < 6; p++)
        if (*p == '\t')
            tab++;
    cr_assert_eq(sscanf(p, "%d\t%d", exitval, sig), 2, "line: %.80s", line);
}

Test(loomrun, runs_every_task_with_whole_output_and_a_job_log, .init = setup, .timeout = 120)
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

Test(loomrun, exit_codes_signals_and_the_exit_status, .init = setup, .timeout = 120)
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

Test(loomrun, a_timeout_kills_the_whole_process_group, .init = setup, .timeout = 120)
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

Test(loomrun, retries_run_a_failed_task_again, .init = setup, .timeout = 120)
{
    write_file("tasks.txt", "[ \"$LOOM_ATTEMPT\" -ge 3 ]\n");
    cr_assert_eq(loomrun("--joblog jl --retries 1 tasks.txt"), 1, "2 attempts are not enough");
    char *log = read_file("jl");
    cr_assert_eq(count(log, "\n1\t"), 2);
    free(log);
    cr_assert_eq(loomrun("--joblog jl2 --retries 2 tasks.txt"), 0, "the 3rd attempt succeeds");
    log = read_file("jl2");
    cr_assert_eq(count(log, "\n1\t"), 3);
    free(log);
}

Test(loomrun, resume_and_resume_failed, .init = setup, .timeout = 180)
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

Test(loomrun, a_changed_task_file_is_refused, .init = setup, .timeout = 120)
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

Test(loomrun, templates_quote_every_input, .init = setup, .timeout = 120)
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

Test(loomrun, bad_input_exits_255_and_runs_nothing, .init = setup, .timeout = 120)
{
    write_file("empty.txt", "");
    write_file("comments.txt", "# only\n\n   # comments\n");
    cr_assert_eq(loomrun("empty.txt"), 255);
    char *err = read_file("err.txt");
    cr_assert_not_null(strstr(err, "no tasks"), "%s", err);
    free(err);
    cr_assert_eq(loomrun("comments.txt"), 255);
    cr_assert_eq(loomrun("missing.txt"), 255);
    err = read_file("err.txt");
    cr_assert_not_null(strstr(err, "missing.txt"), "%s", err);
    free(err);
    cr_assert_eq(loomrun("--retries many x"), 255);
    cr_assert_eq(loomrun("--resume x"), 255);
}

Test(loomrun, ten_thousand_tasks, .init = setup, .timeout = 300)
{
    char p[256];
    snprintf(p, sizeof p, "%s/tasks.txt", dir);
    FILE *f = fopen(p, "w");
    for (int i = 0; i < 10000; i++)
        fputs("true\n", f);
    fclose(f);
    cr_assert_eq(loomrun("--joblog jl tasks.txt"), 0);
    char *log = read_file("jl");
    cr_assert_eq(count(log, "\n"), 10001);
    free(log);
    char *err = read_file("err.txt");
    cr_assert_not_null(strstr(err, "10000 tasks: 10000 succeeded, 0 failed"), "%s", err);
    free(err);
}

Test(loomrun, starts_its_own_mpi_job_when_run_by_hand, .init = setup, .timeout = 120)
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

Test(loomrun, keep_order_prints_in_task_file_order, .init = setup, .timeout = 120)
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

Test(loomrun, tag_prefixes_every_line_with_the_input, .init = setup, .timeout = 120)
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

Test(loomrun, simple_commands_run_without_a_shell_but_fail_like_one, .init = setup, .timeout = 120)
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

/* Lines in a file (0 if missing). */
static int
lines_in(const char *name)
{
    char *text = read_file(name);
    int n = count(text, "\n");
    free(text);
    return n;
}

Test(loomrun, resume_after_sigkill_of_the_whole_job_runs_each_task_once, .init = setup,
     .timeout = 300)
{
    char p[256];
    snprintf(p, sizeof p, "%s/tasks.txt", dir);
    FILE *f = fopen(p, "w");
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
                kill(-pid, SIGKILL);
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
        cr_assert(ev == 0 && sig == 0);
    }
    free(log);
}
