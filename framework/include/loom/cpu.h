/* SPDX-License-Identifier: MIT */
/**
 * \file loom/cpu.h
 * \brief How many CPUs this process may use — the default size of a pool —
 *        and the check that a pool is not larger than that.
 */
#ifndef LOOM_CPU_H
#define LOOM_CPU_H

#include <stddef.h>

#include "loom/common.h"

/**
 * \brief CPUs in this process's affinity mask (sched_getaffinity), which
 *        mpirun binding, taskset, cgroups cpusets and Slurm all narrow.
 * \return at least 1. Cannot fail (falls back to the online CPUs), never
 *         blocks, any thread.
 */
LOOM_EXTERN unsigned loom_cpu_affinity_count(void);

/**
 * \brief CPUs this process should use: `SLURM_CPUS_PER_TASK` when it is set
 *        to a valid positive number, else `SLURM_CPUS_ON_NODE` when that is
 *        (the allocation on this node: right for loom's one worker rank per
 *        node), else the affinity count. Slurm's numbers are capped at the
 *        affinity count, which is a hard limit.
 * \param[out] source may be NULL; set to "SLURM_CPUS_PER_TASK",
 *             "SLURM_CPUS_ON_NODE" or "affinity" (static strings) to say
 *             where the number came from.
 * \return at least 1. Cannot fail, never blocks, any thread. Reads the
 *         environment: not thread-safe with respect to setenv().
 */
LOOM_EXTERN unsigned loom_cpu_count(const char **source);

/**
 * \brief The rule of loom_cpu_count() without reading the process's state:
 *        what a process allowed `allowed` CPUs should use, given the values
 *        of `SLURM_CPUS_PER_TASK` and `SLURM_CPUS_ON_NODE` (NULL = unset).
 *        Values that are not a whole number in 1..1048576 are ignored.
 * \param allowed the affinity count (0 is taken as 1).
 * \param[in] cpus_per_task the value of `SLURM_CPUS_PER_TASK`, or NULL.
 * \param[in] cpus_on_node  the value of `SLURM_CPUS_ON_NODE`, or NULL.
 * \param[out] source as for loom_cpu_count(); may be NULL.
 * \return at least 1. Pure: any thread, cannot fail.
 */
LOOM_EXTERN unsigned loom_cpu_count_for(unsigned allowed, const char *cpus_per_task,
                                        const char *cpus_on_node, const char **source);

/**
 * \brief Whether a pool of `threads` threads is larger than the `allowed`
 *        CPUs the process may use — typically a worker that mpirun bound to
 *        one core while its pool was sized for the node — and if so, a
 *        one-line explanation with the remedy in `buf` (no advice to
 *        unbind when `allowed` covers every CPU online).
 * \param threads the pool's size.
 * \param allowed the CPUs the process may use (loom_cpu_affinity_count()).
 * \param[out] buf where the message goes, owned by the caller (always
 *        NUL-terminated when len > 0; may be NULL when len is 0).
 * \param len size of buf in bytes; a longer message is cut.
 * \return 1 if the pool is oversized (message written), else 0 (buf empty).
 *         Reads only the number of CPUs online: any thread, cannot fail.
 */
LOOM_EXTERN int loom_cpu_pool_oversized(unsigned threads, unsigned allowed, char *buf, size_t len);

#endif /* LOOM_CPU_H */
