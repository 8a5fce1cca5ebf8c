/* SPDX-License-Identifier: MIT */
/* Isolated tasks (prog_isolate): of 10,000 tasks a known 5 % segfault,
 * abort, exit(3), grow past the memory limit or hang past the timeout;
 * exactly the others succeed, each failure carries its cause, the job
 * exits non-zero, and the worker ranks' pids do not change. */
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

/* 2 s per hang (a memory task must reach its limit well before that on
 * a loaded machine), 32 MiB of resident memory per task */
#define ISO_LIMITS "--task-timeout 2 --task-memory-limit 32M --pool-threads 2"

static void
check(struct mpi_out *o, const char *tasks_line)
{
    cr_assert(!strstr(o->text, "time limit"), "mpirun's --timeout fired:\n%s", o->text);
    assert_line(o, "%s", tasks_line);
    assert_line(o, "PIDS workers=2 same=2");
    assert_line(o, "CHECKS ok");
    /* the job had failed tasks: it must say so */
    cr_assert_neq(o->status, 0, "exit status 0 although tasks failed:\n%s", o->text);
}

Test(isolate, ten_thousand_tasks_flagged, .timeout = 300)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 env " ISO_ENV PROG("prog_isolate") " --flag --tasks 10000 " ISO_LIMITS);
    check(&o, "ISOLATE tasks=10000 ok=9500 segv=150 abort=150 exit=150 memory=40 timeout=10 "
              "wrong=0");
    mpi_out_free(&o);
}

/* job.isolate = true isolates every task not submitted LOOM_TASK_IN_THREAD,
 * map chunks included */
Test(isolate, job_wide_setting, .timeout = 300)
{
    struct mpi_out o;
    mpi_run(&o, "-np 3 env " ISO_ENV PROG(
                    "prog_isolate") " --tasks 2000 --map 100 --job-isolate true " ISO_LIMITS);
    check(&o, "ISOLATE tasks=2000 ok=1900 segv=30 abort=30 exit=30 memory=8 timeout=2 wrong=0");
    /* a map chunk is isolated as a whole: values 7, 27, 47, 67, 87 crash
     * their chunks, the other chunks succeed */
    assert_line(&o, "MAP inputs=100 wrong=0 planned_crashes=5");
    mpi_out_free(&o);
}
