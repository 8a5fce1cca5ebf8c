/* SPDX-License-Identifier: MIT */
/* The node-local examples of the seed's lessons (apps/pool, apps/command,
 * apps/context), run as a user runs them: real processes, their output and
 * exit codes. Orders are asserted from what the programs record, never from
 * timing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loom_test.h"

#define APP(name) LOOM_BINARY_DIR "/apps/" name
#define OUT_MAX   (1 << 20)

/* Run a shell command line, capture stdout+stderr as the line says
 * (bounded), return the exit status (or -1). In sanitizer builds the
 * program's leak check at exit is turned back on, so a leak fails it. */
static int
run(const char *cmd, char *out, size_t len)
{
    char line[4096];
    snprintf(line, sizeof line, "LSAN_OPTIONS=leak_check_at_exit=1 %s", cmd);
    FILE *p = popen(line, "r");
    cr_assert_not_null(p, "popen %s", cmd);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    char drain[4096];
    while (fread(drain, 1, sizeof drain, p) > 0)
        ;
    int st = pclose(p);
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

/* ---- pool ------------------------------------------------------------------- */

/* The pool's record, read back from its lines in output order. */
struct pool_events {
    int starts[64], ends[64]; /* per task: lines seen */
    int max_running;          /* most tasks between their Run and Task lines */
    int ends_before[64];      /* per task: Task-runs lines before its Run line */
    int start_rank[64];       /* per task: its position among the Run lines */
    int bad_names;            /* Run lines whose thread is not Worker-1..threads */
    int n_starts;
};

static void
read_pool_events(const char *out, int threads, struct pool_events *e)
{
    memset(e, 0, sizeof *e);
    int running = 0, ended = 0;
    for (const char *p = out; p && *p;) {
        int task, worker;
        char tail[8];
        if (sscanf(p, "Run task %d (Worker-%d)%4[.]", &task, &worker, tail) == 3) {
            cr_assert(task >= 0 && task < 64, "%s", out);
            e->starts[task]++;
            e->ends_before[task] = ended;
            e->start_rank[task] = e->n_starts++;
            e->bad_names += worker < 1 || worker > threads;
            if (++running > e->max_running)
                e->max_running = running;
        } else if (sscanf(p, "Task %d runs", &task) == 1) {
            cr_assert(task >= 0 && task < 64, "%s", out);
            cr_assert_eq(e->starts[task], 1, "task %d ended before it started:\n%s", task, out);
            e->ends[task]++;
            running--;
            ended++;
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
}

Test(pool, four_threads_five_tasks_the_fifth_waits, .timeout = 60)
{
    static char out[OUT_MAX];
    int rc = run(APP("loom-pool") " --max-task-ms 50 --seed 7 2>&1", out, sizeof out);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    struct pool_events e;
    read_pool_events(out, 4, &e);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(e.starts[i], 1, "task %d started %d times:\n%s", i, e.starts[i], out);
        cr_assert_eq(e.ends[i], 1, "task %d ended %d times:\n%s", i, e.ends[i], out);
    }
    cr_assert_eq(e.bad_names, 0, "tasks run on Worker-1..Worker-4:\n%s", out);
    cr_assert(e.max_running <= 4, "%d tasks at once on 4 threads:\n%s", e.max_running, out);
    /* the fifth waits: the last task to start did so after another finished */
    int last = 0;
    for (int i = 0; i < 5; i++)
        if (e.start_rank[i] == 4)
            last = i;
    cr_assert(e.ends_before[last] >= 1, "the 5th task started before any finished:\n%s", out);
    cr_assert(e.ends_before[4] >= 1, "task 4 started before any finished:\n%s", out);
    /* the seed's frame around it, and the program's own summary agrees */
    cr_assert(strstr(out, " (MainThread).\n") && strncmp(out, "Parent process ", 15) == 0, "%s",
              out);
    cr_assert_eq(count(out, "Waiting for all tasks done...\n"), 1, "%s", out);
    const char *done = strstr(out, "All tasks done.\n");
    cr_assert_not_null(done, "%s", out);
    for (int i = 0; i < 5; i++) {
        char line[32];
        snprintf(line, sizeof line, "Task %d runs ", i);
        cr_assert(strstr(out, line) < done, "'%s' after 'All tasks done.':\n%s", line, out);
    }
    char summary[128];
    snprintf(summary, sizeof summary,
             "loom-pool: 5 tasks on 4 threads, at most %d at once; task 4 started after %d had "
             "finished\n",
             e.max_running, e.ends_before[4]);
    cr_assert_not_null(strstr(out, summary), "expected '%s' in:\n%s", summary, out);
}

Test(pool, one_thread_runs_the_tasks_one_after_another_in_order, .timeout = 60)
{
    static char out[OUT_MAX];
    int rc = run(APP("loom-pool") " --threads 1 --tasks 6 --max-task-ms 3 --seed 1 2>&1", out,
                 sizeof out);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    /* with one thread the record is fully determined: Run i, Task i, ... */
    const char *p = out;
    for (int i = 0; i < 6; i++) {
        char run_line[64], end_line[64];
        snprintf(run_line, sizeof run_line, "Run task %d (Worker-1)...\n", i);
        snprintf(end_line, sizeof end_line, "Task %d runs ", i);
        const char *r = strstr(p, run_line), *t = r ? strstr(r, end_line) : NULL;
        cr_assert(r && t, "'%s' then '%s' expected after offset %ld:\n%s", run_line, end_line,
                  (long)(p - out), out);
        const char *next = strstr(r + 1, "Run task ");
        cr_assert(!next || next > t, "a task started before task %d ended:\n%s", i, out);
        p = t;
    }
    cr_assert_not_null(strstr(out,
                              "loom-pool: 6 tasks on 1 thread, at most 1 at once; task 1 started "
                              "after 1 had finished\n"),
                       "%s", out);
}

Test(pool, more_threads_than_tasks_nobody_waits, .timeout = 60)
{
    static char out[OUT_MAX];
    int rc = run(APP("loom-pool") " --threads 8 --tasks 5 --max-task-ms 20 2>&1", out, sizeof out);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    struct pool_events e;
    read_pool_events(out, 8, &e);
    for (int i = 0; i < 5; i++)
        cr_assert(e.starts[i] == 1 && e.ends[i] == 1, "%s", out);
    cr_assert_eq(e.bad_names, 0, "%s", out);
    /* no task waited, so the summary names none */
    char summary[96];
    snprintf(summary, sizeof summary, "loom-pool: 5 tasks on 8 threads, at most %d at once\n",
             e.max_running);
    cr_assert_not_null(strstr(out, summary), "expected '%s' in:\n%s", summary, out);
}

Test(pool, thread_names_main_and_loop, .timeout = 60)
{
    static char out[OUT_MAX];
    int rc = run(APP("loom-pool") " --tasks 0 2>&1", out, sizeof out);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    cr_assert_not_null(strstr(out, "\nthread MainThread is running...\n"
                                   "thread LoopThread is running...\n"
                                   "thread LoopThread >>> 1\n"
                                   "thread LoopThread >>> 2\n"
                                   "thread LoopThread >>> 3\n"
                                   "thread LoopThread >>> 4\n"
                                   "thread LoopThread >>> 5\n"
                                   "thread LoopThread ended.\n"
                                   "thread MainThread ended.\n"),
                       "%s", out);
}

Test(pool, usage_errors_exit_2, .timeout = 30)
{
    char out[4096];
    cr_assert_eq(run(APP("loom-pool") " --threads 0 2>&1", out, sizeof out), 2, "%s", out);
    cr_assert_not_null(strstr(out, "--threads"), "%s", out);
    cr_assert_eq(run(APP("loom-pool") " --tasks x 2>&1", out, sizeof out), 2, "%s", out);
    cr_assert_eq(run(APP("loom-pool") " --frob 2>&1", out, sizeof out), 2, "%s", out);
    cr_assert_not_null(strstr(out, "unknown argument '--frob'"), "%s", out);
    cr_assert_eq(run(APP("loom-pool") " --help", out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "Exit status"), "%s", out);
}

/* ---- command ---------------------------------------------------------------- */

Test(command, the_seed_call_and_communicate, .timeout = 30)
{
    char out[8192];
    int rc = run(APP("loom-command") " 2>&1", out, sizeof out);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    cr_assert_str_eq(out, "$ uname -s\nLinux\nExit code: 0\n"
                          "$ sort\napple\nbanana\ncherry\nExit code: 0\n");
}

Test(command, stdin_round_trip_through_a_program, .timeout = 30)
{
    char out[8192];
    int rc = run(APP("loom-command") " --input 'hello\\nloom world\\n' -- tr a-z A-Z 2>&1", out,
                 sizeof out);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    cr_assert_str_eq(out, "$ tr a-z A-Z\nHELLO\nLOOM WORLD\nExit code: 0\n");
    /* the words reach the program as its stdin, counted there */
    rc = run(APP("loom-command") " --quiet --input 'one two\\tthree\\nfour\\n' -- wc -w 2>&1", out,
             sizeof out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert_eq(atoi(out), 4, "wc -w saw: %s", out);
}

Test(command, binary_stdin_comes_back_byte_for_byte, .timeout = 60)
{
    char dir[] = LOOM_BINARY_DIR "/tests/command-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char in[512], back[512], cmd[2048], out[4096];
    snprintf(in, sizeof in, "%s/in.bin", dir);
    snprintf(back, sizeof back, "%s/back.bin", dir);
    /* 3 MiB of every byte value, NULs included, in a pattern that does not
     * repeat at any power-of-two period */
    FILE *f = fopen(in, "wb");
    cr_assert_not_null(f);
    unsigned x = 12345;
    for (int i = 0; i < 3 << 20; i++) {
        x = x * 1103515245u + 12345u;
        fputc((int)(x >> 16) & 0xff, f);
    }
    cr_assert_eq(fclose(f), 0);
    snprintf(cmd, sizeof cmd, APP("loom-command") " --quiet --input-file %s -- cat > %s", in, back);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    snprintf(cmd, sizeof cmd, "cmp %s %s 2>&1", in, back);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "the bytes came back changed: %s", out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(command, exit_codes_like_a_shell, .timeout = 60)
{
    char out[8192];
    int rc =
        run(APP("loom-command") " -- sh -c 'echo to-stderr >&2; exit 3' 2>&1", out, sizeof out);
    cr_assert_eq(rc, 1, "a failing command: exit %d:\n%s", rc, out);
    cr_assert_not_null(strstr(out, "$ sh -c 'echo to-stderr >&2; exit 3'\n"), "%s", out);
    cr_assert_not_null(strstr(out, "to-stderr\n"), "stderr passed on: %s", out);
    cr_assert_not_null(strstr(out, "Exit code: 3\n"), "%s", out);

    rc = run(APP("loom-command") " -- sh -c 'kill -TERM $$' 2>&1", out, sizeof out);
    cr_assert_eq(rc, 1, "%s", out);
    cr_assert_not_null(strstr(out, "Killed by signal 15\n"), "%s", out);

    rc = run(APP("loom-command") " --timeout 1 -- sleep 30 2>&1", out, sizeof out);
    cr_assert_eq(rc, 1, "%s", out);
    cr_assert_not_null(strstr(out, "Timed out after 1 s\n"), "%s", out);

    rc = run(APP("loom-command") " -- no-such-program-anywhere 2>&1", out, sizeof out);
    cr_assert_eq(rc, 127, "%s", out);
    cr_assert_not_null(strstr(out, "no-such-program-anywhere"), "%s", out);

    rc = run(APP("loom-command") " -- /etc/passwd 2>&1", out, sizeof out);
    cr_assert_eq(rc, 126, "not executable: %s", out);
}

Test(command, usage_errors_exit_2, .timeout = 30)
{
    char out[4096];
    cr_assert_eq(run(APP("loom-command") " --input x 2>&1", out, sizeof out), 2, "%s", out);
    cr_assert_eq(run(APP("loom-command") " --frob true 2>&1", out, sizeof out), 2, "%s", out);
    cr_assert_eq(run(APP("loom-command") " --timeout 0 true 2>&1", out, sizeof out), 2, "%s", out);
    cr_assert_eq(run(APP("loom-command") " --input-file /nonexistent/x cat 2>&1", out, sizeof out),
                 2, "%s", out);
    cr_assert_not_null(strstr(out, "/nonexistent/x"), "%s", out);
}

/* ---- context ---------------------------------------------------------------- */

Test(context, alice_and_bob_each_see_their_own, .timeout = 60)
{
    static char out[OUT_MAX];
    int rc = run(APP("loom-context") " 2>&1", out, sizeof out);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    /* the threads run at once, so either line may come first */
    cr_assert_eq(count(out, "Hello, Alice (in Thread-A)\n"), 1, "%s", out);
    cr_assert_eq(count(out, "Hello, Bob (in Thread-B)\n"), 1, "%s", out);
    cr_assert_eq(count(out, "Hello, "), 2, "%s", out);
}

/* Check the connection lines: each task used the connection its own
 * thread opened, and the closing counts add up to `tasks`. */
static void
check_connections(const char *out, int threads, int tasks, int per_task_lines)
{
    int owner_of[257] = {0}, opened = 0, closed = 0, used = 0, lines = 0;
    for (const char *p = out; p && *p;) {
        int w, c, t, w2, n;
        if (sscanf(p, "Worker-%d opens connection #%d", &w, &c) == 2) {
            cr_assert(w >= 1 && w <= threads && c >= 1 && c <= 256 && !owner_of[c], "%s", out);
            owner_of[c] = w;
            opened++;
        } else if (sscanf(p, "task %d on Worker-%d uses connection #%d (owner Worker-%d)", &t, &w,
                          &c, &w2) == 4) {
            cr_assert(c >= 1 && c <= 256, "%s", out);
            cr_assert_eq(w, w2, "a task used another thread's connection: %.80s", p);
            cr_assert_eq(owner_of[c], w, "connection #%d belongs to Worker-%d: %.80s", c,
                         owner_of[c], p);
            lines++;
        } else if (sscanf(p, "Worker-%d closes connection #%d after %d tasks", &w, &c, &n) == 3) {
            cr_assert(c >= 1 && c <= 256, "%s", out);
            cr_assert_eq(owner_of[c], w, "closed by its own thread: %.80s", p);
            closed++;
            used += n;
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    cr_assert_eq(opened, threads, "%s", out);
    cr_assert_eq(closed, threads, "%s", out);
    cr_assert_eq(used, tasks, "uses add up to the tasks:\n%s", out);
    cr_assert_eq(lines, per_task_lines ? tasks : 0, "%s", out);
}

Test(context, one_connection_per_pool_thread, .timeout = 60)
{
    static char out[OUT_MAX];
    int rc = run(APP("loom-context") " --threads 3 --tasks 30 2>&1", out, sizeof out);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    check_connections(out, 3, 30, 1);
    cr_assert_not_null(strstr(out, "loom-context: 30 tasks on 3 threads, 3 connections, every task "
                                   "used its own thread's\n"),
                       "%s", out);
}

Test(context, many_tasks_quiet, .timeout = 60)
{
    static char out[OUT_MAX];
    int rc = run(APP("loom-context") " --threads 4 --tasks 100000 --quiet 2>&1", out, sizeof out);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    check_connections(out, 4, 100000, 0);
    cr_assert_not_null(strstr(out, "loom-context: 100000 tasks on 4 threads, 4 connections"), "%s",
                       out);
}

Test(context, usage_errors_exit_2, .timeout = 30)
{
    char out[4096];
    cr_assert_eq(run(APP("loom-context") " --threads 0 2>&1", out, sizeof out), 2, "%s", out);
    cr_assert_eq(run(APP("loom-context") " --what 2>&1", out, sizeof out), 2, "%s", out);
}
