/* SPDX-License-Identifier: MIT */
/* The applications, run as a user runs them: real processes, real output,
 * exit codes as documented. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "loom_test.h"

#define APP(name) LOOM_BINARY_DIR "/apps/" name

/* Run a shell command line, capture stdout+stderr (bounded), return the
 * exit status (or -1). In sanitizer builds the program's own leak check at
 * exit is turned back on, so a leak makes it exit non-zero. */
static int
run(const char *cmd, char *out, size_t len)
{
    char line[1024];
    snprintf(line, sizeof line, "LSAN_OPTIONS=leak_check_at_exit=1 %s", cmd);
    FILE *p = popen(line, "r");
    cr_assert_not_null(p, "popen %s", cmd);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
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

Test(demo, shows_the_seed_lessons, .timeout = 60)
{
    static char out[65536];
    int rc = run(APP("loom-demo") " --max-task-ms 30 --seed 7 2>&1", out, sizeof out);
    cr_assert_eq(rc, 0, "exit %d, output:\n%s", rc, out);
    /* Pool(4), 5 tasks, names of the seed's shape */
    cr_assert_not_null(strstr(out, "== 1. Pool: 4 threads, 5 tasks =="), "%s", out);
    cr_assert_not_null(strstr(out, "(MainThread)."));
    for (int i = 0; i < 5; i++) {
        char run_line[64], done_line[64];
        snprintf(run_line, sizeof run_line, "Run task %d (Worker-", i);
        snprintf(done_line, sizeof done_line, "Task %d runs ", i);
        cr_assert_eq(count(out, run_line), 1, "%s missing in:\n%s", run_line, out);
        cr_assert_eq(count(out, done_line), 1, "%s missing", done_line);
    }
    cr_assert_not_null(strstr(out, "All tasks done."));
    /* processes: exit code and a stdin round trip through wc */
    cr_assert_not_null(strstr(out, "$ uname -s\nLinux\nExit code: 0\n"), "%s", out);
    cr_assert_not_null(strstr(out, "9\nExit code: 0\n"), "%s", out);
    /* thread-local */
    cr_assert_not_null(strstr(out, "Hello, Alice (in Thread-A)\nHello, Bob (in Thread-B)\n"));
}

Test(demo, pool_size_option_and_log_line, .timeout = 60)
{
    static char out[65536];
    int rc = run("LOOM_LOG_LEVEL=info " APP("loom-demo") " --pool-threads 5 --max-task-ms 0 2>&1",
                 out, sizeof out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert_not_null(strstr(out, "== 1. Pool: 5 threads, 5 tasks =="), "%s", out);
    cr_assert_not_null(strstr(out, "INFO  host="), "a log line on stderr: %s", out);
    cr_assert_not_null(strstr(out, "thread=MainThread | loom 0.1.0 demo: pool of 5 threads"));
}

Test(demo, bad_input_exits_2_with_a_clear_message, .timeout = 30)
{
    char out[8192];
    cr_assert_eq(run(APP("loom-demo") " --frobnicate 2>&1", out, sizeof out), 2);
    cr_assert_not_null(strstr(out, "unknown argument '--frobnicate'"), "%s", out);
    cr_assert_eq(run(APP("loom-demo") " --pool-threads=-1 2>&1", out, sizeof out), 2);
    cr_assert_not_null(strstr(out, "--pool-threads"), "%s", out);
    cr_assert_eq(run(APP("loom-demo") " --config /nonexistent/loom.cfg 2>&1", out, sizeof out), 2);
    cr_assert_not_null(strstr(out, "/nonexistent/loom.cfg"), "%s", out);
    cr_assert_eq(run("LOOM_POOL_THREADS=lots " APP("loom-demo") " 2>&1", out, sizeof out), 2);
    cr_assert_not_null(strstr(out, "LOOM_POOL_THREADS"), "%s", out);
}

Test(demo, help_lists_every_setting, .timeout = 30)
{
    static char out[65536];
    cr_assert_eq(run(APP("loom-demo") " --help", out, sizeof out), 0);
    const char *opts[] = {"--log-level",           "--pool-threads",
                          "--pool-queue-capacity", "--process-output-limit",
                          "--process-timeout",     "--process-kill-grace",
                          "LOOM_POOL_THREADS",     "Exit status"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        cr_assert_not_null(strstr(out, opts[i]), "%s missing from --help:\n%s", opts[i], out);
}

Test(balance, the_locked_run_ends_at_zero, .timeout = 120)
{
    char out[4096];
    int rc = run(APP("loom-balance") " --iterations 200000 2>&1", out, sizeof out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert_not_null(strstr(out, "without a lock:    balance = "), "%s", out);
    cr_assert_not_null(strstr(out, "with a loom_lock:  balance = 0\n"), "%s", out);
    cr_assert_eq(run(APP("loom-balance") " --iterations x 2>&1", out, sizeof out), 2);
}
