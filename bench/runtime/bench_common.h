/* SPDX-License-Identifier: MIT */
/*
 * bench_common.h — helpers shared by bench_tasks (loom) and ref_mpi (plain
 * MPI references): clocks, the calibrated CPU burn loop, peak memory,
 * medians and percentiles. Header-only (static functions) so each benchmark
 * stays one C file with no extra library.
 *
 * The burn loop is the *same* code in loom and in the references, so a
 * "10 ms task" costs the same everywhere; run.sh calibrates the iteration
 * count once per run (ref_mpi calibrate) and passes it to every program.
 */
#ifndef LOOM_BENCH_COMMON_H
#define LOOM_BENCH_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Wall clock, seconds. */
static inline double
bc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the whole process (every thread, user + system), seconds. */
static inline double
bc_cpu_process(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the calling thread, seconds. */
static inline double
bc_cpu_thread(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void
bc_sleep(double secs)
{
    struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/*
 * The compute task: `iters` rounds of xorshift64, a serial dependency chain
 * the compiler cannot vectorise or fold (the result is returned and checked).
 * Roughly 1 ns per round on the reference machine.
 */
static inline uint64_t
bc_burn(uint64_t iters, uint64_t seed)
{
    uint64_t x = seed | 1;
    for (uint64_t i = 0; i < iters; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}

/* Peak resident set of this process (VmHWM), MiB; -1 if unreadable. */
static inline double
bc_vmhwm_mib(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    double kib = -1;
    if (!fp)
        return -1;
    while (fgets(line, sizeof line, fp))
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kib = strtod(line + 6, NULL);
            break;
        }
    fclose(fp);
    return kib < 0 ? -1 : kib / 1024.0;
}

static inline int
bc_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place; returns the q-quantile (0..1) by nearest rank. */
static inline double
bc_quantile(double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, bc_cmp_double);
    size_t k = (size_t)(q * (double)(n - 1) + 0.5);
    return v[k < n ? k : n - 1];
}

/* Checksum of squares 0..n-1 (mod 2^64), to check every result came back. */
static inline uint64_t
bc_sum_squares(uint64_t n)
{
    uint64_t s = 0;
    for (uint64_t i = 0; i < n; i++)
        s += i * i;
    return s;
}

#endif /* LOOM_BENCH_COMMON_H */
