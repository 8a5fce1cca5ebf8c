/* SPDX-License-Identifier: MIT */
/*
 * bench_isolate — what isolating a task costs, end to end through a job.
 *
 * Empty tasks (return 0, no payload, no reply) submitted by the master and
 * run by the workers, three ways in the same run:
 *   - in-thread:       in a pool thread (the reference);
 *   - isolated helper: LOOM_TASK_ISOLATED, task.isolate_mode = "helper" —
 *                      one request/reply over a socket to the thread's
 *                      persistent helper process;
 *   - isolated fork:   LOOM_TASK_ISOLATED, task.isolate_mode = "fork" — a
 *                      fork() of the worker per task.
 * and tasks that segfault, isolated both ways (what a crash costs: a new
 * helper is an exec of the program; a fork is a fork).
 * Every round runs each row as a job of its own (create, start, N tasks,
 * finish, destroy), rows interleaved so background load hits all alike;
 * medians over the rounds, the min–max range, microseconds per task and
 * the ratio to in-thread are printed by the master.
 *
 *   mpirun -np 2 --bind-to none bench_isolate [-n TASKS] [-c CRASHES] [-f FORKS] [-r ROUNDS]
 *          [loom options, e.g. --pool-threads 2]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <loom.h>

#define MAX_ROUNDS 32

static int
empty_task(loom_task *t, void *user)
{
    (void)t;
    (void)user;
    return 0;
}

static int
crash_task(loom_task *t, void *user)
{
    (void)t;
    (void)user;
    raise(SIGSEGV);
    return 0;
}

struct row {
    const char *name;
    const char *mode; /* task.isolate_mode */
    unsigned flags;
    const char *fn;
    int crash;
    int count; /* 0: -n, 1: -c, 2: -f tasks */
    double secs[MAX_ROUNDS];
};

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The program's arguments as given, re-read by every job's config. */
static int saved_argc;
static char **saved_argv;

/* One job running n tasks of the row; the master's seconds from the first
 * submit to the last result (0 on workers), or -1 on failure. */
static double
run_row(const struct row *row, size_t n)
{
    loom_config *cfg = NULL;
    loom_job *job = NULL;
    double secs = -1;
    char *args[64];
    int argc = saved_argc;
    memcpy(args, saved_argv, (size_t)argc * sizeof *args);
    args[argc] = NULL;
    if (loom_config_create(&cfg) != LOOM_OK || loom_config_load(cfg, &argc, args) != LOOM_OK ||
        loom_config_set(cfg, "task.isolate_mode", row->mode, "bench") != LOOM_OK)
        goto out;
    loom_job_opts opts = {.config = cfg};
    if (loom_job_create(MPI_COMM_WORLD, &opts, &job) != LOOM_OK ||
        loom_job_register(job, "empty", empty_task, NULL) != LOOM_OK ||
        loom_job_register(job, "crash", crash_task, NULL) != LOOM_OK ||
        loom_job_start(job) != LOOM_OK)
        goto out;
    if (!loom_job_is_master(job)) {
        secs = loom_job_serve(job) == LOOM_OK ? 0 : -1;
        goto out;
    }
    double t0 = now();
    size_t bad = 0, got = 0;
    for (size_t i = 0; i < n; i++)
        if (loom_job_submit_flags(job, row->fn, NULL, 0, row->flags, LOOM_FOREVER, NULL) != LOOM_OK)
            goto out;
    loom_result r;
    while (got < n && loom_job_next_result(job, LOOM_FOREVER, &r) == LOOM_OK) {
        got++;
        if (row->crash ? r.cause != LOOM_CAUSE_SIGNAL : r.cause != LOOM_CAUSE_OK)
            bad++;
        loom_result_free(&r);
    }
    secs = now() - t0;
    if (got != n || bad) {
        fprintf(stderr, "bench_isolate: %s: %zu of %zu results, %zu unexpected\n", row->name, got,
                n, bad);
        secs = -1;
    }
    loom_job_finish(job);
out:
    loom_job_destroy(job);
    loom_config_destroy(cfg);
    return secs;
}

int
main(int argc, char **argv)
{
    size_t n = 20000, nc = 200, nf = 2000;
    int rounds = 3, provided = 0, rank = 0, status = 0;
    loom_config *base = NULL;
    if (argc >= 64) {
        fprintf(stderr, "bench_isolate: too many arguments\n");
        return 2;
    }
    saved_argc = argc;
    saved_argv = malloc((size_t)(argc + 1) * sizeof *saved_argv);
    if (!saved_argv)
        return 1;
    memcpy(saved_argv, argv, (size_t)(argc + 1) * sizeof *argv);
    if (loom_config_create(&base) != LOOM_OK || loom_config_load(base, &argc, argv) != LOOM_OK) {
        fprintf(stderr, "bench_isolate: %s\n", base ? loom_config_error(base) : "no memory");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            n = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            nc = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-f") == 0 && i + 1 < argc)
            nf = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_isolate [-n TASKS] [-c CRASHES] [-f FORKS] [-r "
                            "ROUNDS] [loom options]\n");
            return 2;
        }
    }
    size_t counts[3] = {n, nc, nf};
    if (rounds < 1 || rounds > MAX_ROUNDS || n == 0 || nc == 0 || nf == 0) {
        fprintf(stderr, "bench_isolate: need 1..%d rounds and at least one task\n", MAX_ROUNDS);
        return 2;
    }
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
        return 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    struct row rows[] = {
        {"in-thread", "helper", LOOM_TASK_IN_THREAD, "empty", 0, 0, {0}},
        {"isolated helper", "helper", LOOM_TASK_ISOLATED, "empty", 0, 0, {0}},
        {"isolated fork", "fork", LOOM_TASK_ISOLATED, "empty", 0, 2, {0}},
        {"crashing, helper", "helper", LOOM_TASK_ISOLATED, "crash", 1, 1, {0}},
        {"crashing, fork", "fork", LOOM_TASK_ISOLATED, "crash", 1, 1, {0}},
    };
    size_t nrows = sizeof rows / sizeof rows[0];
    for (int r = 0; r < rounds && !status; r++)
        for (size_t k = 0; k < nrows && !status; k++) {
            rows[k].secs[r] = run_row(&rows[k], counts[rows[k].count]);
            if (rows[k].secs[r] < 0)
                status = 1;
        }
    if (rank == 0 && !status) {
        int size = 0;
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        int64_t threads = 0;
        loom_config_get_int(base, "pool.threads", &threads);
        printf("bench_isolate: %zu empty tasks per row (%zu for fork), %zu crashing tasks, %d "
               "rounds, %d worker rank(s), pool.threads=%lld (0 = cores)\n",
               n, nf, nc, rounds, size - 1, (long long)threads);
        printf("%-18s %12s %12s %22s %10s\n", "row", "tasks/s", "us/task", "median s (min-max)",
               "x thread");
        double ref = 0;
        for (size_t k = 0; k < nrows; k++) {
            double s[MAX_ROUNDS];
            memcpy(s, rows[k].secs, sizeof s);
            qsort(s, (size_t)rounds, sizeof s[0], cmp_double);
            double med = s[rounds / 2];
            size_t cnt = counts[rows[k].count];
            double per = med / (double)cnt * 1e6;
            if (k == 0)
                ref = per;
            printf("%-18s %12.0f %12.2f %10.3f (%.3f-%.3f) %10.1f\n", rows[k].name,
                   (double)cnt / med, per, med, s[0], s[rounds - 1], per / ref);
        }
    }
    loom_config_destroy(base);
    free(saved_argv);
    MPI_Finalize();
    return status;
}
