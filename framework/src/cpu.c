/* SPDX-License-Identifier: MIT */
/*
 * CPU counting. The affinity mask is the truth about where this process may
 * run: mpirun's binding, taskset, cpusets and Slurm's task plugins all narrow
 * it. SLURM_CPUS_PER_TASK refines it when Slurm's task plugin does not bind
 * (task/none), but can never raise it.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "loom/cpu.h"

unsigned
loom_cpu_affinity_count(void)
{
    /* Grow the set until the kernel accepts it: machines can have more
     * CPUs than CPU_SETSIZE (1024). */
    for (int ncpu = 1024; ncpu <= (1 << 20); ncpu *= 2) {
        cpu_set_t *set = CPU_ALLOC((size_t)ncpu);
        if (!set)
            break;
        size_t size = CPU_ALLOC_SIZE((size_t)ncpu);
        CPU_ZERO_S(size, set);
        if (sched_getaffinity(0, size, set) == 0) {
            int n = CPU_COUNT_S(size, set);
            CPU_FREE(set);
            return n > 0 ? (unsigned)n : 1u;
        }
        int e = errno;
        CPU_FREE(set);
        if (e != EINVAL)
            break;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}

unsigned
loom_cpu_count(const char **source)
{
    unsigned aff = loom_cpu_affinity_count();
    const char *s = getenv("SLURM_CPUS_PER_TASK");
    if (s && *s) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno == 0 && *end == '\0' && v > 0 && v <= 1 << 20) {
            if (source)
                *source = "SLURM_CPUS_PER_TASK";
            return (unsigned)v < aff ? (unsigned)v : aff;
        }
    }
    if (source)
        *source = "affinity";
    return aff;
}
