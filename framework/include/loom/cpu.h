/* SPDX-License-Identifier: MIT */
/**
 * \file loom/cpu.h
 * \brief How many CPUs this process may use — the default size of a pool.
 */
#ifndef LOOM_CPU_H
#define LOOM_CPU_H

#include "loom/common.h"

/**
 * \brief CPUs in this process's affinity mask (sched_getaffinity), which
 *        mpirun binding, taskset, cgroups cpusets and Slurm all narrow.
 * \return at least 1. Any thread, cannot fail (falls back to the online CPUs).
 */
LOOM_EXTERN unsigned loom_cpu_affinity_count(void);

/**
 * \brief CPUs this process should use: `SLURM_CPUS_PER_TASK` when it is set
 *        to a valid positive number (capped at the affinity count, which is a
 *        hard limit), else the affinity count.
 * \param[out] source may be NULL; set to "SLURM_CPUS_PER_TASK" or
 *             "affinity" (static strings) to say where the number came from.
 * \return at least 1. Any thread, cannot fail. Reads the environment.
 */
LOOM_EXTERN unsigned loom_cpu_count(const char **source);

#endif /* LOOM_CPU_H */
