/* SPDX-License-Identifier: MIT */
/* Uses the installed headers and library: runs 100 tasks on a pool. */
#include <stdint.h>
#include <stdio.h>

#include <loom.h>

static void *
twice(void *x)
{
    return (void *)((intptr_t)x * 2);
}

int
main(void)
{
    loom_pool *pool;
    void *args[100], *res[100];
    for (intptr_t i = 0; i < 100; i++)
        args[i] = (void *)i;
    if (loom_pool_create(NULL, &pool) != LOOM_OK)
        return 1;
    loom_err rc = loom_pool_map(pool, twice, args, res, 100);
    loom_pool_destroy(pool);
    intptr_t sum = 0;
    for (int i = 0; i < 100; i++)
        sum += (intptr_t)res[i];
    printf("loom %s sum=%ld\n", loom_version(), (long)sum);
    return rc == LOOM_OK && sum == 9900 ? 0 : 1;
}
