/* SPDX-License-Identifier: MIT */
/*
 * Parsing the examples' own command-line numbers alike, MPI or not.
 */
#ifndef LOOM_APP_ARGS_H
#define LOOM_APP_ARGS_H

#include <stdint.h>
#include <stdlib.h>

/* Parse a decimal unsigned number in [lo, hi] (no sign, no junk after
 * it); 0, or -1 when it is not one. */
static inline int
app_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end = NULL;
    if (!s || *s < '0' || *s > '9')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

#endif
