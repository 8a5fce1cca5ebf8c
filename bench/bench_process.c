/* SPDX-License-Identifier: MIT */
/*
 * bench_process — commands per second through loom_proc_run.
 *
 * N runs of /bin/true, shared by 2 threads, three ways in the same run:
 *   - bare: posix_spawn + waitpid from 2 threads, nothing captured — the
 *     limit any launcher can reach (the reference);
 *   - loom: loom_proc_run from 2 threads, capturing stdout and stderr
 *     (pipes, process group, parent-death signal, pidfd, poll loop);
 *   - xargs: `xargs -P2 -n1 /bin/true` fed N lines, timed as a whole.
 * Each system runs R times, interleaved so background load hits all alike;
 * medians, the min–max range and the ratio to bare are printed.
 *
 *   bench_process [-n COMMANDS] [-r REPEATS]
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <loom/process.h>

#define THREADS 2

extern char **environ;

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct job {
    size_t count;
    size_t failures;
};

static void *
loom_worker(void *arg)
{
    struct job *j = arg;
    const char *argv[] = {"/bin/true", NULL};
    loom_proc_opts o = {.argv = argv};

    for (size_t i = 0; i < j->count; i++) {
        loom_proc_result r;
        loom_err rc = loom_proc_run(&o, &r);
        if (rc != LOOM_OK || !r.exited || r.exit_code != 0)
            j->failures++;
        loom_proc_result_free(&r);
    }
    return NULL;
}

static void *
bare_worker(void *arg)
{
    struct job *j = arg;
    char *argv[] = {"/bin/true", NULL};

    for (size_t i = 0; i < j->count; i++) {
        pid_t pid;
        int st;
        if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) != 0) {
            j->failures++;
            continue;
        }
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            j->failures++;
    }
    return NULL;
}

static double
run_threads(void *(*fn)(void *), size_t n, size_t *failures)
{
    pthread_t t[THREADS];
    struct job jobs[THREADS];
    double t0, t1;

    t0 = now();
    for (int i = 0; i < THREADS; i++) {
        jobs[i].count = n / THREADS + ((size_t)i < n % THREADS);
        jobs[i].failures = 0;
        if (pthread_create(&t[i], NULL, fn, &jobs[i]) != 0) {
            fprintf(stderr, "bench_process: pthread_create failed\n");
            exit(1);
        }
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        *failures += jobs[i].failures;
    }
    t1 = now();
    return (double)n / (t1 - t0);
}

static double
run_xargs(size_t n, size_t *failures)
{
    char *argv[] = {"xargs", "-P2", "-n1", "/bin/true", NULL};
    posix_spawn_file_actions_t fa;
    int p[2], st;
    pid_t pid;
    double t0, t1;

    if (pipe2(p, O_CLOEXEC) != 0) {
        perror("bench_process: pipe2");
        exit(1);
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[0], 0);
    t0 = now();
    if (posix_spawnp(&pid, "xargs", &fa, NULL, argv, environ) != 0) {
        fprintf(stderr, "bench_process: cannot start xargs\n");
        exit(1);
    }
    posix_spawn_file_actions_destroy(&fa);
    close(p[0]);
    for (size_t i = 0; i < n; i++) {
        if (write(p[1], "x\n", 2) != 2) {
            (*failures)++;
            break;
        }
    }
    close(p[1]);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    t1 = now();
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        (*failures)++;
    return (double)n / (t1 - t0);
}

enum system { SYS_BARE, SYS_LOOM, SYS_XARGS, SYS_COUNT };
static const char *const sys_names[SYS_COUNT] = {
    "bare posix_spawn+waitpid, 2 threads (limit)",
    "loom_proc_run capturing out+err, 2 threads",
    "xargs -P2 -n1 /bin/true",
};

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void
fmt_rate(char *buf, size_t len, double r)
{
    snprintf(buf, len, "%.2fk", r / 1e3);
}

static int
usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return (int)sysconf(_SC_NPROCESSORS_ONLN);
    return CPU_COUNT(&set);
}

int
main(int argc, char **argv)
{
    size_t n = 2000, failures = 0;
    int reps = 5, opt, only = -1;
    double *rates, med[SYS_COUNT];

    while ((opt = getopt(argc, argv, "n:r:s:h")) != -1) {
        switch (opt) {
        case 'n':
            n = strtoull(optarg, NULL, 10);
            break;
        case 'r':
            reps = atoi(optarg);
            break;
        case 's': /* one system only, e.g. under perf stat */
            only = !strcmp(optarg, "bare") ? SYS_BARE : !strcmp(optarg, "loom") ? SYS_LOOM : -2;
            if (only == -2) {
                fprintf(stderr, "bench_process: -s bare|loom\n");
                return 2;
            }
            break;
        default:
            fprintf(stderr, "usage: bench_process [-n COMMANDS] [-r REPEATS] [-s bare|loom]\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (n == 0 || reps <= 0) {
        fprintf(stderr, "bench_process: -n and -r must be positive\n");
        return 2;
    }
    if (!(rates = calloc((size_t)reps * SYS_COUNT, sizeof *rates)))
        return 1;
    printf("bench_process: %zu x /bin/true, %d threads, %d runs each (interleaved), "
           "%d CPUs usable\n",
           n, THREADS, reps, usable_cpus());
    fflush(stdout);

    if (only >= 0) {
        double rate = run_threads(only == SYS_BARE ? bare_worker : loom_worker, n, &failures);
        char b[32];
        fmt_rate(b, sizeof b, rate);
        printf("%s: %s/s\n", sys_names[only], b);
        free(rates);
        return failures ? 1 : 0;
    }
    for (int r = 0; r < reps; r++) {
        rates[SYS_BARE * reps + r] = run_threads(bare_worker, n, &failures);
        rates[SYS_LOOM * reps + r] = run_threads(loom_worker, n, &failures);
        rates[SYS_XARGS * reps + r] = run_xargs(n, &failures);
    }

    printf("%-46s %10s %20s %8s\n", "system", "cmds/s", "(min - max)", "vs bare");
    for (int s = 0; s < SYS_COUNT; s++) {
        double *v = &rates[s * reps];
        char m[32], lo[32], hi[32], range[70];
        qsort(v, (size_t)reps, sizeof *v, cmp_double);
        med[s] = reps % 2 ? v[reps / 2] : (v[reps / 2 - 1] + v[reps / 2]) / 2;
        fmt_rate(m, sizeof m, med[s]);
        fmt_rate(lo, sizeof lo, v[0]);
        fmt_rate(hi, sizeof hi, v[reps - 1]);
        snprintf(range, sizeof range, "(%s - %s)", lo, hi);
        printf("%-46s %10s %20s %7.2fx\n", sys_names[s], m, range, med[s] / med[SYS_BARE]);
    }
    if (failures)
        printf("WARNING: %zu runs failed\n", failures);
    printf("loom/bare = %.2f (target >= 0.90)\n", med[SYS_LOOM] / med[SYS_BARE]);
    free(rates);
    return failures ? 1 : 0;
}
