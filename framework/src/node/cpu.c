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
 *
 * Pinning (loom_pool_opts.pin). The first pinned pool saves the mask of
 * the thread creating it — the process's mask, before anything of loom's
 * narrowed it — and binds its thread i to the i-th CPU of that mask.
 * Commands started from a pinned thread get the saved mask back in the
 * child before exec (process.c), so a multi-threaded command is never
 * confined to its launcher's core.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"
#include "loom/cpu.h"

/* The calling thread's affinity mask in a set of *ncpu CPUs, grown until
 * the kernel accepts it (machines can have more than CPU_SETSIZE, 1024).
 * NULL when it cannot be read. Free with CPU_FREE. */
static cpu_set_t *
thread_mask(int *ncpu)
{
    for (int n = 1024; n <= (1 << 20); n *= 2) {
        cpu_set_t *set = CPU_ALLOC((size_t)n);
        if (!set)
            return NULL;
        size_t size = CPU_ALLOC_SIZE((size_t)n);
        CPU_ZERO_S(size, set);
        if (sched_getaffinity(0, size, set) == 0) {
            *ncpu = n;
            return set;
        }
        int e = errno;
        CPU_FREE(set);
        if (e != EINVAL)
            return NULL;
    }
    return NULL;
}

unsigned
loom_cpu_affinity_count(void)
{
    int ncpu;
    cpu_set_t *set = thread_mask(&ncpu);
    if (set) {
        int n = CPU_COUNT_S(CPU_ALLOC_SIZE((size_t)ncpu), set);
        CPU_FREE(set);
        return n > 0 ? (unsigned)n : 1u;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}

/* The mask saved by the first pinned pool; set once, never freed. */
static pthread_mutex_t pin_mu = PTHREAD_MUTEX_INITIALIZER;
static cpu_set_t *pin_saved;
static int pin_ncpu;

unsigned *
loom__cpu_pin_list(unsigned *n)
{
    pthread_mutex_lock(&pin_mu);
    if (!pin_saved)
        pin_saved = thread_mask(&pin_ncpu);
    cpu_set_t *set = pin_saved;
    int ncpu = pin_ncpu;
    pthread_mutex_unlock(&pin_mu);
    if (!set)
        return NULL;
    size_t size = CPU_ALLOC_SIZE((size_t)ncpu);
    int count = CPU_COUNT_S(size, set);
    unsigned *cpus = count > 0 ? malloc((size_t)count * sizeof *cpus) : NULL;
    if (!cpus)
        return NULL;
    unsigned k = 0;
    for (int c = 0; c < ncpu && k < (unsigned)count; c++)
        if (CPU_ISSET_S((size_t)c, size, set))
            cpus[k++] = (unsigned)c;
    *n = k;
    return cpus;
}

int
loom__cpu_pin_self(unsigned cpu)
{
    cpu_set_t *set = CPU_ALLOC(cpu + 1);
    if (!set)
        return -1;
    size_t size = CPU_ALLOC_SIZE(cpu + 1);
    CPU_ZERO_S(size, set);
    CPU_SET_S(cpu, size, set);
    int rc = sched_setaffinity(0, size, set);
    CPU_FREE(set);
    return rc;
}

const void *
loom__cpu_unpinned(size_t *size)
{
    pthread_mutex_lock(&pin_mu);
    const cpu_set_t *set = pin_saved;
    *size = set ? CPU_ALLOC_SIZE((size_t)pin_ncpu) : 0;
    pthread_mutex_unlock(&pin_mu);
    return set;
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
    /* the mask holds every CPU online: binding is not the cause, and
     * `--bind-to none` (which loom-run passes) would change nothing */
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (buf && len > 0 && online > 0 && allowed >= (unsigned long)online)
        snprintf(buf, len,
                 "pool of %u threads but this machine has %u CPU%s: the threads will share "
                 "%s. Leave pool.threads at 0 to size the pool from the CPUs",
                 threads, allowed, allowed == 1 ? "" : "s", allowed == 1 ? "one core" : "them");
    else if (buf && len > 0)
        snprintf(buf, len,
                 "pool of %u threads but this process may only run on %u CPU%s "
                 "(affinity mask): the threads will share %s. Launch with "
                 "`mpirun --bind-to none` (or --map-by ppr:1:node:pe=N, or srun "
                 "--cpus-per-task=N), or leave pool.threads at 0 to size the pool "
                 "from the CPUs allowed",
                 threads, allowed, allowed == 1 ? "" : "s", allowed == 1 ? "one core" : "them");
    return 1;
}
