/* SPDX-License-Identifier: MIT */
/*
 * Tests of the process module (framework/src/node/process.c): capture, stdin,
 * exit codes and signals, timeouts with group kill, start failures, limits,
 * environment and cwd, concurrency, parent death.
 *
 * Tests that must see killed grandchildren disappear make the test process a
 * child subreaper, so orphans are re-parented to it and can be reaped (and
 * their fate observed) here rather than by whatever PID 1 the machine has.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loom_test.h"
#include "loom/process.h"

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
run_shell(const char *cmd, loom_proc_result *res)
{
    loom_proc_opts o = {.shell_cmd = cmd};
    loom_assert_ok(loom_proc_run(&o, res));
}

static int
count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    cr_assert(d != NULL);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n;
}

/* True once `pid` no longer exists: reaped by us (we are a subreaper) or
 * gone altogether. Polls an observable condition up to `secs`. */
static int
wait_gone(pid_t pid, double secs, int *status)
{
    double end = now_s() + secs;
    const struct timespec tick = {0, 1000000};

    *status = -1;
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid)
            return 1;
        if (w < 0 && errno == ECHILD && kill(pid, 0) < 0 && errno == ESRCH)
            return 1;
        if (now_s() > end)
            return 0;
        nanosleep(&tick, NULL);
    }
}

/* True once process group `pgid` is empty: members re-parented to us are
 * reaped as they die. Polls up to `secs`. */
static int
group_gone(pid_t pgid, double secs)
{
    double end = now_s() + secs;
    const struct timespec tick = {0, 1000000};
    int st;

    for (;;) {
        while (waitpid(-pgid, &st, WNOHANG) > 0)
            ;
        if (kill(-pgid, 0) < 0 && errno == ESRCH)
            return 1;
        if (now_s() > end)
            return 0;
        nanosleep(&tick, NULL);
    }
}

static void
become_subreaper(void)
{
    cr_assert(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
}

/* Run a command that must reach a point before its timeout for the test to
 * mean anything: it prints `ready` there. A busy machine may start a shell
 * only after the timeout; that run proves nothing (it says so on stderr)
 * and the command runs again with 4 times the timeout, up to 20 s. The
 * first run that got ready is the result; o->timeout_ms is its timeout. */
static void
run_ready(loom_proc_opts *o, const char *ready, loom_proc_result *r)
{
    for (;;) {
        loom_assert_ok(loom_proc_run(o, r));
        if (strstr(r->out ? r->out : "", ready))
            return;
        cr_assert_lt(o->timeout_ms, 20000,
                     "'%s' did not print '%s' before its %d ms timeout (output '%s')", o->shell_cmd,
                     ready, o->timeout_ms, r->out ? r->out : "");
        fprintf(stderr, "'%s' was not ready within its %d ms timeout: again with %d ms\n",
                o->shell_cmd, o->timeout_ms, 4 * o->timeout_ms);
        loom_proc_result_free(r);
        o->timeout_ms *= 4;
    }
}

/* ---- capture, exit status --------------------------------------------- */

Test(process, echo_captures_stdout, .timeout = 20)
{
    const char *argv[] = {"echo", "hello", "world", NULL};
    loom_proc_opts o = {.argv = argv};
    loom_proc_result r;

    loom_assert_ok(loom_proc_run(&o, &r));
    cr_assert_str_eq(r.out, "hello world\n");
    cr_assert_eq(r.out_len, 12);
    cr_assert_eq(r.out_total, 12);
    cr_assert_eq(r.out_truncated, 0);
    cr_assert_str_eq(r.err, "");
    cr_assert_eq(r.err_len, 0);
    cr_assert_eq(r.exited, 1);
    cr_assert_eq(r.exit_code, 0);
    cr_assert_eq(r.signaled, 0);
    cr_assert_eq(r.term_signal, 0);
    cr_assert_eq(r.timed_out, 0);
    cr_assert_gt(r.pid, 0);
    cr_assert_geq(r.wall_seconds, 0.0);
    cr_assert_lt(r.wall_seconds, 10.0);
    loom_proc_result_free(&r);
}

Test(process, empty_output_is_an_empty_string, .timeout = 20)
{
    const char *argv[] = {"true", NULL};
    loom_proc_opts o = {.argv = argv};
    loom_proc_result r;

    loom_assert_ok(loom_proc_run(&o, &r));
    cr_assert(r.out != NULL && r.err != NULL);
    cr_assert_str_eq(r.out, "");
    cr_assert_str_eq(r.err, "");
    cr_assert_eq(r.exit_code, 0);
    loom_proc_result_free(&r);
}

Test(process, stdout_and_stderr_are_separate, .timeout = 20)
{
    loom_proc_result r;

    run_shell("echo out; echo err >&2; echo out2", &r);
    cr_assert_str_eq(r.out, "out\nout2\n");
    cr_assert_str_eq(r.err, "err\n");
    loom_proc_result_free(&r);
}

Test(process, exit_code_is_reported, .timeout = 20)
{
    const char *argv[] = {"sh", "-c", "exit 3", NULL};
    loom_proc_opts o = {.argv = argv};
    loom_proc_result r;

    loom_assert_ok(loom_proc_run(&o, &r));
    cr_assert_eq(r.exited, 1);
    cr_assert_eq(r.exit_code, 3);
    cr_assert_eq(r.signaled, 0);
    loom_proc_result_free(&r);

    run_shell("exit 255", &r);
    cr_assert_eq(r.exit_code, 255);
    loom_proc_result_free(&r);
}

Test(process, death_by_signal_is_reported, .timeout = 20)
{
    loom_proc_result r;

    run_shell("ulimit -c 0; kill -SEGV $$", &r);
    cr_assert_eq(r.exited, 0);
    cr_assert_eq(r.exit_code, -1);
    cr_assert_eq(r.signaled, 1);
    cr_assert_eq(r.term_signal, SIGSEGV);
    cr_assert_eq(r.timed_out, 0);
    loom_proc_result_free(&r);
}

Test(process, runs_in_its_own_process_group, .timeout = 20)
{
    loom_proc_result r;

    /* field 5 of /proc/PID/stat is the process group id */
    run_shell("cut -d' ' -f5 /proc/$$/stat", &r);
    cr_assert_eq(atoi(r.out), r.pid, "pgid %s vs pid %d", r.out, r.pid);
    loom_proc_result_free(&r);
}

static void
usr1_handler(int sig)
{
    (void)sig;
}

Test(process, signals_are_reset_in_the_child, .timeout = 20)
{
    const char *argv[] = {"grep", "^Sig[BI]", "/proc/self/status", NULL};
    loom_proc_opts o = {.argv = argv};
    struct sigaction sa = {0};
    sigset_t block;
    loom_proc_result r;

    sa.sa_handler = usr1_handler;
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &block, NULL);

    loom_assert_ok(loom_proc_run(&o, &r));
    cr_assert_str_eq(r.out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n", "%s", r.out);
    loom_proc_result_free(&r);

    /* Behaviour too: an ignored SIGINT and a handled SIGUSR1 are fatal. */
    run_shell("kill -INT $$", &r);
    cr_assert_eq(r.term_signal, SIGINT);
    loom_proc_result_free(&r);
    run_shell("kill -USR1 $$", &r);
    cr_assert_eq(r.term_signal, SIGUSR1);
    loom_proc_result_free(&r);

    /* ... and the caller's own mask is intact. */
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, NULL, &now);
    cr_assert(sigismember(&now, SIGTERM) && sigismember(&now, SIGUSR2));
    cr_assert(!sigismember(&now, SIGPIPE));
}

/* ---- stdin --------------------------------------------------------------- */

Test(process, stdin_round_trip_through_cat, .timeout = 20)
{
    const char *argv[] = {"cat", NULL};
    const char msg[] = "line one\nline two\n";
    loom_proc_opts o = {.argv = argv, .stdin_data = msg, .stdin_len = sizeof msg - 1};
    loom_proc_result r;

    loom_assert_ok(loom_proc_run(&o, &r));
    cr_assert_str_eq(r.out, msg);
    cr_assert_eq(r.exit_code, 0);
    loom_proc_result_free(&r);
}

Test(process, stdin_round_trip_binary_1mib, .timeout = 30)
{
    const char *argv[] = {"cat", NULL};
    size_t n = (size_t)1 << 20;
    unsigned char *data = malloc(n);
    uint32_t x = 12345;
    loom_proc_result r;

    cr_assert(data != NULL);
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (i % 7 == 0) ? 0 : (unsigned char)(x >> 16);
    }
    loom_proc_opts o = {.argv = argv, .stdin_data = data, .stdin_len = n};
    loom_assert_ok(loom_proc_run(&o, &r));
    cr_assert_eq(r.out_len, n);
    cr_assert_eq(r.out_total, n);
    cr_assert_eq(r.out_truncated, 0);
    cr_assert(memcmp(r.out, data, n) == 0);
    cr_assert_eq(r.out[n], '\0');
    loom_proc_result_free(&r);
    free(data);
}

Test(process, unread_stdin_is_not_an_error, .timeout = 30)
{
    /* `true` exits without reading: the writes hit EPIPE. SIGPIPE keeps its
     * default (fatal) disposition here, so a leaked SIGPIPE kills the test. */
    const char *argv[] = {"true", NULL};
    size_t n = (size_t)4 << 20;
    char *data = calloc(1, n);
    sigset_t pending, mask;
    loom_proc_result r;

    cr_assert(data != NULL);
    signal(SIGPIPE, SIG_DFL);
    loom_proc_opts o = {.argv = argv, .stdin_data = data, .stdin_len = n};
    for (int i = 0; i < 5; i++) {
        loom_assert_ok(loom_proc_run(&o, &r));
        cr_assert_eq(r.exited, 1);
        cr_assert_eq(r.exit_code, 0);
        loom_proc_result_free(&r);
    }
    sigpending(&pending);
    cr_assert(!sigismember(&pending, SIGPIPE));
    pthread_sigmask(SIG_SETMASK, NULL, &mask);
    cr_assert(!sigismember(&mask, SIGPIPE));
    free(data);
}

Test(process, no_stdin_means_dev_null, .timeout = 20)
{
    loom_proc_result r;

    run_shell("wc -c", &r);
    cr_assert_eq(atoi(r.out), 0);
    cr_assert_eq(r.exit_code, 0);
    loom_proc_result_free(&r);
}

/* ---- timeouts ---------------------------------------------------------- */

Test(process, timeout_terminates_with_sigterm, .timeout = 30)
{
    const char *argv[] = {"sleep", "100", NULL};
    loom_proc_opts o = {.argv = argv, .timeout_ms = 1000};
    loom_proc_result r;
    double t0 = now_s();

    loom_assert_ok(loom_proc_run(&o, &r));
    double took = now_s() - t0;
    cr_assert_eq(r.timed_out, 1);
    cr_assert_eq(r.signaled, 1);
    cr_assert_eq(r.term_signal, SIGTERM);
    cr_assert_eq(r.exited, 0);
    cr_assert_geq(took, 0.95);
    cr_assert_lt(took, 1.0 + LOOM_PROC_KILL_GRACE_DEFAULT_MS / 1000.0, "took %.3f s", took);
    cr_assert_geq(r.wall_seconds, 0.95);
    loom_proc_result_free(&r);
}

Test(process, timeout_kills_the_whole_group, .timeout = 30)
{
    loom_proc_opts o = {.shell_cmd = "sleep 100 & echo $!; sleep 100; wait", .timeout_ms = 1000};
    loom_proc_result r;
    int st;

    become_subreaper();
    run_ready(&o, "\n", &r); /* the background pid is printed */
    cr_assert_eq(r.timed_out, 1);
    cr_assert_eq(r.signaled, 1);
    cr_assert_lt(r.wall_seconds, o.timeout_ms / 1000.0 + 2.0, "%.3f s", r.wall_seconds);
    pid_t grandchild = (pid_t)atoi(r.out);
    cr_assert_gt(grandchild, 1, "no pid in output '%s'", r.out);
    cr_assert(wait_gone(grandchild, 5.0, &st), "background sleep %d survived", (int)grandchild);
    if (st != -1)
        cr_assert(WIFSIGNALED(st), "status %#x", st);
    cr_assert(group_gone(r.pid, 5.0), "process group %d not empty", r.pid);
    loom_proc_result_free(&r);
}

Test(process, timeout_applies_after_leader_exit, .timeout = 30)
{
    /* The leader exits at once; its background child keeps stdout open, so
     * the command is not done; the timeout still ends it. */
    loom_proc_opts o = {
        .shell_cmd = "sleep 100 & echo $!; exit 7", .timeout_ms = 500, .kill_grace_ms = 500};
    loom_proc_result r;
    int st;

    become_subreaper();
    run_ready(&o, "\n", &r); /* the background pid is printed */
    cr_assert_eq(r.timed_out, 1);
    cr_assert_eq(r.exited, 1);
    cr_assert_eq(r.exit_code, 7);
    cr_assert_lt(r.wall_seconds, o.timeout_ms / 1000.0 + 2.5, "%.3f s", r.wall_seconds);
    pid_t grandchild = (pid_t)atoi(r.out);
    cr_assert_gt(grandchild, 1);
    cr_assert(wait_gone(grandchild, 5.0, &st), "background sleep %d survived", (int)grandchild);
    cr_assert(group_gone(r.pid, 5.0), "process group %d not empty", r.pid);
    loom_proc_result_free(&r);
}

Test(process, output_of_background_child_is_awaited, .timeout = 30)
{
    /* Like $(...): output written after the leader exited is captured. */
    loom_proc_result r;

    run_shell("(sleep 0.2; echo late) & echo early", &r);
    cr_assert_str_eq(r.out, "early\nlate\n");
    cr_assert_eq(r.exit_code, 0);
    cr_assert_eq(r.timed_out, 0);
    loom_proc_result_free(&r);
}

Test(process, closing_outputs_early_does_not_end_the_run, .timeout = 30)
{
    loom_proc_result r;

    run_shell("echo bye; exec >&- 2>&-; sleep 0.2; exit 5", &r);
    cr_assert_str_eq(r.out, "bye\n");
    cr_assert_eq(r.exited, 1);
    cr_assert_eq(r.exit_code, 5);
    cr_assert_geq(r.wall_seconds, 0.15);
    loom_proc_result_free(&r);
}

/* cancel_fd: another thread makes it readable once the command (and its
 * background grandchild) runs — the command says so through a FIFO — and
 * the whole group goes, as on a timeout, with `cancelled` set. */
struct cancel_arg {
    const char *fifo;
    int efd;
};

static void *
cancel_when_started(void *p)
{
    struct cancel_arg *a = p;
    char c;
    int fd = open(a->fifo, O_RDONLY); /* blocks until the command opens it */
    if (fd >= 0) {
        (void)!read(fd, &c, 1);
        close(fd);
    }
    uint64_t one = 1;
    (void)!write(a->efd, &one, sizeof one);
    return NULL;
}

Test(process, cancel_fd_ends_the_whole_group, .timeout = 30)
{
    char dir[] = "/tmp/loom-cancel-XXXXXX", fifo[64], cmd[256];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/started", dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    snprintf(cmd, sizeof cmd, "sleep 100 & echo $!; echo x > %s; sleep 100; wait", fifo);
    int efd = eventfd(0, EFD_CLOEXEC);
    cr_assert_geq(efd, 0);
    struct cancel_arg a = {fifo, efd};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, cancel_when_started, &a), 0);

    become_subreaper();
    loom_proc_opts o = {.shell_cmd = cmd, .cancel_fd = efd};
    loom_proc_result r;
    loom_assert_ok(loom_proc_run(&o, &r));
    pthread_join(th, NULL);
    cr_assert_eq(r.cancelled, 1);
    cr_assert_eq(r.timed_out, 0);
    cr_assert_eq(r.signaled, 1);
    cr_assert_eq(r.term_signal, SIGTERM);
    pid_t grandchild = (pid_t)atoi(r.out);
    int st;
    cr_assert_gt(grandchild, 1, "no pid in output '%s'", r.out);
    cr_assert(wait_gone(grandchild, 5.0, &st), "background sleep %d survived", (int)grandchild);
    cr_assert(group_gone(r.pid, 5.0), "process group %d not empty", r.pid);
    loom_proc_result_free(&r);

    /* still readable: the next command is cancelled at once, and a command
     * that is not watching runs to its end */
    const char *argv[] = {"sleep", "100", NULL};
    loom_proc_opts o2 = {.argv = argv, .cancel_fd = efd, .kill_grace_ms = -1};
    loom_assert_ok(loom_proc_run(&o2, &r));
    cr_assert_eq(r.cancelled, 1);
    cr_assert_eq(r.term_signal, SIGKILL);
    loom_proc_result_free(&r);
    const char *tru[] = {"true", NULL};
    loom_proc_opts o3 = {.argv = tru};
    loom_assert_ok(loom_proc_run(&o3, &r));
    cr_assert_eq(r.cancelled, 0);
    cr_assert_eq(r.exit_code, 0);
    loom_proc_result_free(&r);
    close(efd);
    unlink(fifo);
    rmdir(dir);
}

Test(process, term_ignoring_child_is_killed_after_grace, .timeout = 30)
{
    /* SIGTERM must find TERM ignored: before the trap it would simply
     * kill the shell (run_ready) */
    loom_proc_opts o = {.shell_cmd = "trap '' TERM; echo ready; sleep 100; echo survived",
                        .timeout_ms = 300,
                        .kill_grace_ms = 400};
    loom_proc_result r;

    become_subreaper();
    run_ready(&o, "ready", &r);
    double due = (o.timeout_ms + o.kill_grace_ms) / 1000.0;
    cr_assert_eq(r.timed_out, 1);
    cr_assert_eq(r.signaled, 1);
    cr_assert_eq(r.term_signal, SIGKILL);
    cr_assert_geq(r.wall_seconds, due - 0.05, "%.3f s, timeout + grace %.3f s", r.wall_seconds,
                  due);
    cr_assert_lt(r.wall_seconds, due + 2.3, "%.3f s, timeout + grace %.3f s", r.wall_seconds, due);
    cr_assert_str_eq(r.out, "ready\n");
    cr_assert(group_gone(r.pid, 5.0), "process group %d not empty", r.pid);
    loom_proc_result_free(&r);
}

Test(process, negative_grace_kills_at_once, .timeout = 30)
{
    const char *argv[] = {"sleep", "100", NULL};
    loom_proc_opts o = {.argv = argv, .timeout_ms = 300, .kill_grace_ms = -1};
    loom_proc_result r;

    loom_assert_ok(loom_proc_run(&o, &r));
    cr_assert_eq(r.timed_out, 1);
    cr_assert_eq(r.term_signal, SIGKILL);
    cr_assert_lt(r.wall_seconds, 1.5);
    loom_proc_result_free(&r);
}

Test(process, timeout_while_flooding_output, .timeout = 30)
{
    const char *argv[] = {"yes", "flood", NULL};
    loom_proc_opts o = {
        .argv = argv, .timeout_ms = 300, .kill_grace_ms = 500, .output_limit = 64 * 1024};
    loom_proc_result r;

    loom_assert_ok(loom_proc_run(&o, &r));
    cr_assert_eq(r.timed_out, 1);
    cr_assert_eq(r.term_signal, SIGTERM);
    cr_assert_eq(r.out_len, 64 * 1024);
    cr_assert_eq(r.out_truncated, 1);
    cr_assert_gt(r.out_total, (uint64_t)64 * 1024);
    cr_assert(strncmp(r.out, "flood\nflood\n", 12) == 0);
    cr_assert_lt(r.wall_seconds, 3.0);
    loom_proc_result_free(&r);
}

/* ---- limits and big output ---------------------------------------------- */

Test(process, output_beyond_limit_is_truncated_and_counted, .timeout = 20)
{
    loom_proc_opts o = {.shell_cmd = "head -c 100000 /dev/zero | tr '\\0' a; "
                                     "head -c 3000 /dev/zero | tr '\\0' b >&2",
                        .output_limit = 1000};
    loom_proc_result r;

    loom_assert_ok(loom_proc_run(&o, &r));
    cr_assert_eq(r.out_len, 1000);
    cr_assert_eq(r.out_total, 100000);
    cr_assert_eq(r.out_truncated, 1);
    cr_assert_eq(r.out[999], 'a');
    cr_assert_eq(r.out[1000], '\0');
    cr_assert_eq(r.err_len, 1000);
    cr_assert_eq(r.err_total, 3000);
    cr_assert_eq(r.err_truncated, 1);
    cr_assert_eq(r.err[0], 'b');
    cr_assert_eq(r.exit_code, 0);
    loom_proc_result_free(&r);

    /* exactly at the limit is not truncation */
    o.shell_cmd = "head -c 1000 /dev/zero";
    loom_assert_ok(loom_proc_run(&o, &r));
    cr_assert_eq(r.out_len, 1000);
    cr_assert_eq(r.out_total, 1000);
    cr_assert_eq(r.out_truncated, 0);
    loom_proc_result_free(&r);
}

Test(process, megabytes_on_both_streams_do_not_deadlock, .timeout = 60)
{
    size_t n = (size_t)8 << 20;
    loom_proc_opts o = {.shell_cmd = "head -c 8388608 /dev/zero | tr '\\0' o & "
                                     "head -c 8388608 /dev/zero | tr '\\0' e >&2; wait"};
    loom_proc_result r;

    loom_assert_ok(loom_proc_run(&o, &r));
    cr_assert_eq(r.exit_code, 0);
    cr_assert_eq(r.out_total, n);
    cr_assert_eq(r.err_total, n);
    cr_assert_eq(r.out_len, n); /* the default limit is exactly 8 MiB */
    cr_assert_eq(r.err_len, n);
    cr_assert_eq(r.out_truncated, 0);
    cr_assert_eq(r.err_truncated, 0);
    for (size_t i = 0; i < n; i += 4093)
        cr_assert(r.out[i] == 'o' && r.err[i] == 'e', "byte %zu", i);
    loom_proc_result_free(&r);

    /* and with a small limit: totals still right */
    o.output_limit = 4096;
    loom_assert_ok(loom_proc_run(&o, &r));
    cr_assert_eq(r.out_total, n);
    cr_assert_eq(r.err_total, n);
    cr_assert_eq(r.out_len, 4096);
    cr_assert_eq(r.err_len, 4096);
    cr_assert(r.out_truncated && r.err_truncated);
    loom_proc_result_free(&r);
}

/* ---- start failures ------------------------------------------------------ */

static void
assert_no_child_left(void)
{
    int st;
    cr_assert(waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD, "a child was left unreaped");
}

Test(process, missing_program_is_enotfound, .timeout = 20)
{
    const char *abs_argv[] = {"/nonexistent/loom-no-such-program", NULL};
    const char *path_argv[] = {"loom-no-such-program-xyz", "arg", NULL};
    loom_proc_opts o = {.argv = abs_argv};
    loom_proc_result r;

    loom_assert_err(loom_proc_run(&o, &r), LOOM_ENOTFOUND);
    cr_assert_eq(r.spawn_errno, ENOENT);
    cr_assert_eq(r.exited, 0);
    loom_proc_result_free(&r);

    o.argv = path_argv;
    loom_assert_err(loom_proc_run(&o, &r), LOOM_ENOTFOUND);
    cr_assert_eq(r.spawn_errno, ENOENT);
    loom_proc_result_free(&r);
    assert_no_child_left();
}

Test(process, non_executable_file_is_enoexec, .timeout = 20)
{
    char path[] = "/tmp/loom-test-noexec-XXXXXX";
    int fd = mkstemp(path);
    const char *argv[] = {path, NULL};
    const char *dir_argv[] = {"/tmp", NULL};
    loom_proc_opts o = {.argv = argv};
    loom_proc_result r;

    cr_assert(fd >= 0);
    cr_assert(write(fd, "#!/bin/sh\necho hi\n", 18) == 18);
    close(fd);
    cr_assert(chmod(path, 0644) == 0);
    loom_assert_err(loom_proc_run(&o, &r), LOOM_ENOEXEC);
    cr_assert_eq(r.spawn_errno, EACCES);
    loom_proc_result_free(&r);
    unlink(path);

    o.argv = dir_argv;
    loom_assert_err(loom_proc_run(&o, &r), LOOM_ENOEXEC);
    cr_assert_eq(r.spawn_errno, EACCES);
    loom_proc_result_free(&r);
    assert_no_child_left();
}

Test(process, missing_cwd_is_enotfound, .timeout = 20)
{
    const char *argv[] = {"true", NULL};
    loom_proc_opts o = {.argv = argv, .cwd = "/nonexistent/loom-no-such-dir"};
    loom_proc_result r;

    loom_assert_err(loom_proc_run(&o, &r), LOOM_ENOTFOUND);
    cr_assert_eq(r.spawn_errno, ENOENT);
    loom_proc_result_free(&r);
    assert_no_child_left();
}

Test(process, invalid_opts_are_einval, .timeout = 20)
{
    const char *argv[] = {"true", NULL};
    const char *empty_argv[] = {NULL};
    const char *bad_env[] = {"NOEQUALS", NULL};
    const char *bad_env2[] = {"=value", NULL};
    loom_proc_result r;
    loom_proc_opts none = {0};
    loom_proc_opts both = {.argv = argv, .shell_cmd = "true"};
    loom_proc_opts empty = {.argv = empty_argv};
    loom_proc_opts nostdin = {.argv = argv, .stdin_data = NULL, .stdin_len = 5};
    loom_proc_opts env1 = {.argv = argv, .env = bad_env};
    loom_proc_opts env2 = {.argv = argv, .env = bad_env2};
    const loom_proc_opts *cases[] = {&none, &both, &empty, &nostdin, &env1, &env2};

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&r, 0xab, sizeof r);
        loom_assert_err(loom_proc_run(cases[i], &r), LOOM_EINVAL);
        cr_assert(r.out == NULL && r.err == NULL && r.pid == 0, "case %zu", i);
        loom_proc_result_free(&r);
    }
}

/* ---- environment and cwd ----------------------------------------------- */

static int
count_lines_starting(const char *text, const char *prefix)
{
    int n = 0;
    size_t len = strlen(prefix);

    for (const char *p = text; p && *p;) {
        if (strncmp(p, prefix, len) == 0)
            n++;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return n;
}

Test(process, env_entries_add_and_override, .timeout = 20)
{
    const char *env[] = {"LOOM_T_OVR=new", "LOOM_T_NEW=x y", "LOOM_T_DUP=1", "LOOM_T_DUP=2", NULL};
    const char *argv[] = {"env", NULL};
    loom_proc_opts o = {.argv = argv, .env = env};
    loom_proc_result r;

    setenv("LOOM_T_KEEP", "kept", 1);
    setenv("LOOM_T_OVR", "old", 1);
    loom_assert_ok(loom_proc_run(&o, &r));
    cr_assert_eq(count_lines_starting(r.out, "LOOM_T_KEEP=kept\n"), 1, "%s", r.out);
    cr_assert_eq(count_lines_starting(r.out, "LOOM_T_OVR="), 1);
    cr_assert_eq(count_lines_starting(r.out, "LOOM_T_OVR=new\n"), 1);
    cr_assert_eq(count_lines_starting(r.out, "LOOM_T_NEW=x y\n"), 1);
    cr_assert_eq(count_lines_starting(r.out, "LOOM_T_DUP="), 1);
    cr_assert_eq(count_lines_starting(r.out, "LOOM_T_DUP=2\n"), 1);
    loom_proc_result_free(&r);

    const char *foo[] = {"FOO=bar baz", NULL};
    loom_proc_opts s = {.shell_cmd = "echo \"$FOO\"", .env = foo};
    loom_assert_ok(loom_proc_run(&s, &r));
    cr_assert_str_eq(r.out, "bar baz\n");
    loom_proc_result_free(&r);
    /* the caller's environment is untouched */
    cr_assert_str_eq(getenv("LOOM_T_OVR"), "old");
    cr_assert_null(getenv("FOO"));
}

/* A command is not a rank of its caller's MPI job: the variables Open MPI
 * sets for that rank stay behind (with or without extra entries); MPI
 * settings and everything else pass. */
Test(process, the_callers_mpi_job_variables_stay_behind, .timeout = 20)
{
    static const char *const job[] = {"PMIX_RANK",
                                      "PMIX_SERVER_URI41",
                                      "PMI_RANK",
                                      "OMPI_COMM_WORLD_RANK",
                                      "OMPI_COMM_WORLD_SIZE",
                                      "OMPI_MCA_orte_hnp_uri",
                                      "OMPI_MCA_ess",
                                      "OMPI_MCA_ess_base_vpid",
                                      "OMPI_UNIVERSE_SIZE",
                                      "OMPI_FILE_LOCATION",
                                      "OMPI_MCA_pmix"};
    static const char *const kept[] = {
        "OMPI_MCA_btl",       "PMIX_MCA_psec", "OMPI_ALLOW_RUN_AS_ROOT",
        "OMPI_MCA_essential", "PMIXED",        "OMPI_COMM"};
    for (size_t i = 0; i < sizeof job / sizeof job[0]; i++)
        setenv(job[i], "1", 1);
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        setenv(kept[i], "1", 1);
    const char *argv[] = {"env", NULL};
    const char *extra[] = {"LOOM_T_EXTRA=1", NULL};
    for (int with_extra = 0; with_extra < 2; with_extra++) {
        loom_proc_opts o = {.argv = argv, .env = with_extra ? extra : NULL};
        loom_proc_result r;
        loom_assert_ok(loom_proc_run(&o, &r));
        char line[64];
        for (size_t i = 0; i < sizeof job / sizeof job[0]; i++) {
            snprintf(line, sizeof line, "%s=", job[i]);
            cr_assert_eq(count_lines_starting(r.out, line), 0, "%s passed:\n%s", job[i], r.out);
        }
        for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
            snprintf(line, sizeof line, "%s=1\n", kept[i]);
            cr_assert_eq(count_lines_starting(r.out, line), 1, "%s lost:\n%s", kept[i], r.out);
        }
        cr_assert_eq(count_lines_starting(r.out, "LOOM_T_EXTRA=1\n"), with_extra);
        loom_proc_result_free(&r);
    }
    cr_assert_str_eq(getenv("PMIX_RANK"), "1", "the caller's environment is untouched");
}

Test(process, cwd_is_honoured, .timeout = 20)
{
    char tmpl[] = "/tmp/loom-test-cwd-XXXXXX";
    char real[PATH_MAX], expect[PATH_MAX + 2];
    const char *argv[] = {"pwd", NULL};
    loom_proc_result r;

    cr_assert(mkdtemp(tmpl) != NULL);
    cr_assert(realpath(tmpl, real) != NULL);
    snprintf(expect, sizeof expect, "%s\n", real);
    loom_proc_opts o = {.argv = argv, .cwd = tmpl};
    loom_assert_ok(loom_proc_run(&o, &r));
    cr_assert_str_eq(r.out, expect);
    loom_proc_result_free(&r);
    rmdir(tmpl);
}

/* ---- concurrency, fds, parent death ---------------------------------------- */

#define CONC_THREADS 4
#define CONC_RUNS    40

static void *
conc_worker(void *arg)
{
    long id = (long)arg;
    const char *cat_argv[] = {"cat", NULL};
    char msg[64], err_expect[64], cmd[128];

    for (int i = 0; i < CONC_RUNS; i++) {
        loom_proc_result r;
        int n = snprintf(msg, sizeof msg, "thread %ld run %d\n", id, i);
        if (i % 2 == 0) {
            loom_proc_opts o = {.argv = cat_argv, .stdin_data = msg, .stdin_len = (size_t)n};
            if (loom_proc_run(&o, &r) != LOOM_OK || strcmp(r.out, msg) != 0 || r.exit_code != 0)
                return (void *)1;
        } else {
            snprintf(cmd, sizeof cmd, "echo %ld-%d >&2; exit %d", id, i, i % 100);
            snprintf(err_expect, sizeof err_expect, "%ld-%d\n", id, i);
            loom_proc_opts o = {.shell_cmd = cmd};
            if (loom_proc_run(&o, &r) != LOOM_OK || strcmp(r.err, err_expect) != 0 ||
                r.exit_code != i % 100 || r.out_len != 0)
                return (void *)1;
        }
        loom_proc_result_free(&r);
    }
    return NULL;
}

Test(process, concurrent_runs_are_correct_and_leak_no_fds, .timeout = 60)
{
    pthread_t t[CONC_THREADS];
    int before = count_fds();

    for (long i = 0; i < CONC_THREADS; i++)
        cr_assert(pthread_create(&t[i], NULL, conc_worker, (void *)i) == 0);
    for (int i = 0; i < CONC_THREADS; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        cr_assert_null(ret, "thread %d saw a wrong result", i);
    }
    cr_assert_eq(count_fds(), before);
    assert_no_child_left();

    /* failures leak nothing either */
    const char *argv[] = {"/nonexistent/x", NULL};
    loom_proc_opts o = {.argv = argv};
    loom_proc_result r;
    for (int i = 0; i < 20; i++) {
        loom_assert_err(loom_proc_run(&o, &r), LOOM_ENOTFOUND);
        loom_proc_result_free(&r);
    }
    cr_assert_eq(count_fds(), before);
}

Test(process, child_dies_with_its_parent, .timeout = 30)
{
    int p[2], st;
    char buf[32] = {0};
    size_t got = 0;

    become_subreaper();
    cr_assert(pipe(p) == 0);
    pid_t helper = fork();
    cr_assert(helper >= 0);
    if (helper == 0) {
        /* The helper runs a long command and reports the command's pid via
         * an inherited fd 5. */
        close(p[0]);
        if (p[1] != 5) {
            dup2(p[1], 5);
            close(p[1]);
        }
        loom_proc_opts o = {.shell_cmd = "echo $$ >&5; exec sleep 100"};
        loom_proc_result r;
        loom_proc_run(&o, &r);
        _exit(0);
    }
    close(p[1]);
    while (got < sizeof buf - 1 && !memchr(buf, '\n', got)) {
        ssize_t n = read(p[0], buf + got, sizeof buf - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(p[0]);
    pid_t cmd = (pid_t)atoi(buf);
    cr_assert_gt(cmd, 1, "helper reported '%s'", buf);

    kill(helper, SIGKILL);
    cr_assert_eq(waitpid(helper, &st, 0), helper);
    int gone = wait_gone(cmd, 10.0, &st);
    if (!gone)
        kill(cmd, SIGKILL);
    cr_assert(gone, "command %d outlived its parent", (int)cmd);
    if (st != -1)
        cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status %#x", st);
}

/* Without pidfd_open (kernel < 5.3, or a seccomp policy that refuses it)
 * the exit is polled with waitid(WNOWAIT): same results. A seccomp filter
 * in this test's process makes pidfd_open fail with ENOSYS. */
static void
deny_pidfd_open(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};

    cr_assert(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    cr_assert(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0, "seccomp: %s",
              strerror(errno));
    cr_assert(syscall(SYS_pidfd_open, getpid(), 0) < 0 && errno == ENOSYS);
}

Test(process, works_without_pidfd, .timeout = 30)
{
    const char *sleep_argv[] = {"sleep", "100", NULL};
    const char *cat_argv[] = {"cat", NULL};
    loom_proc_result r;

    deny_pidfd_open();
    run_shell("echo hi; exit 4", &r);
    cr_assert_str_eq(r.out, "hi\n");
    cr_assert_eq(r.exit_code, 4);
    loom_proc_result_free(&r);

    loom_proc_opts c = {.argv = cat_argv, .stdin_data = "abc", .stdin_len = 3};
    loom_assert_ok(loom_proc_run(&c, &r));
    cr_assert_str_eq(r.out, "abc");
    loom_proc_result_free(&r);

    run_shell("(sleep 0.1; echo late) & echo early", &r);
    cr_assert_str_eq(r.out, "early\nlate\n");
    loom_proc_result_free(&r);

    /* a child that closes its outputs but keeps running is still awaited */
    run_shell("exec >&- 2>&-; sleep 0.1; exit 5", &r);
    cr_assert_eq(r.exit_code, 5);
    loom_proc_result_free(&r);

    loom_proc_opts o = {.argv = sleep_argv, .timeout_ms = 300};
    loom_assert_ok(loom_proc_run(&o, &r));
    cr_assert_eq(r.timed_out, 1);
    cr_assert_eq(r.term_signal, SIGTERM);
    cr_assert_lt(r.wall_seconds, 2.0);
    loom_proc_result_free(&r);
}

Test(process, result_free_is_idempotent, .timeout = 20)
{
    loom_proc_result r;

    run_shell("echo x", &r);
    loom_proc_result_free(&r);
    cr_assert_null(r.out);
    cr_assert_null(r.err);
    loom_proc_result_free(&r);
    loom_proc_result_free(NULL);
}

/* output_fn: counts and a checksum of what it was handed, by stream. */
struct sink_seen {
    uint64_t bytes[3], sum[3];
};

static void
sink_count(void *arg, int stream, const void *data, size_t len)
{
    struct sink_seen *s = arg;
    cr_assert(stream == 1 || stream == 2, "stream %d", stream);
    s->bytes[stream] += len;
    for (size_t i = 0; i < len; i++)
        s->sum[stream] += ((const unsigned char *)data)[i];
}

Test(process, output_fn_gets_every_byte_and_nothing_is_captured, .timeout = 30)
{
    /* 20 MiB of 'a' on stdout (over the 8 MiB default limit) and 3 bytes
     * on stderr: all handed over, none kept in the result */
    loom_proc_opts o = {0};
    loom_proc_result r;
    struct sink_seen seen = {0};
    o.shell_cmd = "head -c 20971520 /dev/zero | tr '\\0' a; printf xyz >&2";
    o.output_fn = sink_count;
    o.output_arg = &seen;
    cr_assert_eq(loom_proc_run(&o, &r), LOOM_OK, "%s", loom_last_error());
    cr_assert_eq(seen.bytes[1], 20971520u);
    cr_assert_eq(seen.sum[1], 20971520u * 'a');
    cr_assert_eq(seen.bytes[2], 3u);
    cr_assert_eq(seen.sum[2], (uint64_t)'x' + 'y' + 'z');
    cr_assert_eq(r.out_total, 20971520u);
    cr_assert_eq(r.err_total, 3u);
    cr_assert_eq(r.out_len, 0u);
    cr_assert_eq(r.err_len, 0u);
    cr_assert_str_eq(r.out, "");
    cr_assert(!r.out_truncated, "nothing was cut: it all went to output_fn");
    loom_proc_result_free(&r);
}
