/* SPDX-License-Identifier: MIT */
/*
 * bench_pool — submit-to-completion throughput of empty tasks.
 *
 * One producer thread submits N empty tasks to a pool of T threads and waits
 * for all of them; the clock runs from the first submit to the end of the
 * wait. In the same run, the same work goes through a minimal hand-written
 * pthreads pool (a bounded ring, one mutex, two condition variables, a
 * signal on every push and pop — the textbook version) as the reference.
 * Each system is run R times, interleaved; medians and the min–max range
 * are printed with the ratio to the reference.
 *
 *   bench_pool [-n TASKS] [-t THREADS] [-r REPEATS] [-q CAPACITY]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <loom.h>

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
empty_task(void *arg)
{
    return arg;
}

/* ---- the reference: a textbook mutex + condvar pool -------------------- */

struct ref_task {
    void *(*fn)(void *);
    void *arg;
};

struct ref_pool {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full, done;
    struct ref_task *ring;
    size_t cap, head, count, pending;
    int stop;
    pthread_t *threads;
    unsigned n;
};

static void *
ref_worker(void *p)
{
    struct ref_pool *rp = p;
    pthread_mutex_lock(&rp->mu);
    for (;;) {
        while (rp->count == 0 && !rp->stop)
            pthread_cond_wait(&rp->not_empty, &rp->mu);
        if (rp->count == 0)
            break;
        struct ref_task t = rp->ring[rp->head];
        rp->head = (rp->head + 1) % rp->cap;
        rp->count--;
        pthread_cond_signal(&rp->not_full);
        pthread_mutex_unlock(&rp->mu);
        t.fn(t.arg);
        pthread_mutex_lock(&rp->mu);
        if (--rp->pending == 0)
            pthread_cond_broadcast(&rp->done);
    }
    pthread_mutex_unlock(&rp->mu);
    return NULL;
}

static void
ref_create(struct ref_pool *rp, unsigned n, size_t cap)
{
    memset(rp, 0, sizeof *rp);
    pthread_mutex_init(&rp->mu, NULL);
    pthread_cond_init(&rp->not_empty, NULL);
    pthread_cond_init(&rp->not_full, NULL);
    pthread_cond_init(&rp->done, NULL);
    rp->ring = calloc(cap, sizeof *rp->ring);
    rp->cap = cap;
    rp->n = n;
    rp->threads = calloc(n, sizeof *rp->threads);
    if (!rp->ring || !rp->threads) {
        fprintf(stderr, "bench_pool: out of memory\n");
        exit(1);
    }
    for (unsigned i = 0; i < n; i++)
        pthread_create(&rp->threads[i], NULL, ref_worker, rp);
}

static void
ref_submit(struct ref_pool *rp, void *(*fn)(void *), void *arg)
{
    pthread_mutex_lock(&rp->mu);
    while (rp->count == rp->cap)
        pthread_cond_wait(&rp->not_full, &rp->mu);
    rp->ring[(rp->head + rp->count) % rp->cap] = (struct ref_task){fn, arg};
    rp->count++;
    rp->pending++;
    pthread_cond_signal(&rp->not_empty);
    pthread_mutex_unlock(&rp->mu);
}

static void
ref_wait(struct ref_pool *rp)
{
    pthread_mutex_lock(&rp->mu);
    while (rp->pending)
        pthread_cond_wait(&rp->done, &rp->mu);
    pthread_mutex_unlock(&rp->mu);
}

static void
ref_destroy(struct ref_pool *rp)
{
    pthread_mutex_lock(&rp->mu);
    rp->stop = 1;
    pthread_cond_broadcast(&rp->not_empty);
    pthread_mutex_unlock(&rp->mu);
    for (unsigned i = 0; i < rp->n; i++)
        pthread_join(rp->threads[i], NULL);
    free(rp->threads);
    free(rp->ring);
}

/* ---- runs ---------------------------------------------------------------- */

enum system { SYS_REF, SYS_LOOM, SYS_LOOM_FUTURES, SYS_LOOM_MAP, SYS_COUNT };
static const char *const sys_names[SYS_COUNT] = {"reference: pthreads mutex+condvar pool",
                                                 "loom_pool_submit (no future)",
                                                 "loom_pool_submit + future each", "loom_pool_map"};

static double
run_once(enum system sys, size_t n, unsigned threads, size_t cap, void **scratch)
{
    double t0, t1;
    if (sys == SYS_REF) {
        struct ref_pool rp;
        ref_create(&rp, threads, cap);
        t0 = now();
        for (size_t i = 0; i < n; i++)
            ref_submit(&rp, empty_task, NULL);
        ref_wait(&rp);
        t1 = now();
        ref_destroy(&rp);
        return (double)n / (t1 - t0);
    }
    loom_pool_opts o = {.threads = threads, .queue_capacity = cap};
    loom_pool *pool;
    if (loom_pool_create(&o, &pool) != LOOM_OK) {
        fprintf(stderr, "bench_pool: cannot create pool\n");
        exit(1);
    }
    t0 = now();
    if (sys == SYS_LOOM) {
        for (size_t i = 0; i < n; i++)
            loom_pool_submit(pool, empty_task, NULL, LOOM_FOREVER, NULL);
        loom_pool_join(pool, LOOM_FOREVER);
    } else if (sys == SYS_LOOM_FUTURES) {
        /* keep a window of futures in flight, wait on the oldest */
        loom_future **win = (loom_future **)scratch;
        size_t w = cap;
        for (size_t i = 0; i < n; i++) {
            if (i >= w) {
                loom_future_wait(win[i % w], LOOM_FOREVER, NULL);
                loom_future_release(win[i % w]);
            }
            loom_pool_submit(pool, empty_task, NULL, LOOM_FOREVER, &win[i % w]);
        }
        for (size_t i = n > w ? n - w : 0; i < n; i++) {
            loom_future_wait(win[i % w], LOOM_FOREVER, NULL);
            loom_future_release(win[i % w]);
        }
    } else {
        loom_pool_map(pool, empty_task, scratch, scratch, n);
    }
    t1 = now();
    loom_pool_destroy(pool);
    return (double)n / (t1 - t0);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void
fmt_rate(char *buf, size_t len, double r)
{
    if (r >= 1e6)
        snprintf(buf, len, "%.2fM", r / 1e6);
    else
        snprintf(buf, len, "%.1fk", r / 1e3);
}

int
main(int argc, char **argv)
{
    size_t n = 2000000, cap = 4096;
    unsigned threads = loom_cpu_count(NULL);
    int reps = 5, opt;
    while ((opt = getopt(argc, argv, "n:t:r:q:h")) != -1) {
        switch (opt) {
        case 'n':
            n = strtoull(optarg, NULL, 10);
            break;
        case 't':
            threads = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'r':
            reps = atoi(optarg);
            break;
        case 'q':
            cap = strtoull(optarg, NULL, 10);
            break;
        default:
            fprintf(stderr,
                    "usage: bench_pool [-n TASKS] [-t THREADS] [-r REPEATS] [-q CAPACITY]\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (n == 0 || threads == 0 || reps <= 0 || cap == 0) {
        fprintf(stderr, "bench_pool: -n, -t, -r and -q must be positive\n");
        return 2;
    }
    void **scratch = calloc(n > cap ? n : cap, sizeof *scratch);
    double *rates = calloc((size_t)reps * SYS_COUNT, sizeof *rates);
    if (!scratch || !rates)
        return 1;
    printf("bench_pool: %zu empty tasks, %u pool threads, queue %zu, %d runs each "
           "(interleaved), %u CPUs usable\n",
           n, threads, cap, reps, loom_cpu_count(NULL));
    /* Interleave the systems, reversing the order every other round so no
     * system always runs right after the same other one. */
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < SYS_COUNT; i++) {
            int s = r % 2 ? SYS_COUNT - 1 - i : i;
            rates[s * reps + r] = run_once((enum system)s, n, threads, cap, scratch);
        }

    double ref_median = 0;
    printf("%-42s %12s %22s %8s\n", "system", "tasks/s", "(min - max)", "vs ref");
    for (int s = 0; s < SYS_COUNT; s++) {
        double *v = &rates[s * reps];
        qsort(v, (size_t)reps, sizeof *v, cmp_double);
        double med = v[reps / 2];
        if (s == SYS_REF)
            ref_median = med;
        char m[32], lo[32], hi[32], range[70];
        fmt_rate(m, sizeof m, med);
        fmt_rate(lo, sizeof lo, v[0]);
        fmt_rate(hi, sizeof hi, v[reps - 1]);
        snprintf(range, sizeof range, "(%s - %s)", lo, hi);
        printf("%-42s %12s %22s %7.2fx\n", sys_names[s], m, range, med / ref_median);
    }
    printf("loom_pool_submit / reference = %.2f\n", rates[SYS_LOOM * reps + reps / 2] / ref_median);
    free(rates);
    free(scratch);
    return 0;
}
