/* SPDX-License-Identifier: MIT */
/*
 * The swarm hook for benchmarks (swarm.h): LOOM_SWARM and the tags and
 * worker slots of virtual workers. Pure functions; any thread.
 */
#include <stdlib.h>

#include "swarm.h"

/* Tags of virtual workers: above loom's own (wire.h), two per worker. */
#define SWARM_TAG_BASE 0x10000

int
loom__swarm_width(void)
{
    const char *s = getenv("LOOM_SWARM");
    if (!s || !*s)
        return 0;
    char *end = NULL;
    long n = strtol(s, &end, 10);
    return *end || n < 1 || n > LOOM_SWARM_MAX ? -1 : (int)n;
}

int
loom__swarm_tag_up(int v)
{
    return SWARM_TAG_BASE + 2 * v;
}

int
loom__swarm_tag_down(int v)
{
    return SWARM_TAG_BASE + 2 * v + 1;
}

int
loom__swarm_tag_max(int width)
{
    return loom__swarm_tag_down(width - 1);
}

int
loom__swarm_slot(int width, int source, int tag)
{
    int v = (tag - SWARM_TAG_BASE) / 2;
    if (source < 1 || tag < SWARM_TAG_BASE || (tag - SWARM_TAG_BASE) % 2 || v >= width)
        return -1;
    return 1 + (source - 1) * width + v;
}
