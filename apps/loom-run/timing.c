/* SPDX-License-Identifier: MIT */
/*
 * Durations with GNU Parallel's postfixes, and the median of runtimes in
 * logarithmic bins (timing.h).
 */
#include <math.h>
#include <stdlib.h>

#include "timing.h"

int
lr_duration_parse(const char *v, double *out)
{
    double total = 0;
    const char *p = v;
    if (!v || !*v)
        return -1;
    while (*p) {
        char *end;
        double d = strtod(p, &end);
        if (end == p || !(d >= 0) || isinf(d) || *p == '-' || *p == '+')
            return -1;
        double unit = 1;
        switch (*end) {
        case '\0':
            if (p != v) /* "1m30": a bare number after a postfixed one */
                return -1;
            break;
        case 's':
            end++;
            break;
        case 'm':
            unit = 60, end++;
            break;
        case 'h':
            unit = 3600, end++;
            break;
        case 'd':
            unit = 86400, end++;
            break;
        default:
            return -1;
        }
        total += d * unit;
        p = end;
    }
    *out = total;
    return 0;
}

#define MEDIAN_LO   1e-6 /* seconds, the lower edge of bin 0 */
#define MEDIAN_STEP 1.01 /* each bin's upper edge over its lower */

void
lr_median_add(struct lr_median *m, double seconds)
{
    double x = seconds > MEDIAN_LO ? log(seconds / MEDIAN_LO) / log(MEDIAN_STEP) : 0;
    size_t i = x < LR_MEDIAN_BINS - 1 ? (size_t)x : LR_MEDIAN_BINS - 1;
    m->bins[i]++;
    m->n++;
}

double
lr_median_get(const struct lr_median *m)
{
    if (!m->n)
        return -1;
    uint64_t half = (m->n + 1) / 2, seen = 0;
    size_t i = 0;
    for (; i < LR_MEDIAN_BINS - 1; i++) {
        seen += m->bins[i];
        if (seen >= half)
            break;
    }
    /* the middle of the bin, on the log scale */
    return MEDIAN_LO * pow(MEDIAN_STEP, (double)i + 0.5);
}
