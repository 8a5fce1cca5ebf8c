/* SPDX-License-Identifier: MIT */
/* What master and workers may take for granted of each other (prog_trust):
 *
 *   revive, master_gone  a worker declared lost while alive (SIGSTOP past
 *        job.worker_timeout, then SIGCONT) is told to leave, or leaves by
 *        itself once the master has ended; workers whose master is
 *        SIGKILLed notice its silence and leave within job.worker_timeout.
 *        mpirun then exits.
 *   forge  a worker's made-up result for another rank's task, a second
 *        goodbye and a credit of 2^32-1 are refused, each logged with the
 *        rank, and the job goes on.
 *   queues  gets blocked when the job ends return LOOM_ECLOSED, on the
 *        master and on a worker; opening a queue afterwards too.
 *
 * The fault tests read mpirun's output as it comes (a job started with
 * setsid, so every process of it can be killed at the end) and send the
 * signals themselves, each when the output shows the moment has come. Their
 * bounds are job.worker_timeout (set small), plus a slack measured on the
 * run itself: twice the start-up time, at least 3 s. mpirun runs with
 * --enable-recovery (its exit status is then always 0).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpi_run.h"

/* job.worker_timeout and job.heartbeat of the fault tests, in seconds */
#define WT_S      2.0
#define HB_S      0.1
#define LOOM_OPTS "--job-worker-timeout 2 --job-heartbeat 0.1 --pool-threads 1 "

/* A job whose output is read as it comes. */
struct live {
    pid_t pid; /* mpirun's, and its session's id */
    int fd;
    char *text;
    size_t len, cap;
    int eof;
    double t0;
};

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
live_start(struct live *l, const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             MPI_ENV MPIEXEC " --oversubscribe --bind-to none --timeout %d --enable-recovery %s",
             MPI_TIMEOUT_S, args);
    memset(l, 0, sizeof *l);
    l->cap = 1 << 20;
    l->text = calloc(1, l->cap + 1);
    int p[2];
    cr_assert(l->text && pipe(p) == 0);
    l->t0 = now_s();
    l->pid = fork();
    cr_assert_geq(l->pid, 0);
    if (l->pid == 0) {
        setsid();
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    l->fd = p[0];
    fprintf(stderr, "live: %s\n", args);
}

/* Read what is there, waiting until `until` at most. */
static void
live_read(struct live *l, double until)
{
    struct pollfd pfd = {l->fd, POLLIN, 0};
    double left = until - now_s();
    if (l->eof || poll(&pfd, 1, left > 0 ? (int)(left * 1000) + 1 : 0) <= 0)
        return;
    char buf[65536];
    ssize_t n = read(l->fd, buf, sizeof buf);
    if (n <= 0) {
        l->eof = 1;
        return;
    }
    size_t keep = l->cap - l->len < (size_t)n ? l->cap - l->len : (size_t)n;
    memcpy(l->text + l->len, buf, keep);
    l->len += keep;
    l->text[l->len] = '\0';
}

/* Wait until the output holds needle, or `until`;
 * where it is, or NULL. */
static const char *
live_wait(struct live *l, const char *needle, double until)
{
    const char *hit;
    while (!(hit = strstr(l->text, needle)) && !l->eof && now_s() < until)
        live_read(l, until);
    return hit;
}

/* Wait for mpirun's end (end of output) until `until`; whether it came.
 * Then kill whatever is left of the job and reap mpirun. */
static int
live_end(struct live *l, double until)
{
    while (!l->eof && now_s() < until)
        live_read(l, until);
    int ended = l->eof;
    loom_test_kill_session(l->pid);
    close(l->fd);
    waitpid(l->pid, NULL, 0);
    return ended;
}

/* Fail with the output so far, after killing the job. */
#define live_assert(l, cond, ...)                                                                  \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            loom_test_kill_session((l)->pid);                                                      \
            cr_assert(0, __VA_ARGS__);                                                             \
        }                                                                                          \
    } while (0)

/* The pid rank printed ("PID rank=R pid=P"), waiting for it until `until`. */
static pid_t
live_pid(struct live *l, int rank, double until)
{
    char want[64];
    snprintf(want, sizeof want, "PID rank=%d pid=", rank);
    const char *p = live_wait(l, want, until);
    live_assert(l, p, "rank %d never printed its pid:\n%s", rank, l->text);
    return (pid_t)atol(p + strlen(want));
}

/* Start prog_trust on 3 ranks; every rank's pid; the slack (s) measured. */
static double
start_three(struct live *l, const char *args, pid_t pid[3])
{
    char all[1024];
    snprintf(all, sizeof all, "-np 3 " PROG("prog_trust") " " LOOM_OPTS "%s", args);
    live_start(l, all);
    double until = l->t0 + MPI_TIMEOUT_S;
    for (int r = 0; r < 3; r++)
        pid[r] = live_pid(l, r, until);
    double startup = now_s() - l->t0;
    double slack = 2 * startup > 3 ? 2 * startup : 3;
    fprintf(stderr, "start-up %.1f s: slack %.1f s\n", startup, slack);
    return slack;
}

/* SIGSTOP rank 2 once it runs a task, and wait until the master declares
 * it lost. */
static void
stop_until_lost(struct live *l, pid_t pid, double slack)
{
    live_assert(l, live_wait(l, "STARTED rank=2", now_s() + 30 + slack),
                "rank 2 never started a task:\n%s", l->text);
    cr_assert_eq(kill(pid, SIGSTOP), 0);
    double t = now_s();
    const char *lost = live_wait(l, "worker rank 2 silent for", t + WT_S + slack);
    live_assert(l, lost, "rank 2 stopped %.1f s ago, never declared lost:\n%s", now_s() - t,
                l->text);
    fprintf(stderr, "rank 2 declared lost %.1f s after SIGSTOP\n", now_s() - t);
}

/* The master still runs (it waits for a file): the revived worker is told
 * to leave at once — within job.worker_timeout — and the job then ends. */
Test(trust, revived_worker_is_told_to_leave, .timeout = 200)
{
    char hold[] = "/tmp/loom-trust-hold-XXXXXX";
    int fd = mkstemp(hold);
    cr_assert_geq(fd, 0);
    close(fd);
    unlink(hold); /* the master waits for it to exist */
    char args[256];
    snprintf(args, sizeof args, "--mode run --tasks 40 --ms 50 --hold %s", hold);
    struct live l;
    pid_t pid[3];
    double slack = start_three(&l, args, pid);
    stop_until_lost(&l, pid[2], slack);
    live_assert(&l, live_wait(&l, "RUN tasks=", now_s() + 30 + slack),
                "the master never finished its tasks:\n%s", l.text);
    double t = now_s();
    cr_assert_eq(kill(pid[2], SIGCONT), 0);
    const char *serve = live_wait(&l, "SERVE rank=2 ", t + WT_S + slack);
    double took = now_s() - t;
    fd = open(hold, O_CREAT | O_WRONLY, 0600); /* let the master finish */
    close(fd);
    int ended = live_end(&l, now_s() + WT_S + 2 * slack);
    unlink(hold);
    cr_assert(serve, "rank 2, revived, did not leave within %.1f s:\n%s", took, l.text);
    cr_assert(strstr(l.text, "worker rank 2 spoke after it was declared lost: told to leave"), "%s",
              l.text);
    assert_line(&l, "SERVE rank=2 rc=LOOM_OK master_lost=0 lost=1");
    assert_line(&l, "RUN tasks=40 once=40 dup=0 bad=0 lost=1");
    assert_line(&l, "SERVE rank=1 rc=LOOM_OK master_lost=0 lost=1");
    assert_line(&l, "run done status=0 lost=1");
    cr_assert(ended, "mpirun did not end after the master:\n%s", l.text);
    free(l.text);
}

/* The master has ended while the worker was stopped: revived, the worker
 * hears nothing and leaves after job.worker_timeout; mpirun ends. */
Test(trust, revived_worker_leaves_an_ended_master, .timeout = 200)
{
    struct live l;
    pid_t pid[3];
    double slack = start_three(&l, "--mode run --tasks 40 --ms 50", pid);
    stop_until_lost(&l, pid[2], slack);
    live_assert(&l, live_wait(&l, "run done status=", now_s() + 30 + slack),
                "the master never ended:\n%s", l.text);
    double t = now_s();
    cr_assert_eq(kill(pid[2], SIGCONT), 0);
    const char *serve = live_wait(&l, "SERVE rank=2 ", t + WT_S + slack);
    double took = now_s() - t;
    int ended = live_end(&l, now_s() + 2 * slack);
    cr_assert(serve, "rank 2, revived after the master ended, did not leave within %.1f s:\n%s",
              took, l.text);
    assert_line(&l, "SERVE rank=2 rc=LOOM_ETIMEDOUT master_lost=1 lost=0");
    assert_line(&l, "RUN tasks=40 once=40 dup=0 bad=0 lost=1");
    assert_line(&l, "run done status=0 lost=1");
    cr_assert_geq(took, WT_S * 0.9, "left after %.1f s, before job.worker_timeout:\n%s", took,
                  l.text);
    cr_assert(ended, "mpirun did not end:\n%s", l.text);
    free(l.text);
}

/* SIGKILL the master mid-run: both workers notice within
 * job.worker_timeout and leave; mpirun ends. */
Test(trust, workers_leave_a_killed_master, .timeout = 200)
{
    struct live l;
    pid_t pid[3];
    double slack = start_three(&l, "--mode run --tasks 100000 --ms 20", pid);
    for (int r = 1; r <= 2; r++) {
        char want[32];
        snprintf(want, sizeof want, "STARTED rank=%d", r);
        live_assert(&l, live_wait(&l, want, now_s() + 30 + slack), "rank %d never ran a task:\n%s",
                    r, l.text);
    }
    double t = now_s();
    cr_assert_eq(kill(pid[0], SIGKILL), 0);
    const char *a = live_wait(&l, "SERVE rank=1 ", t + WT_S + slack);
    const char *b = live_wait(&l, "SERVE rank=2 ", t + WT_S + slack);
    double took = now_s() - t;
    int ended = live_end(&l, now_s() + 2 * slack);
    cr_assert(a && b, "the workers did not leave within %.1f s of the master's death:\n%s", took,
              l.text);
    assert_line(&l, "SERVE rank=1 rc=LOOM_ETIMEDOUT master_lost=1 lost=0");
    assert_line(&l, "SERVE rank=2 rc=LOOM_ETIMEDOUT master_lost=1 lost=0");
    cr_assert(ended, "mpirun did not end:\n%s", l.text);
    free(l.text);
}

/* ---- forged frames ------------------------------------------------------------------ */

static void
forge(const char *mode, const char *line, const char *refusal)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " PROG("prog_trust") " --mode %s --tasks 200 --ms 2 --wait-s 3", mode);
    assert_clean_exit(&o);
    assert_line(&o, "%s", line);
    cr_assert(strstr(o.text, refusal), "expected the log to say\n  %s\nin:\n%s", refusal, o.text);
    assert_line(&o, "%s done status=0 lost=0", mode);
    assert_line(&o, "SERVE rank=1 rc=LOOM_OK master_lost=0 lost=0");
    assert_line(&o, "SERVE rank=2 rc=LOOM_OK master_lost=0 lost=0");
    mpi_out_free(&o);
}

/* The rank that forged, read from the master's line (forger=R). */
static int
forger_of(const char *text)
{
    const char *p = strstr(text, "forger=");
    return p ? atoi(p + 7) : -1;
}

Test(trust, forged_result_is_refused, .timeout = 200)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " PROG("prog_trust") " --mode forge-result");
    assert_clean_exit(&o);
    int forger = forger_of(o.text), holder = 3 - forger;
    cr_assert(forger == 1 || forger == 2, "%s", o.text);
    const char *line = strstr(o.text, "FORGE result ");
    cr_assert(line && strstr(line, "reply=REAL"), "the forged result was believed:\n%s", o.text);
    char want[160];
    snprintf(want, sizeof want, "reply=REAL from=%d\n", holder);
    cr_assert(strstr(line, want), "%s", o.text);
    snprintf(want, sizeof want, "attempt 1 from rank %d: the task runs on rank %d", forger, holder);
    cr_assert(strstr(o.text, want), "no refusal logged with the rank (%s):\n%s", want, o.text);
    assert_line(&o, "forge-result done status=0 lost=0");
    mpi_out_free(&o);
}

Test(trust, second_goodbye_is_refused, .timeout = 200)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " PROG("prog_trust") " --mode forge-bye --wait-s %g", WT_S);
    assert_clean_exit(&o);
    const char *line = strstr(o.text, "FORGE bye ");
    cr_assert(line, "%s", o.text);
    cr_assert(strstr(line, "finish_before_release=0 finish_after_release=1 finish_rc=LOOM_OK"),
              "finish did not wait for the held task:\n%s", o.text);
    int forger = strstr(line, "holder=1") ? 2 : 1;
    char want[96];
    snprintf(want, sizeof want, "refusing a second goodbye from rank %d", forger);
    cr_assert(strstr(o.text, want), "no refusal logged with the rank (%s):\n%s", want, o.text);
    assert_line(&o, "forge-bye done status=0 lost=0");
    mpi_out_free(&o);
}

Test(trust, huge_credit_is_refused, .timeout = 200)
{
    forge("forge-credit", "FORGE credit order_rc=LOOM_OK tasks=200 once=200 dup=0 bad=0",
          "of the 4294967295 credits from rank 2: a worker holds at most 65536 tasks");
}

/* ---- queues at the end ---------------------------------------------------------------- */

Test(trust, blocked_queue_calls_return_when_the_job_ends, .timeout = 200)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " PROG("prog_trust") " --mode queues --tasks 20 --ms 5 --wait-s 10");
    assert_clean_exit(&o);
    assert_line(&o, "QUEUES forever=LOOM_ECLOSED timed=LOOM_ECLOSED open_after=LOOM_ECLOSED "
                    "within=1 tasks_once=20 finish_rc=LOOM_OK");
    for (int r = 1; r <= 2; r++)
        assert_line(&o, "QWORKER rank=%d get=LOOM_ECLOSED open_after=LOOM_ECLOSED within=1", r);
    assert_line(&o, "queues done status=0 lost=0");
    mpi_out_free(&o);
}
