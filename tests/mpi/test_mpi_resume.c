/* SPDX-License-Identifier: MIT */
/* Master loss: a C-API job with a journal (prog_resume) is killed with
 * SIGKILL — mpirun and every rank — at random points, 20 times in a row,
 * resumed each time; then it runs to the end, and every task has exactly
 * one successful record in the journal. Then the journal is damaged — one
 * byte cut off, a block in the middle zeroed, a record duplicated — and
 * each time a resume runs exactly what was lost, trusting nothing damaged. */
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "mpi_run.h"

#define TASKS 2000

static char dir[64], jpath[128];

static void
setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/loom-resume-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(jpath, sizeof jpath, "%s/journal", dir);
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
}

static off_t
jsize(void)
{
    struct stat sb;
    return stat(jpath, &sb) == 0 ? sb.st_size : 0;
}

/* After a kill: wait (bounded) until the dead master's lock on the
 * journal is gone — its ranks die a moment after mpirun. */
static void
wait_unlocked(void)
{
    for (int i = 0; i < 20000; i++) {
        int fd = open(jpath, O_RDONLY);
        if (fd < 0)
            return;
        int free_now = flock(fd, LOCK_EX | LOCK_NB) == 0;
        close(fd);
        if (free_now)
            return;
        usleep(500);
    }
    cr_assert_fail("the journal stayed locked after the job was killed");
}

/* Start the job in a process group of its own; returns mpirun's pid. */
static pid_t
start(int resume)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setsid();
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
        setenv("OMPI_MCA_mpi_yield_when_idle", "1", 1);
        char *argv[] = {
            MPIEXEC, "--oversubscribe",          "--bind-to", "none", "--timeout", "60",   "-np",
            "3",     PROG("prog_resume"),        "--journal", jpath,  "--tasks",   "2000", "--ms",
            "3",     resume ? "--resume" : NULL, NULL};
        execvp(MPIEXEC, argv);
        _exit(127);
    }
    return pid;
}

/* A whole run to the end; the master's RESUME line. */
static void
run_to_end(char *line, size_t len)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 " PROG("prog_resume") " --journal %s --resume --tasks %d --ms 3", jpath,
            TASKS);
    assert_clean_exit(&o);
    const char *l = strstr(o.text, "RESUME ");
    cr_assert_not_null(l, "%s", o.text);
    snprintf(line, len, "%.*s", (int)strcspn(l, "\n"), l);
    mpi_out_free(&o);
}

/* The journal's tally, from prog_resume --check. */
static void
check(char *line, size_t len)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, PROG("prog_resume") " --check %s --tasks %d 2>&1", jpath, TASKS);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char all[4096];
    size_t n = fread(all, 1, sizeof all - 1, p);
    all[n] = '\0';
    pclose(p);
    const char *l = strstr(all, "JOURNAL "); /* after any warning of the replay */
    cr_assert_not_null(l, "%s", all);
    snprintf(line, len, "%.*s", (int)strcspn(l, "\n"), l);
}

Test(resume, sigkill_20_times_then_damage, .init = setup, .fini = teardown, .timeout = 400)
{
    unsigned seed = (unsigned)getpid();
    int kills = 0;
    char line[512];
    for (int round = 0; round < 20; round++) {
        off_t target = jsize() + 300 + (off_t)(rand_r(&seed) % 4000);
        pid_t pid = start(round > 0);
        int st, done = 0;
        /* poll (bounded) for the journal to grow past the mark, then kill */
        for (int i = 0; i < 20000 && jsize() < target; i++) {
            if (waitpid(pid, &st, WNOHANG) == pid) {
                done = 1;
                break;
            }
            usleep(500);
        }
        if (!done) {
            loom_test_kill_session(pid);
            waitpid(pid, &st, 0);
            wait_unlocked();
            kills++;
        }
    }
    cr_assert_geq(kills, 15, "only %d runs were killed mid-way", kills);
    run_to_end(line, sizeof line);
    check(line, sizeof line);
    cr_assert_str_eq(line, "JOURNAL tasks=2000 once=2000 twice=0 missing=0 other=0 "
                           "bad_regions=0 torn=0");

    /* one byte cut off: the last record is torn, dropped, its task re-run */
    cr_assert_eq(truncate(jpath, jsize() - 1), 0);
    run_to_end(line, sizeof line);
    cr_assert_str_eq(line, "RESUME tasks=2000 ran=1 resumed=1999 failed=0");
    check(line, sizeof line);
    cr_assert_str_eq(line, "JOURNAL tasks=2000 once=2000 twice=0 missing=0 other=0 "
                           "bad_regions=0 torn=0");

    /* a zeroed block in the middle: those records are skipped (never
     * trusted), their tasks run again */
    int fd = open(jpath, O_WRONLY);
    char zero[1000] = {0};
    cr_assert_eq(pwrite(fd, zero, sizeof zero, jsize() / 2), (ssize_t)sizeof zero);
    close(fd);
    run_to_end(line, sizeof line);
    unsigned ran = 0, resumed = 0;
    cr_assert_eq(sscanf(line, "RESUME tasks=2000 ran=%u resumed=%u failed=0", &ran, &resumed), 2,
                 "%s", line);
    cr_assert(ran >= 12 && ran <= 15 && ran + resumed == 2000, "%s", line);
    check(line, sizeof line);
    cr_assert_str_eq(line, "JOURNAL tasks=2000 once=2000 twice=0 missing=0 other=0 "
                           "bad_regions=1 torn=0");

    /* a record duplicated: seen twice, counted done once, nothing re-run.
     * A record is 74 bytes and the name of the host that ran it (every
     * rank runs here). */
    char rec[74 + 256], host[256] = "";
    cr_assert_eq(gethostname(host, sizeof host - 1), 0);
    size_t rlen = 74 + strlen(host);
    fd = open(jpath, O_RDWR | O_APPEND);
    cr_assert_eq(pread(fd, rec, rlen, jsize() - (off_t)rlen), (ssize_t)rlen);
    cr_assert_eq(write(fd, rec, rlen), (ssize_t)rlen);
    close(fd);
    run_to_end(line, sizeof line);
    cr_assert_str_eq(line, "RESUME tasks=2000 ran=0 resumed=2000 failed=0");
    check(line, sizeof line);
    cr_assert_str_eq(line, "JOURNAL tasks=2000 once=1999 twice=1 missing=0 other=0 "
                           "bad_regions=1 torn=0");
}

/* Issue #16: a journal with a bad header made every rank print the code's
 * text, "malformed message". Rank 0 names the file and the problem, once;
 * the other ranks only point to rank 0. */
Test(resume, a_bad_journal_header_is_named_once, .init = setup, .fini = teardown, .timeout = 120)
{
    FILE *f = fopen(jpath, "w");
    cr_assert_not_null(f);
    fputs("this is no loom journal, just text in its place\n", f);
    fclose(f);
    struct mpi_out o;
    mpi_run(&o, "-np 3 " PROG("prog_resume") " --journal %s --resume --tasks 10 --ms 1", jpath);
    cr_assert_neq(o.status, 0, "exit %d:\n%s", o.status, o.text);
    char want[256];
    snprintf(want, sizeof want,
             "START rank=0 failed: cannot open the journal: %s: not a loom "
             "journal (bad magic)",
             jpath);
    assert_line(&o, "%s", want);
    cr_assert_eq(count_of(o.text, "not a loom journal"), 1, "said more than once:\n%s", o.text);
    for (int r = 1; r < 3; r++)
        assert_line(&o,
                    "START rank=%d failed: the master (rank 0) could not start the job (it "
                    "says why)",
                    r);
    cr_assert_null(strstr(o.text, "malformed message"), "%s", o.text);
    cr_assert_null(strstr(o.text, "RESUME "), "tasks ran:\n%s", o.text);
    mpi_out_free(&o);
}
