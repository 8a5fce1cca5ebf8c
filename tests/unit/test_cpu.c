/* SPDX-License-Identifier: MIT */
/* loom_cpu (cpu.c): the usable CPU count from the affinity mask and Slurm
 * variables, and the warning for a pool larger than it. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

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
    unsetenv("SLURM_CPUS_ON_NODE");
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
    unsetenv("SLURM_CPUS_ON_NODE"); /* as when the test itself runs under Slurm */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *src = NULL;
        setenv("SLURM_CPUS_PER_TASK", bad[i], 1);
        cr_assert_eq(loom_cpu_count(&src), (unsigned)real_affinity(), "value '%s'", bad[i]);
        cr_assert_str_eq(src, "affinity");
    }
}

/* Pin this process to the first `n` CPUs of its current mask. */
static void
narrow_to(int n)
{
    cpu_set_t set, to;
    CPU_ZERO(&set);
    CPU_ZERO(&to);
    cr_assert_eq(sched_getaffinity(0, sizeof set, &set), 0);
    for (int i = 0, got = 0; i < CPU_SETSIZE && got < n; i++)
        if (CPU_ISSET(i, &set)) {
            CPU_SET(i, &to);
            got++;
        }
    cr_assert_eq(sched_setaffinity(0, sizeof to, &to), 0);
}

Test(cpu, every_mask_size_gives_its_count, .timeout = 10)
{
    int all = real_affinity();
    unsetenv("SLURM_CPUS_PER_TASK");
    unsetenv("SLURM_CPUS_ON_NODE");
    for (int n = all; n >= 1; n--) {
        narrow_to(n);
        const char *src = NULL;
        cr_assert_eq(loom_cpu_count(&src), (unsigned)n, "mask of %d CPUs", n);
        cr_assert_str_eq(src, "affinity");
    }
}

Test(cpu, a_single_cpu_mask_caps_slurm, .timeout = 10)
{
    narrow_to(1); /* what `mpirun --bind-to core` or `srun --cpu-bind=cores` does */
    setenv("SLURM_CPUS_PER_TASK", "8", 1);
    setenv("SLURM_CPUS_ON_NODE", "16", 1);
    const char *src = NULL;
    cr_assert_eq(loom_cpu_count(&src), 1u);
    cr_assert_str_eq(src, "SLURM_CPUS_PER_TASK");
}

Test(cpu, slurm_cpus_on_node_is_used_without_cpus_per_task, .timeout = 10)
{
    unsetenv("SLURM_CPUS_PER_TASK");
    setenv("SLURM_CPUS_ON_NODE", "1", 1);
    const char *src = NULL;
    cr_assert_eq(loom_cpu_count(&src), 1u);
    cr_assert_str_eq(src, "SLURM_CPUS_ON_NODE");
    setenv("SLURM_CPUS_PER_TASK", "garbage", 1); /* ignored: falls through */
    cr_assert_eq(loom_cpu_count(&src), 1u);
    cr_assert_str_eq(src, "SLURM_CPUS_ON_NODE");
}

Test(cpu, the_rule_without_the_machine, .timeout = 10)
{
    static const struct {
        unsigned allowed;
        const char *per_task, *on_node;
        unsigned want;
        const char *src;
    } c[] = {
        {64, NULL, NULL, 64, "affinity"},
        {64, "4", NULL, 4, "SLURM_CPUS_PER_TASK"},
        {64, "4", "32", 4, "SLURM_CPUS_PER_TASK"},
        {64, NULL, "32", 32, "SLURM_CPUS_ON_NODE"},
        {64, "", "32", 32, "SLURM_CPUS_ON_NODE"},
        {8, NULL, "32", 8, "SLURM_CPUS_ON_NODE"}, /* the mask is a hard limit */
        {8, "128", NULL, 8, "SLURM_CPUS_PER_TASK"},
        {1, "4", "4", 1, "SLURM_CPUS_PER_TASK"},
        {0, NULL, NULL, 1, "affinity"},
        {64, "0", "-2", 64, "affinity"},
        {64, "3 ", "2x", 64, "affinity"},
        {64, "1048577", NULL, 64, "affinity"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        const char *src = NULL;
        cr_assert_eq(loom_cpu_count_for(c[i].allowed, c[i].per_task, c[i].on_node, &src), c[i].want,
                     "case %zu", i);
        cr_assert_str_eq(src, c[i].src, "case %zu", i);
        cr_assert_eq(loom_cpu_count_for(c[i].allowed, c[i].per_task, c[i].on_node, NULL),
                     c[i].want);
    }
}

Test(cpu, an_oversized_pool_is_explained, .timeout = 10)
{
    char buf[512] = "x";
    cr_assert_eq(loom_cpu_pool_oversized(2, 2, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "");
    cr_assert_eq(loom_cpu_pool_oversized(1, 8, buf, sizeof buf), 0);
    cr_assert_eq(loom_cpu_pool_oversized(8, 1, buf, sizeof buf), 1);
    cr_assert(strstr(buf, "pool of 8 threads") && strstr(buf, "1 CPU ") &&
                  strstr(buf, "--bind-to none"),
              "%s", buf);
    cr_assert_eq(loom_cpu_pool_oversized(8, 2, buf, 10), 1); /* cut, terminated */
    cr_assert_eq(strlen(buf), 9u);
    cr_assert_eq(loom_cpu_pool_oversized(8, 2, NULL, 0), 1);
}
