/* SPDX-License-Identifier: MIT */
/* Isolated tasks (prog_isolate): of 10,000 tasks a known 5 % segfault,
 * abort, exit(3), grow past the memory limit or hang past the timeout;
 * exactly the others succeed, each failure carries its cause, the job
 * exits non-zero, and the worker ranks' pids do not change. */
#include <errno.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpi_run.h"

/* Crashes must reach the worker as signals: under a sanitizer the helper
 * would otherwise turn a SIGSEGV into a report and exit(1) (and LSan would
 * change exit(3) into 23). The test's own options are kept. */
#if defined(__SANITIZE_ADDRESS__)
#define ISO_ENV "ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=0:handle_segv=0:handle_abort=0 "
#elif defined(__SANITIZE_THREAD__)
#define ISO_ENV "TSAN_OPTIONS=$TSAN_OPTIONS:handle_segv=0:handle_abort=0 "
#else
#define ISO_ENV ""
#endif

/* the task timeout (chosen below), 32 MiB of resident memory per task */
#define ISO_LIMITS "--task-timeout %.1f --task-memory-limit 32M --pool-threads 2"

/* A memory task maps and populates 64 MiB in one step (prog_isolate's
 * MEMORY_GRAB) and must be killed for its 32 MiB limit before the task
 * timeout could end it. Rather than guess how fast this machine is today,
 * time that very step in a child, the slowest of three, and give tasks ten
 * times that (the task crosses the limit halfway, so ~20 times what it
 * needs), 2 s at least; a hang costs the timeout, so 30 s at most. */
static double
task_timeout_s(double *populate_ms)
{
    double worst = 0;
    for (int k = 0; k < 3; k++) {
        struct timespec a, b;
        int st = -1;
        clock_gettime(CLOCK_MONOTONIC, &a);
        pid_t pid = fork();
        if (pid == 0) {
            void *m = mmap(NULL, (size_t)64 << 20, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
            _exit(m == MAP_FAILED);
        }
        cr_assert_gt(pid, 0, "fork: %s", strerror(errno));
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        clock_gettime(CLOCK_MONOTONIC, &b);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "mapping 64 MiB failed");
        double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        worst = ms > worst ? ms : worst;
    }
    *populate_ms = worst;
    double t = worst * 10 / 1e3;
    return t < 2 ? 2 : t > 30 ? 30 : t;
}

/* The job: 2000 or 10000 tasks, 5 % of them crashing, each crash costing a
 * new helper process (an exec); 14 s for 10000 on this 2-core VM busy with
 * other builds. mpirun's limit is 200 s, inside the test's 300. */
#define ISO_MPIRUN_LIMIT_S 200

static void
check(struct mpi_out *o, const char *tasks_line, double timeout_s, double populate_ms)
{
    cr_assert(!strstr(o->text, "time limit"), "mpirun's --timeout fired after %.0f s:\n%s",
              o->seconds, o->text);
    cr_assert(has_line(o->text, tasks_line),
              "expected the line\n  %s\nin the output (task timeout %.1f s, from 64 MiB mapped "
              "in %.0f ms at worst before the job; the job ran %.0f s):\n%s",
              tasks_line, timeout_s, populate_ms, o->seconds, o->text);
    assert_line(o, "PIDS workers=2 same=2");
    assert_line(o, "CHECKS ok");
    /* the job had failed tasks: it must say so */
    cr_assert_neq(o->status, 0, "exit status 0 although tasks failed:\n%s", o->text);
    fprintf(stderr, "isolate: task timeout %.1f s (64 MiB mapped in %.0f ms); job %.0f s\n",
            timeout_s, populate_ms, o->seconds);
}

Test(isolate, ten_thousand_tasks_flagged, .timeout = 300)
{
    struct mpi_out o;
    double pop_ms, tmo = task_timeout_s(&pop_ms);
    mpi_run_for(&o, ISO_MPIRUN_LIMIT_S,
                "-np 3 env " ISO_ENV PROG("prog_isolate") " --flag --tasks 10000 " ISO_LIMITS, tmo);
    check(&o,
          "ISOLATE tasks=10000 ok=9500 segv=150 abort=150 exit=150 memory=40 timeout=10 wrong=0",
          tmo, pop_ms);
    mpi_out_free(&o);
}

/* job.isolate = true isolates every task not submitted LOOM_TASK_IN_THREAD,
 * map chunks included */
Test(isolate, job_wide_setting, .timeout = 300)
{
    struct mpi_out o;
    double pop_ms, tmo = task_timeout_s(&pop_ms);
    mpi_run_for(&o, ISO_MPIRUN_LIMIT_S,
                "-np 3 env " ISO_ENV PROG(
                    "prog_isolate") " --tasks 2000 --map 100 --job-isolate true " ISO_LIMITS,
                tmo);
    check(&o, "ISOLATE tasks=2000 ok=1900 segv=30 abort=30 exit=30 memory=8 timeout=2 wrong=0", tmo,
          pop_ms);
    /* a map chunk is isolated as a whole: values 7, 27, 47, 67, 87 crash
     * their chunks, the other chunks succeed */
    assert_line(&o, "MAP inputs=100 wrong=0 planned_crashes=5");
    mpi_out_free(&o);
}
