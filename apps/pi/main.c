/* SPDX-License-Identifier: MIT */
/*
 * loom-pi — the seed's GIL lesson turned around: a compute-bound job that keeps
 * every core of every worker busy. π is estimated by Monte Carlo (the share
 * of random points of the unit square that fall inside the quarter circle,
 * times 4), split into many tasks. Each task has its own seed derived from
 * --seed and its index, so the estimate is the same whatever rank or thread
 * ran which task.
 *
 * Before distributing the work, the master runs the first few tasks itself
 * on one thread and scales that time to the whole job; the speed-up is that
 * single-thread time over the job's wall-clock time. The master also checks
 * that the workers counted exactly what it counted for those tasks.
 *
 *   mpirun -np 3 --bind-to none loom-pi [loom options] [--tasks T]
 *       [--samples-per-task S] [--seed N] [--baseline-tasks K]
 *
 *   pi = 3.1415923, error 3.4e-07, 2 workers x 2 threads, time 0.61 s,
 *   single thread 1.19 s, speed-up 1.95 x
 *
 * (Open MPI binds each rank to one core by default for small jobs, which
 * would put a worker's whole pool on one core: launch with --bind-to none.)
 *
 * Exit status: 0 success, 1 a task failed or a count differs from the
 * master's own, 2 usage or configuration error.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, CLOCK_THREAD_CPUTIME_ID */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <loom.h>

#include "../common/app.h"

#define PROG "loom-pi"
#define PI   3.14159265358979323846

/* What one task computes, sent as its payload. */
struct pi_work {
    uint64_t index;   /* task number, from 0 */
    uint64_t samples; /* points to throw */
    uint64_t seed;    /* the job's --seed */
};

/* A task's reply. */
struct pi_reply {
    uint64_t hits;        /* points inside the quarter circle */
    uint32_t pool;        /* pool threads of the worker that ran it */
    int32_t thread_index; /* index of the pool thread that ran it */
};

static double
seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
now(void)
{
    return seconds(CLOCK_MONOTONIC);
}

static uint64_t
splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static uint64_t
rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* The Monte Carlo kernel: xoshiro256+ seeded from (seed, index) through
 * splitmix64, so every task draws its own reproducible stream. */
static uint64_t
count_hits(const struct pi_work *w)
{
    uint64_t sm = w->seed ^ (w->index * 0xD1B54A32D192ED03u), s[4];
    for (int i = 0; i < 4; i++)
        s[i] = splitmix64(&sm);
    uint64_t hits = 0;
    for (uint64_t i = 0; i < w->samples; i++) {
        double xy[2];
        for (int k = 0; k < 2; k++) {
            uint64_t r = s[0] + s[3], t = s[1] << 17;
            s[2] ^= s[0];
            s[3] ^= s[1];
            s[1] ^= s[2];
            s[0] ^= s[3];
            s[2] ^= t;
            s[3] = rotl(s[3], 45);
            xy[k] = (double)(r >> 11) * 0x1.0p-53; /* uniform in [0, 1) */
        }
        hits += xy[0] * xy[0] + xy[1] * xy[1] < 1.0;
    }
    return hits;
}

/* The task: payload struct pi_work, reply struct pi_reply. */
static int
pi_task(loom_task *task, void *user)
{
    (void)user;
    loom_job *job = loom_task_job(task);
    size_t len = 0;
    const void *p = loom_task_payload(task, &len);
    struct pi_work w;
    if (len != sizeof w)
        return 1;
    memcpy(&w, p, sizeof w);
    struct pi_reply r = {.hits = count_hits(&w),
                         .pool = loom_job_threads(job),
                         .thread_index = loom_context_index(loom_task_context(task))};
    return loom_task_reply(task, &r, sizeof r) == LOOM_OK ? 0 : 1;
}

static int
run_master(loom_job *job, uint64_t tasks, uint64_t samples, uint64_t seed, uint64_t baseline)
{
    int status = 1;
    struct pi_work *work = calloc(tasks, sizeof *work);
    const void **inputs = calloc(tasks, sizeof *inputs);
    size_t *lens = calloc(tasks, sizeof *lens);
    loom_result *res = calloc(tasks, sizeof *res);
    uint64_t *local = calloc(baseline ? baseline : 1, sizeof *local);
    int nworkers = loom_job_size(job) - 1;
    unsigned char *used = NULL; /* (rank, thread index) pairs that ran a task */
    if (!work || !inputs || !lens || !res || !local) {
        fprintf(stderr, PROG ": out of memory for %" PRIu64 " tasks\n", tasks);
        goto out;
    }
    for (uint64_t i = 0; i < tasks; i++) {
        work[i] = (struct pi_work){.index = i, .samples = samples, .seed = seed};
        inputs[i] = &work[i];
        lens[i] = sizeof work[i];
    }

    /* 1. The same work on one thread, here, for the first `baseline` tasks,
     * timed in this thread's CPU time: the other ranks share the cores
     * while they start, and wall time would make one thread look slow. */
    double t0 = seconds(CLOCK_THREAD_CPUTIME_ID);
    for (uint64_t i = 0; i < baseline; i++)
        local[i] = count_hits(&work[i]);
    double single = (seconds(CLOCK_THREAD_CPUTIME_ID) - t0) * (double)tasks / (double)baseline;

    /* 2. All of it on every worker's pool. */
    t0 = now();
    loom_err rc = loom_job_map(job, "pi", inputs, lens, tasks, res);
    double wall = now() - t0;
    if (rc != LOOM_OK) {
        fprintf(stderr, PROG ": map: %s\n", loom_last_error());
        goto out;
    }

    uint64_t hits = 0, bad = 0, differ = 0, total_threads = 0;
    unsigned pool_min = UINT32_MAX, pool_max = 0;
    size_t max_pool = 4096;
    used = calloc((size_t)loom_job_size(job) * max_pool, 1);
    for (uint64_t i = 0; i < tasks; i++) {
        struct pi_reply r;
        if (res[i].status != 0 || res[i].len != sizeof r) {
            fprintf(stderr, PROG ": task %" PRIu64 " failed: status %d\n", i, res[i].status);
            bad++;
            continue;
        }
        memcpy(&r, res[i].data, sizeof r);
        hits += r.hits;
        if (i < baseline && r.hits != local[i]) {
            fprintf(stderr,
                    PROG ": task %" PRIu64 ": rank %d counted %" PRIu64 ", master %" PRIu64 "\n", i,
                    res[i].rank, r.hits, local[i]);
            differ++;
        }
        pool_min = r.pool < pool_min ? r.pool : pool_min;
        pool_max = r.pool > pool_max ? r.pool : pool_max;
        if (used && res[i].rank >= 0 && res[i].rank < loom_job_size(job) && r.thread_index >= 0 &&
            (size_t)r.thread_index < max_pool) {
            unsigned char *u = &used[(size_t)res[i].rank * max_pool + (size_t)r.thread_index];
            if (!*u) {
                *u = 1;
                total_threads++;
            }
        }
    }
    if (bad || differ) {
        fprintf(stderr, PROG ": %" PRIu64 " tasks failed, %" PRIu64 " counts differ\n", bad,
                differ);
        goto out;
    }
    double pi = 4.0 * (double)hits / ((double)tasks * (double)samples);
    char threads[64];
    if (pool_min == pool_max)
        snprintf(threads, sizeof threads, "%u thread%s", pool_max, pool_max == 1 ? "" : "s");
    else
        snprintf(threads, sizeof threads, "%u..%u threads", pool_min, pool_max);
    double error = pi > PI ? pi - PI : PI - pi;
    printf("pi = %.10f, error %.2e, %d worker%s x %s, time %.3f s, single thread %.3f s, "
           "speed-up %.2f x\n",
           pi, error, nworkers, nworkers == 1 ? "" : "s", threads, wall, single, single / wall);
    printf(PROG ": %" PRIu64 " tasks x %" PRIu64 " samples; tasks ran on %" PRIu64
                " pool thread%s; single-thread time measured on %" PRIu64 " of %" PRIu64
                " tasks and scaled\n",
           tasks, samples, total_threads, total_threads == 1 ? "" : "s", baseline, tasks);
    fflush(stdout);
    status = 0;
out:
    if (res)
        for (uint64_t i = 0; i < tasks; i++)
            loom_result_free(&res[i]);
    free(used);
    free(local);
    free(res);
    free(lens);
    free(inputs);
    free(work);
    return status;
}

static void
usage(FILE *fp)
{
    fprintf(fp, "usage: mpirun -np 3 --bind-to none " PROG " [loom options] [--tasks T]\n"
                "           [--samples-per-task S] [--seed N] [--baseline-tasks K]\n\n"
                "Estimates pi by Monte Carlo with every pool thread of every worker, and\n"
                "compares the time with one thread doing the same work.\n\n"
                "  --tasks T             tasks (default 64; 1..10000000)\n"
                "  --samples-per-task S  random points per task (default 4000000)\n"
                "  --seed N              seed of the random points (default 1)\n"
                "  --baseline-tasks K    tasks the master times on one thread, scaled to T\n"
                "                        (default min(T, 8); 1..T)\n"
                "  --help                this text\n"
                "  --version             loom, MPI and build id of this program\n\n"
                "loom options (also LOOM_* variables and a config file):\n");
    loom_config_print_help(fp);
    fprintf(fp, "\nExit status: 0 success, 1 a task failed or a count differs from the\n"
                "master's own, 2 usage or configuration error.\n");
}

int
main(int argc, char **argv)
{
    int speak = app_launcher_rank() == 0;
    loom_config *cfg = NULL;
    loom_job *job = NULL;
    int status = 2, mpi_up = 0;
    uint64_t tasks = 64, samples = 4000000, seed = 1, baseline = 0;

    if (loom_config_create(&cfg) != LOOM_OK) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    if (loom_config_load(cfg, &argc, argv) != LOOM_OK) {
        if (speak)
            fprintf(stderr, PROG ": %s\n", loom_config_error(cfg));
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            if (speak)
                usage(stdout);
            status = 0;
            goto out;
        } else if (strcmp(a, APP_VERSION_OPTION) == 0) {
            if (speak)
                app_print_version(PROG);
            status = 0;
            goto out;
        } else if (strcmp(a, "--tasks") == 0) {
            bad = app_parse_u64(v, 1, 10000000, &tasks);
        } else if (strcmp(a, "--samples-per-task") == 0) {
            bad = app_parse_u64(v, 1, UINT64_C(1) << 40, &samples);
        } else if (strcmp(a, "--seed") == 0) {
            bad = app_parse_u64(v, 0, UINT64_MAX, &seed);
        } else if (strcmp(a, "--baseline-tasks") == 0) {
            bad = app_parse_u64(v, 1, 10000000, &baseline);
        } else {
            if (speak)
                fprintf(stderr, PROG ": unknown argument '%s' (try --help)\n", a);
            goto out;
        }
        if (bad) {
            if (speak)
                fprintf(stderr, PROG ": %s needs a number in range (try --help)\n", a);
            goto out;
        }
        i++;
    }
    if (baseline == 0)
        baseline = tasks < 8 ? tasks : 8;
    if (baseline > tasks) {
        if (speak)
            fprintf(stderr, PROG ": --baseline-tasks must not exceed --tasks\n");
        goto out;
    }
    loom_config_apply(cfg);

    static const struct app_fn fns[] = {{"pi", pi_task, NULL}};
    status = app_start(PROG, &argc, &argv, cfg, fns, 1, &mpi_up, &job);
    if (status != 0)
        goto out;
    status = 1;
    loom_err rc;

    if (loom_job_is_master(job)) {
        status = run_master(job, tasks, samples, seed, baseline);
        rc = loom_job_finish(job);
        if (rc != LOOM_OK) {
            fprintf(stderr, PROG ": finishing the job: %s\n", loom_last_error());
            status = 1;
        }
    } else {
        rc = loom_job_serve(job);
        if (rc != LOOM_OK)
            fprintf(stderr, PROG ": rank %d: %s\n", loom_job_rank(job), loom_last_error());
        status = rc == LOOM_OK ? 0 : 1;
    }
out:
    app_end(job, mpi_up, status);
    loom_config_destroy(cfg);
    return status;
}
