/* SPDX-License-Identifier: MIT */
/*
 * loom-pool (apps/pool) — the seed's Pool lesson and its thread-name lesson, with loom's
 * node-local thread pool.
 *
 * 1. `Pool(4)` with 5 tasks (`apply_async`, `close`, `join`): four tasks
 *    start at once, the fifth waits for a free thread. Each task works a
 *    random time (as the seed's time.sleep) and says which pool thread ran
 *    it (Worker-1 ... Worker-N: loom_context_name()):
 *
 *      Parent process 669 (MainThread).
 *      Waiting for all tasks done...
 *      Run task 0 (Worker-1)...
 *      Run task 1 (Worker-2)...
 *      Run task 2 (Worker-3)...
 *      Run task 3 (Worker-4)...
 *      Task 2 runs 0.14 seconds.
 *      Run task 4 (Worker-3)...
 *      ...
 *      All tasks done.
 *      loom-pool: 5 tasks on 4 threads, at most 4 at once; task 4 started after 1 had finished
 *
 *    Every start and finish is recorded, in order, under one lock, and the
 *    lines are printed as they are recorded, so the output is the pool's
 *    real order of events. The last line sums the record up: how many tasks
 *    ran at once at most (never more than the threads), and how many had
 *    finished when the first task that had to wait (task N for N threads)
 *    started (at least one).
 *
 * 2. `threading.current_thread().name`: the main thread is MainThread; a
 *    thread started by the program names itself LoopThread
 *    (loom_context_set_name, which `top -H` shows too) and counts to 5.
 *
 *   loom-pool [--threads N] [--tasks N] [--max-task-ms MS] [--seed S]
 *
 * Exit status: 0 success, 1 the record breaks a rule of the pool (more
 * tasks at once than threads, a task not run exactly once, a waiting task
 * started before any had finished) or the pool failed, 2 usage error.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep, rand_r */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <loom.h>

#include "../common/args.h"
#include "../common/version.h"

#define PROG      "loom-pool"
#define MAX_TASKS 10000

/* The record of the pool's events, guarded by `record_lock`. */
static loom_lock record_lock = LOOM_LOCK_INITIALIZER;
static struct {
    unsigned running;      /* tasks started and not finished */
    unsigned max_running;  /* the most at once */
    unsigned finished;     /* tasks finished so far */
    long first_waiter;     /* index of the first task that had to wait */
    long finished_before;  /* tasks finished when it started (-1: not yet) */
    unsigned char *starts; /* per task: times started */
    unsigned char *ends;   /* per task: times finished */
} rec;

static int max_task_ms = 1000;
static unsigned seed;

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The seed's long_time_task. */
static void *
long_time_task(void *arg)
{
    long name = (long)(intptr_t)arg;
    loom_context *ctx = loom_context_current();

    loom_lock_acquire(&record_lock);
    rec.running++;
    if (rec.running > rec.max_running)
        rec.max_running = rec.running;
    if (rec.starts[name] < 255)
        rec.starts[name]++;
    if (name == rec.first_waiter)
        rec.finished_before = rec.finished;
    printf("Run task %ld (%s)...\n", name, loom_context_name(ctx));
    fflush(stdout);
    loom_lock_release(&record_lock);

    double start = now();
    unsigned r = seed + (unsigned)name;
    int ms = max_task_ms > 0 ? (int)(rand_r(&r) % (unsigned)max_task_ms) : 0;
    struct timespec d = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&d, NULL); /* stands for work, as time.sleep does in the seed */

    loom_lock_acquire(&record_lock);
    printf("Task %ld runs %0.2f seconds.\n", name, now() - start);
    fflush(stdout);
    rec.running--;
    rec.finished++;
    if (rec.ends[name] < 255)
        rec.ends[name]++;
    loom_lock_release(&record_lock);
    return NULL;
}

static int
lesson_pool(unsigned threads, unsigned tasks)
{
    int status = 1;
    loom_pool *pool = NULL;
    rec.starts = calloc(tasks ? tasks : 1, 1);
    rec.ends = calloc(tasks ? tasks : 1, 1);
    rec.first_waiter = tasks > threads ? (long)threads : -1;
    rec.finished_before = -1;
    if (!rec.starts || !rec.ends) {
        fprintf(stderr, PROG ": out of memory\n");
        goto out;
    }

    printf("Parent process %d (%s).\n", (int)getpid(), loom_context_name(loom_context_current()));
    fflush(stdout);
    loom_pool_opts o = {.threads = threads};
    loom_err rc = loom_pool_create(&o, &pool);
    if (rc != LOOM_OK) {
        fprintf(stderr, PROG ": cannot create the pool: %s\n", loom_last_error());
        goto out;
    }
    for (unsigned i = 0; i < tasks && rc == LOOM_OK; i++)
        rc = loom_pool_submit(pool, long_time_task, (void *)(intptr_t)i, LOOM_FOREVER, NULL);
    loom_lock_acquire(&record_lock);
    printf("Waiting for all tasks done...\n");
    fflush(stdout);
    loom_lock_release(&record_lock);
    loom_pool_close(pool);
    loom_err jrc = loom_pool_join(pool, LOOM_FOREVER);
    if (rc == LOOM_OK)
        rc = jrc;
    if (rc != LOOM_OK) {
        fprintf(stderr, PROG ": pool: %s\n", loom_last_error());
        goto out;
    }
    printf("All tasks done.\n");

    /* Check the record against what a pool of `threads` promises. */
    unsigned once = 0;
    for (unsigned i = 0; i < tasks; i++)
        once += rec.starts[i] == 1 && rec.ends[i] == 1;
    printf(PROG ": %u task%s on %u thread%s, at most %u at once", tasks, tasks == 1 ? "" : "s",
           threads, threads == 1 ? "" : "s", rec.max_running);
    if (rec.first_waiter >= 0)
        printf("; task %ld started after %ld had finished", rec.first_waiter, rec.finished_before);
    printf("\n");
    if (once != tasks)
        fprintf(stderr, PROG ": %u of %u tasks ran exactly once\n", once, tasks);
    else if (rec.max_running > threads)
        fprintf(stderr, PROG ": more tasks at once than threads\n");
    else if (rec.first_waiter >= 0 && rec.finished_before < 1)
        fprintf(stderr, PROG ": task %ld started before any task finished\n", rec.first_waiter);
    else
        status = 0;
out:
    loom_pool_destroy(pool);
    free(rec.starts);
    free(rec.ends);
    return status;
}

/* The seed's loop(): runs in a thread that names itself LoopThread. */
static void *
loop(void *arg)
{
    (void)arg;
    if (loom_context_set_name("LoopThread") != LOOM_OK)
        return (void *)1;
    const char *name = loom_context_name(loom_context_current());
    printf("thread %s is running...\n", name);
    for (int n = 1; n <= 5; n++)
        printf("thread %s >>> %d\n", name, n);
    printf("thread %s ended.\n", name);
    return NULL;
}

static int
lesson_threads(void)
{
    const char *name = loom_context_name(loom_context_current());
    void *ret = NULL;
    pthread_t t;
    printf("\nthread %s is running...\n", name);
    if (pthread_create(&t, NULL, loop, NULL) != 0) {
        fprintf(stderr, PROG ": cannot start a thread\n");
        return 1;
    }
    pthread_join(t, &ret);
    printf("thread %s ended.\n", name);
    return ret != NULL;
}

int
main(int argc, char **argv)
{
    uint64_t threads = 4, tasks = 5, ms = 1000, s = (uint64_t)(time(NULL) & 0x7fffffff);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: " PROG " [--threads N] [--tasks N] [--max-task-ms MS] [--seed S]\n"
                   "       " PROG " --version  (loom, MPI and build id of this program)\n\n"
                   "The seed's Pool(4) with 5 tasks: a pool of N threads (default 4) runs\n"
                   "the tasks (default 5), each working a random 0..MS ms (default 1000);\n"
                   "then a thread named LoopThread counts to 5.\n\n"
                   "Exit status: 0 success, 1 the pool broke a rule or failed, 2 usage error.\n");
            return 0;
        } else if (strcmp(a, APP_VERSION_OPTION) == 0) {
            app_print_version(PROG);
            return 0;
        } else if (strcmp(a, "--threads") == 0) {
            bad = app_parse_u64(v, 1, 1024, &threads);
        } else if (strcmp(a, "--tasks") == 0) {
            bad = app_parse_u64(v, 0, MAX_TASKS, &tasks);
        } else if (strcmp(a, "--max-task-ms") == 0) {
            bad = app_parse_u64(v, 0, 60000, &ms);
        } else if (strcmp(a, "--seed") == 0) {
            bad = app_parse_u64(v, 0, 0x7fffffff, &s);
        } else {
            fprintf(stderr, PROG ": unknown argument '%s' (try --help)\n", a);
            return 2;
        }
        if (bad) {
            fprintf(stderr, PROG ": %s needs a number in range (try --help)\n", a);
            return 2;
        }
        i++;
    }
    max_task_ms = (int)ms;
    seed = (unsigned)s;
    if (lesson_pool((unsigned)threads, (unsigned)tasks) != 0)
        return 1;
    return lesson_threads();
}
