/* SPDX-License-Identifier: MIT */
#include <sched.h>
#include <stdlib.h>

#include <loom/cpu.h>

#include "loom_test.h"

static int
real_affinity(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    cr_assert_eq(sched_getaffinity(0, sizeof set, &set), 0);
    return CPU_COUNT(&set);
}

Test(cpu, affinity_matches_the_kernel, .timeout = 10)
{
    cr_assert_eq(loom_cpu_affinity_count(), (unsigned)real_affinity());
}

Test(cpu, narrowed_affinity_is_seen, .timeout = 10)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    cr_assert_eq(sched_getaffinity(0, sizeof set, &set), 0);
    int first = -1;
    for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
        if (CPU_ISSET(i, &set))
            first = i;
    CPU_ZERO(&set);
    CPU_SET(first, &set);
    cr_assert_eq(sched_setaffinity(0, sizeof set, &set), 0);
    const char *src = NULL;
    unsetenv("SLURM_CPUS_PER_TASK");
    cr_assert_eq(loom_cpu_count(&src), 1u);
    cr_assert_str_eq(src, "affinity");
}

Test(cpu, slurm_cpus_per_task_is_used_and_capped, .timeout = 10)
{
    const char *src = NULL;
    setenv("SLURM_CPUS_PER_TASK", "1", 1);
    cr_assert_eq(loom_cpu_count(&src), 1u);
    cr_assert_str_eq(src, "SLURM_CPUS_PER_TASK");
    setenv("SLURM_CPUS_PER_TASK", "100000", 1); /* more than we may use */
    cr_assert_eq(loom_cpu_count(&src), (unsigned)real_affinity());
    cr_assert_str_eq(src, "SLURM_CPUS_PER_TASK");
}

Test(cpu, invalid_slurm_value_is_ignored, .timeout = 10)
{
    const char *bad[] = {"", "abc", "0", "-3", "4x", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *src = NULL;
        setenv("SLURM_CPUS_PER_TASK", bad[i], 1);
        cr_assert_eq(loom_cpu_count(&src), (unsigned)real_affinity(), "value '%s'", bad[i]);
        cr_assert_str_eq(src, "affinity");
    }
}
