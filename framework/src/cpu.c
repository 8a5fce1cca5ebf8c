/* SPDX-License-Identifier: MIT */
/*
 * CPU counting. The affinity mask is the truth about where this process may
 * run: mpirun's binding, taskset, cpusets and Slurm's task plugins all narrow
 * it. Slurm's variables refine it when Slurm's task plugin does not bind
 * (task/none, or mpirun --bind-to none inside an allocation), but can never
 * raise it: SLURM_CPUS_PER_TASK (--cpus-per-task) first, then
 * SLURM_CPUS_ON_NODE (this node's share of the allocation — loom runs one
 * worker rank per node, so that is the worker's share).
 *
 * A pool larger than the mask is legal (IO-bound tasks want it) but is the
 * classic mistake of a worker bound to one core by mpirun's default binding
 * with its pool sized for the node; the check below words the warning that
 * the worker logs at start-up.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
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

/* A Slurm count: a whole decimal number in 1..2^20, else 0 (ignore it). */
static unsigned
slurm_count(const char *s)
{
    if (!s || !*s)
        return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v <= 0 || v > 1 << 20)
        return 0;
    return (unsigned)v;
}

unsigned
loom_cpu_count_for(unsigned allowed, const char *cpus_per_task, const char *cpus_on_node,
                   const char **source)
{
    if (allowed == 0)
        allowed = 1;
    unsigned v = slurm_count(cpus_per_task);
    const char *src = "SLURM_CPUS_PER_TASK";
    if (v == 0) {
        v = slurm_count(cpus_on_node);
        src = "SLURM_CPUS_ON_NODE";
    }
    if (v == 0) {
        v = allowed;
        src = "affinity";
    }
    if (source)
        *source = src;
    return v < allowed ? v : allowed;
}

unsigned
loom_cpu_count(const char **source)
{
    return loom_cpu_count_for(loom_cpu_affinity_count(), getenv("SLURM_CPUS_PER_TASK"),
                              getenv("SLURM_CPUS_ON_NODE"), source);
}

int
loom_cpu_pool_oversized(unsigned threads, unsigned allowed, char *buf, size_t len)
{
    if (buf && len > 0)
        buf[0] = '\0';
    if (threads <= allowed)
        return 0;
    if (buf && len > 0)
        snprintf(buf, len,
                 "pool of %u threads but this process may only run on %u CPU%s "
                 "(affinity mask): the threads will share %s. Launch with "
                 "`mpirun --bind-to none` (or --map-by ppr:1:node:pe=N, or srun "
                 "--cpus-per-task=N), or leave pool.threads at 0 to size the pool "
                 "from the CPUs allowed",
                 threads, allowed, allowed == 1 ? "" : "s", allowed == 1 ? "one core" : "them");
    return 1;
}
