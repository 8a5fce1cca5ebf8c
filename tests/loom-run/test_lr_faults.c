/* SPDX-License-Identifier: MIT */
/* loom-run when things go wrong, started by hand as a user does (it runs
 * mpirun itself): a command that cannot start, signals to loom-run (TERM,
 * HUP, INT, Ctrl-C on a terminal), its master rank killed, --halt soon
 * racing the next task, Open MPI's settings and noise, and a background
 * child holding the task's output open. Each test works in its own
 * temporary directory, waits for observable events (a file, a line) with
 * bounded polls, and prints what it saw when it fails. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loom_test.h"
#include "lr_test.h"

static pid_t last_sid; /* the session of the last loom-run started */

static void
setup(void)
{
    lr_test_mkdir("lrfault");
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    /* the launcher's temporary files go here: the tests see every one */
    setenv("TMPDIR", dir, 1);
}

/* Whatever a failed test left running goes with its session. */
static void
teardown(void)
{
    if (last_sid > 0)
        loom_test_kill_session(last_sid);
    lr_test_rmdir();
}

/* Start loom-run by hand in dir, in a session of its own (the test can
 * then find and, on failure, kill everything it started), with args
 * given to /bin/sh; stdout to out.txt, stderr to err.txt. */
static pid_t
start_lr(const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "exec " LOOMRUN " %s >out.txt 2>err.txt", args);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setsid();
        if (chdir(dir) != 0)
            _exit(99);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(98);
    }
    last_sid = pid;
    return pid;
}

/* Wait for pid up to limit seconds; its exit status, -1 when it did not
 * end in time (then its whole session is killed), -2 on a signal. */
static int
wait_lr(pid_t pid, double limit, double *took)
{
    double t0 = now_s();
    int st;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (now_s() - t0 > limit) {
            loom_test_kill_session(pid);
            waitpid(pid, NULL, 0);
            *took = now_s() - t0;
            return -1;
        }
        usleep(2000);
    }
    *took = now_s() - t0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -2;
}

static int
run_lr(const char *args)
{
    double took;
    return wait_lr(start_lr(args), 300, &took);
}

/* Poll (bounded by limit seconds) until file name has at least n lines. */
static int
wait_lines(const char *name, int n, double limit)
{
    double t0 = now_s();
    while (lines_in(name) < n) {
        if (now_s() - t0 > limit)
            return 0;
        usleep(5000);
    }
    return 1;
}

/* 1 when pid is gone or a zombie (an orphan's reaper may be slow). */
static int
dead(long pid)
{
    char path[64], stat[512] = "";
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *cp = strrchr(stat, ')');
    return cp && cp[1] == ' ' && (cp[2] == 'Z' || cp[2] == 'X');
}

/* ---- 1. a command that cannot start -------------------------------------------------- */

Test(lr_faults, a_command_that_cannot_start_is_a_failure_everywhere, .init = setup,
     .fini = teardown, .timeout = 300)
{
    /* 140,000 characters: one argument over the kernel's 128 KiB limit
     * (MAX_ARG_STRLEN), so exec fails with E2BIG */
    size_t n = 140000;
    char *line = malloc(n + 16);
    strcpy(line, "echo ");
    memset(line + 5, 'x', n);
    strcpy(line + 5 + n, "\ntrue\n");
    write_file("tasks.txt", line);
    int st = run_lr("--joblog jl --results res --events ev.json tasks.txt");
    char *err = read_file("err.txt"), *log = read_file("jl"), *ev = read_file("ev.json");
    char *status = read_file("res/000/000/1/status");
    cr_assert_eq(st, 1, "exit status %d (one task failed); stderr:\n%.2000s", st, err);
    cr_assert_not_null(strstr(err, "could not start: Argument list too long"), "%.2000s", err);
    cr_assert_not_null(strstr(err, "2 tasks: 1 succeeded, 1 failed"), "%.2000s", err);
    int ev1, sig;
    cr_assert_not_null(joblog_line(log, 1), "%.300s", log);
    exit_and_signal(joblog_line(log, 1), &ev1, &sig);
    cr_assert(ev1 == 126 && sig == 0, "job log: Exitval %d Signal %d (126: cannot execute)", ev1,
              sig);
    cr_assert_not_null(strstr(status, "exitval 126\n"), "--results status:\n%s", status);
    cr_assert_not_null(strstr(ev, "\"seq\":1,\"attempt\":1"), "%.600s", ev);
    const char *a1 = strstr(ev, "\"seq\":1,\"attempt\":1");
    cr_assert_not_null(strstr(a1, "\"outcome\":\"failed\""), "event: %.400s", a1);
    cr_assert(strstr(a1, "\"outcome\":\"failed\"") < strstr(a1, "\n"), "event: %.400s", a1);
    free(err);
    free(log);
    free(ev);
    free(status);
    /* --resume-failed runs it again (and only it) */
    st = run_lr("--joblog jl --resume-failed tasks.txt");
    err = read_file("err.txt");
    log = read_file("jl");
    cr_assert_eq(st, 1, "%.2000s", err);
    cr_assert_eq(count(log, "\n1\t"), 2, "the failed task ran again:\n%.300s", log);
    cr_assert_eq(count(log, "\n2\t"), 1, "%.300s", log);
    free(err);
    free(log);
    /* the same through a template: the input is the argument that is too long */
    line[5 + n] = '\n';
    line[5 + n + 1] = '\0';
    write_file("inputs.txt", line + 5);
    st = run_lr("--joblog jl2 -c 'echo {} | wc -c' inputs.txt");
    err = read_file("err.txt");
    log = read_file("jl2");
    cr_assert_eq(st, 1, "%.2000s", err);
    exit_and_signal(joblog_line(log, 1), &ev1, &sig);
    cr_assert(ev1 == 126 && sig == 0, "template: Exitval %d Signal %d", ev1, sig);
    free(err);
    free(log);
    free(line);
}

/* ---- 4. --halt soon starts nothing after the condition ---------------------------------- */

/* Task lines: each records when it started (ns, one line each in
 * starts.txt); the failing one records when it ended. */
static void
halt_tasks(int fail_at, int n)
{
    char *t = malloc(8192);
    t[0] = '\0';
    for (int i = 1; i <= n; i++) {
        char line[256];
        if (i == fail_at)
            snprintf(line, sizeof line,
                     "date +%%s%%N >> starts.txt; date +%%s%%N > failed_at; exit 1\n");
        else
            snprintf(line, sizeof line, "date +%%s%%N >> starts.txt; echo %d >> ran.txt\n", i);
        strcat(t, line);
    }
    write_file("tasks.txt", t);
    free(t);
}

/* Every start in starts.txt came before the time in failed_at. */
static void
assert_nothing_started_after(const char *what)
{
    char *starts = read_file("starts.txt"), *failed = read_file("failed_at");
    long long f = atoll(failed);
    cr_assert_gt(f, 0, "%s: no failure time", what);
    int later = 0;
    for (char *p = starts; *p; p = strchr(p, '\n') + 1) {
        long long s = atoll(p);
        if (s > f)
            later++;
        if (!strchr(p, '\n'))
            break;
    }
    char *err = read_file("err.txt");
    cr_assert_eq(later, 0,
                 "%s: %d task(s) started after the failure at %lld:\n%s\nstderr:\n%.2000s", what,
                 later, f, starts, err);
    free(err);
    free(starts);
    free(failed);
}

Test(lr_faults, halt_soon_starts_nothing_after_the_condition_holds, .init = setup, .fini = teardown,
     .timeout = 300)
{
    halt_tasks(3, 30);
    int st = run_lr("--pool-threads 1 --halt soon,fail=1 --joblog jl tasks.txt");
    char *ran = read_file("ran.txt");
    cr_assert_eq(st, 1);
    cr_assert_str_eq(ran, "1\n2\n",
                     "one thread, task 3 fails: only 1 and 2 ran besides it; ran:\n%s", ran);
    free(ran);
    assert_nothing_started_after("one thread");
    cr_assert_eq(lines_in("jl"), 4, "header and tasks 1-3");
    /* done=3: exactly three tasks run */
    unlink(strcat(strcpy((char[256]){0}, dir), "/ran.txt"));
    write_file("tasks.txt", "echo 1 >> ran.txt\necho 2 >> ran.txt\necho 3 >> ran.txt\n"
                            "echo 4 >> ran.txt\necho 5 >> ran.txt\n");
    st = run_lr("--pool-threads 1 --halt soon,done=3 tasks.txt");
    ran = read_file("ran.txt");
    cr_assert_str_eq(ran, "1\n2\n3\n", "soon,done=3 ran: %s", ran);
    free(ran);
    /* two threads: task 2 fails after 0.2 s while task 1 runs for 2 s more;
     * the failing task's thread starts nothing after it (it used to start
     * the task queued for it) and nothing else starts either */
    write_file("tasks.txt", "sleep 2; echo 1 >> ran.txt\n"
                            "sleep 0.2; exit 1\n"
                            "echo 3 >> ran.txt\necho 4 >> ran.txt\necho 5 >> ran.txt\n");
    unlink(strcat(strcpy((char[256]){0}, dir), "/ran.txt"));
    st = run_lr("--pool-threads 2 --halt soon,fail=1 tasks.txt");
    ran = read_file("ran.txt");
    cr_assert_eq(st, 1);
    cr_assert_str_eq(ran, "1\n", "two threads: ran\n%s", ran);
    free(ran);
}

/* ---- 6. a background child keeping stdout open ---------------------------------------- */

Test(lr_faults, a_background_child_does_not_hold_the_task, .init = setup, .fini = teardown,
     .timeout = 300)
{
    write_file("inputs.txt", "a\n");
    /* the task's own output (300,001 bytes, more than a pipe holds) is
     * all there; the daemon's later line is not the task's */
    int st = run_lr("--joblog jl --timeout 2 -c 'sleep 4 & echo $! > bg.pid; "
                    "head -c 300000 /dev/zero | tr \"\\\\0\" x; echo; echo started {}; "
                    "(sleep 3; echo late) &' inputs.txt");
    char *out = read_file("out.txt"), *log = read_file("jl"), *err = read_file("err.txt");
    cr_assert_eq(st, 0, "status %d; stderr:\n%.2000s", st, err);
    cr_assert_not_null(strstr(out, "started a\n"), "%.200s", out);
    cr_assert_null(strstr(out, "late"), "a background child's later output is not the task's");
    cr_assert_eq(strspn(out, "x"), 300000);
    const char *l = joblog_line(log, 1);
    cr_assert_not_null(l, "%s", log);
    int ev, sig;
    exit_and_signal(l, &ev, &sig);
    cr_assert(ev == 0 && sig == 0, "recorded as Exitval %d Signal %d (-1 15: a timeout)", ev, sig);
    double runtime = 0;
    const char *p = l;
    for (int tab = 0; tab < 3; p++)
        if (*p == '\t')
            tab++;
    runtime = atof(p);
    /* the shell exits at once; the daemons sleep 3 and 4 s */
    cr_assert_lt(runtime, 2.0, "JobRuntime %.3f s: the task waited for its background child",
                 runtime);
    char *bg = read_file("bg.pid");
    long pid = atol(bg);
    if (pid > 0)
        kill((pid_t)pid, SIGKILL);
    free(bg);
    free(out);
    free(log);
    free(err);
}

/* ---- 5. Open MPI's noise and settings ------------------------------------------------- */

Test(lr_faults, open_mpi_settings_and_noise_stay_out_of_sight, .init = setup, .fini = teardown,
     .timeout = 300)
{
    /* a task sees the user's OMPI_MCA_ and PMIX_MCA_ settings, not loom-run's */
    write_file("tasks.txt", "env\n");
    setenv("OMPI_MCA_loomtest_user", "7", 1);
    int st = run_lr("--quiet --pool-threads 8 tasks.txt");
    unsetenv("OMPI_MCA_loomtest_user");
    char *out = read_file("out.txt"), *err = read_file("err.txt");
    cr_assert_eq(st, 0, "%s", err);
    cr_assert_not_null(strstr(out, "OMPI_MCA_loomtest_user=7\n"), "%s", out);
    int ours = 0;
    for (const char *p = out; *p;) {
        if (strncmp(p, "OMPI_MCA_", 9) == 0 || strncmp(p, "PMIX_MCA_", 9) == 0)
            ours += strncmp(p, "OMPI_MCA_loomtest_user=", 23) != 0;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    cr_assert_eq(ours, 0, "the task saw loom-run's or mpirun's MCA settings:\n%s", out);
    /* more threads than CPUs: said, without advice loom-run already took */
    cr_assert_null(strstr(err, "--bind-to none"), "%s", err);
    free(out);
    free(err);
    /* a failing task and a missing file, several times (the noise is racy) */
    write_file("fail.txt", "exit 3\nexit 4\n");
    for (int i = 0; i < 4; i++) {
        st = run_lr("fail.txt");
        err = read_file("err.txt");
        cr_assert_eq(st, 2, "%s", err);
        cr_assert_null(strstr(err, "PMIX"), "run %d:\n%s", i, err);
        free(err);
        st = run_lr("nosuchfile.txt");
        err = read_file("err.txt");
        cr_assert_eq(st, 255, "%s", err);
        cr_assert_null(strstr(err, "PMIX"), "run %d:\n%s", i, err);
        free(err);
    }
}

/* ---- 2 and 3. stopping: signals, a dead master ------------------------------------------ */

/* 40 tasks: 1-4 quick; the others, until the file "go" exists, write the
 * shell's pid and its background child's to pids.txt, their number to
 * started.txt, and wait for the child (1000 s). Every task that ran
 * appends its number to done.txt. */
static void
stop_tasks(void)
{
    char *t = malloc(16384);
    t[0] = '\0';
    for (int i = 1; i <= 40; i++)
        strcat(t, i <= 4 ? "echo $LOOM_TASK_ID >> done.txt\n"
                         : "if [ -e go ]; then echo $LOOM_TASK_ID >> done.txt; else "
                           "echo $$ >> pids.txt; sleep 1000 & echo $! >> pids.txt; "
                           "echo $LOOM_TASK_ID >> started.txt; wait; fi\n");
    write_file("tasks.txt", t);
    free(t);
}

struct left {
    char *buf;
    size_t len;
};

/* loom_test_session_each: a live process (zombies aside) noted in arg. */
static int
note_live(long pid, char state, const char *stat, void *arg)
{
    struct left *l = arg;
    (void)pid;
    if (state == 'Z' || state == 'X')
        return 0;
    size_t used = strlen(l->buf);
    snprintf(l->buf + used, l->len - used, "%.100s\n", stat);
    return 1;
}

/* Processes of session sid still there (zombies aside), listed in buf. */
static int
session_left(pid_t sid, char *buf, size_t len)
{
    struct left l = {buf, len};
    buf[0] = '\0';
    return loom_test_session_each(sid, note_live, &l);
}

/* The job stopped cleanly: no task's process (pids.txt) and nothing of
 * the session left, no temporary file, a job log of whole lines with 1-4
 * succeeded and no stopped task recorded as succeeded; then --resume runs
 * exactly the rest, each task once in all. */
static void
assert_stopped_cleanly_and_resume(pid_t sid, const char *what)
{
    char *pids = read_file("pids.txt"), left[4096];
    double t0 = now_s();
    int alive;
    do {
        alive = 0;
        for (char *p = pids; *p;) {
            long pid = atol(p);
            if (pid > 0 && !dead(pid))
                alive++;
            char *nl = strchr(p, '\n');
            if (!nl)
                break;
            p = nl + 1;
        }
        if (alive)
            usleep(10000);
    } while (alive && now_s() - t0 < 10);
    cr_assert_eq(alive, 0, "%s: %d task process(es) survived of:\n%s", what, alive, pids);
    free(pids);
    t0 = now_s();
    while (session_left(sid, left, sizeof left) && now_s() - t0 < 10)
        usleep(10000);
    cr_assert_eq(session_left(sid, left, sizeof left), 0, "%s: still running:\n%s", what, left);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c loom-run- >/dev/null", dir);
    cr_assert_neq(system(cmd), 0, "%s: a temporary file of loom-run is left in %s", what, dir);
    char *log = read_file("jl");
    size_t len = strlen(log);
    cr_assert(len && log[len - 1] == '\n', "%s: the job log ends mid-line:\n%s", what, log);
    for (const char *p = log; *p; p = strchr(p, '\n') + 1) {
        int tabs = 0;
        for (const char *q = p; *q != '\n'; q++)
            tabs += *q == '\t';
        cr_assert_eq(tabs, 8, "%s: a broken job log line: %.200s", what, p);
    }
    for (unsigned seq = 1; seq <= 40; seq++) {
        const char *l = joblog_line(log, seq);
        int ev = -9, sig = -9;
        if (l)
            exit_and_signal(l, &ev, &sig);
        if (seq <= 4)
            cr_assert(l && ev == 0 && sig == 0, "%s: task %u not recorded:\n%s", what, seq, log);
        else
            cr_assert(!l || ev != 0 || sig != 0, "%s: stopped task %u recorded as succeeded:\n%s",
                      what, seq, log);
    }
    free(log);
    write_file("go", "");
    char *err = read_file("err.txt");
    int st = run_lr("--joblog jl --resume tasks.txt");
    char *err2 = read_file("err.txt");
    cr_assert_eq(st, 0, "%s: --resume: %d\n%s", what, st, err2);
    char *done = read_file("done.txt");
    log = read_file("jl");
    for (unsigned seq = 1; seq <= 40; seq++) {
        char key[16];
        snprintf(key, sizeof key, "\n%u\n", seq);
        int times = count(done, key) + (strncmp(done, key + 1, strlen(key) - 1) == 0);
        cr_assert_eq(times, 1, "%s: task %u ran %d times:\n%s", what, seq, times, done);
        snprintf(key, sizeof key, "\n%u\t", seq);
        cr_assert_eq(count(log, key), 1, "%s: task %u in the job log %d times:\n%s", what, seq,
                     count(log, key), log);
    }
    free(done);
    free(log);
    free(err);
    free(err2);
}

/* Start the stop test's job; returns once two long tasks run and 1-4 are
 * in the job log (bounded: startup under load is slow). */
static pid_t
start_stop_job(const char *prefix)
{
    stop_tasks();
    char args[512];
    snprintf(args, sizeof args, "%s--pool-threads 2 --joblog jl tasks.txt", prefix);
    pid_t pid = start_lr(args);
    int ok = wait_lines("started.txt", 2, 120) && wait_lines("jl", 5, 60);
    if (!ok) {
        char *err = read_file("err.txt"), *log = read_file("jl");
        loom_test_kill_session(pid);
        waitpid(pid, NULL, 0);
        cr_assert_fail("the job did not get going:\n%s\n%s", err, log);
    }
    return pid;
}

static void
stop_by_signal(int sig, const char *name)
{
    pid_t pid = start_stop_job("");
    double t0 = now_s(), took;
    kill(pid, sig);
    int st = wait_lr(pid, 60, &took);
    char *err = read_file("err.txt");
    printf("SIG%s: loom-run exited %d after %.2f s\n", name, st, now_s() - t0);
    cr_assert_eq(st, 128 + sig, "SIG%s: exit %d after %.2f s (want %d)\n%s", name, st, took,
                 128 + sig, err);
    /* "about a second": 10 s leaves room for a loaded 2-core machine */
    cr_assert_lt(took, 10, "SIG%s: %.2f s to stop", name, took);
    free(err);
    assert_stopped_cleanly_and_resume(pid, name);
}

Test(lr_faults, sigterm_stops_the_whole_job, .init = setup, .fini = teardown, .timeout = 400)
{
    stop_by_signal(SIGTERM, "TERM");
}

Test(lr_faults, sighup_stops_the_whole_job, .init = setup, .fini = teardown, .timeout = 400)
{
    stop_by_signal(SIGHUP, "HUP");
}

Test(lr_faults, sigint_stops_the_whole_job, .init = setup, .fini = teardown, .timeout = 400)
{
    stop_by_signal(SIGINT, "INT");
}

/* Ctrl-C on a real terminal: script(1) gives loom-run a pseudo-terminal
 * and passes what we write to it; ^C there is SIGINT to the foreground
 * process group. */
Test(lr_faults, ctrl_c_on_a_terminal_stops_the_whole_job, .init = setup, .fini = teardown,
     .timeout = 400)
{
    int in[2];
    cr_assert_eq(pipe(in), 0);
    stop_tasks();
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setsid();
        if (chdir(dir) != 0)
            _exit(99);
        dup2(in[0], 0);
        close(in[1]);
        int fd = open("tty.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        execlp("script", "script", "-qefc",
               LOOMRUN " --pool-threads 2 --joblog jl tasks.txt 2>err.txt", "/dev/null",
               (char *)NULL);
        _exit(98);
    }
    last_sid = pid;
    close(in[0]);
    int ok = wait_lines("started.txt", 2, 120) && wait_lines("jl", 5, 60);
    if (!ok) {
        loom_test_kill_session(pid);
        waitpid(pid, NULL, 0);
        cr_assert_fail("the job did not get going");
    }
    double took;
    cr_assert_eq(write(in[1], "\003", 1), 1);
    int st = wait_lr(pid, 60, &took);
    close(in[1]);
    char *tty = read_file("tty.txt"), *err = read_file("err.txt");
    printf("Ctrl-C: loom-run exited %d after %.2f s\n", st, took);
    cr_assert_eq(st, 130, "exit %d after %.2f s\ntty:\n%s\nstderr:\n%s", st, took, tty, err);
    cr_assert_lt(took, 10, "%.2f s to stop", took);
    free(tty);
    free(err);
    assert_stopped_cleanly_and_resume(pid, "Ctrl-C");
}

/* The master rank of session sid (rank 0 of loom-run's own mpirun), or 0. */
static long
find_master(pid_t sid)
{
    long found = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) && !found) {
        long pid = strtol(e->d_name, NULL, 10);
        char path[300], buf[65536];
        if (pid <= 1 || getsid((pid_t)pid) != sid)
            continue;
        snprintf(path, sizeof path, "/proc/%ld/environ", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
            if (strcmp(buf + i, "OMPI_COMM_WORLD_RANK=0") == 0)
                found = pid;
    }
    if (d)
        closedir(d);
    return found;
}

Test(lr_faults, a_killed_master_ends_the_run_with_102_and_resume_finishes, .init = setup,
     .fini = teardown, .timeout = 400)
{
    pid_t pid = start_stop_job("");
    long master = find_master(pid);
    cr_assert_gt(master, 0, "no rank 0 in session %d", (int)pid);
    double took;
    cr_assert_eq(kill((pid_t)master, SIGKILL), 0);
    int st = wait_lr(pid, 120, &took);
    char *err = read_file("err.txt");
    printf("master killed: loom-run exited %d after %.2f s\n", st, took);
    cr_assert_eq(st, 102, "exit %d after %.2f s\n%s", st, took, err);
    free(err);
    assert_stopped_cleanly_and_resume(pid, "master killed");
}

/* ---- a job that does not start -------------------------------------------------------- */

/* A stand-in for mpirun (LOOM_MPIRUN): its first call hangs as Open MPI's
 * start-up can (a rank failed in MPI_Init, rank 0 waits in it for good),
 * noting its pid in hung.pid; later calls run the real mpirun. calls
 * counts them. */
static void
write_hanging_mpirun(void)
{
    write_file("fake-mpirun", "#!/bin/sh\n"
                              "n=$(cat calls 2>/dev/null || echo 0)\n"
                              "echo $((n + 1)) >calls\n"
                              "if [ \"$n\" = 0 ]; then echo $$ >hung.pid; exec sleep 100000; fi\n"
                              "exec mpirun \"$@\"\n");
    char p[256];
    path_in(p, sizeof p, "fake-mpirun");
    cr_assert_eq(chmod(p, 0755), 0);
}

/* Run line with sh in dir; its exit status; *took its seconds. */
static int
timed_sh(const char *line, double *took)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd %s && %s", dir, line);
    double t0 = now_s();
    int st = system(cmd);
    *took = now_s() - t0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(lr_faults, a_job_that_does_not_start_is_stopped_and_started_once_more, .init = setup,
     .fini = teardown, .timeout = 600)
{
    /* the limit is derived from a normal start measured here: three
     * times it, and 5 s */
    double normal, took;
    int st = timed_sh(LOOMRUN " echo ::: a b c </dev/null >out.txt 2>err.txt", &normal);
    cr_assert_eq(st, 0, "a normal run exited %d", st);
    double limit = 3 * normal + 5;
    write_hanging_mpirun();
    char line[1024];
    snprintf(line, sizeof line,
             "LOOM_MPIRUN=./fake-mpirun LOOM_RUN_START_TIMEOUT=%.1f " LOOMRUN
             " -k echo ::: a b c </dev/null >out.txt 2>err.txt",
             limit);
    st = timed_sh(line, &took);
    char *out = read_file("out.txt"), *err = read_file("err.txt"), *calls = read_file("calls");
    char *hung = read_file("hung.pid");
    printf("a hung start-up (limit %.1f s from a normal run of %.2f s): exit %d after %.2f s\n",
           limit, normal, st, took);
    cr_assert_eq(st, 0, "exit %d after %.2f s:\n%s", st, took, err);
    cr_assert_str_eq(out, "a\nb\nc\n", "output:\n%s\nerr:\n%s", out, err);
    cr_assert_str_eq(calls, "2\n", "mpirun called %s times:\n%s", calls, err);
    cr_assert(strstr(err, "did not start within") && strstr(err, "starting the job again"), "%s",
              err);
    cr_assert(dead(atol(hung)), "the hung mpirun (pid %s) is still there", hung);
    cr_assert_lt(took, 2 * limit + 30, "took %.2f s, limit %.1f s", took, limit);
    free(out);
    free(err);
    free(calls);
    free(hung);

    /* tasks on a pipe: what the first mpirun read of it is gone, so no
     * second start: 102 and a clear word */
    char calls_path[256];
    path_in(calls_path, sizeof calls_path, "calls");
    unlink(calls_path);
    snprintf(line, sizeof line,
             "printf 'a\\nb\\n' | LOOM_MPIRUN=./fake-mpirun LOOM_RUN_START_TIMEOUT=%.1f " LOOMRUN
             " echo >out.txt 2>err.txt",
             limit);
    st = timed_sh(line, &took);
    err = read_file("err.txt");
    calls = read_file("calls");
    hung = read_file("hung.pid");
    printf("a hung start-up, tasks on a pipe: exit %d after %.2f s\n", st, took);
    cr_assert_eq(st, 102, "exit %d after %.2f s:\n%s", st, took, err);
    cr_assert_str_eq(calls, "1\n", "mpirun called %s times:\n%s", calls, err);
    cr_assert(strstr(err, "run the command again"), "%s", err);
    cr_assert(dead(atol(hung)), "the hung mpirun (pid %s) is still there", hung);
    free(err);
    free(calls);
    free(hung);
}
